"""The overview: every trail view, worst first, updated in place as sweeps arrive.

Listens to the App's snapshot, tick and status signals; asks for a drill-down by posting
`OpenDrilldown`. One line each for the header, the status line and the footer, so an
80x24 terminal keeps 20 rows of the table. The `/` and `:` prompts open in the status
line's slot (which then shares its line with them): opening one leaves the table's size,
and so its 1,700 rows, untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.reactive import Reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label

from core.model import Snapshot
from tui.commands import ScreenCommands
from tui.dialogs.mute import RequestMute
from tui.messages import OpenDrilldown
from tui.rows import (
    COLUMNS,
    Completions,
    RowModel,
    first_jump,
    jump_suggestions,
    matches,
)
from tui.signals import subscribe
from tui.widgets.keybar import KeyBar
from tui.widgets.summary import StatusLine, SummaryBar
from tui.widgets.view_table import ApplyStats, ViewTable

if TYPE_CHECKING:
    from tui.app import TrailtopApp

#: Above this many views, typing in the filter is debounced (filtering 5,000 rows costs
#: 7-40 ms of table work per key, before drawing).
DEBOUNCE_ROWS = 5000
#: From this width the footer also shows the command palette key (below, `?` lists it).
PALETTE_IN_FOOTER = 100
#: Names a row offers the `:` prompt (account alias, account id, region).
JUMP_NAMES_PER_ROW = 3
#: Overview actions hidden from the footer (and idle) while a prompt has the keyboard.
TABLE_ACTIONS = frozenset(
    {"filter", "toggle_faults", "jump", "cycle_sort", "reverse_sort", "sort_column", "mute"}
)


class PromptInput(Input):
    """A one-line prompt (`/` filter, `:` jump) whose keys the footer spells out."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "screen.escape", "Cancel"),
    ]

    def __init__(self, *, placeholder: str, id: str) -> None:
        super().__init__(placeholder=placeholder, id=id, classes="prompt", compact=True)
        #: The focus state the styles were last worked out for (None: not yet).
        self._styled_focused: bool | None = None

    def watch_has_focus(self, has_focus: bool) -> None:
        """Restyle for the new focus state only when it shows: a prompt loses focus as it
        closes (hidden, its look does not matter) and gains it as it opens, so after the
        first opening its styles are already the focused ones."""
        row = self.parent
        if has_focus == self._styled_focused or (isinstance(row, Widget) and not row.display):
            return
        super().watch_has_focus(has_focus)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styled_focused = self.has_focus


class FilterInput(PromptInput):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Keep filter"),
        Binding("escape", "screen.escape", "Clear"),
    ]


class JumpInput(PromptInput):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Jump"),
        Binding("tab", "complete", "Complete"),
    ]

    def __init__(self, *, placeholder: str, id: str) -> None:
        super().__init__(placeholder=placeholder, id=id)
        self.completions = Completions(())

    def watch_value(self, value: str) -> None:
        """The completion of what is typed, worked out at once (no `Suggester` worker per
        key); Textual's Input offers it greyed after the cursor."""
        self._suggestion = self.completions.complete(value)

    def on_input_changed(self, event: Input.Changed) -> None:
        """No one listens to the `:` prompt's changes: they stop here rather than pass
        through four ancestors for every key typed."""
        event.stop()

    def action_complete(self) -> None:
        """Tab takes the suggestion."""
        suggestion = self._suggestion
        if suggestion and suggestion != self.value:
            self.value = suggestion
            self.cursor_position = len(suggestion)


class OverviewScreen(Screen[None]):
    COMMANDS = {ScreenCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("f", "toggle_faults", "Faults"),
        Binding("colon", "jump", "Jump"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("m", "mute", "Mute", tooltip="Mute the top finding of the row: reason, duration"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        *(
            Binding(str(i + 1), f"sort_column({i})", f"Sort by {c.label}", show=False)
            for i, c in enumerate(COLUMNS)
        ),
        Binding("escape", "escape", "Clear", show=False),
    ]
    #: Moving focus (to a prompt and back) repaints only the widgets whose look changes
    #: (they restyle themselves), not the whole screen as `Screen.focused` would.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    app: TrailtopApp

    def __init__(self) -> None:
        super().__init__(id="overview")
        self.query_text = ""
        self.faults_only = False
        #: The prompt that has the keyboard: "filter" (`/`), "jump" (`:`) or None.
        self.prompt: str | None = None
        self._debounce: Timer | None = None
        #: What the last table update did (a snapshot, a filter, a toggle).
        self.last_apply: ApplyStats | None = None
        #: What applying the last snapshot did to the table (for tests and tuning).
        self.snapshot_stats: ApplyStats | None = None
        #: The `:` prompt's completions and the models they were made from.
        self._suggested: tuple[dict[str, RowModel], Completions] | None = None
        #: Names already sanitised for the completions (see tui.rows.jump_suggestions).
        self._jump_names: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield SummaryBar(self.app.title_hint, id="summary")
        yield ViewTable(id="views")
        with Horizontal(id="bottom"):
            with Horizontal(id="filter-row", classes="prompt-row"):
                yield Label("/", classes="prompt-label")
                yield FilterInput(
                    placeholder="account, profile, region, trail or finding code", id="filter"
                )
            with Horizontal(id="jump-row", classes="prompt-row"):
                yield Label(":", classes="prompt-label")
                yield JumpInput(placeholder="account or region", id="jump")
            yield StatusLine(id="status")
        yield KeyBar(palette_from=PALETTE_IN_FOOTER, id="keys")

    @property
    def table(self) -> ViewTable:
        return self.query_one(ViewTable)

    def on_mount(self) -> None:
        app = self.app
        subscribe(self, app.snapshot_signal, self._snapshot_applied)
        subscribe(self, app.tick_signal, self.tick)
        subscribe(self, app.status_signal, lambda _: self.refresh_summary())
        self.table.focus()
        stats = self.refresh_rows()
        if app.snapshot is not None:  # it arrived before this screen was mounted
            self.snapshot_stats = stats

    def prompt_open(self) -> bool:
        return self.prompt is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While a prompt has the keyboard, the footer shows its keys, not the table's.
        return not (action in TABLE_ACTIONS and self.prompt_open())

    def _snapshot_applied(self, _: Snapshot) -> None:
        self.snapshot_stats = self.refresh_rows()

    # ------------------------------------------------------------------ data

    def visible_ids(self) -> list[str]:
        q, f = self.query_text, self.faults_only
        if not (q or f):
            return list(self.app.models)
        return [rid for rid, m in self.app.models.items() if matches(m, q, f)]

    def refresh_rows(self, header: bool = True) -> ApplyStats:
        """Apply the app's current models to the table (a diff, not a refill).

        `header=False` when only the filter changed: the header summarises the whole
        snapshot (a pass over every view), which a filter does not change.
        """
        app = self.app
        stats = self.table.apply(
            app.models, self.visible_ids(), app.now(), app.highlighted(), self.query_text
        )
        self.last_apply = stats
        if header:
            self.refresh_summary()
        else:
            self.refresh_status()
        return stats

    def refresh_summary(self) -> None:
        app = self.app
        self.query_one(SummaryBar).render_header(
            app.snapshot, app.now(), app.sweep_status, app.remediation_enabled
        )
        self.refresh_status()

    def refresh_status(self) -> None:
        """The status line alone: what is shown, filtered and sorted."""
        table = self.table
        sort_text = ""
        if table.sort_column is not None:
            label = next(c.label for c in COLUMNS if c.key == table.sort_column)
            sort_text = label + (" (reversed)" if table.sort_reverse else "")
        elif table.sort_reverse:
            sort_text = "State (reversed)"
        app = self.app
        status = self.query_one(StatusLine)
        status.show(
            status.status_segments(
                app.snapshot,
                app.now(),
                app.sweep_status,
                shown=table.row_count,
                total=len(app.models),
                filter_text=self.query_text,
                faults_only=self.faults_only,
                sort_text=sort_text,
            )
        )

    def tick(self, now: datetime) -> None:
        """Ages and expired highlights, each second."""
        self.table.tick(now, self.app.highlighted())
        self.refresh_summary()

    # ------------------------------------------------------------------ actions

    def _open_prompt(self, which: str) -> None:
        """Show the `which` prompt ("filter" or "jump") in the status line's slot.

        Shown and hidden through `display`, not a class: a class change applies the
        stylesheet again to the row and everything in it."""
        if self.prompt != which:
            if self.prompt is not None:
                self.query_one(f"#{self.prompt}-row").display = False
            self.query_one(f"#{which}-row").display = True
            self.prompt = which
        self._focus(self.query_one(f"#{which}", Input))

    def _close_prompts(self) -> None:
        if self.prompt is not None:
            self.query_one(f"#{self.prompt}-row").display = False
            self.prompt = None
        self._focus(self.table)

    def _focus(self, widget: Input | ViewTable) -> None:
        """Focus now, not on the next turn (`Widget.focus` defers it), so the footer shows
        the new keys (the prompt's replace the table's) in the same frame."""
        self.set_focus(widget)
        self.query_one(KeyBar).refresh_keys()

    def action_filter(self) -> None:
        self.query_one("#filter", Input).value = self.query_text
        self._open_prompt("filter")

    def action_jump(self) -> None:
        jump = self.query_one("#jump", JumpInput)
        models = self.app.models
        if self._suggested is None or self._suggested[0] is not models:
            # Made once per snapshot, each name sanitised once while it is known.
            if len(self._jump_names) > 4 * JUMP_NAMES_PER_ROW * len(models):
                self._jump_names.clear()
            names = jump_suggestions(models.values(), self._jump_names)
            self._suggested = (models, Completions(names))
        jump.completions = self._suggested[1]
        jump.value = ""
        self._open_prompt("jump")

    def action_toggle_faults(self) -> None:
        self.faults_only = not self.faults_only
        self.refresh_rows(header=False)

    def action_escape(self) -> None:
        """Esc: close an open prompt (clearing the filter), else clear an active filter."""
        if self.prompt == "filter" or (self.prompt is None and self.query_text):
            self.set_filter("")
        self._close_prompts()

    def set_filter(self, text: str) -> None:
        if text == self.query_text and self._debounce is None:
            return  # `Enter` keeps the filter in force: nothing to do
        self.query_text = text
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        self.refresh_rows(header=False)

    def action_cycle_sort(self) -> None:
        keys = [c.key for c in COLUMNS]
        current = self.table.sort_column or "state"
        nxt = keys[(keys.index(current) + 1) % len(keys)]
        self.sort_by(nxt, reverse=False)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.table.sort_column or "state", reverse=not self.table.sort_reverse)

    def action_sort_column(self, index: int) -> None:
        self.sort_toggle(COLUMNS[index].key)

    def sort_toggle(self, column: str) -> None:
        """Sort by `column`; choosing the current sort column again reverses it."""
        current = self.table.sort_column or "state"
        reverse = not self.table.sort_reverse if column == current else False
        self.sort_by(column, reverse)

    def sort_by(self, column: str, reverse: bool) -> None:
        self.table.set_sort(None if column == "state" else column, reverse)
        self.refresh_status()

    def drill(self, view_id: str | None = None) -> None:
        rid = view_id or self.table.cursor_view_id
        if rid is not None and rid in self.app.models:
            self.post_message(OpenDrilldown(rid))

    def action_mute(self) -> None:
        """Mute the top finding of the row under the cursor (the dialog asks why and how long)."""
        rid = self.table.cursor_view_id
        model = self.app.models.get(rid) if rid is not None else None
        top = model.view.top_finding if model is not None else None
        if rid is None or top is None:
            self.app.notify("Nothing to mute on this row", markup=False)
            return
        self.post_message(RequestMute(rid, (top.code,)))

    def jump_to(self, target: str) -> bool:
        """Move the cursor to the first shown row whose account or region matches `target`."""
        rid = first_jump(self.app.models, self.table.shown_ids(), target)
        return rid is not None and self.table.move_to(rid)

    def palette_commands(self) -> Iterable[SystemCommand]:
        """This screen's entries in the command palette (see tui.commands)."""
        yield SystemCommand(
            "Filter views",
            "Filter by account, profile, region, trail, code (/)",
            self.action_filter,
        )
        yield SystemCommand("Toggle faults only", "Hide ok views (f)", self.action_toggle_faults)
        yield SystemCommand(
            "Jump to account or region", "Move the cursor to a match (:)", self.action_jump
        )
        yield SystemCommand(
            "Drill down", "Details of the view under the cursor (enter)", self.drill
        )
        yield SystemCommand(
            "Mute finding",
            "Mute the top finding of the row under the cursor: reason, duration (m)",
            self.action_mute,
        )
        yield SystemCommand(
            "Clear filter", "Show every view again (esc)", lambda: self.set_filter("")
        )
        for i, col in enumerate(COLUMNS):
            yield SystemCommand(
                f"Sort by {col.label}",
                f"Sort the table by {col.label}; again to reverse ({i + 1})",
                lambda key=col.key: self.sort_toggle(key),
            )

    # ------------------------------------------------------------------ events

    @on(DataTable.RowSelected, "#views")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.drill(event.row_key.value)

    @on(DataTable.HeaderSelected, "#views")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.sort_toggle(event.column_key.value or "state")

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self.prompt != "filter":
            return
        if event.value == self.query_text:
            # (opening the prompt puts the filter in force back: nothing changes) A text
            # typed meanwhile and abandoned must not be applied by its pending timer.
            if self._debounce is not None:
                self._debounce.stop()
                self._debounce = None
            return
        if len(self.app.models) <= DEBOUNCE_ROWS:
            self.set_filter(event.value)
            return
        if self._debounce is not None:
            self._debounce.stop()
        value = event.value
        self._debounce = self.set_timer(0.2, lambda: self.set_filter(value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.set_filter(event.value)
        self._close_prompts()

    @on(Input.Submitted, "#jump")
    def _jump_submitted(self, event: Input.Submitted) -> None:
        target = event.value
        self._close_prompts()
        if target.strip() and not self.jump_to(target):
            self.app.notify(
                f"No shown row for account or region {target!r}",
                severity="warning",
                markup=False,
            )
