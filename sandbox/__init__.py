"""The emulated AWS estate trailtop runs against in the demo, tests and benchmarks.

moto's server plus delivery emulation, fault injection and event history, in its own
process. Imports nothing from ``core`` or ``tui``: it stands in for AWS.

    from sandbox import Sandbox
    with Sandbox(scenario="demo", delivery_interval=1.0) as sb:
        env = sb.process_env()        # AWS_CONFIG_FILE, AWS_ENDPOINT_URL, ... (no real creds)
        sb.faults.add("throttle", service="cloudtrail", account="111111111111")
        sb.deliver()                  # force a delivery tick instead of sleeping

Names are imported lazily so the server process (``python -m sandbox.serve``) does not pay
for boto3 and the scenarios it never uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .control_client import ControlError, FaultsClient
    from .harness import Sandbox, SandboxError

__all__ = ["ControlError", "FaultsClient", "Sandbox", "SandboxError"]


def __getattr__(name: str) -> Any:
    if name in ("Sandbox", "SandboxError"):
        from . import harness

        return getattr(harness, name)
    if name in ("ControlError", "FaultsClient"):
        from . import control_client

        return getattr(control_client, name)
    raise AttributeError(name)
