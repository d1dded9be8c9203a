"""Where Python code gets the styles of the four states (the colours live in trailtop.tcss).

Each widget that colours by state declares the component classes `<prefix>--failing` ...
`<prefix>--ok`; the tcss gives them `$state-failing` ... `$state-ok`, defined once there.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget

from core.model import State

#: The state names, worst first (as the tcss classes and `State.value` spell them).
STATE_NAMES: tuple[str, ...] = tuple(s.value for s in State)


def state_classes(prefix: str) -> set[str]:
    """The component classes a widget declares to be coloured by state."""
    return {f"{prefix}--{name}" for name in STATE_NAMES}


def state_styles(node: Widget, prefix: str, *, partial: bool = True) -> dict[str, Style]:
    """State name -> Rich style, resolved from `node`'s component classes."""
    return {
        name: node.get_component_rich_style(f"{prefix}--{name}", partial=partial)
        for name in STATE_NAMES
    }
