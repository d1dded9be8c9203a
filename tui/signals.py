"""How a screen listens to the App: Textual signals, subscribed synchronously.

The App publishes a signal when its data changed (a snapshot, the clock, the sweep status,
a fix); each screen subscribes in `on_mount` and the signal drops screens that are gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from textual.dom import DOMNode
from textual.signal import Signal

T = TypeVar("T")


def _reraise(error: BaseException) -> None:
    raise error


def subscribe(node: DOMNode, signal: Signal[T], callback: Callable[[T], object]) -> None:
    """Run `callback` during `publish`, in the App's turn.

    Immediate, so applying a snapshot updates every open screen before the next frame, and
    the App's timing of an apply includes the screens. `Signal.publish` would only log a
    callback's exception; it is raised again on `node`'s own message loop instead, so a bug
    stops the app loudly as in any other handler rather than freezing one screen silently.
    """

    def run(data: T) -> None:
        try:
            callback(data)
        except Exception as error:
            node.call_next(_reraise, error)

    signal.subscribe(node, run, immediate=True)
