"""What changed between two sweeps that someone should hear about, and the message saying it.

Pure: snapshots in, plain data out, so every rule is tested without a clock or a network.
A view "turns failing" when it is judged failing and was not; it "recovers" when it is
judged ok or warning after failing. An unknown state (a target that could not be read)
is neither: the view keeps what it last was, so an outage of the reader never pages as a
recovery and a view that comes back failing is not announced twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.model import Finding, Notice, Snapshot, State, TargetResult, TrailView
from core.util.text import plain

#: Longest free text (an AWS message, a reason) carried in a message.
TEXT_LIMIT = 500

#: The culprit fields a message carries: who, what, when. Never the access key id, the
#: source address or the raw event.
CULPRIT_FIELDS = (
    "event_name",
    "event_time",
    "event_source",
    "event_id",
    "actor",
    "caller_arn",
    "actor_type",
    "confidence",
    "summary",
)


class Kind(StrEnum):
    FAILING = "failing"
    RECOVERED = "recovered"
    UNREACHABLE = "unreachable"
    REACHABLE = "reachable"


@dataclass(frozen=True)
class Transition:
    """One change worth a message: a view's (failing, recovered) or a target's."""

    kind: Kind
    #: The view id, or `profile|account|region` for a target.
    subject: str
    sweep: int
    at: str
    view: TrailView | None = None
    previous_state: State | None = None
    target: TargetResult | None = None

    @property
    def code(self) -> str:
        finding = root_cause(self.view) if self.view is not None else None
        return str(finding.code) if finding is not None else ""

    @property
    def id(self) -> str:
        """Stable for one transition (view, code, kind, sweep): what receivers dedupe on."""
        raw = f"{self.kind}|{self.subject}|{self.code}|{self.sweep}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


def target_key(t: TargetResult) -> str:
    return f"{t.profile or 'default'}|{t.account_id or '?'}|{t.region}"


@dataclass
class Tracker:
    """Remembers, per view and per target, the last definite verdict; `update` says what
    changed. The first snapshot announces what is already failing only if `on_start`."""

    on_start: bool = True
    #: View id -> failing (True) or not (False), from the last definite state.
    failing: dict[str, bool] = field(default_factory=dict)
    #: Target key -> reachable.
    reachable: dict[str, bool] = field(default_factory=dict)
    started: bool = False

    def update(self, snap: Snapshot) -> list[Transition]:
        out: list[Transition] = []
        first, self.started = not self.started, True
        at = snap.generated_at.isoformat()
        announce = self.on_start or not first
        for v in snap.views:
            if not v.trail.arn or v.state is State.UNKNOWN:
                continue  # a placeholder for an unreadable target, or nothing definite
            now_failing = v.state is State.FAILING
            before = self.failing.get(v.id)
            self.failing[v.id] = now_failing
            if now_failing and before is not True and (before is False or announce):
                prev = State.OK if before is False else None
                out.append(Transition(Kind.FAILING, v.id, snap.sweep, at, v, prev))
            elif not now_failing and before is True:
                out.append(Transition(Kind.RECOVERED, v.id, snap.sweep, at, v, State.FAILING))
        for vid in snap.removed:
            self.failing.pop(vid, None)
        seen: set[str] = set()
        for t in snap.targets:
            key = target_key(t)
            if key in seen:
                continue
            seen.add(key)
            was = self.reachable.get(key)
            self.reachable[key] = t.ok
            if not t.ok and was is not False and (was is True or announce):
                out.append(Transition(Kind.UNREACHABLE, key, snap.sweep, at, target=t))
            elif t.ok and was is False:
                out.append(Transition(Kind.REACHABLE, key, snap.sweep, at, target=t))
        for key in [k for k in self.reachable if k not in seen]:
            del self.reachable[key]
        return out


def root_cause(view: TrailView) -> Finding | None:
    """The finding a message leads with: the first failing one (findings come ordered,
    root causes before their symptoms), else the first."""
    for f in view.findings:
        if f.state is State.FAILING:
            return f
    return view.top_finding


def _culprit(finding: Finding | None) -> dict[str, Any] | None:
    event: Mapping[str, Any] | None = finding.cause_event if finding is not None else None
    if not event:
        return None
    return {k: plain(event.get(k), max_len=TEXT_LIMIT) for k in CULPRIT_FIELDS if event.get(k)}


def _slack(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as markup: escaped as it documents."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(t: Transition) -> dict[str, Any]:
    """The JSON body every sink sends for a transition. Carries the root cause, the culprit
    and the plan ids; everything from AWS is sanitised and bounded; no credentials."""
    body: dict[str, Any] = {
        "source": "trailtop",
        "id": t.id,
        "kind": t.kind.value,
        "sweep": t.sweep,
        "at": t.at,
    }
    if t.view is not None:
        v = t.view
        cause = root_cause(v)
        body.update(
            view_id=plain(v.id, max_len=TEXT_LIMIT),
            account_id=v.key.account_id,
            account=plain(v.account_label, max_len=100),
            region=v.key.region,
            trail=plain(v.trail.name, max_len=200),
            trail_arn=plain(v.trail.arn, max_len=TEXT_LIMIT),
            state=v.state.value,
            previous_state=t.previous_state.value if t.previous_state else None,
            code=t.code or None,
            severity=cause.severity.value if cause is not None else None,
            root_cause=(
                {
                    "code": str(cause.code),
                    "severity": cause.severity.value,
                    "message": plain(cause.message, max_len=TEXT_LIMIT),
                }
                if cause is not None and t.kind is Kind.FAILING
                else None
            ),
            culprit=_culprit(cause) if t.kind is Kind.FAILING else None,
            plan_ids=list(cause.plan_ids) if cause is not None and t.kind is Kind.FAILING else [],
            findings=[str(f.code) for f in v.findings],
        )
    if t.target is not None:
        tr = t.target
        body.update(
            target={
                "profile": plain(tr.profile or "default", max_len=100),
                "account_id": tr.account_id,
                "region": tr.region,
            },
            reason=plain(tr.error, max_len=TEXT_LIMIT) if tr.error else None,
        )
    body["text"] = text(body)
    return body


def notice_message(n: Notice, sweep: int, at: str) -> dict[str, Any]:
    """The body for something said once (an expired mute, an account that left): sent to
    the same sinks as transitions, with an id that is the same for the same notice."""
    raw = f"notice|{n.kind}|{n.account_id}|{n.message}"
    message = plain(n.message, max_len=TEXT_LIMIT)
    return {
        "source": "trailtop",
        "id": hashlib.sha256(raw.encode()).hexdigest()[:24],
        "kind": plain(n.kind, max_len=64),
        "sweep": sweep,
        "at": at,
        "account_id": n.account_id,
        "message": message,
        "text": _slack(f"trailtop: {message}"),
    }


def text(body: Mapping[str, Any]) -> str:
    """One line a person reads first (Slack-compatible)."""
    kind = body["kind"]
    if "target" in body:
        tg = body["target"]
        where = f"{tg['profile']} / {tg['account_id'] or 'unknown account'} / {tg['region']}"
        if kind == Kind.UNREACHABLE:
            line = f"trailtop: cannot read {where}: {body.get('reason') or 'no reason given'}"
        else:
            line = f"trailtop: {where} can be read again"
        return _slack(line)
    where = f"trail {body['trail']} in {body['account']} / {body['region']}"
    if kind == Kind.RECOVERED:
        return _slack(f"trailtop: {where} recovered (now {body['state']})")
    line = f"trailtop: {where} is failing"
    cause = body.get("root_cause")
    if cause:
        line += f": {cause['code']}: {cause['message'].rstrip('.')}"
    culprit = body.get("culprit")
    if culprit and culprit.get("summary"):
        line += f". Likely cause: {culprit['summary']}"
    if body.get("plan_ids"):
        line += f". Fix: trailtop fix {body['plan_ids'][0]}"
    return _slack(line)


def log_line(t: Transition) -> dict[str, Any]:
    """The watcher's stdout line for a transition: the message, tagged as an event."""
    return {"event": "transition", **message(t)}
