"""Applying a remediation plan of the engine's last snapshot, then sweeping again.

Everything that makes a write safe lives in core/fix/apply.py (the enabled switch, the extra
confirmation, the re-read of the document, the audit line); this is the engine's side: which
plan, which account's credentials, and the sweep that shows whether the finding cleared.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.aws.errors import describe_error
from core.fix.model import REFUSED, ApplyResult
from core.model import Snapshot

if TYPE_CHECKING:
    from core.engine.sweep import Engine

log = logging.getLogger(__name__)


async def apply_plan(
    engine: Engine,
    plan_id: str,
    *,
    confirm_extra: bool = False,
    bindings: Mapping[str, str] | None = None,
    refusal: str | None = None,
) -> tuple[ApplyResult, Snapshot | None]:
    """See `Engine.apply_plan`."""
    from core.fix.apply import apply, remediation_session
    from core.fix.plans import bind

    plan = engine.previous.plans.get(plan_id) if engine.previous else None
    if plan is None:
        return ApplyResult(plan_id, REFUSED, f"no plan {plan_id} in the current sweep"), None
    if bindings:
        plan = bind(plan, bindings)
    account = next((a for a in engine.accounts if a.account_id == plan.account_id), None)
    if account is None:
        return ApplyResult(plan_id, REFUSED, f"account {plan.account_id} is not reachable"), None
    rem = engine.settings.remediation
    col = engine.collector
    try:
        session = (
            await remediation_session(
                rem, account.session, col, account_id=account.account_id, region=plan.region
            )
            if rem.enabled and refusal is None
            else account.session
        )
    except Exception as exc:  # noqa: BLE001
        log.warning("remediation credentials for %s: %s", plan_id, describe_error(exc))
        return ApplyResult(
            plan_id, REFUSED, "remediation credentials: " + describe_error(exc)
        ), None
    result = await apply(
        plan,
        col,
        session,
        enabled=rem.enabled,
        audit_path=rem.audit_log,
        confirm_extra=confirm_extra,
        view_id=plan.view_id,
        refusal=refusal,
    )
    log.info("plan %s: %s", plan_id, result.result)
    if result.result == REFUSED:
        return result, None
    engine.request_full_refresh()
    return result, await engine.sweep()
