"""What the TUI remembers about a remediation it started, and how the drill-down reports it.

`ApplyResult` comes from core.fix.model, which is plain data: the TUI never imports
core.fix.apply (it pulls the AWS SDK in). Everything a result carries is untrusted text and
goes through `tui.safe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.style import Style
from rich.text import Text

from core.fix.model import ABORTED, APPLIED, FAILED, REFUSED, ApplyResult
from core.model import Snapshot, TrailView
from core.util.times import parse_time
from tui.format import fmt_age
from tui.safe import plain

APPLYING = "applying"
#: The outcomes `ApplyResult.result` can take.
OUTCOMES = (APPLIED, FAILED, ABORTED, REFUSED)
STILL_REPORTED_HINT = "CloudTrail clears delivery errors on its next delivery"
DISABLED_HINT = "remediation disabled: set remediation.enabled or --allow-remediation"


@dataclass
class FixRecord:
    """One apply the operator confirmed, from "applying…" to its result and the re-poll."""

    plan_id: str
    view_id: str
    title: str
    #: Finding codes the plan addresses.
    fixes: tuple[str, ...]
    started_at: datetime
    #: The sweep number the app had shown when the apply started.
    sweep_at_start: int
    result: str = APPLYING
    message: str = ""
    audit_path: str | None = None
    finished_at: datetime | None = None
    #: The sweep whose snapshot judges the fix (the re-poll the engine did after applying).
    judge_sweep: int | None = None

    @property
    def pending(self) -> bool:
        return self.result == APPLYING

    def finish(self, result: ApplyResult | None, snapshot: Snapshot | None, now: datetime) -> None:
        """Record the engine's answer (None when the engine is not running)."""
        self.finished_at = now
        if result is None:
            self.result = REFUSED
            self.message = "the engine is not running; nothing was written"
        else:
            # An outcome this TUI does not know is shown as a failure, never as success.
            self.result = result.result if result.result in OUTCOMES else FAILED
            self.message = result.message or ""
            self.audit_path = result.audit_path or None
        self.judge_sweep = snapshot.sweep if snapshot is not None else self.sweep_at_start + 1


def outcome_words(result: str, message: str) -> tuple[str, str]:
    """(outcome word, the rest): an engine message that repeats the outcome ("applied 1
    call(s)") is said once ("Applied", "1 call(s)")."""
    msg = plain(message, max_len=1000).strip()
    word = result.capitalize()
    if msg.lower().startswith(result.lower()):
        msg = msg[len(result) :].lstrip(" :")
    return word, msg


def outcome_text(result: str, message: str, style: Style | str = "") -> Text:
    word, rest = outcome_words(result, message)
    t = Text()
    t.append(word + (":" if rest else ""), style)
    if rest:
        t.append(" " + rest)
    return t


@dataclass(frozen=True)
class FixUpdate:
    """What the App publishes on `fix_signal`: an apply of `plan_id` for `view_id` started
    or finished (`record`), or was refused before it started (`record` is None)."""

    view_id: str
    plan_id: str
    record: FixRecord | None


def _delivery_line(view: TrailView, since: datetime, now: datetime) -> str:
    status = view.status or {}
    dt = parse_time(status.get("LatestDeliveryTime"))
    if dt is None:
        return "no S3 delivery recorded yet"
    if dt >= since:
        return f"S3 delivery resumed: last delivery {fmt_age(dt, now)} ago, after the fix"
    return f"no S3 delivery since the fix yet (last {fmt_age(dt, now)} ago)"


def fix_status_text(
    record: FixRecord,
    view: TrailView | None,
    snapshot: Snapshot | None,
    now: datetime,
    styles: dict[str, Style] | None = None,
) -> Text:
    """The drill-down's report on a fix: progress, result, and whether the finding cleared."""
    st = styles or {}
    t = Text()
    pid = plain(record.plan_id, max_len=80)
    if record.pending:
        t.append(
            f"Fix {pid}: applying… (started {fmt_age(record.started_at, now)} ago)",
            st.get("busy", ""),
        )
        return t
    when = fmt_age(record.finished_at or record.started_at, now)
    if record.result != APPLIED:
        t.append(f"Fix {record.result} {when} ago: ", st.get("bad", Style(bold=True)))
        t.append(plain(record.message, max_len=600))
        t.append(f"  ({pid})", "dim")
        return t
    t.append(f"Fix applied {when} ago: ", st.get("good", Style(bold=True)))
    judged = snapshot is not None and record.judge_sweep is not None
    judged = judged and snapshot.sweep >= record.judge_sweep  # type: ignore[union-attr,operator]
    if not judged or view is None:
        t.append(", ".join(plain(c) for c in record.fixes) + " — waiting for the re-poll…")
        return t
    present = {f.code for f in view.findings}
    cleared = [c for c in record.fixes if c not in present]
    still = [c for c in record.fixes if c in present]
    if cleared:
        t.append(", ".join(plain(c) for c in cleared) + " cleared", st.get("good", ""))
    if still:
        if cleared:
            t.append("; ")
        t.append(
            ", ".join(plain(c) for c in still) + f" still reported ({STILL_REPORTED_HINT})",
            st.get("warn", ""),
        )
    t.append("\n" + _delivery_line(view, record.started_at, now), "dim")
    t.append(f"\nplan {pid}", "dim")
    if record.audit_path:
        t.append(f" · audit log {plain(record.audit_path, max_len=200)}", "dim")
    return t
