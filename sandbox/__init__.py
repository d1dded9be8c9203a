"""The emulated AWS estate trailtop runs against in the demo, tests and benchmarks.

moto's server plus delivery emulation, fault injection and event history, in its own
process. Imports nothing from ``core`` or ``tui``: it stands in for AWS.

    from sandbox import Sandbox
    with Sandbox(scenario="demo", delivery_interval=1.0) as sb:
        env = sb.process_env()        # AWS_CONFIG_FILE, AWS_ENDPOINT_URL, ... (no real creds)
        sb.faults.add("throttle", service="cloudtrail", account="111111111111")
        sb.deliver()                  # force a delivery tick instead of sleeping
"""

from .control_client import ControlError, FaultsClient
from .harness import Sandbox, SandboxError

__all__ = ["ControlError", "FaultsClient", "Sandbox", "SandboxError"]
