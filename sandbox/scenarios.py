"""Named estates: ``demo`` (one of every root cause, with a story), ``bench`` (sized),
``landing-zone`` (an organization trail with its destinations in other accounts) and
``org`` (an Organization of a thousand accounts, sandbox/org_scenario.py).

A scenario seeds a running sandbox over HTTP and returns its manifest: the sandbox's own
truth (accounts, profiles, trails, what each was broken with, uncovered regions) against
which tests check trailtop's verdicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .delivery import iso
from .estate import BuiltTrail, TrailSpec, break_trail, build_trail, posture_codes
from .landing_zone_seed import seed_landing_zone
from .profiles import MGMT, MGMT_KEY, ORG_ROLE, organization_manifest
from .regions import DEFAULT_REGIONS
from .seeding import Actor, Seeder

PROD = "111111111111"
STAGING = "222222222222"
DEMO_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
READ_ROLE = "TrailtopReadOnly"

TERRAFORM_UA = "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.62.0"
CLI_UA = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9 command/deploy"
CONSOLE_UA = "AWS Internal"

SETUP_MINUTES_AGO = 30 * 24 * 60  # the estate was built a month ago


def _register_admin(seeder: Seeder) -> str:
    reply = seeder.control.call(
        "POST",
        "identity/static-key",
        {
            "account": MGMT,
            "user_name": "sandbox-admin",
            "access_key_id": MGMT_KEY.access_key_id,
            "secret_access_key": MGMT_KEY.secret_access_key,
        },
    )
    return str(reply["arn"])


def seed_empty(seeder: Seeder, **_: Any) -> dict[str, Any]:
    """Just the server, the profiles and the management account's static key (a key the
    server did not issue is refused, as AWS refuses it)."""
    _register_admin(seeder)
    return {"scenario": "empty"}


def _create_org(seeder: Seeder, admin: Actor, members: list[str]) -> tuple[str, dict[str, str]]:
    orgs = admin.client("organizations")
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    ids: dict[str, str] = {}
    for name in members:
        status = orgs.create_account(Email=f"{name}@example.com", AccountName=name)[
            "CreateAccountStatus"
        ]
        ids[name] = status["AccountId"]
    return org_id, ids


def _views(
    trail: BuiltTrail, regions: dict[str, list[str]], org_members: list[str], owner_codes: list[str]
) -> list[dict[str, Any]]:
    """Every (account, region) view of a trail with the codes expected there."""
    spec = trail.spec
    owner_regions = regions[spec.account] if spec.multi_region else [spec.region]
    views = [
        {"account": spec.account, "region": r, "expected_codes": list(owner_codes)}
        for r in owner_regions
    ]
    if spec.organization:
        for member in org_members:
            if member == spec.account:
                continue
            member_regions = regions[member] if spec.multi_region else [spec.region]
            views += [
                {"account": member, "region": r, "expected_codes": ["MANAGED_ELSEWHERE"]}
                for r in member_regions
                if r in regions[member]
            ]
    return views


def _trail_entry(
    trail: BuiltTrail,
    regions: dict[str, list[str]],
    org_members: list[str],
    cause: str | None = None,
    codes: list[str] | None = None,
    broken_at: float | None = None,
    broken_by: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec = trail.spec
    owner_codes = list(codes or [])
    owners = {"bucket": trail.bucket_account}
    for kind, arn in (
        ("key", trail.key_arn),
        ("topic", trail.topic_arn),
        ("log_group", trail.log_group_arn),
        ("role", trail.role_arn),
    ):
        if arn:
            owners[kind] = arn.split(":")[4]
    return {
        "account": spec.account,
        "name": spec.name,
        "arn": trail.arn,
        "home_region": spec.region,
        "multi_region": spec.multi_region,
        "organization_trail": spec.organization,
        "bucket": trail.bucket,
        "bucket_account": trail.bucket_account,
        "s3_key_prefix": spec.prefix,
        "log_file_validation": spec.validation,
        "kms_key_arn": trail.key_arn,
        "sns_topic_arn": trail.topic_arn,
        "log_group_arn": trail.log_group_arn,
        "cloudwatch_role_arn": trail.role_arn,
        "destination_owners": owners,
        "broken": cause is not None,
        "root_cause": cause.split("/")[0] if cause else None,
        "expected_codes": owner_codes,
        "posture_codes": posture_codes(trail),
        "broken_since": iso(broken_at) if broken_at else None,
        "broken_by": broken_by,
        "logging": cause != "LOGGING_STOPPED",
        "views": _views(trail, regions, org_members, owner_codes),
    }


def _break(
    seeder: Seeder, actor: Actor, trail: BuiltTrail, cause: str, minutes_ago: float
) -> dict[str, Any]:
    """Break a trail at a story time and make its views remember their last good delivery."""
    at = seeder.ago(minutes_ago)
    event, codes = break_trail(actor, trail, cause, at)
    seeder.control.call("POST", "delivery/seed", {"trail_arn": trail.arn, "last_success": at})
    return {
        "cause": cause,
        "codes": codes,
        "at": at,
        "by": {"actor": actor.arn, "event": event, "event_time": iso(at)},
    }


def seed_demo(seeder: Seeder, **_: Any) -> dict[str, Any]:
    """Four accounts x four regions, healthy trails of every shape, one broken per root cause."""
    admin_arn = _register_admin(seeder)
    admin = seeder.admin(source_ip="198.51.100.7")
    org_id, members = _create_org(seeder, admin, ["security"])
    security = members["security"]
    accounts = [MGMT, PROD, STAGING, security]
    regions = {a: list(DEMO_REGIONS) for a in accounts}
    seeder.control.call("POST", "regions", {"default": DEMO_REGIONS, "accounts": regions})
    org_accounts = [MGMT, security]

    def tf(account: str, role: str = "terraform-apply") -> Actor:
        return seeder.role(account, role, "terraform", TERRAFORM_UA, "10.20.0.15")

    tf_mgmt, tf_prod, tf_staging, tf_sec = tf(MGMT), tf(PROD), tf(STAGING), tf(security, ORG_ROLE)
    ci_prod = seeder.role(PROD, "ci-deployer", "gitlab-ci-pipeline-4711", CLI_UA, "203.0.113.24")
    ci_sec = seeder.role(security, "ci-deployer", "gitlab-ci-pipeline-4733", CLI_UA, "203.0.113.24")
    alice_mgmt = seeder.role(
        MGMT,
        "AWSReservedSSO_AdministratorAccess_5f1c2a9e0b7d3c41",
        "alice@example.com",
        CONSOLE_UA,
        "198.51.100.7",
    )
    alice_prod = seeder.role(
        PROD,
        "AWSReservedSSO_AdministratorAccess_5f1c2a9e0b7d3c41",
        "alice@example.com",
        CONSOLE_UA,
        "198.51.100.7",
    )
    setup = seeder.ago(SETUP_MINUTES_AGO)

    for actor, _account in ((tf_prod, PROD), (tf_staging, STAGING)):
        actor.at = setup
        actor.client("iam").create_role(
            RoleName=READ_ROLE,
            AssumeRolePolicyDocument=(
                '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
                f'{{"AWS":"arn:aws:iam::{MGMT}:root"}},"Action":"sts:AssumeRole"}}]}}'
            ),
        )
        actor.client("iam").put_role_policy(
            RoleName=READ_ROLE,
            PolicyName="trailtop-read",
            PolicyDocument=(
                '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":'
                '["cloudtrail:Describe*","cloudtrail:Get*","cloudtrail:List*",'
                '"cloudtrail:LookupEvents","s3:GetBucket*","kms:DescribeKey",'
                '"kms:GetKeyPolicy","sns:GetTopicAttributes","logs:Describe*",'
                '"iam:GetRole*","iam:List*","ec2:DescribeRegions"],"Resource":"*"}]}'
            ),
        )
        actor.at = None

    def build(actor: Actor, **spec: Any) -> BuiltTrail:
        return build_trail(actor, TrailSpec(**spec), at=setup)

    healthy_plan: list[tuple[Actor, dict[str, Any]]] = [
        (
            tf_mgmt,
            dict(
                account=MGMT,
                name="org-trail",
                region="us-east-1",
                multi_region=True,
                organization=True,
                prefix="org",
                validation=True,
                kms=True,
                log_ids=[org_id],
            ),
        ),
        (
            tf_mgmt,
            dict(
                account=MGMT,
                name="mgmt-audit",
                region="eu-west-1",
                prefix="audit/eu",
                policy_style="like",
            ),
        ),
        (
            tf_prod,
            dict(
                account=PROD,
                name="prod-main",
                region="us-east-1",
                multi_region=True,
                validation=True,
                kms=True,
                sns=True,
                cloudwatch=True,
                cloudwatch_managed_policy=True,
                policy_style="extra",
            ),
        ),
        (
            tf_staging,
            dict(
                account=STAGING,
                name="staging-central",
                region="us-east-1",
                bucket=f"trailtop-central-logs-{MGMT}",
                bucket_owner=tf_mgmt,
                bucket_account=MGMT,
                validation=True,
            ),
        ),
        (
            tf_staging,
            dict(account=STAGING, name="staging-usw2", region="us-west-2", policy_style="unusual"),
        ),
        (tf_staging, dict(account=STAGING, name="staging-euw1", region="eu-west-1", prefix="ct")),
    ]
    # (actor, spec, root cause, minutes ago)
    broken_plan: list[tuple[Actor, dict[str, Any], str, float]] = [
        (
            alice_mgmt,
            dict(account=MGMT, name="mgmt-legacy", region="us-west-2"),
            "S3_BUCKET_MISSING",
            180,
        ),
        (
            ci_prod,
            dict(account=PROD, name="prod-s3-policy", region="us-west-2", validation=True),
            "S3_POLICY_DENIES_CLOUDTRAIL",
            12,
        ),
        (
            ci_prod,
            dict(account=PROD, name="prod-s3-deny", region="eu-west-1", validation=True),
            "S3_POLICY_DENIES_CLOUDTRAIL/explicit-deny",
            47,
        ),
        (
            ci_prod,
            dict(account=PROD, name="prod-acl-check", region="ap-southeast-2"),
            "S3_POLICY_ACL_CHECK_MISSING",
            95,
        ),
        (
            alice_prod,
            dict(account=PROD, name="prod-kms-missing", region="us-east-1", kms=True),
            "KMS_KEY_MISSING",
            8 * 24 * 60,
        ),
        (
            ci_prod,
            dict(account=PROD, name="prod-kms-disabled", region="us-west-2", kms=True),
            "KMS_KEY_DISABLED",
            33,
        ),
        (
            alice_prod,
            dict(account=PROD, name="prod-kms-pending", region="eu-west-1", kms=True),
            "KMS_KEY_PENDING_DELETION",
            21,
        ),
        (
            ci_prod,
            dict(account=PROD, name="prod-kms-policy", region="ap-southeast-2", kms=True),
            "KMS_POLICY_DENIES_CLOUDTRAIL",
            64,
        ),
        (
            alice_prod,
            dict(account=PROD, name="prod-stopped", region="us-west-2"),
            "LOGGING_STOPPED",
            25,
        ),
        (
            ci_sec,
            dict(account=security, name="sec-sns-missing", region="us-east-1", sns=True),
            "SNS_TOPIC_MISSING",
            18,
        ),
        (
            ci_sec,
            dict(account=security, name="sec-sns-policy", region="us-west-2", sns=True),
            "SNS_POLICY_DENIES_CLOUDTRAIL",
            29,
        ),
        (
            ci_sec,
            dict(account=security, name="sec-cw-group", region="eu-west-1", cloudwatch=True),
            "CLOUDWATCH_LOG_GROUP_MISSING",
            8,
        ),
        (
            ci_sec,
            dict(account=security, name="sec-cw-role", region="ap-southeast-2", cloudwatch=True),
            "CLOUDWATCH_ROLE_MISSING",
            140,
        ),
        (
            ci_sec,
            dict(account=security, name="sec-cw-trust", region="us-east-1", cloudwatch=True),
            "CLOUDWATCH_ROLE_TRUST_INVALID",
            52,
        ),
        (
            ci_sec,
            dict(account=security, name="sec-cw-perms", region="us-west-2", cloudwatch=True),
            "CLOUDWATCH_ROLE_PERMISSIONS_MISSING",
            15,
        ),
    ]
    builders = {MGMT: tf_mgmt, PROD: tf_prod, security: tf_sec}

    def healthy_job(job: tuple[Actor, dict[str, Any]]) -> dict[str, Any]:
        return _trail_entry(build(job[0], **job[1]), regions, org_accounts)

    def broken_job(job: tuple[Actor, dict[str, Any], str, float]) -> dict[str, Any]:
        actor, spec, cause, minutes = job
        trail = build(builders[spec["account"]], **spec)
        result = _break(seeder, actor, trail, cause, minutes)
        if cause == "KMS_KEY_MISSING":  # the 7-day waiting period is over: the key is gone
            seeder.control.call("POST", "kms/purge", {"key_arn": trail.key_arn})
        return _trail_entry(
            trail, regions, org_accounts, cause, result["codes"], result["at"], result["by"]
        )

    # Client and server CPU overlap when several trails are seeded at once (2 processes).
    with ThreadPoolExecutor(max_workers=4) as pool:
        entries = list(pool.map(healthy_job, healthy_plan)) + list(
            pool.map(broken_job, broken_plan)
        )

    read_role = {a: f"arn:aws:iam::{a}:role/{READ_ROLE}" for a in (PROD, STAGING)}
    return {
        "scenario": "demo",
        "management_account": MGMT,
        "admin_arn": admin_arn,
        "organization": {
            "id": org_id,
            "management_account": MGMT,
            "role_name": ORG_ROLE,
            "members": [{"id": security, "name": "security"}],
        },
        "accounts": {
            MGMT: {
                "name": "management",
                "reached_by": "profile demo-mgmt (static keys)",
                "regions": regions[MGMT],
            },
            PROD: {
                "name": "prod",
                "reached_by": "profile demo-prod (role_arn + source_profile)",
                "regions": regions[PROD],
            },
            STAGING: {
                "name": "staging",
                "reached_by": f"assume_roles: {read_role[STAGING]}",
                "regions": regions[STAGING],
            },
            security: {
                "name": "security",
                "reached_by": f"organization role {ORG_ROLE}",
                "regions": regions[security],
            },
        },
        "profiles": {
            "default": {"account": MGMT, "static": True},
            "demo-mgmt": {"account": MGMT, "static": True},
            "demo-prod": {
                "account": PROD,
                "role_arn": read_role[PROD],
                "source_profile": "demo-mgmt",
            },
            "demo-ci-prod": {
                "account": PROD,
                "role_arn": f"arn:aws:iam::{PROD}:role/ci-deployer",
                "source_profile": "demo-mgmt",
            },
        },
        "assume_roles": [{"account": STAGING, "role_arn": read_role[STAGING]}],
        "regions": DEMO_REGIONS,
        "trails": entries,
        "uncovered": [
            {
                "account": STAGING,
                "region": "ap-southeast-2",
                "expected_codes": ["REGION_NOT_COVERED"],
            }
        ],
        "stopped": [e["arn"] for e in entries if not e["logging"]],
        "actors": {
            "terraform": "role terraform-apply (session terraform)",
            "ci": f"arn:aws:iam::{PROD}:role/ci-deployer and arn:aws:iam::{security}:role/ci-deployer",
            "alice": "role AWSReservedSSO_AdministratorAccess_5f1c2a9e0b7d3c41 (session alice@example.com)",
        },
    }


_BENCH_BREAKS = (
    "S3_POLICY_DENIES_CLOUDTRAIL",
    "S3_BUCKET_MISSING",
    "LOGGING_STOPPED",
    "KMS_KEY_DISABLED",
    "S3_POLICY_ACL_CHECK_MISSING",
)


def seed_bench(
    seeder: Seeder,
    accounts: int = 50,
    regions: int = 17,
    trails: int = 4,
    multi_region_trails: int | None = None,
    broken: int = 5,
    workers: int = 8,
    **_: Any,
) -> dict[str, Any]:
    """``accounts`` (management + Organization members) x first ``regions`` regions x ``trails``.

    The first ``multi_region_trails`` trails of each account (default: half) are multi-region;
    the others are single-region, spread over the enabled regions. ``broken`` trails, spread
    over the estate, are broken with a cycle of cheap root causes.
    """
    started = time.monotonic()
    multi = trails // 2 if multi_region_trails is None else min(multi_region_trails, trails)
    enabled = list(DEFAULT_REGIONS[:regions])
    _register_admin(seeder)
    admin = seeder.admin()
    org_id, members = _create_org(seeder, admin, [f"bench-{i:03d}" for i in range(1, accounts)])
    account_ids = [MGMT, *members.values()]
    seeder.control.call(
        "POST", "regions", {"default": enabled, "accounts": {a: enabled for a in account_ids}}
    )
    total = accounts * trails
    stride = max(total // broken, 1) if broken else 0
    broken_slots = sorted({min(i * stride + (i % trails), total - 1) for i in range(broken)})

    def seed_account(index: int, account: str) -> list[dict[str, Any]]:
        actor = seeder.admin() if account == MGMT else seeder.role(account, ORG_ROLE, "bench-setup")
        entries = []
        for t in range(trails):
            slot = index * trails + t
            cause = (
                _BENCH_BREAKS[broken_slots.index(slot) % len(_BENCH_BREAKS)]
                if slot in broken_slots
                else None
            )
            region = enabled[0] if t < multi else enabled[(index + t) % len(enabled)]
            spec = TrailSpec(
                account=account,
                name=f"bench-{t}",
                region=region,
                multi_region=t < multi,
                kms=cause == "KMS_KEY_DISABLED",
                policy_style="like" if t % 2 else "standard",
            )
            built = build_trail(actor, spec)
            if cause:
                result = _break(seeder, actor, built, cause, 10 + slot % 50)
                entries.append(
                    _trail_entry(
                        built,
                        regions_by_account,
                        [],
                        cause,
                        result["codes"],
                        result["at"],
                        result["by"],
                    )
                )
            else:
                entries.append(_trail_entry(built, regions_by_account, []))
        return entries

    regions_by_account = {a: enabled for a in account_ids}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda pair: seed_account(*pair), enumerate(account_ids)))
    trail_entries = [e for chunk in results for e in chunk]
    return {
        "scenario": "bench",
        "management_account": MGMT,
        **organization_manifest(
            org_id,
            members,
            "bench-mgmt",
            enabled,
            names={MGMT: "management", **{a: f"member {a}" for a in account_ids[1:]}},
        ),
        "assume_roles": [],
        "regions": enabled,
        "trails": trail_entries,
        "uncovered": []
        if multi
        else [
            {"account": a, "region": r, "expected_codes": ["REGION_NOT_COVERED"]}
            for a in account_ids
            for r in enabled
            if not any(
                e["account"] == a and e["home_region"] == r and e["logging"] for e in trail_entries
            )
        ],
        "stopped": [e["arn"] for e in trail_entries if not e["logging"]],
        "size": {
            "accounts": accounts,
            "regions": regions,
            "trails_per_account": trails,
            "multi_region_trails": multi,
            "views": sum(len(e["views"]) for e in trail_entries),
        },
        "seed_seconds": round(time.monotonic() - started, 2),
    }


def seed_org(seeder: Seeder, **args: Any) -> dict[str, Any]:
    """An Organization of ``accounts`` with an organization trail (sandbox/org_scenario.py)."""
    from .org_scenario import seed_org as seed

    return seed(seeder, **args)


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "demo": seed_demo,
    "bench": seed_bench,
    "landing-zone": seed_landing_zone,
    "org": seed_org,
    "empty": seed_empty,
}
