"""Which regions each emulated account has enabled, answered as EC2 and Account would.

moto's DescribeRegions lists every region it knows for every account; region discovery in
trailtop deserves a realistic, small, per-account answer instead.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

#: The 17 regions enabled by default in a commercial AWS account, in a fixed order.
DEFAULT_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-2",
    "us-east-2",
    "us-west-1",
    "eu-central-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-south-1",
    "ca-central-1",
    "sa-east-1",
)
#: Opt-in regions (disabled unless an account enables them).
OPT_IN_REGIONS: tuple[str, ...] = (
    "af-south-1",
    "ap-east-1",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "eu-south-1",
    "eu-south-2",
    "eu-central-2",
    "il-central-1",
    "me-south-1",
    "me-central-1",
)
ALL_REGIONS = DEFAULT_REGIONS + OPT_IN_REGIONS


class RegionTable:
    """Enabled regions per account (a default list for accounts not named)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.default: list[str] = list(DEFAULT_REGIONS)
        self.accounts: dict[str, list[str]] = {}

    def configure(self, default: list[str] | None, accounts: dict[str, list[str]] | None) -> None:
        with self._lock:
            if default is not None:
                self.default = list(default)
            if accounts:
                self.accounts.update({k: list(v) for k, v in accounts.items()})

    def enabled(self, account: str) -> list[str]:
        with self._lock:
            return list(self.accounts.get(account, self.default))


def _opt_in_status(region: str, enabled: bool) -> str:
    if region in OPT_IN_REGIONS:
        return "opted-in" if enabled else "not-opted-in"
    return "opt-in-not-required"


def describe_regions_xml(enabled: list[str], params: dict[str, Any]) -> bytes:
    """ec2:DescribeRegions: enabled regions, or all with AllRegions=true; RegionName.N filter."""
    all_regions = str(params.get("AllRegions", "false")).lower() == "true"
    wanted = {v for k, v in params.items() if k.startswith("RegionName.")}
    status_filter: set[str] = set()
    for key, value in params.items():
        if key.startswith("Filter.") and key.endswith(".Name") and value == "opt-in-status":
            index = key.split(".")[1]
            status_filter |= {
                v for k, v in params.items() if k.startswith(f"Filter.{index}.Value.")
            }
    names = list(ALL_REGIONS) if all_regions else list(enabled)
    items = []
    for region in names:
        status = _opt_in_status(region, region in enabled)
        if region not in enabled and region in DEFAULT_REGIONS:
            status = "not-opted-in"
        if wanted and region not in wanted:
            continue
        if status_filter and status not in status_filter:
            continue
        items.append(
            f"<item><regionName>{region}</regionName>"
            f"<regionEndpoint>ec2.{region}.amazonaws.com</regionEndpoint>"
            f"<optInStatus>{status}</optInStatus></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>{uuid.uuid4()}</requestId><regionInfo>{''.join(items)}</regionInfo>"
        "</DescribeRegionsResponse>"
    ).encode()


def list_regions(enabled: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """account:ListRegions (no pagination needed for 28 regions)."""
    wanted = set(params.get("RegionOptStatusContains") or [])
    regions = []
    for region in ALL_REGIONS:
        if region in enabled:
            status = "ENABLED" if region in OPT_IN_REGIONS else "ENABLED_BY_DEFAULT"
        else:
            status = "DISABLED"
        if wanted and status not in wanted:
            continue
        regions.append({"RegionName": region, "RegionOptStatus": status})
    return {"Regions": regions}
