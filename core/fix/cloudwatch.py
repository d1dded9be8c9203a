"""Plans for CloudWatch Logs delivery: the log group and its KMS key, and the delivery
role's trust and permissions.

The role's documents are IAM's: its trust policy is changed by merging (whoever could assume
the role still can), and its permissions go into one inline policy of trailtop's own
(:data:`INLINE_POLICY_NAME`) so no policy someone else wrote is ever rewritten. A
KMS-encrypted log group's key gets the statement the CloudWatch Logs User Guide documents,
merged into its key policy in the account that owns the key (an explicit Deny is left to a
human: the exemption plans of bucket, key and topic policies rest on ``aws:SourceArn``,
which AWS does not document for CloudWatch Logs' requests), or is enabled again.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any, Final

from core.codes import Code
from core.fix.build import new_plan
from core.fix.documents import Documents, canonical, compact, url_decoded
from core.fix.merge import merge_statements, needed, statement_list
from core.fix.model import ApiCall, Plan
from core.fix.registry import IAM_INLINE, IAM_TRUST, KMS_KEY_STATE, KMS_POLICY, LOG_GROUP
from core.judge.context import Request, cloudtrail_context, logs_key_requests
from core.judge.policy import Outcome, PolicyError, evaluate, parse_policy
from core.judge.statements import (
    cloudwatch_logs_key_statement,
    cloudwatch_role_permissions,
    cloudwatch_role_trust_policy,
)
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
        Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES,
    }
)


def cloudwatch_plans(
    trail: TrailConfig, key: ViewKey, codes: Set[str], docs: Documents, org_id: str | None
) -> list[Plan]:
    out: list[Plan] = []
    garn = trail.log_group_arn or ""
    if Code.CLOUDWATCH_LOG_GROUP_MISSING in codes and account_of(garn) == key.account_id:
        out.append(_log_group_plan(garn, key))
    if Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES in codes and garn:
        out += _group_key_plans(garn, key, docs)
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


# -- a KMS-encrypted log group's key ----------------------------------------------------------


def _group_key_plans(garn: str, key: ViewKey, docs: Documents) -> list[Plan]:
    """Enable the group's key, cancel its deletion, or merge the documented CloudWatch Logs
    statement into its policy: whichever the key's state says, aimed at the key's owner."""
    meta = docs.log_group_key_metadata or {}
    kid, karn = str(meta.get("KeyId") or ""), str(meta.get("Arn") or "")
    if not kid or not karn:
        return []  # not described (gone, or not readable): nothing to change
    region = region_of(karn, region_of(garn, key.region))
    owner = account_of(karn) or key.account_id
    state = meta.get("KeyState")
    read = ApiCall("kms", "describe_key", {"KeyId": kid}, region)
    enabled = canonical({"KeyState": "Enabled"})
    gname = Arn.parse(garn).resource_name
    if state in ("Disabled", "PendingDeletion"):
        before = canonical({"KeyState": state})
        calls = [ApiCall("kms", "enable_key", {"KeyId": kid}, region)]
        if state == "PendingDeletion":
            calls.insert(0, ApiCall("kms", "cancel_key_deletion", {"KeyId": kid}, region))
        return [
            new_plan(
                "logs-key-enable" if state == "Disabled" else "logs-key-cancel-deletion",
                key,
                Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES,
                karn,
                title=(
                    f"Enable KMS key {kid} of log group {gname}"
                    if state == "Disabled"
                    else f"Cancel the scheduled deletion of KMS key {kid} (log group {gname}) "
                    "and enable it"
                ),
                region=region,
                calls=calls,
                before=before,
                after=enabled,
                risk=(
                    "Makes the key usable again by everyone its key policy allows, not only "
                    "CloudWatch Logs."
                    + (
                        " After cancelling, AWS leaves the key Disabled: the second call "
                        "enables it."
                        if state == "PendingDeletion"
                        else ""
                    )
                ),
                preconditions=[
                    KMS_KEY_STATE.precondition(read, before, f"key {kid} is still {state}")
                ],
                doc_name=f"KMS key {kid} state",
                account=owner,
            )
        ]
    if state != "Enabled":
        return []
    return _group_key_policy_plans(garn, key, docs.log_group_key_policy, kid, karn, region, owner)


def _outcomes(doc: Any, requests: tuple[Request, ...]) -> list[Outcome]:
    return [
        evaluate(
            doc, principal=r.principal, action=r.action, resource=r.resource, context=r.context
        ).outcome
        for r in requests
    ]


def _allows_denies_aside(doc: Mapping[str, Any] | None, requests: tuple[Request, ...]) -> bool:
    """Whether an Allow already covers every request (a Deny is another matter)."""
    if doc is None:
        return False
    kept = dict(doc)
    kept["Statement"] = [s for s in statement_list(doc) if s.get("Effect") != "Deny"]
    return all(o is Outcome.ALLOWED for o in _outcomes(kept, requests))


def _group_key_policy_plans(
    garn: str, key: ViewKey, current: Any, kid: str, karn: str, region: str, owner: str
) -> list[Plan]:
    requests = logs_key_requests(garn, karn)
    try:
        doc = parse_policy(current) if current not in (None, "") else None
        if _allows_denies_aside(doc, requests):
            return []  # a Deny blocks CloudWatch Logs: no Allow to add, and no plan lifts it
        merged, added = merge_statements(current, [cloudwatch_logs_key_statement(garn)])
    except PolicyError:
        return []
    if not added:
        return []
    gname = Arn.parse(garn).resource_name
    what = f"key policy of {kid}"
    before = canonical(current) if current not in (None, "") else ""
    still_denied = Outcome.DENIED in _outcomes(merged, requests)
    return [
        new_plan(
            "logs-key-policy",
            key,
            Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES,
            karn,
            title=f"Let CloudWatch Logs use KMS key {kid} for log group {gname} ({what})",
            region=region,
            calls=[
                ApiCall(
                    "kms",
                    "put_key_policy",
                    {"KeyId": kid, "PolicyName": "default", "Policy": compact(merged)},
                    region,
                )
            ],
            before=before,
            after=canonical(merged),
            risk=(
                "Adds one statement only: no existing statement is removed or changed. It is "
                "the one the CloudWatch Logs User Guide documents, for "
                f"logs.{region_of(garn)}.amazonaws.com and restricted to this log group "
                "(kms:EncryptionContext:aws:logs:arn)."
            ),
            preconditions=[
                KMS_POLICY.precondition(
                    ApiCall(
                        "kms", "get_key_policy", {"KeyId": kid, "PolicyName": "default"}, region
                    ),
                    before or None,
                    f"the {what} is still the one this plan was made from",
                )
            ],
            doc_name=what,
            notes=[
                "An explicit Deny still blocks CloudWatch Logs after this change; trailtop "
                "makes no plan that changes it."
            ]
            if still_denied
            else [],
            account=owner,
        )
    ]
