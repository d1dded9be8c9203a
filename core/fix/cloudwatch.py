"""Plans for CloudWatch Logs delivery: the log group, and the delivery role's trust and
permissions.

The role's documents are IAM's: its trust policy is changed by merging (whoever could assume
the role still can), and its permissions go into one inline policy of trailtop's own
(:data:`INLINE_POLICY_NAME`) so no policy someone else wrote is ever rewritten.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Final

from core.codes import Code
from core.fix.build import new_plan
from core.fix.documents import Documents, canonical, compact, url_decoded
from core.fix.merge import merge_statements, needed, statement_list
from core.fix.model import ApiCall, Plan
from core.fix.registry import IAM_INLINE, IAM_TRUST, LOG_GROUP
from core.judge.context import cloudtrail_context
from core.judge.policy import PolicyError
from core.judge.statements import cloudwatch_role_permissions, cloudwatch_role_trust_policy
from core.model import TrailConfig, ViewKey
from core.util.arn import Arn, account_of, region_of

__all__ = ["CODES", "INLINE_POLICY_NAME", "cloudwatch_plans"]

#: The inline policy trailtop writes on a CloudWatch Logs delivery role.
INLINE_POLICY_NAME: Final = "trailtop-cloudtrail-delivery"

#: The findings these plans address.
CODES = frozenset(
    {
        Code.CLOUDWATCH_LOG_GROUP_MISSING,
        Code.CLOUDWATCH_ROLE_TRUST_INVALID,
        Code.CLOUDWATCH_ROLE_PERMISSIONS_MISSING,
    }
)


def cloudwatch_plans(
    trail: TrailConfig, key: ViewKey, codes: Set[str], docs: Documents, org_id: str | None
) -> list[Plan]:
    out: list[Plan] = []
    garn = trail.log_group_arn or ""
    if Code.CLOUDWATCH_LOG_GROUP_MISSING in codes and account_of(garn) == key.account_id:
        out.append(_log_group_plan(garn, key))
    rarn = trail.cw_role_arn or ""
    if not rarn or account_of(rarn) != key.account_id:
        return out
    if Code.CLOUDWATCH_ROLE_TRUST_INVALID in codes and docs.role_trust is not None:
        out += _trust_plans(trail, key, docs.role_trust)
    if Code.CLOUDWATCH_ROLE_PERMISSIONS_MISSING in codes and garn:
        current = (docs.role_inline or {}).get(INLINE_POLICY_NAME)
        out += _permissions_plans(trail, key, current, org_id)
    return out


def _log_group_plan(garn: str, key: ViewKey) -> Plan:
    gname = Arn.parse(garn).resource_name
    region = region_of(garn, key.region)
    return new_plan(
        "logs-create-group",
        key,
        Code.CLOUDWATCH_LOG_GROUP_MISSING,
        garn,
        title=f"Create CloudWatch Logs group {gname} in {region}",
        region=region,
        calls=[ApiCall("logs", "create_log_group", {"logGroupName": gname}, region)],
        before="",
        after=canonical({"logGroupName": gname}),
        risk=(
            "Creates an empty log group with the default settings: never-expiring "
            "retention and no KMS key. Set retention afterwards if you need one."
        ),
        preconditions=[
            LOG_GROUP.precondition(
                ApiCall("logs", "describe_log_groups", {"logGroupNamePrefix": gname}, region),
                None,
                f"log group {gname} still does not exist",
            )
        ],
        doc_name=f"log group {gname}",
    )


def _role(trail: TrailConfig, key: ViewKey) -> tuple[str, str, str]:
    """(role ARN, role name, region for IAM calls: IAM is global, the home region will do)."""
    rarn = trail.cw_role_arn or ""
    return rarn, Arn.parse(rarn).leaf, trail.home_region or key.region


def _trust_plans(trail: TrailConfig, key: ViewKey, trust: object) -> list[Plan]:
    rarn, role, region = _role(trail, key)
    documented = statement_list(cloudwatch_role_trust_policy())
    try:
        wanted = needed(
            documented, [("sts:AssumeRole", rarn, cloudtrail_context(trail))], trust, [0]
        )
        merged, added = merge_statements(url_decoded(trust), wanted)
    except PolicyError:
        return []
    if not added:
        return []
    before = canonical(url_decoded(trust))
    return [
        new_plan(
            "iam-trust",
            key,
            Code.CLOUDWATCH_ROLE_TRUST_INVALID,
            rarn,
            title=f"Let cloudtrail.amazonaws.com assume role {role} (trust policy, merged)",
            region=region,
            calls=[
                ApiCall(
                    "iam",
                    "update_assume_role_policy",
                    {"RoleName": role, "PolicyDocument": compact(merged)},
                    region,
                )
            ],
            before=before,
            after=canonical(merged),
            risk=(
                "Adds one trust statement for cloudtrail.amazonaws.com; whoever could "
                "assume the role before still can. The role's permissions are unchanged."
            ),
            preconditions=[
                IAM_TRUST.precondition(
                    ApiCall("iam", "get_role", {"RoleName": role}, region),
                    before,
                    f"the trust policy of {role} is still the one this plan was made from",
                )
            ],
            doc_name=f"role {role} trust policy",
        )
    ]


def _permissions_plans(
    trail: TrailConfig, key: ViewKey, current: object, org_id: str | None
) -> list[Plan]:
    rarn, role, iam_region = _role(trail, key)
    garn = trail.log_group_arn or ""
    gname = Arn.parse(garn).resource_name
    region = region_of(garn, key.region)
    acct = account_of(garn) or trail.owner_account
    documented = statement_list(
        cloudwatch_role_permissions(
            garn, acct, region, org_id if trail.organization_trail else None
        )
    )
    try:
        merged, added = merge_statements(url_decoded(current), documented)
    except PolicyError:
        return []
    if not added:
        return []
    before = canonical(url_decoded(current)) if current not in (None, "") else ""
    return [
        new_plan(
            "iam-permissions",
            key,
            Code.CLOUDWATCH_ROLE_PERMISSIONS_MISSING,
            rarn,
            title=(
                f"Give role {role} logs:CreateLogStream and logs:PutLogEvents on "
                f"{gname} (inline policy {INLINE_POLICY_NAME})"
            ),
            region=iam_region,
            calls=[
                ApiCall(
                    "iam",
                    "put_role_policy",
                    {
                        "RoleName": role,
                        "PolicyName": INLINE_POLICY_NAME,
                        "PolicyDocument": compact(merged),
                    },
                    iam_region,
                )
            ],
            before=before,
            after=canonical(merged),
            risk=(
                f"{'Adds to' if before else 'Creates'} the inline policy "
                f"{INLINE_POLICY_NAME} on {role}; other policies of the role are not "
                "touched. The permissions are the documented ones, limited to this "
                "trail's log streams."
            ),
            preconditions=[
                IAM_INLINE.precondition(
                    ApiCall(
                        "iam",
                        "get_role_policy",
                        {"RoleName": role, "PolicyName": INLINE_POLICY_NAME},
                        iam_region,
                    ),
                    before or None,
                    f"inline policy {INLINE_POLICY_NAME} of {role} is unchanged",
                )
            ],
            doc_name=f"role {role} policy {INLINE_POLICY_NAME}",
        )
    ]
