"""The requests CloudTrail makes when it delivers for a trail, as AWS documents them (pure).

Root causes (core/judge/rootcause.py) judge the trail's bucket, key and topic policies with
these requests, and plans (core/fix) check their merged policies against the same ones: one
place, so a hardened policy is judged the way AWS judges CloudTrail's writes.

Every condition key of a request is one of three things (see ``RequestContext`` in
core/judge/policy.py):

* known: AWS documents the value CloudTrail's request carries (``aws:SourceArn`` is the trail
  ARN, ``aws:PrincipalIsAWSService`` is true...);
* known absent: AWS documents that the key is only in other requests (``aws:PrincipalOrgID``
  is set for principals that belong to an organization, which a service principal does not);
* unknowable: anything else. A condition on it is "cannot tell", never allowed nor denied,
  because AWS documents no value for it in CloudTrail's requests (the source IP or VPC of a
  service principal, the organization of an account trailtop did not read...).

docs/findings.md lists every key with the AWS page it rests on. Where a page is quoted in a
docstring here, it is by title (AWS CloudTrail User Guide, AWS KMS Developer Guide, IAM User
Guide "AWS global condition context keys", AWS Control Tower User Guide).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from core.judge.policy import CLOUDTRAIL_SERVICE, Principal, RequestContext
from core.model import TrailConfig, ViewKey
from core.util.arn import partition_of, region_of

__all__ = [
    "CLOUDTRAIL",
    "Destination",
    "Request",
    "S3Requests",
    "bucket_arn",
    "cloudtrail_context",
    "delivery_context",
    "group_arn",
    "kms_request",
    "log_account",
    "logs_key_requests",
    "logs_principal",
    "log_object_arn",
    "role_request",
    "s3_requests",
    "sns_key_requests",
    "sns_request",
]

#: The principal of every delivery: CloudTrail's service principal.
CLOUDTRAIL: Final = Principal.service_(CLOUDTRAIL_SERVICE)

#: Keys AWS documents as present only in requests CloudTrail's are not: the principal's
#: organization (principals that belong to one; a service principal does not), IAM
#: principal tags and user name, the chain of services calling with an IAM principal's
#: credentials (forward access sessions), a role session's source identity.
_ABSENT: Final = (
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalTag/*",
    "aws:username",
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:SourceIdentity",
)

_NETWORK: Final = "AWS does not document the network of a service principal's request"
_PRINCIPAL: Final = "AWS does not document its value for a service principal"

#: Keys AWS documents in general but not for CloudTrail's requests, with the reason.
_UNKNOWN: Final = {
    "aws:SourceIp": _NETWORK,
    "aws:SourceVpc": _NETWORK,
    "aws:SourceVpce": _NETWORK,
    "aws:VpcSourceIp": _NETWORK,
    "aws:PrincipalArn": _PRINCIPAL,
    "aws:PrincipalAccount": _PRINCIPAL,
    "aws:PrincipalType": _PRINCIPAL,
    "aws:userid": _PRINCIPAL,
    "aws:PrincipalServiceNamesList": "AWS does not document the full list for CloudTrail",
    "aws:ViaAWSService": _PRINCIPAL,
    "aws:SourceOrgPaths": "trailtop does not read the organizational unit path of the "
    "trail's account",
}

_UNDOCUMENTED: Final = "AWS does not document this key for CloudTrail's deliveries"

#: The ACL CloudTrail's PutObject requests (the documented ``s3:x-amz-acl`` condition).
ACL: Final = "bucket-owner-full-control"

#: Keys of an S3 object write that a bucket-level read does not carry (the Service
#: Authorization Reference lists them for object writes only).
_OBJECT_WRITE_KEYS: Final = (
    "s3:x-amz-acl",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
)

#: An example object name, in the documented format (the date and suffix do not matter).
_STAMP: Final = "2026/01/01"
_SUFFIX: Final = "20260101T0000Z_trailtopExample"


class Destination(StrEnum):
    """Where CloudTrail delivers: the four resources whose policies judge its requests."""

    BUCKET = "bucket"
    KEY = "key"
    TOPIC = "topic"
    ROLE = "role"


@dataclass(frozen=True)
class Request:
    """One request CloudTrail makes: ``what`` says which, in words. ``principal``: who makes
    it (CloudTrail, except for the requests another service makes on the delivery path,
    such as CloudWatch Logs encrypting a log group's events)."""

    action: str
    resource: str
    context: RequestContext
    what: str
    principal: Principal = CLOUDTRAIL

    def as_tuple(self) -> tuple[str, str, RequestContext]:
        """(action, resource, context), the form the plan code passes around."""
        return self.action, self.resource, self.context


@dataclass(frozen=True)
class S3Requests:
    """CloudTrail's requests to the trail's bucket for one view.

    ``acl``: the ACL check on the bucket. ``writes``: the log file, and the digest file when
    log file validation is on. ``undecidable``: why the writes could not be built (an
    organization trail whose organization id is not known), else empty."""

    acl: Request
    writes: tuple[Request, ...]
    undecidable: str = ""


def log_account(trail: TrailConfig, key: ViewKey) -> str:
    """The account whose log files the view is about: an organization trail writes under
    every account of the organization (the view's), any other trail under its owner."""
    return key.account_id if trail.organization_trail else trail.owner_account


def bucket_arn(trail: TrailConfig) -> str:
    """The trail's bucket ARN, in the trail's partition (never ``arn:aws:`` by default)."""
    return f"arn:{partition_of(trail.arn)}:s3:::{trail.s3_bucket or ''}"


def _logs_root(trail: TrailConfig, account: str, org_id: str | None) -> str | None:
    """``<bucket ARN>/[prefix/]AWSLogs/[<org-id>/]<account>``, or None for an organization
    trail whose organization id is not known."""
    prefix = f"{trail.s3_prefix.strip('/')}/" if trail.s3_prefix else ""
    if trail.organization_trail:
        if not org_id:
            return None
        return f"{bucket_arn(trail)}/{prefix}AWSLogs/{org_id}/{account}"
    return f"{bucket_arn(trail)}/{prefix}AWSLogs/{account}"


def log_object_arn(
    trail: TrailConfig, account: str, region: str, org_id: str | None, *, digest: bool = False
) -> str | None:
    """The ARN of a log (or digest) file the trail writes for ``account`` in ``region``, in
    the documented layout ("Finding your CloudTrail log files", "CloudTrail digest file
    structure"): organization trails add the organization id after ``AWSLogs/``. None when
    that id is needed and not known."""
    root = _logs_root(trail, account, org_id)
    if root is None:
        return None
    if digest:
        name = (
            f"{account}_CloudTrail-Digest_{region}_{trail.name}_{trail.home_region}_"
            f"{_SUFFIX.split('_', 1)[0]}.json.gz"
        )
        return f"{root}/CloudTrail-Digest/{region}/{_STAMP}/{name}"
    return f"{root}/CloudTrail/{region}/{_STAMP}/{account}_CloudTrail_{region}_{_SUFFIX}.json.gz"


def _org_unknown(trail: TrailConfig) -> str:
    return f"trailtop did not read the organization of account {trail.owner_account}"


def delivery_context(
    trail: TrailConfig,
    destination: Destination,
    *,
    org_id: str | None = None,
    action: str = "",
    object_arn: str | None = None,
    digest: bool = False,
) -> RequestContext:
    """The request context of CloudTrail's ``action`` on ``destination`` for ``trail``.

    ``org_id``: the organization of the trail's account, when trailtop read it.
    ``object_arn``: for the bucket, the object written; for the key, the log file the data
    key encrypts (the ``aws:s3:arn`` encryption context). ``digest``: the object is a digest
    file (SSE-S3) rather than a log file."""
    values: dict[str, str | list[str]] = {
        # "Amazon S3 bucket policy for CloudTrail", "Configure AWS KMS key policies for
        # CloudTrail", "Amazon SNS topic policy for CloudTrail": the trail ARN; for an
        # organization trail, the management account's trail and account.
        "aws:SourceArn": trail.arn,
        "aws:SourceAccount": trail.owner_account,
        # IAM "AWS global condition context keys": set when a service principal acts
        # directly (AWS's example is CloudTrail writing to an S3 bucket).
        "aws:PrincipalIsAWSService": "true",
        "aws:PrincipalServiceName": CLOUDTRAIL_SERVICE,
    }
    unknown = dict(_UNKNOWN)
    absent: list[str] = list(_ABSENT)
    if destination is Destination.BUCKET:
        # AWS Control Tower User Guide, "Amazon S3 bucket policy in the audit account": its
        # log bucket denies every request without TLS (aws:SecureTransport false) and lets
        # CloudTrail write only when aws:SourceOrgID is the organization.
        values["aws:SecureTransport"] = "true"
        if org_id:
            values["aws:SourceOrgID"] = org_id
        else:
            unknown["aws:SourceOrgID"] = _org_unknown(trail)
        if action.lower() == "s3:putobject":
            values["s3:x-amz-acl"] = ACL
            _sse(trail, digest, values, unknown)
        else:
            absent += _OBJECT_WRITE_KEYS
    else:
        unknown["aws:SecureTransport"] = _UNDOCUMENTED
        unknown["aws:SourceOrgID"] = (
            f"AWS documents it for CloudTrail's writes to S3 only, not to {destination.value}s"
        )
    if destination is Destination.KEY:
        # AWS KMS Developer Guide, "How AWS CloudTrail uses AWS KMS": the GenerateDataKey
        # request for each log file has the encryption context
        # {"aws:cloudtrail:arn": <trail ARN>, "aws:s3:arn": <log file ARN>}.
        values["kms:EncryptionContext:aws:cloudtrail:arn"] = trail.arn
        values["kms:EncryptionContextKeys"] = ["aws:cloudtrail:arn", "aws:s3:arn"]
        if object_arn:
            values["kms:EncryptionContext:aws:s3:arn"] = object_arn
        else:
            unknown["kms:EncryptionContext:aws:s3:arn"] = (
                "the log file's name needs the organization id, which trailtop did not read"
            )
        absent.append("kms:EncryptionContext:*")
        unknown["kms:CallerAccount"] = _PRINCIPAL
        unknown["kms:ViaService"] = (
            "AWS does not document it for the request Amazon S3 makes on behalf of CloudTrail"
        )
    return RequestContext(
        values, absent=absent, unknown=unknown, open_world=True, why=_UNDOCUMENTED
    )


def _sse(
    trail: TrailConfig,
    digest: bool,
    values: dict[str, str | list[str]],
    unknown: dict[str, str],
) -> None:
    """The server-side-encryption headers of a write.

    AWS CloudTrail User Guide, "Security best practices in AWS CloudTrail": with SSE-KMS and
    log file validation, a bucket policy that only allows ``s3:x-amz-server-side-encryption``
    ``aws:kms`` must also allow ``AES256``: log files of a trail with a KMS key are written
    with ``aws:kms``, digest files with ``AES256`` ("Encrypting CloudTrail log files with AWS
    KMS keys": digest files are SSE-S3). AWS does not document the header of a log file of a
    trail without a key, nor the form of the key id CloudTrail sends."""
    if digest:
        values["s3:x-amz-server-side-encryption"] = "AES256"
    elif trail.kms_key_id:
        values["s3:x-amz-server-side-encryption"] = "aws:kms"
    else:
        unknown["s3:x-amz-server-side-encryption"] = (
            "AWS does not document the header of a log file of a trail without a KMS key"
        )
    unknown["s3:x-amz-server-side-encryption-aws-kms-key-id"] = (
        "AWS does not document the form of the key id CloudTrail sends"
    )


def s3_requests(trail: TrailConfig, key: ViewKey, org_id: str | None) -> S3Requests:
    """The ACL check, the log file write and (log file validation) the digest write."""
    account, region = log_account(trail, key), key.region
    acl = Request(
        "s3:GetBucketAcl",
        bucket_arn(trail),
        delivery_context(trail, Destination.BUCKET, org_id=org_id, action="s3:GetBucketAcl"),
        "the bucket ACL check",
    )
    log = log_object_arn(trail, account, region, org_id)
    if log is None:
        why = (
            f"the organization trail writes under AWSLogs/<organization id>/, and "
            f"{_org_unknown(trail)}"
        )
        return S3Requests(acl, (), why)
    writes = [
        Request(
            "s3:PutObject",
            log,
            delivery_context(
                trail, Destination.BUCKET, org_id=org_id, action="s3:PutObject", object_arn=log
            ),
            "a log file",
        )
    ]
    if trail.log_file_validation:
        digest = log_object_arn(trail, account, region, org_id, digest=True) or ""
        writes.append(
            Request(
                "s3:PutObject",
                digest,
                delivery_context(
                    trail,
                    Destination.BUCKET,
                    org_id=org_id,
                    action="s3:PutObject",
                    object_arn=digest,
                    digest=True,
                ),
                "a digest file",
            )
        )
    return S3Requests(acl, tuple(writes))


def kms_request(
    trail: TrailConfig, key: ViewKey, key_arn: str, org_id: str | None = None
) -> Request:
    """``kms:GenerateDataKey`` on the trail's key for one log file of the view."""
    log = log_object_arn(trail, log_account(trail, key), key.region, org_id)
    return Request(
        "kms:GenerateDataKey",
        key_arn,
        delivery_context(
            trail, Destination.KEY, org_id=org_id, action="kms:GenerateDataKey", object_arn=log
        ),
        "the data key of a log file",
    )


def sns_request(trail: TrailConfig, org_id: str | None = None) -> Request:
    """``SNS:Publish`` to the trail's topic (a notification of a delivered log file)."""
    return Request(
        "SNS:Publish",
        trail.sns_topic_arn or "",
        delivery_context(trail, Destination.TOPIC, org_id=org_id, action="SNS:Publish"),
        "a notification",
    )


#: Why a key of CloudTrail's use of a KMS-encrypted topic's key is "cannot tell".
_SNS_KEY_UNDOCUMENTED: Final = (
    "AWS documents CloudTrail's statement on an encrypted topic's key without conditions, "
    "and no value of this key in those requests"
)


def sns_key_requests(trail: TrailConfig, key_arn: str) -> tuple[Request, ...]:
    """``kms:GenerateDataKey`` and ``kms:Decrypt`` on a KMS-encrypted topic's key, by
    CloudTrail ("Amazon SNS topic policy for CloudTrail": the key policy must allow both
    to the service principal, in a statement without conditions).

    Only the principal is documented: the source keys, the encryption context and the
    caller keys of these requests are "cannot tell" (a condition on them is undecidable,
    never a refusal)."""
    unknown = {
        "aws:SourceArn": _SNS_KEY_UNDOCUMENTED,
        "aws:SourceAccount": _SNS_KEY_UNDOCUMENTED,
        "kms:EncryptionContext:*": _SNS_KEY_UNDOCUMENTED,
        "kms:EncryptionContextKeys": _SNS_KEY_UNDOCUMENTED,
        "kms:CallerAccount": _PRINCIPAL,
        "kms:ViaService": _SNS_KEY_UNDOCUMENTED,
    }
    return tuple(
        Request(
            action,
            key_arn,
            delivery_context(trail, Destination.TOPIC, action=action).with_unknown(unknown),
            f"{action} on the topic's key",
        )
        for action in ("kms:GenerateDataKey", "kms:Decrypt")
    )


def role_request(trail: TrailConfig) -> Request:
    """``sts:AssumeRole`` of the CloudWatch Logs delivery role."""
    return Request(
        "sts:AssumeRole",
        trail.cw_role_arn or "",
        delivery_context(trail, Destination.ROLE, action="sts:AssumeRole"),
        "assuming the CloudWatch Logs role",
    )


def cloudtrail_context(trail: TrailConfig, **extra: str) -> RequestContext:
    """The context of CloudTrail assuming the trail's CloudWatch Logs role, plus ``extra``
    keys. Kept for callers that build the role request themselves; prefer
    :func:`role_request`."""
    return role_request(trail).context.with_values(extra)


#: The actions CloudWatch Logs makes on a log group's key to ingest events: AWS managed
#: policy "CloudWatchLogsAPIKeyAccess" (grants logs:PutLogEvents) allows these two through
#: CloudWatch Logs with the log group in the encryption context (and kms:DescribeKey without
#: it, which the key statement AWS documents, conditioned on that context, cannot grant: not
#: judged).
LOGS_KEY_ACTIONS: Final = ("kms:GenerateDataKey", "kms:Decrypt")

#: Why a key of CloudWatch Logs' own requests to a log group's key is "cannot tell".
_LOGS_KEY_UNDOCUMENTED: Final = (
    "AWS documents CloudWatch Logs' use of a log group's key by the service principal and "
    "the log group's encryption context only, and no value of this key in those requests"
)


def logs_principal(log_group_arn: str) -> Principal:
    """``logs.<region>.amazonaws.com``, the principal AWS documents for a log group's key:
    CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS Key
    Management Service" (the service principal of the key's region, where the group is)."""
    return Principal.service_(f"logs.{region_of(log_group_arn)}.amazonaws.com")


def group_arn(log_group_arn: str) -> str:
    """A log group's ARN without the ``:*`` CloudTrail's configuration ends it with: the
    value of the ``aws:logs:arn`` encryption context ("arn:aws:logs:region:account-id:
    log-group:log-group-name" in the CloudWatch Logs User Guide)."""
    return log_group_arn[:-2] if log_group_arn.endswith(":*") else log_group_arn


def logs_key_requests(log_group_arn: str, key_arn: str) -> tuple[Request, ...]:
    """CloudWatch Logs' ``kms:GenerateDataKey`` and ``kms:Decrypt`` on a log group's key,
    made to store (and read back) the events CloudTrail delivers.

    Known: the principal (``logs.<region>.amazonaws.com``), the encryption context
    ``kms:EncryptionContext:aws:logs:arn`` (the log group's ARN; CloudWatch Logs User Guide,
    "AWS KMS keys and encryption context"), ``aws:PrincipalIsAWSService`` (a service
    principal's own request). Not documented for these requests, so "cannot tell": the
    source keys, the service name, the other encryption context keys, ``kms:CallerAccount``
    and ``kms:ViaService``. The keys of requests by IAM principals are absent."""
    unknown = dict(_UNKNOWN)
    for name in (
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:SourceOrgID",
        "aws:PrincipalServiceName",
        "aws:SecureTransport",
        "kms:EncryptionContext:*",
        "kms:EncryptionContextKeys",
        "kms:ViaService",
    ):
        unknown[name] = _LOGS_KEY_UNDOCUMENTED
    unknown["kms:CallerAccount"] = _PRINCIPAL
    context = RequestContext(
        {
            "aws:PrincipalIsAWSService": "true",
            "kms:EncryptionContext:aws:logs:arn": group_arn(log_group_arn),
        },
        absent=_ABSENT,
        unknown=unknown,
        open_world=True,
        why=_LOGS_KEY_UNDOCUMENTED,
    )
    principal = logs_principal(log_group_arn)
    return tuple(
        Request(
            action, key_arn, context, f"{action} by CloudWatch Logs on the group's key", principal
        )
        for action in LOGS_KEY_ACTIONS
    )
