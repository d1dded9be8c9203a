"""Cross-account calls refused as AWS refuses them, before moto sees them.

moto keeps one namespace for every account's buckets and finds a topic by its ARN from any
account, so out of the box account M reads account L's bucket policy as if it owned it.
AWS lets another account in only where the resource's policy grants it, and some calls
never: a bucket policy is read or changed only from the bucket owner's account (403 when
not granted, 405 when granted), and a KMS key policy never leaves its account (GetKeyPolicy
has no cross-account use). A landing zone keeps its trail's bucket and key in other
accounts than the trail; trailtop must meet the refusals it meets in AWS.

Same-account calls are not judged here (moto evaluates no IAM). A cross-account call is
judged against the resource policy only, as the requester the policy sees: its account,
role or user ARN, organization, over TLS; the caller's own identity policies are assumed to
allow it.
"""

from __future__ import annotations

import json
from typing import Any

from moto.s3.models import s3_backends
from moto.sns.models import sns_backends

from .destinations import find_bucket, find_key, org_of
from .identity import Caller
from .policy_check import evaluate, principal_names
from .protocol import CallInfo, WireResponse, error_response, json_response

#: S3 operation (CloudTrail's eventName) -> the IAM action a bucket policy must grant.
S3_ACTIONS: dict[str, str] = {
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "GetBucketRequestPayment": "s3:GetBucketRequestPayment",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetBucketLogging": "s3:GetBucketLogging",
    "GetBucketTagging": "s3:GetBucketTagging",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "DeleteBucket": "s3:DeleteBucket",
}
#: Bucket-policy calls S3 answers only for the owner's account, even when granted (405).
S3_OWNER_ONLY = frozenset({"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"})
#: KMS operations with cross-account use (the API reference's "Cross-account use: Yes").
KMS_CROSS_ACCOUNT = frozenset(
    {
        "DescribeKey",
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "VerifyMac",
        "Sign",
        "Verify",
        "GetPublicKey",
        "CreateGrant",
        "ListGrants",
        "RevokeGrant",
        "RetireGrant",
        "DeriveSharedSecret",
    }
)


def requester_context(caller: Caller) -> dict[str, str]:
    """Global condition keys of a call made by ``caller`` (a principal, not a service)."""
    context = {
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalArn": caller.role_arn or caller.arn,
        "aws:PrincipalIsAWSService": "false",
        "aws:SecureTransport": "true",  # the sandbox's plain HTTP stands for AWS's HTTPS
        "aws:userid": caller.principal_id,
    }
    org = org_of(caller.account)
    if org is not None:
        context["aws:PrincipalOrgID"] = org[0]
    return context


def _grants(document: Any, caller: Caller, action: str, resource: str) -> bool:
    return evaluate(
        document,
        action=action,
        resource=resource,
        aws_principals=principal_names(caller.account, caller.arn, caller.role_arn),
        context=requester_context(caller),
    ).allowed


def _not_authorized(caller: Caller, action: str, resource: str) -> str:
    return (
        f"User: {caller.arn} is not authorized to perform: {action} on resource: "
        f"{resource} because no resource-based policy allows the {action} action"
    )


def _s3_refusal(info: CallInfo, caller: Caller) -> WireResponse | None:
    name = info.bucket
    if not name or info.operation == "CreateBucket":
        return None
    located = s3_backends.bucket_accounts.get(name)
    if located is None or located[1] == caller.account:
        return None  # missing (moto answers NoSuchBucket) or the caller's own
    bucket = find_bucket(name)
    if bucket is None:
        return None
    policy = bucket.policy.decode() if bucket.policy else None
    action = S3_ACTIONS.get(info.operation, f"s3:{info.operation}")
    resource = f"arn:aws:s3:::{name}" + (f"/{info.key}" if info.key else "")
    granted = _grants(policy, caller, action, resource)
    if info.operation in S3_OWNER_ONLY and granted:
        return error_response(
            "rest-xml",
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
    if granted:
        return None
    if info.operation.startswith("Head"):
        # A HEAD answer has no body: the SDK sees only the status (code "403").
        return WireResponse(403, b"", [("Content-Length", "0")])
    return error_response("rest-xml", 403, "AccessDenied", "Access Denied")


def _kms_refusal(info: CallInfo, caller: Caller) -> WireResponse | None:
    ref = info.params.get("KeyId")
    if not isinstance(ref, str) or not ref.startswith("arn:"):
        return None  # a bare id or alias name always means the caller's own account
    parts = ref.split(":", 5)
    if len(parts) < 6 or parts[4] == caller.account:
        return None
    key = find_key(ref, parts[4], parts[3])
    if key is None:
        return error_response("json", 400, "NotFoundException", f"Key '{ref}' does not exist")
    action = f"kms:{info.operation}"
    if info.operation not in KMS_CROSS_ACCOUNT or not _grants(key.policy, caller, action, key.arn):
        return error_response(
            "json", 400, "AccessDeniedException", _not_authorized(caller, action, key.arn)
        )
    if info.operation == "DescribeKey":
        # moto looks keys up in the caller's account only; answer from the owner's.
        return json_response(json.loads(json.dumps(key.to_dict(), default=str)))
    return None


def _sns_refusal(info: CallInfo, caller: Caller) -> WireResponse | None:
    arn = info.params.get("TopicArn")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    parts = arn.split(":")
    if len(parts) < 6 or parts[4] == caller.account:
        return None
    topic = sns_backends[parts[4]][parts[3]].topics.get(arn)
    if topic is None:
        return None  # moto answers NotFound
    action = f"SNS:{info.operation}"
    if _grants(topic._policy_json, caller, action, arn):
        return None  # moto serves topics across accounts by ARN
    return error_response("query", 403, "AuthorizationError", _not_authorized(caller, action, arn))


def cross_account_refusal(info: CallInfo, caller: Caller) -> WireResponse | None:
    """AWS's answer to a call on another account's bucket, key or topic, or None to go on."""
    if info.service == "s3":
        return _s3_refusal(info, caller)
    if info.service == "kms":
        return _kms_refusal(info, caller)
    if info.service == "sns":
        return _sns_refusal(info, caller)
    return None
