"""The tmux smoke test (tests/tui/tmux_smoke.py) as a pytest test; marker `tmux`.

Runs the real `trailtop --demo` (its own sandbox) once, in colour, at 120x40 then 80x24. The NO_COLOR variant is
`python tests/tui/tmux_smoke.py --no-color` (the pilot suite covers NO_COLOR rendering).
"""

from __future__ import annotations

import pytest

from tests.tui.tmux_smoke import _unavailable, alive, run_smoke


@pytest.mark.tmux
@pytest.mark.timeout(300)
def test_tmux_smoke() -> None:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    result = run_smoke()
    overview = result.screens["overview"]
    assert "FAIL" in overview and "Top finding" in overview
    assert "uncovered region" in overview.splitlines()[0]  # the demo has a coverage gap
    drill = result.screens["drilldown"]
    assert "Root cause:" in drill and ("[CRITICAL]" in drill or "[HIGH]" in drill)
    assert "GetTrailStatus" in result.screens["drilldown-end"]
    # The same app at 80x24: whole codes, one-line bars, the verdict on the first screen.
    small = result.screens["overview-80x24"].splitlines()
    assert len(small) == 24 and all(len(line) <= 80 for line in small)
    assert "FAIL" in small[0] and small[1].split()[0] == "State"
    assert "r Refresh" in small[-1] and "t Targets" in small[-1]
    assert "Root cause:" in result.screens["drilldown-80x24"]
    assert "\x1b" not in "".join(result.screens.values())
    assert result.exit_status == 0, result.screens.get("after-exit")
    # `trailtop --demo` started exactly one sandbox server, and it is gone after `q`.
    assert result.app_pid is not None and not alive(result.app_pid)
    assert len(result.sandbox_pids) == 1, result.sandbox_pids
    assert result.leftover_pids == [], f"sandbox still running: {result.leftover_pids}"
