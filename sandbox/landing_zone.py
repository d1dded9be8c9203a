"""The ``landing-zone`` estate: an organization trail whose destinations live elsewhere.

Most AWS Organizations run their organization trail the way AWS Control Tower and Landing
Zone Accelerator set it up: the trail in the management account (with its SNS topic and
CloudWatch Logs group and role; the group encrypted with a KMS key of the management account
whose policy lets CloudWatch Logs use it for that group), its bucket in a log-archive
account, its KMS key in a
security (audit) account that is also CloudTrail's delegated administrator, policies
hardened with aws:SourceOrgID, org-only paths, a TLS-only Deny and a data-perimeter Deny.
Two workload accounts complete it, one with a local trail of its own. trailtop reaches it
as an operator would: the management profile plus the Organization role.

``LandingZone`` breaks it the way people do (each change made in the account that owns the
resource, by a believable actor, at a story time), keeps the manifest true, and adds the
read events CloudTrail's own deliveries leave in the owner account's Event history, so a
search for the breaking event has to look past them. Seeding the estate is
sandbox/landing_zone_seed.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from . import policies
from .delivery import iso
from .seeding import Actor, Seeder

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
HOME = "us-east-1"
TRAIL_NAME = "aws-controltower-BaselineCloudTrail"
LOG_GROUP = "aws-controltower/CloudTrailLogs"
CW_ROLE = "aws-controltower-CloudWatchLogsRole"
CW_POLICY = "CloudTrailLogsDelivery"
TOPIC_NAME = "aws-controltower-CloudTrailNotifications"
KEY_ALIAS = "alias/aws-controltower/cloudtrail"
LOGS_KEY_ALIAS = "alias/aws-controltower/cloudtrail-logs"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
#: Accounts of the estate, by role, in creation order.
MEMBERS = ("log-archive", "security", "workload-prod", "workload-dev")
#: (account role, region) pairs with no API activity: no log file, digests only.
QUIET = (("management", "ap-southeast-2"), ("workload-dev", "ap-southeast-2"))
QUIET_MINUTES = 4 * 60  # their last log file was delivered this long before seeding
#: Read events added after each break (LookupEvents returns at most 50 per page).
DEFAULT_NOISE = 2100
BASELINE_NOISE = 150  # per owner account, over the two hours before seeding
SETUP_MINUTES_AGO = 45 * 24 * 60

CONSOLE_UA = "AWS Internal"
CLI_UA = (
    "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 "
    "lang/python#3.11.9 command/deploy"
)
TERRAFORM_UA = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) "
    "terraform-provider-aws/5.62.0"
)
SERVICE = {"type": "AWSService", "invokedBy": CLOUDTRAIL}


@dataclass(frozen=True)
class Breakage:
    """One way the landing zone breaks: who changes what, and what trailtop must see.

    ``active``: status codes of a view with activity; ``quiet``: of a quiet view (no log
    file, so only the digest channel can fail); ``root``: the destination's root cause.
    """

    event: str
    owner: str  # key of the landing_zone manifest section naming the owner account
    root: str
    active: tuple[str, ...]
    quiet: tuple[str, ...]
    summary: str


_S3 = ("S3_DELIVERY_ERROR", "DIGEST_DELIVERY_ERROR")
BREAKAGES: dict[str, Breakage] = {
    "bucket_policy": Breakage(
        "PutBucketPolicy",
        "log_archive",
        "S3_POLICY_DENIES_CLOUDTRAIL",
        _S3,
        ("DIGEST_DELIVERY_ERROR",),
        "bucket policy rewritten without the organization trail's write grant",
    ),
    "bucket_perimeter": Breakage(
        "PutBucketPolicy",
        "log_archive",
        "S3_POLICY_DENIES_CLOUDTRAIL",
        _S3,
        ("DIGEST_DELIVERY_ERROR",),
        "data-perimeter Deny lost its aws:PrincipalIsAWSService exemption",
    ),
    "key_disabled": Breakage(
        "DisableKey",
        "security",
        "KMS_KEY_DISABLED",
        ("S3_DELIVERY_ERROR",),
        (),
        "the trail's KMS key disabled",
    ),
    "key_pending_deletion": Breakage(
        "ScheduleKeyDeletion",
        "security",
        "KMS_KEY_PENDING_DELETION",
        ("S3_DELIVERY_ERROR",),
        (),
        "the trail's KMS key scheduled for deletion",
    ),
    "key_policy": Breakage(
        "PutKeyPolicy",
        "security",
        "KMS_POLICY_DENIES_CLOUDTRAIL",
        ("S3_DELIVERY_ERROR",),
        (),
        "key policy lets CloudTrail encrypt for the security account's trails only",
    ),
    "topic_policy": Breakage(
        "SetTopicAttributes",
        "management",
        "SNS_POLICY_DENIES_CLOUDTRAIL",
        ("SNS_NOTIFICATION_ERROR",),
        (),
        "topic policy without CloudTrail's SNS:Publish",
    ),
    "role_policy": Breakage(
        "DeleteRolePolicy",
        "management",
        "CLOUDWATCH_ROLE_PERMISSIONS_MISSING",
        ("CLOUDWATCH_DELIVERY_ERROR",),
        (),
        "CloudWatch Logs role's permissions policy deleted",
    ),
    "log_group_key_policy": Breakage(
        "PutKeyPolicy",
        "management",
        "CLOUDWATCH_LOG_GROUP_KMS_DENIES",
        ("CLOUDWATCH_DELIVERY_ERROR",),
        (),
        "log group key policy lets CloudWatch Logs use the key for another log group only",
    ),
}


def logs_key_policy(account: str, group_arn: str) -> str:
    """The log group key's policy: the account's root, and CloudWatch Logs for ``group_arn``
    (the statement of "Encrypt log data in CloudWatch Logs using AWS Key Management
    Service", restricted to one log group by ``kms:EncryptionContext:aws:logs:arn``)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "AllowCloudWatchLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{HOME}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}},
                },
            ],
        }
    )


#: Who makes changes in each account: (role, session, user agent, source IP).
ACTORS: dict[str, tuple[str, str, str, str]] = {
    "management": ("terraform-apply", "terraform", TERRAFORM_UA, "10.20.0.15"),
    "log_archive": (
        "AWSReservedSSO_AWSAdministratorAccess_3f9b2c1d7e6a5b40",
        "bob@example.com",
        CONSOLE_UA,
        "198.51.100.23",
    ),
    "security": ("lz-pipeline-deployer", "gitlab-ci-pipeline-9120", CLI_UA, "203.0.113.24"),
}


def _dedupe(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


class LandingZone:
    """Breaks, noise and delegated administration of a seeded landing zone.

    ``manifest`` is the sandbox's manifest; every change here keeps it true (the org trail's
    entry, its views' expected codes, ``landing_zone.breaks``, ``event_counts``).
    """

    def __init__(self, seeder: Seeder, manifest: dict[str, Any]) -> None:
        self.seeder = seeder
        self.manifest = manifest
        self._actors: dict[str, Actor] = {}

    @property
    def lz(self) -> dict[str, Any]:
        section: dict[str, Any] = self.manifest["landing_zone"]
        return section

    @property
    def trail(self) -> dict[str, Any]:
        """The organization trail's manifest entry (the dict itself, kept up to date)."""
        arn = self.lz["org_trail_arn"]
        return next(t for t in self.manifest["trails"] if t["arn"] == arn)

    def account(self, role: str) -> str:
        """The account id behind ``management``, ``log_archive``, ``security``, ..."""
        return str(self.lz[role])

    def actor(self, owner: str) -> Actor:
        if owner not in self._actors:
            role, session, agent, ip = ACTORS[owner]
            self._actors[owner] = self.seeder.role(self.account(owner), role, session, agent, ip)
        return self._actors[owner]

    # -- breaking ------------------------------------------------------------------------

    def break_(
        self, kind: str, minutes_ago: float = 30.0, noise: int = DEFAULT_NOISE
    ) -> dict[str, Any]:
        """Apply one breakage (``BREAKAGES``) as the owner account's actor, ``minutes_ago``.

        The organization trail's views remember their last good delivery at that time; then
        ``noise`` read events newer than the breaking one land in the owner's history.
        Returns what was done: event, actor, account, region, time, codes, noise count.
        """
        spec = BREAKAGES[kind]
        at = time.time() - minutes_ago * 60.0
        actor = self.actor(spec.owner)
        actor.at = at
        try:
            self._apply(kind, actor)
        finally:
            actor.at = None
        self.seeder.control.call(
            "POST", "delivery/seed", {"trail_arn": self.lz["org_trail_arn"], "last_success": at}
        )
        added = self.noise(spec.owner, at, time.time(), noise, kind, replace=True)
        record = {
            "kind": kind,
            "summary": spec.summary,
            "event": spec.event,
            "account": self.account(spec.owner),
            "region": HOME,
            "actor": actor.arn,
            "event_time": iso(at),
            "at": at,
            "root_cause": spec.root,
            "noise": added,
        }
        self.lz["breaks"].append(record)
        entry = self.trail
        entry["broken"] = True
        entry["root_cause"] = entry["root_cause"] or spec.root
        entry["broken_since"] = entry["broken_since"] or iso(at)
        entry["broken_by"] = entry["broken_by"] or {
            "actor": actor.arn,
            "event": spec.event,
            "event_time": iso(at),
            "account": record["account"],
            "region": HOME,
        }
        self.refresh()
        return record

    def _apply(self, kind: str, actor: Actor) -> None:
        lz = self.lz
        mgmt, log_archive, security = lz["management"], lz["log_archive"], lz["security"]
        if kind in ("bucket_policy", "bucket_perimeter"):
            actor.client("s3", HOME).put_bucket_policy(
                Bucket=lz["bucket"],
                Policy=policies.lz_bucket_policy(
                    lz["bucket"],
                    lz["org_id"],
                    lz["s3_key_prefix"],
                    mgmt,
                    security,
                    org_write=kind != "bucket_policy",
                    service_exemption=kind != "bucket_perimeter",
                ),
            )
        elif kind == "key_disabled":
            actor.client("kms", HOME).disable_key(KeyId=lz["key_id"])
        elif kind == "key_pending_deletion":
            actor.client("kms", HOME).schedule_key_deletion(
                KeyId=lz["key_id"], PendingWindowInDays=7
            )
        elif kind == "key_policy":
            actor.client("kms", HOME).put_key_policy(
                KeyId=lz["key_id"],
                PolicyName="default",
                Policy=policies.lz_key_policy(security, mgmt, log_archive, trail_account=security),
            )
        elif kind == "topic_policy":
            actor.client("sns", HOME).set_topic_attributes(
                TopicArn=lz["topic_arn"],
                AttributeName="Policy",
                AttributeValue=policies.lz_topic_policy(
                    lz["topic_arn"], mgmt, lz["org_trail_arn"], cloudtrail=False
                ),
            )
        elif kind == "role_policy":
            actor.client("iam").delete_role_policy(RoleName=CW_ROLE, PolicyName=CW_POLICY)
        elif kind == "log_group_key_policy":
            other = f"arn:aws:logs:{HOME}:{mgmt}:log-group:aws-controltower/SecurityHubLogs"
            actor.client("kms", HOME).put_key_policy(
                KeyId=lz["log_group_key_id"],
                PolicyName="default",
                Policy=logs_key_policy(mgmt, other),
            )
        else:
            raise KeyError(kind)

    # -- delegated administrator ---------------------------------------------------------

    def register_delegated_admin(self, account: str | None = None, at: float | None = None) -> None:
        """Register ``account`` (default: security) as CloudTrail's delegated administrator,
        from the management account, as cloudtrail:RegisterOrganizationDelegatedAdmin does
        (``at``: the event's story time)."""
        member = account or self.account("security")
        admin = self.seeder.admin(user_agent=CLI_UA, source_ip="198.51.100.7")
        admin.at = at
        admin.client("cloudtrail", HOME).register_organization_delegated_admin(
            MemberAccountId=member
        )
        if member not in self.lz["delegated_admins"]:
            self.lz["delegated_admins"].append(member)
        self.refresh()

    def deregister_delegated_admin(self, account: str | None = None) -> None:
        member = account or self.account("security")
        self.seeder.admin(user_agent=CLI_UA).client(
            "cloudtrail", HOME
        ).deregister_organization_delegated_admin(DelegatedAdminAccountId=member)
        if member in self.lz["delegated_admins"]:
            self.lz["delegated_admins"].remove(member)
        self.refresh()

    # -- Event history noise -------------------------------------------------------------

    def noise(
        self,
        owner: str,
        since: float,
        until: float,
        count: int,
        kind: str | None = None,
        replace: bool = False,
    ) -> int:
        """``count`` read events CloudTrail's deliveries cause in ``owner``'s history.

        ``replace`` first drops the synthetic ones already in (since, until]: after a break
        they must tell the broken story (a disabled key's GenerateDataKey calls fail).
        """
        if count <= 0:
            return 0
        reply = self.seeder.control.call(
            "POST",
            "events/synthetic",
            {
                "account": self.account(owner),
                "region": HOME,
                "since": since,
                "until": until,
                "count": count,
                "templates": self._templates(owner, kind),
                "replace": replace,
            },
        )
        return int(reply["recorded"])

    def _templates(self, owner: str, kind: str | None) -> list[dict[str, Any]]:
        lz = self.lz
        if owner == "log_archive":
            bucket = lz["bucket"]
            denied = kind == "bucket_perimeter"
            resource = [
                {"type": "AWS::S3::Bucket", "arn": f"arn:aws:s3:::{bucket}", "name": bucket}
            ]
            host = f"{bucket}.s3.{HOME}.amazonaws.com"
            return [
                {
                    "event_source": "s3.amazonaws.com",
                    "event_name": name,
                    "user_identity": SERVICE,
                    "resources": resource,
                    "request_parameters": {"bucketName": bucket, sub: "", "Host": host},
                    **(
                        {"error_code": "AccessDenied", "error_message": "Access Denied"}
                        if denied
                        else {}
                    ),
                }
                for name, sub in (("GetBucketAcl", "acl"), ("GetBucketLocation", "location"))
            ]
        if owner == "security":
            key = lz["key_arn"]
            resource = [{"type": "AWS::KMS::Key", "arn": key}]
            failure = {
                "key_disabled": ("DisabledException", f"{key} is disabled."),
                "key_pending_deletion": ("KMSInvalidStateException", f"{key} is pending deletion."),
            }.get(kind or "")
            encrypt_error = failure or (
                (
                    "AccessDenied",
                    f"User: {CLOUDTRAIL} is not authorized to perform: kms:GenerateDataKey on "
                    f"resource: {key}",
                )
                if kind == "key_policy"
                else None
            )
            reader = f"arn:aws:sts::{lz['log_archive']}:assumed-role/siem-log-reader/siem"
            context = {"aws:cloudtrail:arn": lz["org_trail_arn"]}
            return [
                {
                    "event_source": "kms.amazonaws.com",
                    "event_name": "GenerateDataKey",
                    "user_identity": SERVICE,
                    "resources": resource,
                    "request_parameters": {
                        "keyId": key,
                        "encryptionContext": context,
                        "keySpec": "AES_256",
                    },
                    **(
                        {"error_code": encrypt_error[0], "error_message": encrypt_error[1]}
                        if encrypt_error
                        else {}
                    ),
                },
                {
                    "event_source": "kms.amazonaws.com",
                    "event_name": "Decrypt",
                    "user_identity": {
                        "type": "AssumedRole",
                        "principalId": "AROASIEMREADER0000001:siem",
                        "arn": reader,
                        "accountId": lz["log_archive"],
                    },
                    "source_ip": "10.40.2.17",
                    "user_agent": "aws-sdk-java/2.25.60 siem-forwarder/3.2",
                    "resources": resource,
                    "request_parameters": {
                        "encryptionContext": context,
                        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                    },
                    **({"error_code": failure[0], "error_message": failure[1]} if failure else {}),
                },
            ]
        if kind == "log_group_key_policy":
            key = lz["log_group_key_arn"]
            group = lz["log_group_arn"].removesuffix(":*")
            return [
                {
                    "event_source": "kms.amazonaws.com",
                    "event_name": "GenerateDataKey",
                    "user_identity": {"type": "AWSService", "invokedBy": "logs.amazonaws.com"},
                    "resources": [{"type": "AWS::KMS::Key", "arn": key}],
                    "request_parameters": {
                        "keyId": key,
                        "encryptionContext": {"aws:logs:arn": group},
                        "keySpec": "AES_256",
                    },
                    "error_code": "AccessDenied",
                    "error_message": (
                        f"User: logs.{HOME}.amazonaws.com is not authorized to perform: "
                        f"kms:GenerateDataKey on resource: {key}"
                    ),
                }
            ]
        role = lz["cloudwatch_role_arn"]
        return [
            {
                "event_source": "sts.amazonaws.com",
                "event_name": "AssumeRole",
                "user_identity": SERVICE,
                "resources": [{"type": "AWS::IAM::Role", "arn": role}],
                "request_parameters": {"roleArn": role, "roleSessionName": "CloudTrailSession"},
            }
        ]

    # -- the manifest --------------------------------------------------------------------

    def refresh(self) -> None:
        """Recompute the org trail's views and codes and the event counts."""
        entry = self.trail
        breaks = [BREAKAGES[b["kind"]] for b in self.lz["breaks"]]
        entry["expected_codes"] = _dedupe([c for b in breaks for c in (b.root, *b.active)])
        entry["views"] = self._views(breaks)
        counts = self.seeder.control.call("GET", "events/counts")["counts"]
        self.manifest["event_counts"] = counts

    def _views(self, breaks: list[Breakage]) -> list[dict[str, Any]]:
        lz = self.lz
        quiet = {(q["account"], q["region"]): q for q in lz["quiet_regions"]}
        views = []
        for account in [
            lz["management"],
            *(m["id"] for m in self.manifest["organization"]["members"]),
        ]:
            if account == lz["management"]:
                role = "owner"
            elif account in lz["delegated_admins"]:
                role = "delegated_admin"
            else:
                role = "member"
            for region in self.manifest["accounts"][account]["regions"]:
                q = quiet.get((account, region))
                # The delegated administrator administers the trail: judged as its owner.
                codes = ["MANAGED_ELSEWHERE"] if role == "member" else []
                for b in breaks:
                    if role != "member":
                        codes.append(b.root)
                    codes += b.quiet if q else b.active
                views.append(
                    {
                        "account": account,
                        "region": region,
                        "role": role,
                        "quiet": q is not None,
                        "last_log_delivery": q["last_log_delivery"] if q else None,
                        "expected_codes": _dedupe(codes),
                    }
                )
        return views
