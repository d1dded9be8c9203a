"""tmux smoke test: the real `trailtop --demo` in a 120x40 pane, then 80x24, driven by keys.

Run directly (`python tests/tui/tmux_smoke.py [--no-color]`) or through pytest (marker `tmux`).
It uses a private tmux server (`-L`), waits by polling `capture-pane` against a deadline
(never fixed sleeps), drills into a failing view, shrinks the window to 80x24 (the same
app: one sandbox start, not two) and reads the overview and the drill-down again, quits
with `q` and checks the exit status.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".venv" / "bin" / "trailtop"
WIDTH, HEIGHT = 120, 40
SMALL = (80, 24)
#: A finding-code-like word; a whole one is a member of core.codes.Code.
CODE = re.compile(r"[A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+")


@dataclass
class SmokeResult:
    exit_status: int | None
    screens: dict[str, str] = field(default_factory=dict)
    #: pid of the `trailtop` process in the pane.
    app_pid: int | None = None
    #: Sandbox server processes `trailtop --demo` started (children of the app).
    sandbox_pids: list[int] = field(default_factory=list)
    #: Of those, the ones still running after the app exited (must be empty).
    leftover_pids: list[int] = field(default_factory=list)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def zombie_exit_status(pid: int) -> int | None:
    """Exit status of a process that has exited but not been reaped (Linux /proc stat field
    52, as waitpid reports it); None while it runs or once it is gone. Needed because tmux
    sometimes misses SIGCHLD and leaves the app a zombie with its pane not marked dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] != "Z" or len(fields) < 50:
        return None
    raw = int(fields[49])  # field 52 overall; fields here start at field 3
    return (raw >> 8) & 0xFF if raw & 0x7F == 0 else -(raw & 0x7F)


def alive(pid: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[0] != "Z"


def sandbox_children(parent: int) -> list[int]:
    """Sandbox servers (`python -m sandbox.serve`) whose parent is `parent`."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        st = _proc_stat(int(entry.name))
        if st is None or st[1] != parent:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"sandbox.serve" in argv:
            out.append(int(entry.name))
    return sorted(out)


def _tmux_env() -> dict[str, str]:
    """Our environment minus COLUMNS/LINES: under pytest they are set (80x24) and would reach
    the app through the tmux server, and `shutil.get_terminal_size()` prefers them to the pty.
    Also minus TMUX, so a run from inside tmux still starts its private server."""
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}


class Pane:
    """One detached tmux session on a private server socket."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.socket = f"trailtop-smoke-{os.getpid()}"
        self.target = "smoke"
        env_args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        self.tmux(
            "new-session", "-d", "-s", self.target, "-x", str(WIDTH), "-y", str(HEIGHT),
            *env_args, "--", *command,
        )  # fmt: skip
        self.tmux("set-option", "-t", self.target, "remain-on-exit", "on")
        # tmux holds a lone ESC for `escape-time` (500 ms) to see whether a sequence follows;
        # an Escape then a key sent by the test inside that window arrive as one Alt+key.
        self.tmux("set-option", "-s", "escape-time", "0")

    def resize(self, width: int, height: int) -> None:
        self.tmux("resize-window", "-t", self.target, "-x", str(width), "-y", str(height))

    def size(self) -> tuple[int, int]:
        out = self.tmux("display-message", "-p", "-t", self.target, "#{pane_width} #{pane_height}")
        w, h = out.split()
        return int(w), int(h)

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            check=True,
            capture_output=True,
            text=True,
            env=_tmux_env(),
        )
        return out.stdout

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.target)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.target, *keys)

    def pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", self.target, "#{pane_pid}").strip())

    def dead(self) -> tuple[bool, int | None]:
        """(dead, exit status); a death by signal N is reported as status -N."""
        fmt = self.tmux(
            "display-message", "-p", "-t", self.target,
            "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}",
        )  # fmt: skip
        dead, status, signal = (fmt.strip().split("|") + ["", ""])[:3]
        if status.strip().isdigit():
            return dead == "1", int(status)
        if signal.strip().isdigit() and int(signal) > 0:
            return dead == "1", -int(signal)
        return dead == "1", None

    def wait_for(self, what: str, cond: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if cond(text):
                return text
            if self.dead()[0]:
                break
            time.sleep(0.2)  # polling interval of a condition with a deadline
        raise AssertionError(f"timed out waiting for {what}; pane:\n{text}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def run_smoke(
    no_color: bool = False, startup_timeout: float = 120.0, command: list[str] | None = None
) -> SmokeResult:
    env = {"TERM": os.environ.get("SMOKE_TERM", "tmux-256color")}
    if no_color:
        env["NO_COLOR"] = "1"
    pane = Pane(command or [str(BINARY), "--demo"], env)
    result = SmokeResult(exit_status=None)
    try:
        result.app_pid = pane.pid()
        assert pane.size() == (WIDTH, HEIGHT), pane.size()
        overview = pane.wait_for(
            "the overview table with a failing view",
            lambda t: "Top finding" in t and "FAIL" in t and "sweep #" in t,
            startup_timeout,
        )
        result.screens["overview"] = overview
        result.sandbox_pids = sandbox_children(result.app_pid)
        # Failing views sort first, so the cursor starts on one.
        pane.keys("Enter")
        result.screens["drilldown"] = drill = pane.wait_for(
            "the drill-down, verdict first", _verdict_on_first_screen, 20
        )
        assert " FAIL " in drill.splitlines()[0], drill
        pane.keys("End")
        result.screens["drilldown-end"] = pane.wait_for(
            "the raw status below the verdict", lambda t: "GetTrailStatus" in t, 10
        )
        pane.keys("Escape")
        pane.wait_for("the overview again", lambda t: "Top finding" in t, 10)

        # The same app at 80x24: one-line bars, whole codes, the verdict on the first screen.
        pane.resize(*SMALL)
        result.screens["overview-80x24"] = small = pane.wait_for(
            "the overview at 80x24", _fits_80x24, 10
        )
        pane.keys("Enter")
        result.screens["drilldown-80x24"] = pane.wait_for(
            "the drill-down at 80x24", _verdict_on_first_screen, 10
        )
        assert "Top finding" in small
        pane.keys("Escape")
        pane.wait_for("the overview again", lambda t: "Top finding" in t, 10)
        pane.keys("?")
        result.screens["help"] = pane.wait_for("help", lambda t: "trailtop — keys" in t, 10)
        pane.keys("Escape")
        pane.wait_for("the overview again", lambda t: "Top finding" in t and "keys" not in t, 10)
        pane.keys("q")
        deadline = time.monotonic() + 60  # generous: a loaded CI box, not a speed claim
        while time.monotonic() < deadline:
            dead, status = pane.dead()
            # tmux marks a pane dead a moment before it has the exit status: wait for both.
            if dead and status is not None:
                result.exit_status = status
                break
            status = zombie_exit_status(result.app_pid) if result.app_pid else None
            if status is not None:
                result.exit_status = status
                break
            time.sleep(0.2)  # polling interval of a condition with a deadline
        result.screens["after-exit"] = pane.text()
        # The CLI stops its sandbox on exit; give a slow machine a moment, by condition.
        deadline = time.monotonic() + 10
        while any(alive(p) for p in result.sandbox_pids) and time.monotonic() < deadline:
            time.sleep(0.1)  # polling interval of a condition with a deadline
        result.leftover_pids = [p for p in result.sandbox_pids if alive(p)]
        return result
    finally:
        pane.close()


def _verdict_on_first_screen(text: str) -> bool:
    lines = text.splitlines()
    return (
        bool(lines)
        and "Root cause:" in text
        and any(f"[{s}]" in text for s in ("CRITICAL", "HIGH"))
        and "Fix:" in text
        and "Configuration" not in "\n".join(lines[:6])
    )


def _fits_80x24(text: str) -> bool:
    """The overview at 80x24: header and footer one line each, a whole code on each FAIL row."""
    lines = text.splitlines()
    if len(lines) != SMALL[1] or any(len(line) > SMALL[0] for line in lines):
        return False
    from core.codes import Code

    codes = {c.value for c in Code}
    fail_rows = [line for line in lines[2:] if line.strip().startswith("FAIL")]
    return (
        "FAIL" in lines[0]
        and lines[1].split()[:1] == ["State"]
        and "r Refresh" in lines[-1]
        and "t Targets" in lines[-1]
        and "palette" not in lines[-1]  # at 80 columns `?` lists ctrl+p instead
        and bool(fail_rows)
        and all(any(w in codes for w in CODE.findall(row)) for row in fail_rows)
    )


def _unavailable() -> str | None:
    if shutil.which("tmux") is None:
        return "tmux is not installed"
    if not BINARY.exists():
        return f"{BINARY} is missing (run make setup)"
    if importlib.util.find_spec("tui.demo") is None:
        return "`trailtop --demo` is not available yet (tui/demo.py missing)"
    return None


if __name__ == "__main__":
    why = _unavailable()
    if why:
        print(f"skip: {why}")
        raise SystemExit(0)
    res = run_smoke(no_color="--no-color" in sys.argv)
    for name, screen in res.screens.items():
        print(f"===== {name}\n{screen}")
    print(
        f"exit status: {res.exit_status}; app pid {res.app_pid}; sandbox pids "
        f"{res.sandbox_pids}; left running: {res.leftover_pids}"
    )
    ok = res.exit_status == 0 and res.sandbox_pids and not res.leftover_pids
    raise SystemExit(0 if ok else 1)
