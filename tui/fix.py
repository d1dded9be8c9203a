"""`trailtop fix PLAN_ID`: the headless remediation path (same checks and audit as the TUI).

Exit status: 0 applied, 1 applied but failed/aborted (nothing or part written, see the
message and the audit log), 2 refused (disabled, unknown plan, no confirmation). A plan
refused for being disabled or lacking --confirm-extra is audited like an applied one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.fix.model import REFUSED
from core.report import (
    EXIT_FAILING,
    EXIT_OK,
    EXIT_USAGE,
    plan_listing,
    printable,
    printable_block,
)
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
            _say(
                f"trailtop fix: no plan {printable(args.plan_id)} in the current sweep. "
                f"Plans now:\n{plan_listing(snap.plans)}"
            )
            return EXIT_USAGE
        _say(printable_block(plan.render()))
        _say()
        refused = not settings.remediation.enabled or (
            plan.needs_extra_confirmation and not args.confirm_extra
        )
        refusal: str | None = None
        if not refused and not args.yes:
            if not sys.stdin.isatty():
                refusal = "not a terminal to confirm on; pass --yes to apply without a prompt"
            else:
                trail = plan.view_id.rsplit("/", 1)[-1]
                if not _confirm(
                    f"Apply these {len(plan.calls)} call(s)? "
                    f"Type the trail name ({trail}) to confirm: ",
                    trail,
                ):
                    refusal = "cancelled at the confirmation prompt"
        # Every refusal (disabled, no --confirm-extra, no terminal, cancelled) goes through
        # the engine too: core/fix/apply writes its audit line, without any AWS request.
        result, after = await engine.apply_plan(
            plan.id, confirm_extra=args.confirm_extra, bindings=bindings or None, refusal=refusal
        )
        if result.result == REFUSED:
            _say(f"trailtop fix: refused: {printable(result.message)}. Nothing was written.")
            if plan.needs_extra_confirmation and not args.confirm_extra:
                _say("Pass --confirm-extra to confirm it.")
        elif result.ok:
            _say(printable(result.message))
        else:
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
        if result.result == REFUSED:
            return EXIT_USAGE
        return EXIT_OK if result.ok else EXIT_FAILING
    finally:
        await engine.close()
