"""Making a :class:`~core.fix.model.Plan`: the one constructor every plan builder uses.

Stable ids: a plan's id is a hash of (view, code, target, plan kind), never of the
documents, so the same finding on the next sweep yields the same id and
``trailtop fix PLAN_ID`` works across runs even when the document changed meanwhile (the
precondition catches that at apply time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from core.fix.documents import diff
from core.fix.model import ApiCall, Plan, Precondition
from core.model import ViewKey

__all__ = ["new_plan", "plan_id"]


def plan_id(kind: str, key: ViewKey, code: str, target: str) -> str:
    """``<kind>-<8 hex>``: readable prefix, stable hash of what the plan is about."""
    digest = hashlib.sha256("\x1f".join((kind, key.id, code, target)).encode()).hexdigest()
    return f"{kind}-{digest[:8]}"


def new_plan(
    kind: str,
    key: ViewKey,
    code: str,
    target: str,
    *,
    title: str,
    region: str,
    calls: Sequence[ApiCall],
    before: str,
    after: str,
    risk: str,
    preconditions: Sequence[Precondition],
    fixes: Sequence[str] = (),
    doc_name: str | None = None,
    extra: str = "",
    parameters: Sequence[str] = (),
    notes: Sequence[str] = (),
    account: str | None = None,
) -> Plan:
    """A plan for view ``key``; ``extra`` (a reason) makes it need an extra confirmation.

    ``account`` is where the calls go: the account that owns the resource changed (a
    log-archive bucket, a security-account key), the view's account when not given."""
    return Plan(
        id=plan_id(kind, key, code, target),
        code=code,
        title=title,
        account_id=account or key.account_id,
        region=region,
        target=target,
        calls=tuple(calls),
        before=before,
        after=after,
        diff=diff(before, after, doc_name or target),
        risk=risk,
        preconditions=tuple(preconditions),
        view_id=key.id,
        fixes=tuple(fixes) or (code,),
        needs_extra_confirmation=bool(extra),
        extra_confirmation_reason=extra,
        parameters=tuple(parameters),
        notes=tuple(notes),
    )
