"""Plans for the trail's SNS topic: create it again, or merge CloudTrail into its policy."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from core.codes import Code
from core.fix.build import new_plan
from core.fix.documents import Documents, canonical, compact
from core.fix.model import ApiCall, Plan
from core.fix.registry import SNS_EXISTS, SNS_POLICY
from core.fix.resource_policy import PolicyTarget, policy_plans
from core.judge.context import sns_request
from core.judge.statements import cloudtrail_sns_statement, policy_document
from core.model import TrailConfig, ViewKey
from core.util.arn import Arn, region_of

__all__ = ["CODES", "topic_plans"]

#: The findings these plans address.
CODES = frozenset({Code.SNS_TOPIC_MISSING, Code.SNS_POLICY_DENIES_CLOUDTRAIL})


def _default_statement(topic_arn: str, account: str) -> dict[str, Any]:
    """The statement AWS puts on a new topic (owner account may manage and publish)."""
    return {
        "Sid": "__default_statement_ID",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": [
            "SNS:GetTopicAttributes",
            "SNS:SetTopicAttributes",
            "SNS:AddPermission",
            "SNS:RemovePermission",
            "SNS:DeleteTopic",
            "SNS:Subscribe",
            "SNS:ListSubscriptionsByTopic",
            "SNS:Publish",
        ],
        "Resource": topic_arn,
        "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
    }


def topic_plans(
    trail: TrailConfig,
    key: ViewKey,
    codes: Set[str],
    docs: Documents,
    org_id: str | None = None,
) -> list[Plan]:
    arn = trail.sns_topic_arn or ""
    parsed = Arn.parse(arn)
    # The calls go to the account that owns the topic.
    owner = parsed.account or key.account_id
    region = region_of(arn, key.region)
    read = ApiCall("sns", "get_topic_attributes", {"TopicArn": arn}, region)
    statement = cloudtrail_sns_statement(arn, trail.arn, trail.owner_account)
    out: list[Plan] = []
    if Code.SNS_TOPIC_MISSING in codes:
        name = parsed.resource_name
        doc = policy_document([statement, _default_statement(arn, owner)])
        out.append(
            new_plan(
                "sns-create",
                key,
                Code.SNS_TOPIC_MISSING,
                arn,
                title=f"Create SNS topic {name} in {region} with the CloudTrail topic policy",
                region=region,
                calls=[
                    ApiCall(
                        "sns",
                        "create_topic",
                        {"Name": name, "Attributes": {"Policy": compact(doc)}},
                        region,
                    )
                ],
                before="",
                after=canonical(doc),
                risk=(
                    f"Creates a new topic named {name} (its ARN, {arn}, is the one the trail "
                    "names). It has no subscriptions: whoever consumed the old topic must "
                    "subscribe again."
                ),
                preconditions=[
                    SNS_EXISTS.precondition(read, None, f"topic {arn} still does not exist")
                ],
                doc_name=f"topic {name} policy",
                account=owner,
            )
        )
    if Code.SNS_POLICY_DENIES_CLOUDTRAIL in codes:
        what = f"topic policy of {arn}"
        policy = PolicyTarget(
            prefix="sns",
            kind=SNS_POLICY,
            target=arn,
            region=region,
            read=read,
            write=lambda text: ApiCall(
                "sns",
                "set_topic_attributes",
                {"TopicArn": arn, "AttributeName": "Policy", "AttributeValue": text},
                region,
            ),
            what=what,
            title=f"Add the CloudTrail statement for trail {trail.name} to the {what}",
            doc_name=what,
            account=owner,
        )
        out += policy_plans(
            policy,
            trail,
            key,
            fixes=[Code.SNS_POLICY_DENIES_CLOUDTRAIL],
            current=docs.topic_policy,
            documented=[statement],
            requests=[sns_request(trail, org_id).as_tuple()],
        )
    return out
