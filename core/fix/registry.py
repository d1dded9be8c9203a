"""Every kind of plan, declared once: how to re-read it, what "absent" is, what it needs.

A plan's kind is the kind of its precondition (``Precondition.kind``): the thing the plan
changes and re-reads before writing (a bucket policy, a key's state, a trail's bucket...).
Each :class:`Kind` declares

* ``extract``: the canonical text the apply-time re-read is compared with (so the
  executor, core/fix/apply.py, needs no knowledge of any response shape);
* ``absent``: the error codes that mean "it does not exist" for that read (the expected
  "before" of a plan that creates the thing);
* ``reads``/``writes``: the IAM actions of the re-read and of the plan's calls, so the
  shipped least-privilege policy (iam/trailtop-remediate.json) can be checked against
  what the plans do rather than kept in step by hand.

Pure: data and functions over response mappings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.fix.documents import canonical, url_decoded
from core.fix.model import ApiCall, Precondition
from core.util.error_codes import NOT_FOUND

__all__ = [
    "IAM_INLINE",
    "IAM_TRUST",
    "KINDS",
    "KMS_KEY_STATE",
    "KMS_POLICY",
    "LOG_GROUP",
    "S3_EXISTS",
    "S3_POLICY",
    "SNS_EXISTS",
    "SNS_POLICY",
    "TRAIL_BUCKET",
    "TRAIL_LOGGING",
    "Kind",
    "absent_codes",
    "extract",
]

#: The canonical text of a precondition read, from its response; None means "absent".
Extractor = Callable[[Mapping[str, Any], ApiCall], str | None]


@dataclass(frozen=True)
class Kind:
    name: str
    extract: Extractor
    #: IAM actions of the precondition read.
    reads: frozenset[str]
    #: IAM actions of the calls the plans of this kind make.
    writes: frozenset[str]
    #: Error codes of the read that mean "it does not exist" (counts as None).
    absent: frozenset[str] = frozenset()

    @property
    def permissions(self) -> frozenset[str]:
        return self.reads | self.writes

    def precondition(self, read: ApiCall, expected: str | None, description: str) -> Precondition:
        """A precondition of this kind (the only way plans make one, so none is unknown)."""
        return Precondition(read, self.name, expected, description)


# --------------------------------------------------------------------------- extractors


def _document(value: Any) -> str | None:
    return None if value in (None, "") else canonical(value)


def _policy(response: Mapping[str, Any], read: ApiCall) -> str | None:
    return _document(response.get("Policy"))


def _exists(response: Mapping[str, Any], read: ApiCall) -> str | None:
    return "exists"


def _key_state(response: Mapping[str, Any], read: ApiCall) -> str | None:
    return canonical({"KeyState": (response.get("KeyMetadata") or {}).get("KeyState")})


def _topic_policy(response: Mapping[str, Any], read: ApiCall) -> str | None:
    return _document((response.get("Attributes") or {}).get("Policy"))


def _log_group(response: Mapping[str, Any], read: ApiCall) -> str | None:
    # describe_log_groups filters by prefix: only an exact name means the group exists.
    name = str(read.params.get("logGroupNamePrefix", ""))
    found = any(g.get("logGroupName") == name for g in response.get("logGroups") or [])
    return canonical({"logGroupName": name}) if found else None


def _iam_document(doc: Any) -> str | None:
    return None if doc is None else canonical(url_decoded(doc))


def _role_trust(response: Mapping[str, Any], read: ApiCall) -> str | None:
    return _iam_document((response.get("Role") or {}).get("AssumeRolePolicyDocument"))


def _role_inline(response: Mapping[str, Any], read: ApiCall) -> str | None:
    return _iam_document(response.get("PolicyDocument"))


def _trail_logging(response: Mapping[str, Any], read: ApiCall) -> str | None:
    return canonical({"IsLogging": bool(response.get("IsLogging"))})


def _trail_bucket(response: Mapping[str, Any], read: ApiCall) -> str | None:
    trails = response.get("trailList") or []
    if not trails:
        return None
    return canonical({"S3BucketName": trails[0].get("S3BucketName")})


# --------------------------------------------------------------------------- the kinds


def _kind(
    name: str,
    extract: Extractor,
    reads: set[str],
    writes: set[str],
    absent: frozenset[str] = frozenset(),
) -> Kind:
    return Kind(name, extract, frozenset(reads), frozenset(writes), absent)


S3_POLICY: Final = _kind(
    "s3_policy",
    _policy,
    {"s3:GetBucketPolicy"},
    {"s3:PutBucketPolicy"},
    NOT_FOUND["bucket_policy"],
)
S3_EXISTS: Final = _kind(
    "s3_exists",
    _exists,
    {"s3:ListBucket"},  # head_bucket is authorised as s3:ListBucket
    {"s3:CreateBucket", "s3:PutBucketPolicy"},
    NOT_FOUND["bucket"],
)
KMS_POLICY: Final = _kind("kms_policy", _policy, {"kms:GetKeyPolicy"}, {"kms:PutKeyPolicy"})
KMS_KEY_STATE: Final = _kind(
    "kms_key_state",
    _key_state,
    {"kms:DescribeKey"},
    {"kms:CancelKeyDeletion", "kms:EnableKey"},
)
SNS_POLICY: Final = _kind(
    "sns_policy", _topic_policy, {"sns:GetTopicAttributes"}, {"sns:SetTopicAttributes"}
)
SNS_EXISTS: Final = _kind(
    "sns_exists",
    _exists,
    {"sns:GetTopicAttributes"},
    {"sns:CreateTopic"},
    NOT_FOUND["topic"],
)
LOG_GROUP: Final = _kind(
    "log_group", _log_group, {"logs:DescribeLogGroups"}, {"logs:CreateLogGroup"}
)
IAM_TRUST: Final = _kind("iam_trust", _role_trust, {"iam:GetRole"}, {"iam:UpdateAssumeRolePolicy"})
IAM_INLINE: Final = _kind(
    "iam_inline",
    _role_inline,
    {"iam:GetRolePolicy"},
    {"iam:PutRolePolicy"},
    NOT_FOUND["role_policy"],
)
TRAIL_LOGGING: Final = _kind(
    "trail_logging", _trail_logging, {"cloudtrail:GetTrailStatus"}, {"cloudtrail:StartLogging"}
)
TRAIL_BUCKET: Final = _kind(
    "trail_bucket", _trail_bucket, {"cloudtrail:DescribeTrails"}, {"cloudtrail:UpdateTrail"}
)

KINDS: Final[Mapping[str, Kind]] = {
    k.name: k
    for k in (
        S3_POLICY,
        S3_EXISTS,
        KMS_POLICY,
        KMS_KEY_STATE,
        SNS_POLICY,
        SNS_EXISTS,
        LOG_GROUP,
        IAM_TRUST,
        IAM_INLINE,
        TRAIL_LOGGING,
        TRAIL_BUCKET,
    )
}


def extract(kind: str, response: Mapping[str, Any], read: ApiCall) -> str | None:
    """The canonical text a precondition of ``kind`` compares, from the read's response."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown precondition kind {kind!r}")
    return spec.extract(response, read)


def absent_codes(kind: str) -> frozenset[str]:
    """Error codes of the read of ``kind`` that mean "it does not exist"."""
    spec = KINDS.get(kind)
    return spec.absent if spec is not None else frozenset()
