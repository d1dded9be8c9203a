"""Reading and driving a running TrailtopApp in tests and benches: what the screen shows,
what the command palette offers, and key latency measured through the driver."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual import events
from textual.app import App
from textual.screen import Screen
from textual.widgets import Static


def screen_text(app: App[Any]) -> str:
    """The current screen as plain text (what a user would read), from Textual's compositor."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=False,
        color_system=None, record=True, legacy_windows=False, safe_box=False,
    )  # fmt: skip
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text(styles=False)


def statics_text(screen: Screen[Any], width: int = 200) -> str:
    """Plain text of every Static on `screen`, including parts scrolled out of view."""
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    for widget in screen.query(Static):
        console.print(widget.content, markup=False)
    return console.export_text(styles=False)


def widget_text(widget: Static, width: int = 200) -> str:
    """Plain text of one Static's content (a Rich renderable), scrolled out of view or not."""
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(widget.content, markup=False)
    return console.export_text(styles=False)


async def palette_titles(app: App[Any]) -> list[str]:
    """Every entry the command palette would list on the current screen (empty query):
    the App's `COMMANDS` and the screen's, as the palette itself gathers them."""
    screen = app.screen
    titles: list[str] = []
    for source in (*app.COMMANDS, *screen.COMMANDS):
        provider_class = source if isinstance(source, type) else source()
        provider = provider_class(screen)
        await provider.startup()
        titles += [str(hit.text) async for hit in provider.discover()]
        await provider.shutdown()
    return titles


# --------------------------------------------------------------------------- key latency
# Shared by tests/tui/test_tui.py and bench/tui_figures.py.


async def press_and_measure(app: App[Any], key: str, handled: Callable[[], bool]) -> float:
    """Latency of one key press as a terminal would deliver it (through the driver) until its
    action ran. Unlike `pilot.press`, this does not wait for the whole app to go idle first,
    so snapshot work queued ahead of the key counts in the latency."""
    event = events.Key(key, None)
    event.set_sender(app)
    t0 = time.perf_counter()
    assert app._driver is not None
    app._driver.send_message(event)
    deadline = t0 + 10
    while not handled():
        if time.perf_counter() > deadline:
            raise TimeoutError("key press never took effect")
        await asyncio.sleep(0.001)  # poll the condition; not a synchronisation sleep
    return time.perf_counter() - t0


def count_actions(widget: object, *names: str) -> list[int]:
    """Wrap `action_<name>` on one widget instance to count how often key bindings ran it."""
    counter = [0]
    for name in names:
        original = getattr(widget, f"action_{name}")

        def wrapped(original: Callable[[], None] = original) -> None:
            original()
            counter[0] += 1

        setattr(widget, f"action_{name}", wrapped)
    return counter
