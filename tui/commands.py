"""Command palette entries that belong to a screen (Textual's `Screen.COMMANDS`).

The App's own entries (refresh, help, targets) come from `App.get_system_commands`; a
screen adds its own by listing `ScreenCommands` in `COMMANDS` and implementing
`palette_commands`, so the App never builds entries by screen type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider


@runtime_checkable
class HasPaletteCommands(Protocol):
    """A screen with palette entries of its own."""

    def palette_commands(self) -> Iterable[SystemCommand]: ...


class ScreenCommands(Provider):
    """The palette entries of the screen the palette was opened from."""

    def _commands(self) -> list[SystemCommand]:
        screen = self.screen
        return list(screen.palette_commands()) if isinstance(screen, HasPaletteCommands) else []

    async def discover(self) -> Hits:
        for title, help_text, callback, discover in sorted(self._commands(), key=lambda c: c[0]):
            if discover:
                yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback, _ in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
