"""The tmux smoke test (tests/tmux_smoke.py) as a pytest test; marker `tmux`."""

from __future__ import annotations

import pytest

from tests.tmux_smoke import _unavailable, run_smoke


@pytest.mark.tmux
@pytest.mark.timeout(300)
@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
def test_tmux_smoke(no_color: bool) -> None:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    result = run_smoke(no_color=no_color)
    assert "FAIL" in result.screens["overview"]
    assert "Configuration" in result.screens["drilldown"]
    assert "\x1b" not in "".join(result.screens.values())
    assert result.exit_status == 0, result.screens.get("after-exit")
