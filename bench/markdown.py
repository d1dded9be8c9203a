"""The benchmarks' tables, as Markdown: what `make bench` prints and the README quotes."""

from __future__ import annotations


def markdown_table(rows: list[list[str]]) -> list[str]:
    """Lines of a Markdown table: `rows[0]` is the header; the first column is left-aligned,
    the others right-aligned, every column as wide as its widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "| "
        + " | ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        + " |"
        for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines
