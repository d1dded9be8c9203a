"""Applying remediation plans (I/O): checks, the calls, and the audit log.

Order of an apply, each step able to stop it before anything is written:

1. ``refused`` when remediation is disabled, the plan needs an extra confirmation that was
   not given, a parameter is unbound, the caller refused it (``refusal``: no terminal to
   confirm on, a confirmation not given), or the audit log cannot be opened (no AWS
   request is made at all in these cases);
2. ``aborted`` when the caller identity cannot be read or is in another account than the
   plan, or a precondition read differs from what the plan was made from (no lost update);
3. the calls, in order, stopping at the first failure (``failed``), else ``applied``.

Every outcome appends exactly one JSON line to the audit log (file mode 0600): time,
caller ARN, account, region, view, plan, calls, documents before/after, result, error, and
the endpoint written to when it is not AWS's own (an emulated estate's lines say so).
Credentials never appear: the calls' parameters are policy documents and resource names,
and errors are reduced to codes and AWS messages by :func:`describe_error`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aiobotocore.session import AioSession

from core.aws.clients import new_session
from core.aws.collect import Collector
from core.aws.errors import describe_error, error_code
from core.fix.model import ABORTED, APPLIED, FAILED, REFUSED, ApiCall, ApplyResult, Plan
from core.fix.registry import absent_codes, extract
from core.settings import RemediationSettings
from core.util.arn import account_of
from core.util.times import utcnow

__all__ = [
    "ApplyResult",
    "apply",
    "audit_record",
    "open_audit_log",
    "remediation_session",
]

CallerLookup = Callable[[], Awaitable[str]]
Clock = Callable[[], datetime]

_SECRET_WORDS: Final = ("secret", "token", "password", "credential", "accesskey", "signature")


# --------------------------------------------------------------------------- audit


def open_audit_log(path: str | os.PathLike[str]) -> tuple[int, Path]:
    """Open (creating it and its directories) the audit log for appending, mode 0600."""
    p = Path(os.path.expanduser(os.fspath(path)))
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(p, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except OSError:
        pass
    return fd, p


def _scrub(value: Any) -> Any:
    """Defence in depth: drop any mapping entry whose key names a secret."""
    if isinstance(value, Mapping):
        return {
            k: ("<redacted>" if any(w in str(k).lower() for w in _SECRET_WORDS) else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def audit_record(
    plan: Plan,
    *,
    result: str,
    message: str,
    error: str | None,
    caller_arn: str | None,
    completed: int,
    at: datetime,
    view_id: str | None = None,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """The audit line for one apply (a plain dict; one JSON object per line)."""
    return {
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "caller_arn": caller_arn,
        "account_id": plan.account_id,
        "region": plan.region,
        "view_id": view_id or plan.view_id,
        "plan": {
            "id": plan.id,
            "code": plan.code,
            "fixes": list(plan.fixes),
            "title": plan.title,
            "target": plan.target,
        },
        "calls": [_scrub(c.to_json()) for c in plan.calls],
        "completed_calls": completed,
        "before": plan.before,
        "after": plan.after,
        "result": result,
        "message": message,
        "error": error,
        "endpoint_url": endpoint_url or None,
    }


def _write_line(fd: int, record: Mapping[str, Any]) -> None:
    data = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


# --------------------------------------------------------------------------- sessions


async def remediation_session(
    settings: RemediationSettings,
    read_session: AioSession,
    collector: Collector,
    *,
    account_id: str,
    region: str,
) -> AioSession:
    """The session writes use: the read session unless ``remediation.profile`` and/or
    ``remediation.role_arn`` are set. ``role_arn`` may contain ``{account_id}`` (one
    remediation role name across an estate); it is assumed from the remediation profile's
    session if set, else from the read session."""
    base = new_session(settings.profile) if settings.profile else read_session
    if not settings.role_arn:
        return base
    role_arn = settings.role_arn.replace("{account_id}", account_id)
    return await collector.assume_role(base, role_arn, region, session_name="trailtop-remediate")


# --------------------------------------------------------------------------- apply


async def _read(collector: Collector, session: AioSession, call: ApiCall) -> Any:
    return await collector.call(session, call.service, call.region, call.operation, **call.params)


async def _check_preconditions(plan: Plan, collector: Collector, session: AioSession) -> str | None:
    """None when every precondition holds, else the reason to abort."""
    for pre in plan.preconditions:
        try:
            resp = await _read(collector, session, pre.read)
            value = extract(pre.kind, resp, pre.read)
        except Exception as exc:  # noqa: BLE001 - any read failure aborts the apply
            if (error_code(exc) or "") in absent_codes(pre.kind):
                value = None
            else:
                return (
                    f"could not re-read before writing ({pre.description}): {describe_error(exc)}"
                )
        if value != pre.expected:
            now = "it does not exist" if value is None else "it differs"
            was = "absent" if pre.expected is None else "as shown in the plan"
            return (
                f"changed since the plan was made: expected {pre.description} ({was}), but "
                f"{now} now. Nothing was written; refresh and review the new plan."
            )
    return None


async def apply(
    plan: Plan,
    collector: Collector,
    account_session: AioSession,
    *,
    enabled: bool,
    audit_path: str | os.PathLike[str],
    caller_arn_lookup: CallerLookup | None = None,
    confirm_extra: bool = False,
    view_id: str | None = None,
    clock: Clock = utcnow,
    refusal: str | None = None,
) -> ApplyResult:
    """Apply ``plan`` with ``account_session`` (see the module docstring for the order).

    ``caller_arn_lookup`` returns the ARN the writes are made as; by default
    ``sts:GetCallerIdentity`` with ``account_session``. ``refusal`` is the caller's own
    reason not to apply (audited like any other refusal). Never raises for AWS errors: the
    outcome is in the result and in the audit log.
    """
    audit_file = str(Path(os.path.expanduser(os.fspath(audit_path))))
    if refusal is None and not enabled:
        refusal = (
            "remediation is disabled: set remediation.enabled = true in the config "
            "(or pass --allow-remediation) to apply plans"
        )
    elif refusal is None and plan.needs_extra_confirmation and not confirm_extra:
        refusal = f"this plan needs an extra confirmation: {plan.extra_confirmation_reason}"
    elif refusal is None and plan.unbound():
        refusal = f"this plan needs a value for: {', '.join(plan.unbound())}"

    try:
        fd, path = open_audit_log(audit_path)
    except OSError as exc:
        msg = refusal or f"audit log {audit_file} cannot be written ({exc.strerror}): not applying"
        return ApplyResult(plan.id, REFUSED, msg, audit_path=audit_file, audit_error=str(exc))

    caller: str | None = None
    completed = 0
    error: str | None = None
    try:
        if refusal is not None:
            result, message = REFUSED, refusal
        else:
            result, message, caller, completed, error = await _run(
                plan, collector, account_session, caller_arn_lookup
            )
        record = audit_record(
            plan,
            result=result,
            message=message,
            error=error,
            caller_arn=caller,
            completed=completed,
            at=clock(),
            view_id=view_id,
            endpoint_url=collector.pool.endpoint_url,
        )
        audit_error: str | None = None
        try:
            _write_line(fd, record)
        except OSError as exc:
            audit_error = f"audit line not written: {exc.strerror or exc}"
    finally:
        os.close(fd)
    return ApplyResult(
        plan.id,
        result,
        message,
        completed=completed,
        error=error,
        caller_arn=caller,
        audit_path=str(path),
        audit_error=audit_error,
    )


async def _run(
    plan: Plan,
    collector: Collector,
    session: AioSession,
    caller_arn_lookup: CallerLookup | None,
) -> tuple[str, str, str | None, int, str | None]:
    """(result, message, caller ARN, completed calls, error)."""
    try:
        if caller_arn_lookup is not None:
            caller = await caller_arn_lookup()
        else:
            ident = await collector.call(session, "sts", plan.region, "get_caller_identity")
            caller = str(ident["Arn"])
    except Exception as exc:  # noqa: BLE001
        err = describe_error(exc)
        return ABORTED, f"cannot tell who would make the change: {err}", None, 0, err
    caller_account = account_of(caller)
    if caller_account != plan.account_id:
        msg = (
            f"the credentials act in account {caller_account or '?'}, the plan is for "
            f"{plan.account_id}: nothing was written"
        )
        return ABORTED, msg, caller, 0, None

    reason = await _check_preconditions(plan, collector, session)
    if reason is not None:
        return ABORTED, reason, caller, 0, None

    completed = 0
    for call in plan.calls:
        try:
            await _read(collector, session, call)
        except Exception as exc:  # noqa: BLE001 - stop at the first failure, report it
            err = describe_error(exc)
            done = f"; calls 1-{completed} were applied" if completed else "; nothing was changed"
            msg = f"call {completed + 1}/{len(plan.calls)} {call.service}.{call.operation} failed: {err}{done}"
            return FAILED, msg, caller, completed, err
        completed += 1
    return APPLIED, f"applied {completed} call(s): {plan.title}", caller, completed, None
