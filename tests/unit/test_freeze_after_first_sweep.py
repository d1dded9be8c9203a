"""The engine process keeps what outlives its first complete sweep out of the garbage
collector's passes, once (core/engine/process.py). Run in the test's own process, so
everything it freezes is unfrozen again afterwards."""

from __future__ import annotations

import gc
from dataclasses import replace

from core.engine.process import FreezeAfterFirstSweep
from tests.support.builders import make_snapshot


def test_frozen_once_after_the_first_complete_snapshot_not_after_partials() -> None:
    gc.unfreeze()
    settle = FreezeAfterFirstSweep()
    try:
        settle(replace(make_snapshot([]), partial=True))
        assert not settle.done and gc.get_freeze_count() == 0, "a partial is not the sweep"
        settle(make_snapshot([]))
        frozen = gc.get_freeze_count()
        assert settle.done and frozen > 0
        garbage = [object() for _ in range(1000)]  # made after the freeze
        settle(make_snapshot([]))
        assert gc.get_freeze_count() == frozen, "once: later objects stay collectable"
        del garbage
    finally:
        gc.unfreeze()
