"""`trailtop --demo`: start the emulated estate (sandbox/) and point the settings at it.

The sandbox is an optional extra ("demo"): a production install does not carry moto.
"""

from __future__ import annotations

from typing import Any

from core.settings import ConfigError

#: Short intervals so the demo moves: deliveries every 2 s, a sweep every 5 s, and a trail
#: that stopped delivering a few minutes ago already counts as stale.
DEMO_DELIVERY_INTERVAL = 2.0


def demo_overrides(manifest: dict[str, Any], endpoint_url: str) -> dict[str, Any]:
    org = manifest.get("organization") or {}
    return {
        "aws": {
            "profiles": [
                p for p in manifest.get("profiles", {}) if p in ("demo-mgmt", "demo-prod")
            ],
            "regions": [],  # discovered per account (ec2:DescribeRegions), as in real life
            "endpoint_url": endpoint_url,
            "assume_roles": [{"role_arn": r["role_arn"]} for r in manifest.get("assume_roles", [])],
            "organization": {
                "enabled": bool(org),
                "role_name": org.get("role_name", "OrganizationAccountAccessRole"),
            },
        },
        "poll": {"interval_seconds": 5, "diagnose_refresh_seconds": 30, "describe_every_sweeps": 6},
        "thresholds": {"s3_stale_seconds": 120, "cloudwatch_stale_seconds": 120},
    }


def start_demo() -> tuple[Any, dict[str, Any], dict[str, str]]:
    """Start the demo sandbox; returns (sandbox, settings overrides, environment)."""
    try:
        from sandbox import Sandbox
    except ImportError as e:  # moto is not installed
        raise ConfigError(
            "--demo needs the 'demo' extra (moto): pip install 'trailtop[demo]', or run `make demo`"
        ) from e
    sb = Sandbox(scenario="demo", delivery_interval=DEMO_DELIVERY_INTERVAL)
    sb.start()
    return sb, demo_overrides(sb.manifest, sb.endpoint_url), sb.process_env({})
