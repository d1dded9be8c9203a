"""The ``org`` scenario: an Organization at the size trailtop must handle in one sweep.

A management account with an organization trail (multi-region, covering every member), a
local multi-region trail in every ``local_every``-th member, a few of those broken with the
bench's cheap root causes, every account in the first ``regions`` regions. The manifest
lists the organization trail's views for the management account only (``covers_accounts``
says how many accounts it covers): its copies in 999 members are what trailtop summarises,
not 17,000 views a test should enumerate.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .estate import BuiltTrail, TrailSpec, build_trail
from .profiles import MGMT, ORG_ROLE, organization_manifest
from .regions import DEFAULT_REGIONS
from .scenarios import _BENCH_BREAKS, _break, _register_admin, _trail_entry
from .seeding import Actor, Seeder

ORG_TRAIL = "org-trail"
CLOUDTRAIL = "cloudtrail.amazonaws.com"


def member_name(index: int) -> str:
    """The Organizations account name of the ``index``-th member (1-based)."""
    return f"org-{index:04d}"


def _create_members(admin: Actor, names: list[str], workers: int) -> tuple[str, dict[str, str]]:
    """CreateOrganization, then CreateAccount for every name, several at once (each
    request's ids depend on its name, not on the order they are served in)."""
    orgs = admin.client("organizations")
    org_id = str(orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"])

    def create(name: str) -> str:
        status = orgs.create_account(Email=f"{name}@example.com", AccountName=name)
        return str(status["CreateAccountStatus"]["AccountId"])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        ids = list(pool.map(create, names))
    return org_id, dict(zip(names, ids, strict=True))


def local_members(count: int, every: int) -> list[int]:
    """1-based indices of the members with a local trail: the first and every
    ``every``-th after it (a tenth of the members for ``every=10``)."""
    return list(range(1, count + 1, every)) if every > 0 else []


def broken_picks(count: int, broken: int) -> dict[int, str]:
    """Positions among ``count`` local trails to break, spread evenly, with their causes."""
    broken = min(broken, count)
    if broken <= 0:
        return {}
    stride = count // broken
    return {i * stride: _BENCH_BREAKS[i % len(_BENCH_BREAKS)] for i in range(broken)}


def seed_org(
    seeder: Seeder,
    accounts: int = 1000,
    regions: int = 17,
    local_every: int = 10,
    broken: int = 5,
    workers: int = 8,
    **_: Any,
) -> dict[str, Any]:
    """``accounts`` (management + members ``org-0001``...) x the first ``regions`` regions."""
    started = time.monotonic()
    enabled = list(DEFAULT_REGIONS[:regions])
    admin_arn = _register_admin(seeder)
    admin = seeder.admin()
    names = [member_name(i) for i in range(1, accounts)]
    org_id, members = _create_members(admin, names, workers)
    account_ids = [MGMT, *members.values()]
    by_account = {a: enabled for a in account_ids}
    seeder.control.call("POST", "regions", {"default": enabled, "accounts": by_account})
    admin.client("organizations").enable_aws_service_access(ServicePrincipal=CLOUDTRAIL)
    # AWS's sample bucket policy for an organization trail: the management account's own
    # AWSLogs/<id>/ prefix and AWSLogs/<org-id>/ (every member's logs), for this trail.
    org_trail = build_trail(
        admin,
        TrailSpec(
            account=MGMT,
            name=ORG_TRAIL,
            region=enabled[0],
            multi_region=True,
            organization=True,
            prefix="org",
            validation=True,
            log_ids=[org_id],
        ),
    )

    local = local_members(len(names), local_every)
    picks = broken_picks(len(local), broken)

    def seed_local(position: int) -> dict[str, Any]:
        name = names[local[position] - 1]
        account = members[name]
        cause = picks.get(position)
        actor = seeder.role(account, ORG_ROLE, "org-setup")
        spec = TrailSpec(
            account=account,
            name=f"{name}-local",
            region=enabled[position % len(enabled)],
            multi_region=True,
            kms=cause == "KMS_KEY_DISABLED",
            policy_style="like" if position % 2 else "standard",
        )
        built: BuiltTrail = build_trail(actor, spec)
        if cause is None:
            return _trail_entry(built, by_account, [])
        result = _break(seeder, actor, built, cause, 10 + position % 50)
        return _trail_entry(
            built, by_account, [], cause, result["codes"], result["at"], result["by"]
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        local_entries = list(pool.map(seed_local, range(len(local))))

    org_entry = _trail_entry(org_trail, by_account, [])
    org_entry["covers_accounts"] = len(account_ids)
    for view in org_entry["views"]:
        view["role"] = "owner"
    trails = [org_entry, *local_entries]
    return {
        "scenario": "org",
        "management_account": MGMT,
        "admin_arn": admin_arn,
        **organization_manifest(org_id, members, "bench-mgmt", enabled),
        "assume_roles": [],
        "reach": {"profiles": ["bench-mgmt"], "assume_roles": [], "organization_role": ORG_ROLE},
        "regions": enabled,
        "org_trail_arn": org_trail.arn,
        "trails": trails,
        "uncovered": [],
        "stopped": [e["arn"] for e in trails if not e["logging"]],
        "size": {
            "accounts": accounts,
            "regions": regions,
            "views": sum(len(e["views"]) for e in trails),
            "local_trails": len(local_entries),
            "broken": sum(1 for e in local_entries if e["broken"]),
        },
        "seed_seconds": round(time.monotonic() - started, 2),
    }
