"""`trailtop fix PLAN_ID`: the headless remediation path (same checks and audit as the TUI).

Exit status: 0 applied, 1 applied but failed/aborted (nothing or part written, see the
message and the audit log), 2 refused (disabled, unknown plan, no confirmation).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.report import EXIT_FAILING, EXIT_OK, EXIT_USAGE, printable, printable_block
from core.settings import Settings


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _confirm(prompt: str, expected: str) -> bool:
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip() == expected


def run_fix(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run_fix(settings, args))


async def _run_fix(settings: Settings, args: argparse.Namespace) -> int:
    from core.engine.sweep import engine_from_settings

    bindings = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            _say(f"trailtop fix: --set needs NAME=VALUE, got {printable(item)!r}")
            return EXIT_USAGE
        bindings[name] = value
    engine = engine_from_settings(settings)
    try:
        snap = await engine.sweep()
        plan = snap.plans.get(args.plan_id)
        if plan is None:
            known = ", ".join(sorted(snap.plans)) or "none"
            _say(
                f"trailtop fix: no plan {printable(args.plan_id)} in the current sweep (available: {known})"
            )
            return EXIT_USAGE
        _say(printable_block(plan.render()))
        _say()
        if not settings.remediation.enabled:
            _say(
                "trailtop fix: remediation is disabled (set remediation.enabled = true or pass "
                "--allow-remediation). Nothing was written."
            )
            return EXIT_USAGE
        if plan.needs_extra_confirmation and not args.confirm_extra:
            _say(
                f"trailtop fix: this plan needs --confirm-extra: {printable(plan.extra_confirmation_reason)}"
            )
            return EXIT_USAGE
        if not args.yes:
            if not sys.stdin.isatty():
                _say(
                    "trailtop fix: not a terminal; pass --yes to apply without a prompt. Nothing was written."
                )
                return EXIT_USAGE
            trail = plan.view_id.rsplit("/", 1)[-1]
            if not _confirm(
                f"Apply these {len(plan.calls)} call(s)? Type the trail name ({trail}) to confirm: ",
                trail,
            ):
                _say("Cancelled. Nothing was written.")
                return EXIT_USAGE
        result, after = await engine.apply_plan(
            plan.id, confirm_extra=args.confirm_extra, bindings=bindings or None
        )
        _say(f"{result.result}: {printable(result.message)}")
        if result.audit_path:
            _say(f"audit: {printable(result.audit_path)}")
        if after is not None:
            view = after.view(plan.view_id)
            if view is not None:
                left = [f.code for f in view.findings if f.code in plan.fixes]
                _say(
                    "finding cleared: " + ", ".join(plan.fixes)
                    if not left
                    else "still reported (CloudTrail clears delivery errors on its next delivery): "
                    + ", ".join(left)
                )
        return EXIT_OK if result.ok else EXIT_FAILING
    finally:
        await engine.close()
