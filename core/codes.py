"""Finding codes: the stable names the JSON output, the docs and the tests use.

One enum so a typo is a type error, and so docs/findings.md can be checked against the
complete list (tests/unit/test_docs.py). A code is never renamed; a retired code stays here.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    # status: what GetTrailStatus itself reports
    LOGGING_STOPPED = "LOGGING_STOPPED"
    S3_DELIVERY_ERROR = "S3_DELIVERY_ERROR"
    DIGEST_DELIVERY_ERROR = "DIGEST_DELIVERY_ERROR"
    CLOUDWATCH_DELIVERY_ERROR = "CLOUDWATCH_DELIVERY_ERROR"
    SNS_NOTIFICATION_ERROR = "SNS_NOTIFICATION_ERROR"
    S3_DELIVERY_STALE = "S3_DELIVERY_STALE"
    #: No log file for a while, but nothing says delivery is broken: likely no activity.
    S3_DELIVERY_QUIET = "S3_DELIVERY_QUIET"
    CLOUDWATCH_DELIVERY_STALE = "CLOUDWATCH_DELIVERY_STALE"
    # root causes: what reading the destinations shows
    S3_BUCKET_MISSING = "S3_BUCKET_MISSING"
    S3_POLICY_DENIES_CLOUDTRAIL = "S3_POLICY_DENIES_CLOUDTRAIL"
    S3_POLICY_ACL_CHECK_MISSING = "S3_POLICY_ACL_CHECK_MISSING"
    #: The trail's bucket was deleted and its name now answers a refusal no reached account
    #: explains: another AWS account may own the name (and receive the logs).
    S3_BUCKET_NAME_TAKEN = "S3_BUCKET_NAME_TAKEN"
    #: The bucket is Requester Pays: CloudTrail does not deliver to such a bucket.
    S3_BUCKET_REQUESTER_PAYS = "S3_BUCKET_REQUESTER_PAYS"
    #: The bucket encrypts new objects with SSE-KMS by default and the trail names no key:
    #: AWS does not document whether CloudTrail's log files then use that key (posture).
    S3_BUCKET_DEFAULT_SSE_KMS = "S3_BUCKET_DEFAULT_SSE_KMS"
    KMS_KEY_MISSING = "KMS_KEY_MISSING"
    KMS_KEY_DISABLED = "KMS_KEY_DISABLED"
    KMS_KEY_PENDING_DELETION = "KMS_KEY_PENDING_DELETION"
    KMS_POLICY_DENIES_CLOUDTRAIL = "KMS_POLICY_DENIES_CLOUDTRAIL"
    #: The key policy does not let CloudTrail kms:DescribeKey (a required statement; AWS ties
    #: it to creating and updating the trail, not to each delivery).
    KMS_POLICY_DESCRIBE_MISSING = "KMS_POLICY_DESCRIBE_MISSING"
    #: The trail's key is in another region than its bucket: AWS requires the bucket's region.
    KMS_KEY_OTHER_REGION = "KMS_KEY_OTHER_REGION"
    SNS_TOPIC_MISSING = "SNS_TOPIC_MISSING"
    SNS_POLICY_DENIES_CLOUDTRAIL = "SNS_POLICY_DENIES_CLOUDTRAIL"
    #: The topic is encrypted with a KMS key whose policy does not let CloudTrail
    #: kms:GenerateDataKey* and kms:Decrypt (or an AWS managed key, whose policy cannot).
    SNS_TOPIC_KMS_DENIES_CLOUDTRAIL = "SNS_TOPIC_KMS_DENIES_CLOUDTRAIL"
    CLOUDWATCH_LOG_GROUP_MISSING = "CLOUDWATCH_LOG_GROUP_MISSING"
    CLOUDWATCH_ROLE_MISSING = "CLOUDWATCH_ROLE_MISSING"
    CLOUDWATCH_ROLE_TRUST_INVALID = "CLOUDWATCH_ROLE_TRUST_INVALID"
    CLOUDWATCH_ROLE_PERMISSIONS_MISSING = "CLOUDWATCH_ROLE_PERMISSIONS_MISSING"
    #: The log group is encrypted with a KMS key CloudWatch Logs cannot use (its policy does
    #: not let logs.<region>.amazonaws.com use it for this group, or it is not Enabled).
    CLOUDWATCH_LOG_GROUP_KMS_DENIES = "CLOUDWATCH_LOG_GROUP_KMS_DENIES"
    # coverage and posture
    REGION_NOT_COVERED = "REGION_NOT_COVERED"
    LOG_FILE_VALIDATION_DISABLED = "LOG_FILE_VALIDATION_DISABLED"
    NOT_KMS_ENCRYPTED = "NOT_KMS_ENCRYPTED"
    #: The trail's event selectors log no management events: it does not cover its regions
    #: for them.
    TRAIL_NO_MANAGEMENT_EVENTS = "TRAIL_NO_MANAGEMENT_EVENTS"
    # what trailtop could not tell
    MANAGED_ELSEWHERE = "MANAGED_ELSEWHERE"
    STATUS_UNAVAILABLE = "STATUS_UNAVAILABLE"
    DIAGNOSTICS_INCOMPLETE = "DIAGNOSTICS_INCOMPLETE"
