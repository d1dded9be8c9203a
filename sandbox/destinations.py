"""Would CloudTrail's delivery to each destination succeed right now? Read from moto's state.

Each check returns None when the channel would deliver, or the error string CloudTrail
reports for it. The checks read moto's backends directly (same process) and judge policies
with the sandbox's own evaluator, so fixing a destination through any API clears the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moto.cloudtrail.models import Trail, cloudtrail_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.logs.models import logs_backends
from moto.organizations.models import organizations_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends

from .policy_check import allows_any, evaluate

CLOUDTRAIL = "cloudtrail.amazonaws.com"


@dataclass(frozen=True)
class TrailRef:
    """A trail as seen from one view: the moto trail plus the account that is logging."""

    trail: Trail
    view_account: str
    view_region: str

    @property
    def arn(self) -> str:
        return str(self.trail.arn)

    @property
    def owner(self) -> str:
        return str(self.trail.account_id)


def org_of(account: str) -> tuple[str, str] | None:
    """(organization id, management account) of an account, or None outside any org."""
    backend = organizations_backends[account]["aws"]
    if backend.org is not None:
        return backend.org.id, account
    master = organizations_backends.master_accounts.get(account)
    if master is None:
        return None
    org = organizations_backends[master[0]][master[1]].org
    return (org.id, master[0]) if org is not None else None


def org_members(management: str) -> list[str]:
    """Active accounts of the organization managed by ``management`` (itself included)."""
    backend = organizations_backends[management]["aws"]
    if backend.org is None:
        return []
    return [a.id for a in list(backend.accounts) if a.status == "ACTIVE"]


def trails_of(account: str) -> list[Trail]:
    """Every trail an account owns, across all its regions."""
    found: list[Trail] = []
    for backend in list(cloudtrail_backends[account].values()):
        found.extend(list(backend.trails.values()))
    return found


def find_bucket(name: str) -> Any | None:
    located = s3_backends.bucket_accounts.get(name)
    if located is None:
        return None
    partition, account = located
    return s3_backends[account][partition].buckets.get(name)


def requester_pays(bucket: Any) -> bool:
    """The bucket's Payer is Requester (moto keeps it; its API does not serve it)."""
    return getattr(bucket, "payer", "BucketOwner") == "Requester"


def request_payment_xml(name: str) -> bytes | None:
    """GetBucketRequestPayment's answer for a bucket, or None when there is no such bucket.

    moto 5 stores ``payer`` on each bucket but answers ``?requestPayment`` with a listing,
    so the sandbox answers it from the same attribute the delivery emulation reads.
    """
    bucket = find_bucket(name)
    if bucket is None:
        return None
    payer = "Requester" if requester_pays(bucket) else "BucketOwner"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<RequestPaymentConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Payer>{payer}</Payer></RequestPaymentConfiguration>"
    ).encode()


def service_context(ref: TrailRef) -> dict[str, str]:
    """The global condition keys every request CloudTrail makes for this trail carries.

    aws:SourceArn is the trail, aws:SourceAccount its owner (the management account for an
    organization trail), aws:SourceOrgID the owner's organization (absent outside one);
    the caller is an AWS service principal, over TLS.
    """
    context = {
        "aws:SourceArn": ref.arn,
        "aws:SourceAccount": ref.owner,
        "aws:PrincipalIsAWSService": "true",
        "aws:PrincipalServiceName": CLOUDTRAIL,
        "aws:SecureTransport": "true",
    }
    org = org_of(ref.owner)
    if org is not None:
        context["aws:SourceOrgID"] = org[0]
    return context


def object_key(ref: TrailRef, folder: str) -> str:
    """Where CloudTrail writes one file of this view.

    ``[prefix/]AWSLogs/<account>/<folder>/...``; an organization trail writes every
    account's files under ``[prefix/]AWSLogs/<org-id>/<account>/...``.
    """
    prefix = f"{ref.trail.s3_key_prefix}/" if ref.trail.s3_key_prefix else ""
    tail = (
        f"{folder}/{ref.view_region}/2026/01/01/"
        f"{ref.view_account}_{folder}_{ref.view_region}_x.json.gz"
    )
    if ref.trail.is_org_trail:
        org = org_of(ref.owner)
        if org is not None:
            return f"{prefix}AWSLogs/{org[0]}/{ref.view_account}/{tail}"
    return f"{prefix}AWSLogs/{ref.view_account}/{tail}"


def put_context(ref: TrailRef, folder: str) -> dict[str, str]:
    """Condition keys of CloudTrail's PutObject: the canned ACL, and SSE-KMS for log files.

    Log files of a trail with a key are written with SSE-KMS under that key; digest files
    always use SSE-S3, and the sandbox sends no encryption header for them.
    """
    context = {**service_context(ref), "s3:x-amz-acl": "bucket-owner-full-control"}
    key = ref.trail.kms_key_id
    if key and folder == "CloudTrail":
        context["s3:x-amz-server-side-encryption"] = "aws:kms"
        context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = str(key)
    return context


def s3_error(ref: TrailRef, folder: str = "CloudTrail") -> str | None:
    """Bucket existence, the ACL check and the PutObject grant (``folder`` picks log or digest)."""
    bucket_name = ref.trail.bucket_name
    bucket = find_bucket(bucket_name)
    if bucket is None:
        return "NoSuchBucket"
    if requester_pays(bucket):
        # AWS: CloudTrail's bucket "cannot be configured as a Requester Pays bucket". The
        # error CloudTrail reports is not documented; S3 refuses with a 403.
        return "AccessDenied"
    policy = bucket.policy.decode() if bucket.policy else None
    context = service_context(ref)
    acl = evaluate(
        policy,
        action="s3:GetBucketAcl",
        resource=f"arn:aws:s3:::{bucket_name}",
        service_principal=CLOUDTRAIL,
        context=context,
    )
    if not acl.allowed:
        return "AccessDenied"
    decision = evaluate(
        policy,
        action="s3:PutObject",
        resource=f"arn:aws:s3:::{bucket_name}/{object_key(ref, folder)}",
        service_principal=CLOUDTRAIL,
        context=put_context(ref, folder),
    )
    return None if decision.allowed else "AccessDenied"


def find_key(key_ref: str, account: str, region: str) -> Any | None:
    """moto's key for an id, alias or ARN (an ARN names its own account and region; a bare
    id or alias is looked up in ``account`` / ``region``); None when nothing matches."""
    if key_ref.startswith("arn:"):
        parts = key_ref.split(":", 5)
        account, region = parts[4], parts[3]
    backend = kms_backends[account][region]
    try:
        return backend.keys.get(backend.any_id_to_key_id(key_ref))
    except Exception:  # noqa: BLE001 - an alias that names nothing
        return None


def _key_location(ref: TrailRef, key_id: str) -> tuple[str, str, str]:
    """(account, region, id-or-alias) of a trail's KMS key reference."""
    if key_id.startswith("arn:"):
        parts = key_id.split(":", 5)
        return parts[4], parts[3], key_id
    return ref.owner, str(ref.trail.region_name), key_id


def kms_error(ref: TrailRef) -> str | None:
    """Key missing, disabled, pending deletion, or a key policy without CloudTrail."""
    key_ref = ref.trail.kms_key_id
    if not key_ref:
        return None
    account, region, ident = _key_location(ref, key_ref)
    key = find_key(ident, account, region)
    shown = key_ref if key_ref.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{ident}"
    if key is None:
        return f"KMS.NotFoundException: Key '{shown}' does not exist"
    bucket = find_bucket(ref.trail.bucket_name)
    bucket_region = getattr(bucket, "region_name", None) if bucket is not None else None
    if bucket_region and bucket_region != region:
        # AWS: the key "must be created in the same AWS Region as the Amazon S3 bucket". The
        # error CloudTrail reports is not documented; S3 answers a PutObject naming a key of
        # another region with KMS.NotFoundException.
        return f"KMS.NotFoundException: Invalid arn {region}"
    if key.key_state == "PendingDeletion":
        return f"KMS.KMSInvalidStateException: {key.arn} is pending deletion."
    if key.key_state == "Disabled" or not key.enabled:
        return f"KMS.DisabledException: {key.arn} is disabled."
    context = {
        **service_context(ref),
        "kms:EncryptionContext:aws:cloudtrail:arn": ref.arn,
        "kms:EncryptionContext:aws:s3:arn": (
            f"arn:aws:s3:::{ref.trail.bucket_name}/{object_key(ref, 'CloudTrail')}"
        ),
    }
    decision = evaluate(
        key.policy,
        action="kms:GenerateDataKey",
        resource=key.arn,
        service_principal=CLOUDTRAIL,
        context=context,
    )
    if not decision.allowed:
        return (
            f"KMS.AccessDeniedException: User: {CLOUDTRAIL} is not authorized to perform: "
            f"kms:GenerateDataKey on resource: {key.arn}"
        )
    return None


def topic_arn(trail: Trail) -> str | None:
    name = trail.sns_topic_name
    if not name:
        return None
    if name.startswith("arn:"):
        return str(name)
    return f"arn:aws:sns:{trail.region_name}:{trail.account_id}:{name}"


def sns_error(ref: TrailRef) -> str | None:
    """Topic missing, or a topic policy without SNS:Publish for CloudTrail."""
    arn = topic_arn(ref.trail)
    if arn is None:
        return None
    _, _, _, region, account, _ = arn.split(":", 5)
    topic = sns_backends[account][region].topics.get(arn)
    if topic is None:
        return "NotFound: Topic does not exist"
    decision = evaluate(
        topic._policy_json,
        action="SNS:Publish",
        resource=arn,
        service_principal=CLOUDTRAIL,
        context=service_context(ref),
    )
    if not decision.allowed:
        return (
            f"AuthorizationError: User: {CLOUDTRAIL} is not authorized to perform: "
            f"SNS:Publish on resource: {arn}"
        )
    return topic_key_error(ref, topic, account, region)


def topic_key_error(ref: TrailRef, topic: Any, account: str, region: str) -> str | None:
    """A KMS-encrypted topic: CloudTrail needs ``kms:GenerateDataKey*`` and ``kms:Decrypt``
    on its key ("Amazon SNS topic policy for CloudTrail"). An AWS managed key
    (``alias/aws/...``) has a policy set by its service, which does not name CloudTrail.
    The error names are those of SNS Publish (KMSAccessDenied, KMSNotFound, KMSDisabled);
    what CloudTrail reports in LatestNotificationError is not documented."""
    key_ref = str(getattr(topic, "kms_master_key_id", "") or "")
    if not key_ref:
        return None
    denied = f"KMSAccessDenied: User: {CLOUDTRAIL} is not authorized to use {key_ref}"
    name = key_ref.split(":", 5)[5] if key_ref.startswith("arn:") else key_ref
    if name.startswith("alias/aws/"):
        return denied
    key = find_key(key_ref, account, region)
    if key is None:
        return f"KMSNotFound: Key '{key_ref}' does not exist"
    if key.key_state != "Enabled" or not key.enabled:
        return f"KMSDisabled: {key.arn} is {key.key_state}."
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        decision = evaluate(
            key.policy,
            action=action,
            resource=key.arn,
            service_principal=CLOUDTRAIL,
            context=service_context(ref),
        )
        if not decision.allowed:
            return denied
    return None


def _role_documents(role: Any) -> list[Any]:
    docs: list[Any] = list(role.policies.values())
    for managed in list(role.managed_policies.values()):
        docs.extend(v.document for v in managed.versions if v.is_default)
    return docs


def _role_named(account: str, name: str) -> Any | None:
    for role in list(iam_backends[account]["aws"].roles.values()):
        if role.name == name:
            return role
    return None


def cloudwatch_error(ref: TrailRef) -> str | None:
    """Log group, delivery role, its trust policy and its permissions, in the order AWS trips."""
    group_arn = ref.trail.cw_log_group_arn
    if not group_arn:
        return None
    parts = group_arn.split(":")
    if len(parts) < 7:
        return "InvalidCloudWatchLogsLogGroupArn: the log group ARN is not valid"
    region, account, group_name = parts[3], parts[4], parts[6]
    role_arn = ref.trail.cw_role_arn or ""
    if group_name not in logs_backends[account][region].groups:
        return "ResourceNotFoundException: The specified log group does not exist."
    role_account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else account
    role_name = role_arn.rsplit("/", 1)[-1]
    role = _role_named(role_account, role_name) if role_arn else None
    cannot_assume = (
        f"AccessDeniedException: CloudTrail cannot assume the role {role_arn or '(none)'}"
    )
    if role is None:
        return cannot_assume
    trust = evaluate(
        role.assume_role_policy_document,
        action="sts:AssumeRole",
        resource=role.arn,
        service_principal=CLOUDTRAIL,
        context=service_context(ref),
    )
    if not trust.allowed:
        return cannot_assume
    # "account_ID_CloudTrail_trail_region" (CloudTrail User Guide, "CloudWatch log group and
    # log stream naming for CloudTrail"): the trail's region, where its log group is. An
    # organization trail writes member accounts' events under "<org-id>_" streams
    # ("Role policy document for CloudTrail to use CloudWatch Logs for monitoring").
    stream = f"{ref.view_account}_CloudTrail_{region}"
    org = org_of(ref.view_account)
    if ref.trail.is_org_trail and ref.view_account != account and org is not None:
        stream = f"{org[0]}_{ref.view_account}_CloudTrail_{region}"
    stream_arn = f"arn:aws:logs:{region}:{account}:log-group:{group_name}:log-stream:{stream}"
    docs = _role_documents(role)
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        if not allows_any(docs, action=action, resource=stream_arn):
            return (
                f"AccessDeniedException: User: arn:aws:sts::{role_account}:assumed-role/"
                f"{role_name}/CloudTrailSession is not authorized to perform: {action} on "
                f"resource: {stream_arn}"
            )
    group = logs_backends[account][region].groups[group_name]
    return log_group_key_error(
        str(getattr(group, "kms_key_id", "") or ""),
        f"arn:aws:logs:{region}:{account}:log-group:{group_name}",
        account,
        region,
    )


def log_group_key_error(key_ref: str, group: str, account: str, region: str) -> str | None:
    """A KMS-encrypted log group: CloudWatch Logs itself (``logs.<region>.amazonaws.com``)
    must be able to use the key, with the group's ARN as the ``aws:logs:arn`` encryption
    context ("Encrypt log data in CloudWatch Logs using AWS Key Management Service"); it
    stores events with ``kms:GenerateDataKey`` and reads them with ``kms:Decrypt``. What
    CloudTrail reports then is not documented: the text is the one CloudWatch Logs answers
    when a key does not let it use the key for a group."""
    if not key_ref:
        return None
    key = find_key(key_ref, account, region)
    refused = (
        "AccessDeniedException: The specified KMS key does not exist or is not allowed to be "
        f"used with Arn '{group}'"
    )
    if key is None or key.key_state != "Enabled" or not key.enabled:
        return refused
    context = {
        "aws:PrincipalIsAWSService": "true",
        "kms:EncryptionContext:aws:logs:arn": group,
    }
    service = f"logs.{group.split(':')[3]}.amazonaws.com"
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        decision = evaluate(
            key.policy,
            action=action,
            resource=key.arn,
            service_principal=service,
            context=context,
        )
        if not decision.allowed:
            return refused
    return None
