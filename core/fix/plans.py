"""Remediation plans: the exact AWS calls that fix a diagnosed root cause (pure, no I/O).

A :class:`~core.fix.model.Plan` is data: the ordered API calls with their parameters, the
document before and after (pretty JSON, sorted keys) with a unified diff, a risk note, and
the preconditions the executor (core/fix/apply.py) re-checks at apply time so a plan never
overwrites a document someone changed since it was read (no lost update).

This module is the entry point; the plans of each destination are built in its own module
(s3, kms, sns, cloudwatch, trail), policy documents are changed only through
core/fix/merge.py (merge, never replace; an explicit Deny only in a separate plan that needs
an extra confirmation), and every kind of plan is declared in core/fix/registry.py.

Plans are made for the views of the account that owns the trail (and of a delegated
administrator of an organization trail); each plan's calls go to the account that owns the
resource it changes (a log-archive bucket, a security-account key), with that account's
remediation credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from core.codes import Code
from core.fix import cloudwatch, kms, s3, sns
from core.fix.documents import Documents, diff
from core.fix.model import PARAM_RE, Plan
from core.fix.trail import logging_plan
from core.model import Finding, TrailConfig, ViewKey

__all__ = ["attach_plan_ids", "bind", "plans_for"]


def plans_for(
    trail: TrailConfig,
    key: ViewKey,
    findings: Iterable[Finding],
    docs: Documents,
    org_id: str | None = None,
    *,
    administers: bool = False,
) -> list[Plan]:
    """Every plan that addresses ``findings`` of this view, from the current documents.

    A plain member's view of an organization trail gets none: the owner's (or a delegated
    administrator's) view carries the plans.
    """
    if not trail.arn or (key.account_id != trail.owner_account and not administers):
        return []
    codes = {f.code for f in findings}
    out: list[Plan] = []
    if Code.LOGGING_STOPPED in codes:
        out.append(logging_plan(trail, key))
    if trail.s3_bucket:
        # A missing bucket has no policy to merge into: only the bucket plans then.
        if Code.S3_BUCKET_MISSING in codes:
            out += s3.bucket_missing_plans(trail, key, org_id)
        elif codes & set(s3.POLICY_CODES):
            out += s3.bucket_policy_plans(trail, key, codes, docs, org_id)
    if trail.kms_key_id and codes & kms.CODES:
        out += kms.key_plans(trail, key, codes, docs, org_id)
    if trail.sns_topic_arn and codes & sns.CODES:
        out += sns.topic_plans(trail, key, codes, docs, org_id)
    if codes & cloudwatch.CODES:
        out += cloudwatch.cloudwatch_plans(trail, key, codes, docs, org_id)
    return out


def attach_plan_ids(findings: Iterable[Finding], plans: Sequence[Plan]) -> tuple[Finding, ...]:
    """The findings with ``plan_ids`` set from the plans that fix them."""
    out = []
    for f in findings:
        ids = tuple(p.id for p in plans if f.code in p.fixes)
        out.append(replace(f, plan_ids=ids) if ids else f)
    return tuple(out)


def _substitute(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        m = PARAM_RE.match(value)
        return values.get(m.group(1), value) if m else value
    if isinstance(value, Mapping):
        return {k: _substitute(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, values) for v in value]
    return value


def bind(plan: Plan, values: Mapping[str, str]) -> Plan:
    """Fill a plan's parameters (e.g. ``{"bucket": "other-bucket"}``); the id is kept, so
    the plan the operator chose is the one applied and audited."""
    unknown = set(values) - set(plan.parameters)
    if unknown:
        raise ValueError(f"plan {plan.id} has no parameter {sorted(unknown)[0]!r}")
    for name, v in values.items():
        if not v or not isinstance(v, str):
            raise ValueError(f"parameter {name!r} needs a non-empty value")
    calls = tuple(replace(c, params=_substitute(dict(c.params), values)) for c in plan.calls)
    after = plan.after
    for name, v in values.items():
        after = after.replace(json.dumps("${" + name + "}"), json.dumps(v))
    return replace(plan, calls=calls, after=after, diff=diff(plan.before, after, plan.target))
