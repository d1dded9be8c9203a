"""One sanitiser for untrusted text (AWS answers, configuration, policy documents).

Everything from outside is shown *literally* on every output (TUI, table, messages): C0 and
C1 controls (ESC, CSI, BEL, CR, newline in a single-line cell), DEL, line separators and
bidirectional/invisible marks become visible escapes such as ``\\x1b`` or ``\\u202e``, so a
hostile trail name can neither drive the terminal nor reorder what an operator reads.
The TUI adds only the Rich wrapping (never markup) on top of :func:`plain`.
"""

from __future__ import annotations

from typing import Any, Final

ELLIPSIS: Final = "…"

#: Characters a terminal may obey or that change what a reader sees, besides C0/C1 controls:
#: bidirectional marks, separators, and characters that draw nothing (so two names that
#: look the same on screen are told apart).
BIDI_AND_INVISIBLE: Final[tuple[int, ...]] = (
    0x00AD,  # soft hyphen
    0x034F,  # combining grapheme joiner
    0x061C,  # arabic letter mark
    0x115F,  # hangul choseong filler
    0x1160,  # hangul jungseong filler
    0x180E,  # mongolian vowel separator
    *range(0x200B, 0x2010),  # zero width space/joiners, LRM, RLM
    *range(0x2028, 0x202F),  # line/paragraph separators, LRE RLE PDF LRO RLO
    *range(0x2060, 0x2070),  # word joiner, invisible operators, LRI RLI FSI PDI
    0x3164,  # hangul filler
    0xFEFF,  # BOM / zero width no-break space
    0xFFA0,  # halfwidth hangul filler
    *range(0xFFF9, 0xFFFC),  # interlinear annotation marks
    *range(0xE0000, 0xE0080),  # tag characters (invisible text)
)


def _escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _json_escape(code: int) -> str:
    """JSON has only \\uXXXX: a character beyond the BMP is its UTF-16 surrogate pair."""
    if code < 0x10000:
        return f"\\u{code:04x}"
    v = code - 0x10000
    return f"\\u{0xD800 + (v >> 10):04x}\\u{0xDC00 + (v & 0x3FF):04x}"


_CONTROL: Final = (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *BIDI_AND_INVISIBLE)
#: Single-line rendering: every control (including newline and tab) becomes a visible escape.
_LINE_TABLE: Final[dict[int, str]] = {c: _escape(c) for c in _CONTROL}
#: Multi-line rendering (evidence, diffs): newlines survive, everything else is escaped.
_BLOCK_TABLE: Final[dict[int, str]] = {c: e for c, e in _LINE_TABLE.items() if c != 0x0A}
#: What `json.dumps(ensure_ascii=False)` leaves raw but a terminal may obey (DEL, C1,
#: separators, bidi marks): escaped as ``\\uXXXX``, which is still the same JSON string.
JSON_RAW: Final[dict[int, str]] = {
    c: _json_escape(c) for c in (0x7F, *range(0x80, 0xA0), *BIDI_AND_INVISIBLE)
}


def plain(value: Any, *, max_len: int | None = None, multiline: bool = False) -> str:
    """`value` as a string that is safe to put on a terminal, optionally truncated."""
    if value is None:
        return ""
    s = value if isinstance(value, str) else str(value)
    if max_len is not None and len(s) > max_len * 8:
        s = s[: max_len * 8]  # bound the work for absurdly long inputs before escaping
    s = s.translate(_BLOCK_TABLE if multiline else _LINE_TABLE)
    if max_len is not None and len(s) > max_len:
        s = s[: max(max_len - 1, 0)] + ELLIPSIS
    return s
