"""Untrusted text for the screen: `core.util.text.plain` wrapped in Rich `Text`, never markup.

The sanitising itself lives in core (one sanitiser for every output); this module only adds
the Rich wrapping so a value is rendered literally, with a style chosen by the TUI.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from core.util.text import ELLIPSIS, plain

__all__ = ["ELLIPSIS", "plain", "safe_text"]


def safe_text(
    value: Any,
    style: str = "",
    *,
    max_len: int | None = None,
    multiline: bool = False,
    end: str = "",
) -> Text:
    """A Rich `Text` holding `value` literally: markup is never interpreted."""
    return Text(plain(value, max_len=max_len, multiline=multiline), style=style, end=end)
