"""Plans that change the trail itself: start its logging, or point it at another bucket.

Both are sent to the trail's home region: a multi-region trail can only be changed there.
"""

from __future__ import annotations

from core.codes import Code
from core.fix.build import new_plan
from core.fix.documents import canonical
from core.fix.model import ApiCall, Plan
from core.fix.registry import TRAIL_BUCKET, TRAIL_LOGGING
from core.model import TrailConfig, ViewKey

__all__ = ["logging_plan", "retarget_plan"]


def logging_plan(trail: TrailConfig, key: ViewKey) -> Plan:
    region = trail.home_region or key.region
    before = canonical({"IsLogging": False})
    return new_plan(
        "trail-start-logging",
        key,
        Code.LOGGING_STOPPED,
        trail.arn,
        title=f"Start logging on trail {trail.name} (in its home region {region})",
        region=region,
        calls=[ApiCall("cloudtrail", "start_logging", {"Name": trail.arn}, region)],
        before=before,
        after=canonical({"IsLogging": True}),
        risk=(
            "Resumes recording and delivery (and its S3/KMS/SNS costs). Events that happened "
            "while logging was off are not recovered. If the destinations are broken too, "
            "apply their plans first."
        ),
        preconditions=[
            TRAIL_LOGGING.precondition(
                ApiCall("cloudtrail", "get_trail_status", {"Name": trail.arn}, region),
                before,
                f"trail {trail.name} is still not logging",
            )
        ],
        doc_name=f"trail {trail.name}",
    )


def retarget_plan(trail: TrailConfig, key: ViewKey, code: str) -> Plan:
    """Point the trail at a bucket the operator names (the ``bucket`` parameter)."""
    bucket = trail.s3_bucket or ""
    region = trail.home_region or key.region
    old = canonical({"S3BucketName": bucket})
    return new_plan(
        "trail-retarget",
        key,
        code,
        trail.arn,
        title=f"Point trail {trail.name} at another, existing bucket (you name it)",
        region=region,
        calls=[
            ApiCall(
                "cloudtrail",
                "update_trail",
                {"Name": trail.arn, "S3BucketName": "${bucket}"},
                region,
            )
        ],
        before=old,
        after=canonical({"S3BucketName": "${bucket}"}),
        risk=(
            "Changes where the trail delivers. The new bucket must already exist and carry "
            "the CloudTrail bucket policy for this trail, or CloudTrail refuses the update "
            "(InsufficientS3BucketPolicyException); the next sweep diagnoses it."
        ),
        preconditions=[
            TRAIL_BUCKET.precondition(
                ApiCall("cloudtrail", "describe_trails", {"trailNameList": [trail.arn]}, region),
                old,
                f"trail {trail.name} still points at {bucket}",
            )
        ],
        doc_name=f"trail {trail.name}",
        parameters=["bucket"],
    )
