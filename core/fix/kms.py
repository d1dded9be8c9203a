"""Plans for the trail's KMS key: its state (pending deletion, disabled) and its policy.

Calls name the key by its id (from DescribeKey when the diagnosis read it): the key-state
calls do not accept an alias, and plans are only made for keys of the trail's own account.
"""

from __future__ import annotations

from collections.abc import Set

from core.codes import Code
from core.fix.build import new_plan
from core.fix.documents import Documents, canonical
from core.fix.model import ApiCall, Plan
from core.fix.registry import KMS_KEY_STATE, KMS_POLICY
from core.fix.resource_policy import PolicyTarget, policy_plans
from core.judge.context import kms_request
from core.judge.statements import cloudtrail_kms_statement
from core.model import TrailConfig, ViewKey
from core.util.arn import Arn, account_of, partition_of, region_of

__all__ = ["CODES", "key_plans"]

#: The findings these plans address.
CODES = frozenset(
    {Code.KMS_KEY_PENDING_DELETION, Code.KMS_KEY_DISABLED, Code.KMS_POLICY_DENIES_CLOUDTRAIL}
)


def _key_id(trail: TrailConfig, docs: Documents) -> tuple[str, str]:
    """(key id, key ARN or the trail's key identifier), preferring what DescribeKey said."""
    meta = docs.key_metadata or {}
    kid = str(meta.get("KeyId") or "")
    arn = str(meta.get("Arn") or (trail.kms_key_id or ""))
    if not kid:
        ident = trail.kms_key_id or ""
        kid = Arn.parse(ident).resource_name if ident.startswith("arn:") and "/" in ident else ident
    return kid, arn


def key_plans(
    trail: TrailConfig,
    key: ViewKey,
    codes: Set[str],
    docs: Documents,
    org_id: str | None = None,
) -> list[Plan]:
    kid, karn = _key_id(trail, docs)
    region = region_of(karn, trail.home_region or key.region)
    # The calls go to the account that owns the key (a security account in a landing zone).
    owner = account_of(karn) or key.account_id
    state_read = ApiCall("kms", "describe_key", {"KeyId": kid}, region)
    target = karn or kid
    enabled = canonical({"KeyState": "Enabled"})
    out: list[Plan] = []
    if Code.KMS_KEY_PENDING_DELETION in codes:
        before = canonical({"KeyState": "PendingDeletion"})
        out.append(
            new_plan(
                "kms-cancel-deletion",
                key,
                Code.KMS_KEY_PENDING_DELETION,
                target,
                title=f"Cancel the scheduled deletion of KMS key {kid} and enable it",
                region=region,
                calls=[
                    ApiCall("kms", "cancel_key_deletion", {"KeyId": kid}, region),
                    ApiCall("kms", "enable_key", {"KeyId": kid}, region),
                ],
                before=before,
                after=enabled,
                risk=(
                    "Keeps the key and makes it usable again. If it was scheduled for deletion "
                    "on purpose (replaced by another key), point the trail at the new key "
                    "instead. After cancelling, AWS leaves the key Disabled: the second call "
                    "enables it."
                ),
                preconditions=[
                    KMS_KEY_STATE.precondition(
                        state_read, before, f"key {kid} is still PendingDeletion"
                    )
                ],
                doc_name=f"KMS key {kid} state",
                account=owner,
            )
        )
    elif Code.KMS_KEY_DISABLED in codes and (docs.key_metadata or {}).get("KeyState") in (
        None,
        "Disabled",
    ):
        # Disabled (or state unknown) only: other states (PendingImport...) cannot be enabled.
        before = canonical({"KeyState": "Disabled"})
        out.append(
            new_plan(
                "kms-enable",
                key,
                Code.KMS_KEY_DISABLED,
                target,
                title=f"Enable KMS key {kid}",
                region=region,
                calls=[ApiCall("kms", "enable_key", {"KeyId": kid}, region)],
                before=before,
                after=enabled,
                risk="Makes the key usable again by everyone its key policy allows, not only CloudTrail.",
                preconditions=[
                    KMS_KEY_STATE.precondition(state_read, before, f"key {kid} is still Disabled")
                ],
                doc_name=f"KMS key {kid} state",
                account=owner,
            )
        )
    if Code.KMS_POLICY_DENIES_CLOUDTRAIL in codes:
        what = f"key policy of {kid}"
        policy = PolicyTarget(
            prefix="kms",
            kind=KMS_POLICY,
            target=target,
            region=region,
            read=ApiCall("kms", "get_key_policy", {"KeyId": kid, "PolicyName": "default"}, region),
            write=lambda text: ApiCall(
                "kms",
                "put_key_policy",
                {"KeyId": kid, "PolicyName": "default", "Policy": text},
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
            fixes=[Code.KMS_POLICY_DENIES_CLOUDTRAIL],
            current=docs.key_policy,
            documented=[
                cloudtrail_kms_statement(
                    trail.owner_account, trail.arn, partition=partition_of(trail.arn)
                )
            ],
            requests=[kms_request(trail, key, karn or kid, org_id).as_tuple()],
        )
    return out
