"""Seeding the ``landing-zone`` scenario: management, log-archive, security and workload
accounts, the organization trail with its bucket, key, topic and log group in the accounts
that own them, Control-Tower-style policies, quiet regions and Event history noise
(the layout and its breakages are described in sandbox/landing_zone.py and the README).
"""

from __future__ import annotations

import time
from typing import Any

from . import policies
from .delivery import iso
from .estate import TrailSpec, build_trail, posture_codes
from .landing_zone import (
    ACTORS,
    BASELINE_NOISE,
    BREAKAGES,
    CLOUDTRAIL,
    CW_POLICY,
    CW_ROLE,
    DEFAULT_NOISE,
    HOME,
    KEY_ALIAS,
    LOG_GROUP,
    LOGS_KEY_ALIAS,
    MEMBERS,
    QUIET,
    QUIET_MINUTES,
    REGIONS,
    SETUP_MINUTES_AGO,
    TERRAFORM_UA,
    TOPIC_NAME,
    TRAIL_NAME,
    LandingZone,
    logs_key_policy,
)
from .profiles import MGMT, MGMT_KEY, ORG_ROLE, organization_manifest
from .seeding import Actor, Seeder


def _setup_members(seeder: Seeder, admin: Actor) -> tuple[str, dict[str, str]]:
    orgs = admin.client("organizations")
    org_id = str(orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"])
    ids: dict[str, str] = {}
    for name in MEMBERS:
        status = orgs.create_account(Email=f"aws+{name}@example.com", AccountName=name)
        ids[name] = str(status["CreateAccountStatus"]["AccountId"])
    return org_id, ids


def seed_landing_zone(
    seeder: Seeder,
    broken: str | None = None,
    noise: int = DEFAULT_NOISE,
    delegated_admin: Any = True,
    **_: Any,
) -> dict[str, Any]:
    """Seed the landing zone (healthy unless ``broken`` names a ``BREAKAGES`` kind)."""
    started = time.monotonic()
    admin_arn = str(
        seeder.control.call(
            "POST",
            "identity/static-key",
            {
                "account": MGMT,
                "user_name": "sandbox-admin",
                "access_key_id": MGMT_KEY.access_key_id,
                "secret_access_key": MGMT_KEY.secret_access_key,
            },
        )["arn"]
    )
    setup = seeder.ago(SETUP_MINUTES_AGO)
    admin = seeder.admin(user_agent=TERRAFORM_UA, source_ip="10.20.0.15")
    admin.at = setup
    org_id, ids = _setup_members(seeder, admin)
    log_archive, security = ids["log-archive"], ids["security"]
    accounts = [MGMT, *ids.values()]
    seeder.control.call(
        "POST", "regions", {"default": REGIONS, "accounts": {a: REGIONS for a in accounts}}
    )
    members: dict[str, Actor] = {}
    for name, account in ids.items():
        actor = seeder.role(account, "AWSControlTowerExecution", "AWSControlTower", TERRAFORM_UA)
        actor.at = setup
        members[name] = actor

    trail_arn = f"arn:aws:cloudtrail:{HOME}:{MGMT}:trail/{TRAIL_NAME}"
    prefix = org_id  # Control Tower's key prefix: <bucket>/<org-id>/AWSLogs/<org-id>/...
    bucket = f"aws-controltower-logs-{log_archive}-{HOME}"
    la = members["log-archive"]
    la.client("s3", HOME).create_bucket(Bucket=bucket)
    la.client("s3", HOME).put_bucket_policy(
        Bucket=bucket,
        Policy=policies.lz_bucket_policy(bucket, org_id, prefix, MGMT, security),
    )
    kms = members["security"].client("kms", HOME)
    key = kms.create_key(
        Policy=policies.lz_key_policy(security, MGMT, log_archive),
        Description="Organization trail log files",
    )["KeyMetadata"]
    kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key["KeyId"])

    topic_arn = f"arn:aws:sns:{HOME}:{MGMT}:{TOPIC_NAME}"
    admin.client("sns", HOME).create_topic(
        Name=TOPIC_NAME,
        Attributes={"Policy": policies.lz_topic_policy(topic_arn, MGMT, trail_arn)},
    )
    group_arn = f"arn:aws:logs:{HOME}:{MGMT}:log-group:{LOG_GROUP}:*"
    logs_kms = admin.client("kms", HOME)
    logs_key = logs_kms.create_key(
        Policy=logs_key_policy(MGMT, group_arn.removesuffix(":*")),
        Description="CloudWatch Logs: organization trail events",
    )["KeyMetadata"]
    logs_kms.create_alias(AliasName=LOGS_KEY_ALIAS, TargetKeyId=logs_key["KeyId"])
    admin.client("logs", HOME).create_log_group(logGroupName=LOG_GROUP, kmsKeyId=logs_key["Arn"])
    iam = admin.client("iam")
    role_arn = str(
        iam.create_role(RoleName=CW_ROLE, AssumeRolePolicyDocument=policies.trust_policy())["Role"][
            "Arn"
        ]
    )
    iam.put_role_policy(
        RoleName=CW_ROLE,
        PolicyName=CW_POLICY,
        PolicyDocument=policies.lz_logs_delivery_policy(LOG_GROUP),
    )
    admin.client("organizations").enable_aws_service_access(ServicePrincipal=CLOUDTRAIL)
    ct = admin.client("cloudtrail", HOME)
    ct.create_trail(
        Name=TRAIL_NAME,
        S3BucketName=bucket,
        S3KeyPrefix=prefix,
        SnsTopicName=TOPIC_NAME,
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
        EnableLogFileValidation=True,
        IsOrganizationTrail=True,
        KmsKeyId=key["Arn"],
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=role_arn,
    )
    ct.start_logging(Name=trail_arn)
    admin.at = None

    local = build_trail(
        members["workload-prod"],
        TrailSpec(
            account=ids["workload-prod"],
            name="workload-prod-app",
            region="us-west-2",
            validation=True,
        ),
        at=setup,
    )
    for actor in members.values():
        actor.at = None

    quiet_regions = []
    last_log = seeder.ago(QUIET_MINUTES)
    for role, region in QUIET:
        account = MGMT if role == "management" else ids[role]
        seeder.control.call(
            "POST",
            "delivery/quiet",
            {"account": account, "region": region, "trail_arn": trail_arn, "last_log": last_log},
        )
        quiet_regions.append(
            {
                "account": account,
                "region": region,
                "trail_arn": trail_arn,
                "last_log_delivery": iso(last_log),
            }
        )

    org_entry = {
        "account": MGMT,
        "name": TRAIL_NAME,
        "arn": trail_arn,
        "home_region": HOME,
        "multi_region": True,
        "organization_trail": True,
        "bucket": bucket,
        "bucket_account": log_archive,
        "s3_key_prefix": prefix,
        "log_file_validation": True,
        "kms_key_arn": key["Arn"],
        "sns_topic_arn": topic_arn,
        "log_group_arn": group_arn,
        "cloudwatch_role_arn": role_arn,
        "destination_owners": {
            "bucket": log_archive,
            "key": security,
            "topic": MGMT,
            "log_group": MGMT,
            "role": MGMT,
        },
        "broken": False,
        "root_cause": None,
        "expected_codes": [],
        "posture_codes": [],
        "broken_since": None,
        "broken_by": None,
        "logging": True,
        "views": [],
    }
    local_entry = {
        "account": ids["workload-prod"],
        "name": local.spec.name,
        "arn": local.arn,
        "home_region": local.spec.region,
        "multi_region": False,
        "organization_trail": False,
        "bucket": local.bucket,
        "bucket_account": local.bucket_account,
        "s3_key_prefix": "",
        "log_file_validation": True,
        "kms_key_arn": None,
        "sns_topic_arn": None,
        "log_group_arn": None,
        "cloudwatch_role_arn": None,
        "destination_owners": {"bucket": local.bucket_account},
        "broken": False,
        "root_cause": None,
        "expected_codes": [],
        "posture_codes": posture_codes(local),
        "broken_since": None,
        "broken_by": None,
        "logging": True,
        "views": [
            {
                "account": ids["workload-prod"],
                "region": local.spec.region,
                "role": "owner",
                "quiet": False,
                "last_log_delivery": None,
                "expected_codes": [],
            }
        ],
    }
    manifest: dict[str, Any] = {
        "scenario": "landing-zone",
        "management_account": MGMT,
        "admin_arn": admin_arn,
        **organization_manifest(org_id, ids, "lz-mgmt", REGIONS),
        "assume_roles": [],
        "reach": {"profiles": ["lz-mgmt"], "assume_roles": [], "organization_role": ORG_ROLE},
        "regions": list(REGIONS),
        "trails": [org_entry, local_entry],
        "uncovered": [],
        "stopped": [],
        "landing_zone": {
            "management": MGMT,
            "log_archive": log_archive,
            "security": security,
            "workload_prod": ids["workload-prod"],
            "workload_dev": ids["workload-dev"],
            "org_id": org_id,
            "org_trail_arn": trail_arn,
            "bucket": bucket,
            "s3_key_prefix": prefix,
            "key_arn": key["Arn"],
            "key_id": key["KeyId"],
            "key_alias": KEY_ALIAS,
            "topic_arn": topic_arn,
            "log_group_arn": group_arn,
            "log_group_key_arn": logs_key["Arn"],
            "log_group_key_id": logs_key["KeyId"],
            "cloudwatch_role_arn": role_arn,
            "cloudwatch_role_policy": CW_POLICY,
            "delegated_admins": [],
            "quiet_regions": quiet_regions,
            "breakages": sorted(BREAKAGES),
            "breaks": [],
        },
        "actors": {
            "management": f"arn:aws:iam::{MGMT}:role/{ACTORS['management'][0]}",
            "log_archive": f"arn:aws:iam::{log_archive}:role/{ACTORS['log_archive'][0]}",
            "security": f"arn:aws:iam::{security}:role/{ACTORS['security'][0]}",
        },
    }
    zone = LandingZone(seeder, manifest)
    if str(delegated_admin).lower() not in ("0", "false", "no", "none"):
        zone.register_delegated_admin(security, at=setup + 3600.0)
    now = time.time()
    for owner in ("log_archive", "security", "management"):
        zone.noise(owner, now - 7200.0, now, BASELINE_NOISE)
    if broken:
        zone.break_(str(broken), minutes_ago=40.0, noise=int(noise))
    zone.refresh()
    manifest["delegated_admins"] = manifest["landing_zone"]["delegated_admins"]
    manifest["quiet_regions"] = quiet_regions
    manifest["seed_seconds"] = round(time.monotonic() - started, 2)
    return manifest
