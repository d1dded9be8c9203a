"""Plans for the trail's S3 bucket: its policy, or the bucket itself when it is gone."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from core.codes import Code
from core.fix.build import new_plan
from core.fix.documents import Documents, canonical, compact
from core.fix.merge import Request
from core.fix.model import ApiCall, Plan
from core.fix.registry import S3_EXISTS, S3_POLICY
from core.fix.resource_policy import PolicyTarget, policy_plans
from core.fix.trail import retarget_plan
from core.judge.context import s3_requests
from core.judge.rootcause import documented_bucket_statements
from core.judge.statements import policy_document
from core.model import TrailConfig, ViewKey

__all__ = ["POLICY_CODES", "bucket_missing_plans", "bucket_policy_plans"]

#: The bucket-policy findings one merge plan addresses together.
POLICY_CODES = (Code.S3_POLICY_DENIES_CLOUDTRAIL, Code.S3_POLICY_ACL_CHECK_MISSING)


def _requests(trail: TrailConfig, key: ViewKey, org_id: str | None) -> list[Request]:
    """CloudTrail's requests (core/judge/context.py), in the order of :func:`_documented`'s
    statements: the ACL check, then the writes (log file, digest file)."""
    found = s3_requests(trail, key, org_id)
    return [found.acl.as_tuple(), *(w.as_tuple() for w in found.writes)]


def _documented(trail: TrailConfig, key: ViewKey, org_id: str | None) -> list[dict[str, Any]]:
    """The documented statements for the paths the trail writes (the ACL check, the write)."""
    return documented_bucket_statements(trail, key, org_id)


def bucket_policy_plans(
    trail: TrailConfig, key: ViewKey, codes: Set[str], docs: Documents, org_id: str | None
) -> list[Plan]:
    """The merge (and Deny) plan for the bucket policy; one plan for every policy code."""
    bucket = trail.s3_bucket or ""
    region = trail.home_region or key.region
    what = f"policy of bucket {bucket}"
    target = PolicyTarget(
        prefix="s3",
        kind=S3_POLICY,
        target=bucket,
        region=region,
        read=ApiCall("s3", "get_bucket_policy", {"Bucket": bucket}, region),
        write=lambda text: ApiCall(
            "s3", "put_bucket_policy", {"Bucket": bucket, "Policy": text}, region
        ),
        what=what,
        title=f"Add the CloudTrail statements for trail {trail.name} to the {what}",
        doc_name=f"s3://{bucket} policy",
        deny_note=(
            "An explicit Deny in this policy still blocks CloudTrail after this change; "
            "see the separate plan that exempts this trail from it."
        ),
        # The calls go to the account that owns the bucket (a log-archive account).
        account=docs.bucket_owner,
    )
    return policy_plans(
        target,
        trail,
        key,
        fixes=[c for c in POLICY_CODES if c in codes],
        current=docs.bucket_policy,
        documented=_documented(trail, key, org_id),
        requests=_requests(trail, key, org_id),
    )


def bucket_missing_plans(trail: TrailConfig, key: ViewKey, org_id: str | None) -> list[Plan]:
    """Two ways out, for the operator to choose: create the bucket again, or point the
    trail at another bucket."""
    bucket = trail.s3_bucket or ""
    region = trail.home_region or key.region
    doc = policy_document(_documented(trail, key, org_id))
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        # us-east-1 is the default location and S3 rejects it as an explicit constraint.
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    absent = S3_EXISTS.precondition(
        ApiCall("s3", "head_bucket", {"Bucket": bucket}, region),
        None,
        f"bucket {bucket} still does not exist (anywhere: bucket names are global)",
    )
    create_plan = new_plan(
        "s3-create",
        key,
        Code.S3_BUCKET_MISSING,
        bucket,
        title=f"CREATE bucket {bucket} in {region} with the CloudTrail bucket policy",
        region=region,
        calls=[
            ApiCall("s3", "create_bucket", create, region),
            ApiCall("s3", "put_bucket_policy", {"Bucket": bucket, "Policy": compact(doc)}, region),
        ],
        before="",
        after=canonical(doc),
        risk=(
            f"CREATES A NEW S3 BUCKET {bucket} in {region} and gives CloudTrail write "
            "access to it. If the bucket was deleted on purpose, or its logs were meant to "
            "go elsewhere, do not do this: point the trail at another bucket instead. The "
            "new bucket has S3's defaults (Block Public Access on, SSE-S3, no lifecycle, "
            "no Object Lock); logs lost while it was missing are not recovered."
        ),
        preconditions=[absent],
        doc_name=f"s3://{bucket} policy",
    )
    return [create_plan, retarget_plan(trail, key, Code.S3_BUCKET_MISSING)]
