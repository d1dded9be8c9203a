"""One place where untrusted text (AWS answers, config, policy documents) becomes displayable.

Everything from outside is shown *literally*: never parsed as Rich/Textual markup and never
allowed to carry terminal control sequences. Rich only strips a handful of C0 characters, so
ESC (OSC 52 clipboard writes, screen clears) and bidi overrides are neutralised here by
replacing them with visible escapes such as ``\\x1b``.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

ELLIPSIS = "…"

_BIDI_AND_INVISIBLE = (
    0x061C,  # arabic letter mark
    *range(0x200B, 0x2010),  # zero width space/joiners, LRM, RLM
    *range(0x2028, 0x202F),  # line/paragraph separators, LRE RLE PDF LRO RLO
    *range(0x2060, 0x2070),  # word joiner, invisible operators, LRI RLI FSI PDI
    0xFEFF,  # BOM / zero width no-break space
)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_CONTROL = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI_AND_INVISIBLE]
#: Single-line rendering: every control (including newline and tab) becomes a visible escape.
_LINE_TABLE: dict[int, str] = {c: _escape(c) for c in _CONTROL}
#: Multi-line rendering (evidence JSON): newlines survive, everything else is escaped.
_BLOCK_TABLE: dict[int, str] = {c: e for c, e in _LINE_TABLE.items() if c != 0x0A}


def plain(value: Any, *, max_len: int | None = None, multiline: bool = False) -> str:
    """Return `value` as a string that is safe to put on a terminal, optionally truncated."""
    if value is None:
        return ""
    s = value if isinstance(value, str) else str(value)
    if max_len is not None and len(s) > max_len * 8:
        s = s[: max_len * 8]  # bound the work for absurdly long inputs before escaping
    s = s.translate(_BLOCK_TABLE if multiline else _LINE_TABLE)
    if max_len is not None and len(s) > max_len:
        s = s[: max(max_len - 1, 0)] + ELLIPSIS
    return s


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
