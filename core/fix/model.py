"""Remediation as plain data: the calls, the plan, and what applying it did.

Dependency-free on purpose (standard library and core.codes only): the TUI, the JSON
output and the audit log all handle plans and results without pulling in an AWS SDK.
Plans are built in core/fix/plans.py and applied by core/fix/apply.py.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "ABORTED",
    "APPLIED",
    "FAILED",
    "REFUSED",
    "ApiCall",
    "ApplyResult",
    "Plan",
    "Precondition",
    "mentions",
]

APPLIED: Final = "applied"
FAILED: Final = "failed"
ABORTED: Final = "aborted"
REFUSED: Final = "refused"


#: Placeholder of a value the operator supplies at apply time (see :func:`bind`).
PARAM_RE: Final = re.compile(r"^\$\{([a-z_]+)\}$")


def _kebab(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"-\1", s)
    return s.replace("_", "-").lower()


_CLI_SERVICE: Final = {"s3": "s3api"}
#: Parameters that carry a policy document: the CLI rendering gives them as compact JSON.
_DOC_PARAMS: Final = frozenset({"Policy", "PolicyDocument", "AttributeValue"})


def _compact_json(text: str) -> str:
    """A JSON document on one line (the same document); text that is not JSON as it is."""
    try:
        return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return text


@dataclass(frozen=True)
class ApiCall:
    """One AWS API call: ``service`` as botocore names it, ``operation`` the snake_case
    client method, ``params`` its keyword arguments, ``region`` where it is sent."""

    service: str
    operation: str
    params: Mapping[str, Any]
    region: str

    def render(self) -> str:
        """The exact call, SDK style: ``s3.put_bucket_policy(Bucket='b', Policy='{...}')``."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.service}.{self.operation}({args})  # region {self.region}"

    def render_cli(self) -> str:
        """The same call for the AWS CLI, complete: a policy document is given inline (as
        compact JSON, the same document), so the command can be pasted as it is."""
        parts = ["aws", _CLI_SERVICE.get(self.service, self.service), _kebab(self.operation)]
        parts += ["--region", self.region]
        for k, v in self.params.items():
            flag = f"--{_kebab(k)}"
            if k in _DOC_PARAMS and isinstance(v, str) and v.startswith("{"):
                parts += [flag, shlex.quote(_compact_json(v))]
            elif isinstance(v, str):
                parts += [flag, shlex.quote(v)]
            else:
                parts += [flag, shlex.quote(json.dumps(v, sort_keys=True))]
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "params": dict(self.params),
            "region": self.region,
        }


@dataclass(frozen=True)
class Precondition:
    """Re-read at apply time: ``extract(kind, response, read)`` must equal ``expected``
    (a :func:`canonical` text, or None for "must not exist"). A read failing with one of
    the kind's "absent" error codes counts as None (kinds: core/fix/registry.py)."""

    read: ApiCall
    kind: str
    expected: str | None
    description: str

    def to_json(self) -> dict[str, Any]:
        return {
            "read": self.read.to_json(),
            "kind": self.kind,
            "expected": self.expected,
            "description": self.description,
        }


@dataclass(frozen=True)
class Plan:
    """One remediation: everything needed to show it, confirm it, apply it and audit it."""

    id: str
    code: str
    title: str
    account_id: str
    region: str
    target: str
    calls: tuple[ApiCall, ...]
    before: str
    after: str
    diff: str
    risk: str
    preconditions: tuple[Precondition, ...]
    view_id: str
    #: Every finding code this plan addresses (``code`` first).
    fixes: tuple[str, ...] = ()
    needs_extra_confirmation: bool = False
    extra_confirmation_reason: str = ""
    #: Values the operator must supply (see :func:`bind`) before the plan can be applied.
    parameters: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def precondition_read(self) -> ApiCall | None:
        return self.preconditions[0].read if self.preconditions else None

    @property
    def precondition_expected(self) -> str | None:
        return self.preconditions[0].expected if self.preconditions else None

    def unbound(self) -> tuple[str, ...]:
        """Parameters still to supply (a plan with any cannot be applied)."""
        return tuple(p for p in self.parameters if mentions(self.calls, p))

    def render(self) -> str:
        """A plain-text rendering: title, calls (CLI and SDK), risk, diff."""
        out = [f"[{self.id}] {self.title}", f"fixes: {', '.join(self.fixes or (self.code,))}"]
        if self.needs_extra_confirmation:
            out.append(f"!! needs extra confirmation: {self.extra_confirmation_reason}")
        out.append("calls:")
        for i, c in enumerate(self.calls, 1):
            out.append(f"  {i}. {c.render_cli()}")
            out.append(f"     {c.render()}")
        out.append(f"risk: {self.risk}")
        out += [f"note: {n}" for n in self.notes]
        if self.diff:
            out += ["diff:", self.diff]
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "fixes": list(self.fixes or (self.code,)),
            "title": self.title,
            "account_id": self.account_id,
            "region": self.region,
            "view_id": self.view_id,
            "target": self.target,
            "calls": [c.to_json() for c in self.calls],
            "before": self.before,
            "after": self.after,
            "diff": self.diff,
            "risk": self.risk,
            "notes": list(self.notes),
            "needs_extra_confirmation": self.needs_extra_confirmation,
            "extra_confirmation_reason": self.extra_confirmation_reason,
            "parameters": list(self.parameters),
            "preconditions": [p.to_json() for p in self.preconditions],
        }


def mentions(value: Any, name: str) -> bool:
    if isinstance(value, str):
        m = PARAM_RE.match(value)
        return m is not None and m.group(1) == name
    if isinstance(value, ApiCall):
        return mentions(value.params, name)
    if isinstance(value, Mapping):
        return any(mentions(v, name) for v in value.values())
    if isinstance(value, list | tuple):
        return any(mentions(v, name) for v in value)
    return False


@dataclass(frozen=True)
class ApplyResult:
    """What happened. ``result`` is ``applied`` / ``failed`` / ``aborted`` / ``refused``;
    ``message`` is one line for the operator; ``completed`` counts calls that succeeded."""

    plan_id: str
    result: str
    message: str
    completed: int = 0
    error: str | None = None
    caller_arn: str | None = None
    audit_path: str | None = None
    #: Set when the audit line could not be written after the apply (the result stands).
    audit_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result == APPLIED

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "result": self.result,
            "message": self.message,
            "completed": self.completed,
            "error": self.error,
            "caller_arn": self.caller_arn,
            "audit_path": self.audit_path,
            "audit_error": self.audit_error,
        }
