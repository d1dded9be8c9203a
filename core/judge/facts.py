"""What diagnostics read about a destination, and the findings every judge builds from it.

A `Fact` is what core/aws/diagnose.py read (or could not read, and why); the helpers here
turn a policy decision into evidence and an unreadable or undecidable destination into
DIAGNOSTICS_INCOMPLETE, the same way for every destination.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.codes import Code
from core.judge.context import Request
from core.judge.policy import Decision, Outcome, evaluate, explain
from core.model import Channel, Finding, Severity


@dataclass(frozen=True)
class Fact:
    """One destination as read: exists True/False, or None with `error` when we cannot tell."""

    kind: str
    ident: str
    exists: bool | None
    error: str | None = None
    #: Another account owns it and we could not (or should not) judge it from here.
    foreign: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Destinations:
    bucket: Fact | None = None
    key: Fact | None = None
    topic: Fact | None = None
    log_group: Fact | None = None
    role: Fact | None = None
    #: The trail's event selectors (GetEventSelectors): not a destination, but a setting of
    #: the trail read with them, once per trail.
    selectors: Fact | None = None


def judge(policy: Any, request: Request) -> Decision:
    """The decision of ``policy`` on ``request``, made by the request's principal."""
    return evaluate(
        policy,
        principal=request.principal,
        action=request.action,
        resource=request.resource,
        context=request.context,
    )


def statement_evidence(
    d: Decision, missing: Mapping[str, Any] | list[Any] | None
) -> dict[str, Any]:
    ev: dict[str, Any] = {"decision": d.outcome.value, "reason": explain(d)}
    if d.outcome is Outcome.DENIED and d.statement is not None:
        ev["deciding_statement"] = dict(d.statement)
        ev["statement_index"] = d.statement_index
        if d.sid:
            ev["sid"] = d.sid
    elif missing is not None:
        ev["missing_statement"] = missing
    return ev


def incomplete(what: str, reason: str, channel: Channel) -> Finding:
    return Finding(
        Code.DIAGNOSTICS_INCOMPLETE,
        Severity.INFO,
        channel,
        f"Could not check the {what}: {reason}",
        {"destination": what, "reason": reason},
        "Grant trailtop's read-only policy on this destination, or check it where it lives.",
    )


def elsewhere(what: str, ident: str, channel: Channel, reason: str) -> Finding:
    return Finding(
        Code.MANAGED_ELSEWHERE,
        Severity.INFO,
        channel,
        f"The {what} {ident} belongs to another account; it is judged there.",
        {"destination": what, "id": ident, "reason": reason},
        "Check it from the account that owns it.",
    )


def undecidable(what: str, d: Decision, channel: Channel) -> Finding:
    return incomplete(what, explain(d), channel)
