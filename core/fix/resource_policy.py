"""One path for every resource-policy plan (bucket, key and topic policies).

Given the documented CloudTrail statements and the requests CloudTrail makes, it proposes

* ``<prefix>-policy``: the documented statements the current policy lacks, merged in
  (additions only); and, when an explicit Deny still blocks CloudTrail after that,
* ``<prefix>-deny``: the same merge plus the trail exempted from the blocking Deny
  statements, flagged as needing an extra confirmation (someone put the Deny there).

What differs between the services (the calls, the wording) is data: :class:`PolicyTarget`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from core.fix.build import new_plan
from core.fix.documents import canonical, compact
from core.fix.merge import Request, decide, lift_denies, merge_statements, needed, statement_list
from core.fix.model import ApiCall, Plan, Precondition
from core.fix.registry import Kind
from core.judge.policy import Outcome, PolicyError
from core.model import TrailConfig, ViewKey

__all__ = ["DENY_NOTE", "MERGE_RISK", "PolicyTarget", "policy_plans"]

MERGE_RISK: Final = (
    "Adds statements only: no existing statement is removed or changed. The new statements "
    "are the ones the CloudTrail User Guide documents, scoped to this trail (aws:SourceArn)."
)

DENY_NOTE: Final = (
    "An explicit Deny still blocks CloudTrail after this change; see the separate plan."
)


@dataclass(frozen=True)
class PolicyTarget:
    """A resource policy a plan can change, and how its plans are worded."""

    #: Plan id prefix (``s3`` gives ``s3-policy`` and ``s3-deny``).
    prefix: str
    #: Precondition kind of the re-read (core/fix/registry.py).
    kind: Kind
    #: The resource named in the plan (and its id).
    target: str
    region: str
    #: The call that reads the current policy at apply time.
    read: ApiCall
    #: The call that sets the policy, from the compact document text.
    write: Callable[[str], ApiCall]
    #: The policy in words: "policy of bucket b", "key policy of k".
    what: str
    #: Title of the ordinary (merge) plan.
    title: str
    #: Label of the document in the diff.
    doc_name: str
    #: Note on the ordinary plan when a Deny still blocks CloudTrail after it.
    deny_note: str = DENY_NOTE
    #: The account that owns the resource (the calls go there); None: the view's account.
    account: str | None = None


def policy_plans(
    policy: PolicyTarget,
    trail: TrailConfig,
    key: ViewKey,
    *,
    fixes: Sequence[str],
    current: Any,
    documented: Sequence[Mapping[str, Any]],
    requests: Sequence[Request],
) -> list[Plan]:
    """The merge plan and/or the Deny plan for ``policy`` (none when it cannot be read).

    ``documented[i]`` is the statement that allows ``requests[i]``; ``fixes`` the finding
    codes the plans address (the first is the plan's code)."""
    code = fixes[0]
    try:
        merged, added = merge_statements(
            current, needed(documented, requests, current, list(range(len(documented))))
        )
    except PolicyError:
        return []
    before = canonical(current) if current not in (None, "") else ""
    pre = policy.kind.precondition(
        policy.read,
        before or None,
        f"the {policy.what} is still the one this plan was made from",
    )
    still_denied = Outcome.DENIED in decide(merged, requests)
    out: list[Plan] = []
    if added:
        out.append(
            new_plan(
                f"{policy.prefix}-policy",
                key,
                code,
                policy.target,
                title=policy.title,
                region=policy.region,
                calls=[policy.write(compact(merged))],
                before=before,
                after=canonical(merged),
                risk=MERGE_RISK,
                preconditions=[pre],
                fixes=fixes,
                doc_name=policy.doc_name,
                notes=[policy.deny_note] if still_denied else [],
                account=policy.account,
            )
        )
    if still_denied:
        deny = _deny_plan(
            policy, trail, key, fixes, current=current, merged=merged, requests=requests, pre=pre
        )
        if deny is not None:
            out.append(deny)
    return out


def _deny_plan(
    policy: PolicyTarget,
    trail: TrailConfig,
    key: ViewKey,
    fixes: Sequence[str],
    *,
    current: Any,
    merged: dict[str, Any],
    requests: Sequence[Request],
    pre: Precondition,
) -> Plan | None:
    lifted = lift_denies(merged, requests, trail.arn)
    if lifted is None:
        return None
    doc, changed = lifted
    if not changed:
        return None
    stmts = statement_list(doc)
    names = ", ".join(str(stmts[i].get("Sid") or f"Statement[{i}]") for i in sorted(changed))
    before = canonical(current) if current not in (None, "") else ""
    return new_plan(
        f"{policy.prefix}-deny",
        key,
        fixes[0],
        policy.target,
        title=f"Exempt trail {trail.name} from the Deny ({names}) in the {policy.what}",
        region=policy.region,
        calls=[policy.write(compact(doc))],
        before=before,
        after=canonical(doc),
        risk=(
            f"CHANGES AN EXPLICIT DENY ({names}): adds an ArnNotEquals aws:SourceArn "
            f"condition so it no longer applies to deliveries of {trail.arn}; it keeps "
            "applying to every other request. The statement is not deleted. Any missing "
            "documented Allow statements are added too."
        ),
        preconditions=[pre],
        fixes=fixes,
        extra=(
            f"alters the explicit Deny {names} of the {policy.what}; someone put it there on "
            "purpose: check with its owner before confirming"
        ),
        account=policy.account,
    )
