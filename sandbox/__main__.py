"""``python -m sandbox --scenario demo``: serve an emulated estate for people and the AWS CLI.

Prints the environment to export, the accounts, profiles and roles, then serves until
interrupted. Nothing else is written while serving.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
from typing import Any

from .harness import Sandbox
from .scenarios import SCENARIOS

#: Accounts listed one per line; a 1,000-account organization is summarised after these.
_LISTED_ACCOUNTS = 12


def _summary(sb: Sandbox) -> str:
    m: dict[str, Any] = sb.manifest
    env = sb.aws_env()
    lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    lines.append(f"AWS_ENDPOINT_URL={sb.endpoint_url}")
    lines += [
        "",
        f"# scenario {m.get('scenario')}: seeded in {sb.seed_seconds}s, server pid {sb.pid}",
    ]
    accounts = list(m.get("accounts", {}).items())
    for account, info in accounts[:_LISTED_ACCOUNTS]:
        lines.append(f"# account {account} {info['name']:<12} via {info['reached_by']}")
    if len(accounts) > _LISTED_ACCOUNTS:
        lines.append(f"# ... and {len(accounts) - _LISTED_ACCOUNTS} more accounts (see --manifest)")
    for name, info in m.get("profiles", {}).items():
        how = (
            "static keys"
            if info.get("static")
            else f"{info['role_arn']} from {info['source_profile']}"
        )
        lines.append(f"# profile {name:<14} account {info['account']}  {how}")
    for role in m.get("assume_roles", []):
        lines.append(f"# assume_roles: {role['role_arn']}")
    org = m.get("organization")
    if org:
        lines.append(
            f"# organization {org['id']} (management {org['management_account']}, "
            f"members reached with {org['role_name']})"
        )
    size = m.get("size")
    if size:
        lines.append("# size " + ", ".join(f"{k}={v}" for k, v in size.items()))
    broken = [t for t in m.get("trails", []) if t["broken"]]
    lines.append(f"# {len(m.get('trails', []))} trails, {len(broken)} broken")
    for t in broken[:20]:
        lines.append(f"#   {t['arn']}  {t['root_cause']}")
    lz = m.get("landing_zone")
    if lz:
        lines.append(
            f"# landing zone: bucket in {lz['log_archive']}, key in {lz['security']}, "
            f"delegated admins {', '.join(lz['delegated_admins']) or 'none'}"
        )
        for q in lz["quiet_regions"]:
            lines.append(f"#   quiet region {q['account']} {q['region']} (digests only)")
    profiles = m.get("profiles", {})
    # A broken trail that a written profile reaches (members of an Organization have none).
    reachable = [
        (trail, name)
        for trail in broken
        for name, info in sorted(profiles.items(), key=lambda item: item[0] == "default")
        if info.get("account") == trail["account"]
    ]
    if reachable:
        first, profile = reachable[0]
        lines += [
            "",
            "# try:",
            f"aws --profile {profile} --region {first['home_region']} cloudtrail "
            f"get-trail-status --name {first['arn']}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--scenario", default="demo", choices=sorted(SCENARIOS))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delivery-interval", type=float, default=2.0)
    parser.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="scenario argument, e.g. --arg accounts=10 (bench)",
    )
    parser.add_argument("--manifest", help="also write the manifest JSON to this file")
    args = parser.parse_args(argv)
    scenario_args = {}
    for item in args.arg:
        key, _, value = item.partition("=")
        scenario_args[key] = int(value) if value.isdigit() else value
    sb = Sandbox(
        scenario=args.scenario,
        delivery_interval=args.delivery_interval,
        port=args.port,
        scenario_args=scenario_args,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        sb.start()
        print(_summary(sb), flush=True)
        if args.manifest:
            with open(args.manifest, "w") as handle:
                json.dump(sb.manifest, handle, indent=2)
        print("# serving; Ctrl-C to stop", file=sys.stderr, flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
