"""AWS error codes grouped by what they mean to trailtop (pure data).

AWS services spell the same situation differently (KMS answers a denied call with
``AccessDeniedException``, S3 with ``AccessDenied``, a HEAD request only with ``403``), so
every decision on an error code goes through these sets rather than a literal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: "You may not look": the resource may be fine, trailtop cannot tell.
ACCESS: Final = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "403",
        "Forbidden",
    }
)
#: The credentials themselves were refused (expired, revoked, or a region not enabled).
CREDENTIAL: Final = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "RequestExpired",
        "AuthFailure",
    }
)
#: Codes under which a region that is not enabled for the account also answers.
CREDENTIAL_OR_REGION: Final = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"}
)
THROTTLE: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
    }
)
#: "It does not exist", by the kind of thing read. One table for diagnostics (a missing
#: destination is a root cause) and for remediation preconditions (a missing document is
#: the expected "before" of a plan that creates it).
NOT_FOUND: Final[Mapping[str, frozenset[str]]] = {
    "bucket": frozenset({"404", "NoSuchBucket", "NotFound"}),
    "bucket_policy": frozenset({"NoSuchBucketPolicy"}),
    "key": frozenset({"NotFoundException"}),
    "topic": frozenset({"NotFound", "NotFoundException"}),
    "role": frozenset({"NoSuchEntity", "NoSuchEntityException"}),
    "role_policy": frozenset({"NoSuchEntity", "NoSuchEntityException"}),
    "log_group": frozenset({"ResourceNotFoundException"}),
    "trail": frozenset({"TrailNotFoundException"}),
}
