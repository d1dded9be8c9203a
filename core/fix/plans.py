"""Remediation plans: the exact AWS calls that fix a diagnosed root cause (pure, no I/O).

A :class:`Plan` is data: the ordered API calls with their parameters, the document before
and after (pretty JSON, sorted keys) with a unified diff, a risk note, and the
preconditions the executor (core/fix/apply.py) re-checks at apply time so a plan never
overwrites a document someone changed since it was read (no lost update).

Rules every plan follows:

* **Merge, never replace.** Policy plans add the statements the CloudTrail User Guide
  documents (built by core/judge/policy.py) to the existing document. No existing statement is
  removed or altered; new statements are put *first* in the ``Statement`` list (order is
  irrelevant to IAM evaluation) so the diff of an ordinary plan is additions only. A Sid
  that is already taken gets a ``Trailtop`` suffix.
* **An explicit Deny is never touched silently.** An added Allow cannot beat a Deny, so when
  a Deny blocks CloudTrail the ordinary plan (if any) says so, and a *separate* plan with
  ``needs_extra_confirmation`` proposes the minimal change: see :func:`exclude_trail`.
* **Stable ids.** A plan's id is a hash of (view, code, target, kind): the same finding on
  the next sweep yields the same id, so ``trailtop fix PLAN_ID`` works across runs.
* Plans are made only for views in the account that owns the trail (the account whose
  credentials can change its destinations); foreign destinations get no plan.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from core.codes import Code
from core.fix.model import PARAM_RE, ApiCall, Plan, Precondition
from core.judge.policy import (
    CLOUDTRAIL_SERVICE,
    Outcome,
    PolicyError,
    Principal,
    evaluate,
    parse_policy,
)
from core.judge.rootcause import (
    Destinations,
    cloudtrail_context,
)
from core.judge.statements import (
    cloudtrail_bucket_statements,
    cloudtrail_kms_statement,
    cloudtrail_sns_statement,
    cloudwatch_role_permissions,
    cloudwatch_role_trust_policy,
    policy_document,
)
from core.model import Finding, TrailConfig, ViewKey
from core.util.arn import account_of, log_group_name, region_of

__all__ = [
    "ABSENT_CODES",
    "INLINE_POLICY_NAME",
    "ApiCall",
    "Documents",
    "Plan",
    "Precondition",
    "attach_plan_ids",
    "bind",
    "canonical",
    "documents_from",
    "exclude_trail",
    "extract",
    "merge_statements",
    "plans_for",
]

#: The inline policy trailtop writes on a CloudWatch Logs delivery role.
INLINE_POLICY_NAME: Final = "trailtop-cloudtrail-delivery"

#: Error codes that mean "it does not exist" for a precondition read (by extract kind).
ABSENT_CODES: Final[Mapping[str, frozenset[str]]] = {
    "s3_policy": frozenset({"NoSuchBucketPolicy"}),
    "s3_exists": frozenset({"404", "NoSuchBucket", "NotFound"}),
    "sns_exists": frozenset({"NotFound", "NotFoundException"}),
    "iam_inline": frozenset({"NoSuchEntity", "NoSuchEntityException"}),
}

_CLOUDTRAIL = Principal.service_(CLOUDTRAIL_SERVICE)


# --------------------------------------------------------------------------- documents


def canonical(value: Any) -> str:
    """The text form used for ``before``/``after``, diffs and precondition comparison:
    JSON, indent 2, sorted keys. JSON text is parsed first (so formatting never matters)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, sort_keys=True)


def _compact(doc: Mapping[str, Any]) -> str:
    """The document text sent to AWS (sorted keys, no whitespace: policy size limits)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _url_decoded(value: Any) -> Any:
    """IAM returns documents URL-encoded in the raw API (botocore usually decodes)."""
    if isinstance(value, str) and value.lstrip().startswith("%"):
        out = bytearray()
        for part in re.split(r"(%[0-9A-Fa-f]{2})", value):
            if len(part) == 3 and part.startswith("%"):
                out.append(int(part[1:], 16))
            else:
                out += part.encode("utf-8")
        return out.decode("utf-8", errors="replace")
    return value


def _diff(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=False),
        after.splitlines(keepends=False),
        fromfile=f"{name} (current)",
        tofile=f"{name} (planned)",
        lineterm="",
        n=3,
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class Documents:
    """The current documents plans are made from (what core/aws/diagnose.py read).

    A policy value is JSON text, a parsed mapping, or None for "no policy attached".
    ``role_inline`` maps inline policy names of the delivery role to their documents;
    None means the names are unknown (the plan then assumes trailtop's inline policy is
    absent, and the apply-time precondition catches it if it is not).
    """

    bucket_policy: Any = None
    key_policy: Any = None
    key_metadata: Mapping[str, Any] | None = None
    topic_policy: Any = None
    role_trust: Any = None
    role_inline: Mapping[str, Any] | None = None


def documents_from(dest: Destinations) -> Documents:
    """Extract the documents from diagnosed destinations (``Fact.data``)."""

    def data(f: Any) -> Mapping[str, Any]:
        return f.data if f is not None and f.exists else {}

    role = data(dest.role)
    inline = role.get("inline")
    return Documents(
        bucket_policy=data(dest.bucket).get("policy"),
        key_policy=data(dest.key).get("policy"),
        key_metadata=data(dest.key).get("metadata"),
        topic_policy=data(dest.topic).get("policy"),
        role_trust=role.get("trust"),
        role_inline=dict(inline) if isinstance(inline, Mapping) else None,
    )


# --------------------------------------------------------------------------- calls


def extract(kind: str, response: Mapping[str, Any], read: ApiCall) -> str | None:
    """The canonical text a precondition compares, from the read's response (pure)."""
    if kind in ("s3_policy", "kms_policy"):
        pol = response.get("Policy")
        return None if pol in (None, "") else canonical(pol)
    if kind in ("s3_exists", "sns_exists"):
        return "exists"
    if kind == "kms_key_state":
        return canonical({"KeyState": (response.get("KeyMetadata") or {}).get("KeyState")})
    if kind == "sns_policy":
        pol = (response.get("Attributes") or {}).get("Policy")
        return None if pol in (None, "") else canonical(pol)
    if kind == "log_group":
        name = str(read.params.get("logGroupNamePrefix", ""))
        found = any(g.get("logGroupName") == name for g in response.get("logGroups") or [])
        return canonical({"logGroupName": name}) if found else None
    if kind == "iam_trust":
        doc = (response.get("Role") or {}).get("AssumeRolePolicyDocument")
        return None if doc is None else canonical(_url_decoded(doc))
    if kind == "iam_inline":
        doc = response.get("PolicyDocument")
        return None if doc is None else canonical(_url_decoded(doc))
    if kind == "trail_logging":
        return canonical({"IsLogging": bool(response.get("IsLogging"))})
    if kind == "trail_bucket":
        trails = response.get("trailList") or []
        if not trails:
            return None
        return canonical({"S3BucketName": trails[0].get("S3BucketName")})
    raise ValueError(f"unknown precondition kind {kind!r}")


# --------------------------------------------------------------------------- plans


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
    """Fill a plan's parameters (e.g. ``{"bucket": "other-bucket"}``); the id is kept."""
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
    return replace(plan, calls=calls, after=after, diff=_diff(plan.before, after, plan.target))


def plan_id(kind: str, key: ViewKey, code: str, target: str) -> str:
    digest = hashlib.sha256("\x1f".join((kind, key.id, code, target)).encode()).hexdigest()
    return f"{kind}-{digest[:8]}"


def _plan(
    kind: str,
    key: ViewKey,
    code: str,
    target: str,
    *,
    title: str,
    region: str,
    calls: Sequence[ApiCall],
    before: str,
    after: str,
    risk: str,
    preconditions: Sequence[Precondition],
    fixes: Sequence[str] = (),
    doc_name: str | None = None,
    extra: str = "",
    parameters: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Plan:
    return Plan(
        id=plan_id(kind, key, code, target),
        code=code,
        title=title,
        account_id=key.account_id,
        region=region,
        target=target,
        calls=tuple(calls),
        before=before,
        after=after,
        diff=_diff(before, after, doc_name or target),
        risk=risk,
        preconditions=tuple(preconditions),
        view_id=key.id,
        fixes=tuple(fixes) or (code,),
        needs_extra_confirmation=bool(extra),
        extra_confirmation_reason=extra,
        parameters=tuple(parameters),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- merging


def _statement_list(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = doc.get("Statement")
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        return [dict(raw)]
    return [dict(s) for s in raw]


def _free_sid(sid: str, taken: set[str]) -> str:
    if sid not in taken:
        return sid
    sep = " " if " " in sid else ""
    n = 1
    while True:
        cand = f"{sid}{sep}Trailtop{n if n > 1 else ''}"
        if cand not in taken:
            return cand
        n += 1


def merge_statements(
    current: Any, additions: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return (merged document, the statements actually added, with their final Sids).

    ``current`` is JSON text, a mapping or None. Every existing statement is kept as is;
    an addition identical to an existing statement is skipped; a taken Sid is renamed.
    Raises :class:`PolicyError` if ``current`` cannot be read.
    """
    doc: dict[str, Any] = (
        copy.deepcopy(parse_policy(current)) if current not in (None, "") else policy_document([])
    )
    existing = _statement_list(doc)
    taken = {str(s["Sid"]) for s in existing if isinstance(s.get("Sid"), str)}
    added: list[dict[str, Any]] = []
    for st in additions:
        new = copy.deepcopy(dict(st))
        if any(_same(new, e) for e in existing):
            continue
        if isinstance(new.get("Sid"), str):
            new["Sid"] = _free_sid(new["Sid"], taken)
            taken.add(new["Sid"])
        added.append(new)
    doc["Statement"] = added + existing
    doc.setdefault("Version", "2012-10-17")
    return doc, added


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return canonical(dict(a)) == canonical(dict(b))


def exclude_trail(statement: Mapping[str, Any], trail_arn: str) -> dict[str, Any]:
    """The minimal change to a Deny that blocks CloudTrail: add the condition
    ``ArnNotEquals {"aws:SourceArn": <trail ARN>}`` (or add the ARN to an existing
    ``ArnNotEquals`` on that key).

    Why this and not deleting the statement: the Deny exists for a reason (encryption,
    TLS, a data perimeter) and keeps applying to every other request. ``aws:SourceArn`` is
    set by AWS only on service-to-service requests made for a resource, so principals in
    the account cannot use it to slip past the Deny; requests without it (every IAM user
    and role) still match the negated operator and stay denied. The exclusion is as narrow
    as it can be: this one trail's deliveries.
    """
    st = copy.deepcopy(dict(statement))
    cond = st.get("Condition")
    cond = dict(cond) if isinstance(cond, Mapping) else {}
    op_name = next((k for k in cond if k.lower() == "arnnotequals"), "ArnNotEquals")
    block = dict(cond.get(op_name) or {})
    key_name = next((k for k in block if k.lower() == "aws:sourcearn"), "aws:SourceArn")
    values = block.get(key_name)
    if values is None:
        block[key_name] = trail_arn
    else:
        vals = [values] if isinstance(values, str) else list(values)
        if trail_arn not in vals:
            vals.append(trail_arn)
        block[key_name] = vals
    cond[op_name] = block
    st["Condition"] = cond
    return st


Request = tuple[str, str, dict[str, str]]  # (action, resource, context)


def _decide(doc: Any, requests: Sequence[Request], identity: str | None = None) -> list[Outcome]:
    principal = Principal.aws_(identity) if identity else _CLOUDTRAIL
    return [
        evaluate(
            doc,
            principal=principal,
            action=a,
            resource=r,
            context=c,
            identity_policy=identity is not None,
        ).outcome
        for a, r, c in requests
    ]


def _without_denies(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    out["Statement"] = [s for s in _statement_list(doc) if s.get("Effect") != "Deny"]
    return out


def _lift_denies(
    doc: dict[str, Any], requests: Sequence[Request], trail_arn: str
) -> tuple[dict[str, Any], list[int]] | None:
    """Apply :func:`exclude_trail` to every Deny that blocks one of ``requests``.
    Returns (document, changed statement indexes), or None if a Deny cannot be lifted."""
    out = copy.deepcopy(doc)
    changed: list[int] = []
    for _ in range(32):
        blocking = None
        for a, r, c in requests:
            d = evaluate(out, principal=_CLOUDTRAIL, action=a, resource=r, context=c)
            if d.outcome is Outcome.DENIED and d.statement_index is not None:
                blocking = d.statement_index
                break
        if blocking is None:
            return out, changed
        if blocking in changed:
            return None  # the exclusion did not help: leave it to a human
        stmts = _statement_list(out)
        stmts[blocking] = exclude_trail(stmts[blocking], trail_arn)
        out["Statement"] = stmts
        changed.append(blocking)
    return None


# --------------------------------------------------------------------------- per destination


def _s3_requests(trail: TrailConfig, key: ViewKey, org_id: str | None) -> list[Request]:
    bucket = trail.s3_bucket or ""
    prefix = f"{trail.s3_prefix.strip('/')}/" if trail.s3_prefix else ""
    acct = trail.owner_account
    put_ctx = cloudtrail_context(trail, **{"s3:x-amz-acl": "bucket-owner-full-control"})
    reqs: list[Request] = [
        ("s3:GetBucketAcl", f"arn:aws:s3:::{bucket}", cloudtrail_context(trail)),
        (
            "s3:PutObject",
            f"arn:aws:s3:::{bucket}/{prefix}AWSLogs/{acct}/CloudTrail/{key.region}/x.json.gz",
            put_ctx,
        ),
    ]
    if trail.organization_trail and org_id:
        reqs.append(
            (
                "s3:PutObject",
                f"arn:aws:s3:::{bucket}/{prefix}AWSLogs/{org_id}/{acct}/CloudTrail/{key.region}/x.json.gz",
                put_ctx,
            )
        )
    return reqs


def _s3_documented(trail: TrailConfig, org_id: str | None) -> list[dict[str, Any]]:
    ids = [trail.owner_account]
    if trail.organization_trail and org_id:
        ids.append(org_id)
    return cloudtrail_bucket_statements(
        trail.s3_bucket or "", trail.s3_prefix, ids, trail.arn, trail.owner_account
    )


def _needed(
    documented: Sequence[Mapping[str, Any]],
    requests: Sequence[Request],
    doc: Any,
    purpose: Sequence[int],
) -> list[Mapping[str, Any]]:
    """The documented statements whose request (``purpose[i]`` indexes ``requests``) the
    current document, Denies aside, does not allow."""
    base = _without_denies(parse_policy(doc)) if doc not in (None, "") else None
    outcomes = _decide(base, requests)
    return [
        st for st, i in zip(documented, purpose, strict=True) if outcomes[i] is not Outcome.ALLOWED
    ]


_MERGE_RISK = (
    "Adds statements only: no existing statement is removed or changed. The new statements "
    "are the ones the CloudTrail User Guide documents, scoped to this trail (aws:SourceArn)."
)


def _deny_plan(
    kind: str,
    trail: TrailConfig,
    key: ViewKey,
    code: str,
    target: str,
    *,
    current: Any,
    merged: dict[str, Any],
    requests: Sequence[Request],
    region: str,
    make_call: Any,
    precondition: Precondition,
    fixes: Sequence[str],
    what: str,
) -> Plan | None:
    lifted = _lift_denies(merged, requests, trail.arn)
    if lifted is None:
        return None
    doc, changed = lifted
    if not changed:
        return None
    stmts = _statement_list(doc)
    names = ", ".join(str(stmts[i].get("Sid") or f"Statement[{i}]") for i in sorted(changed))
    before = canonical(current) if current not in (None, "") else ""
    after = canonical(doc)
    return _plan(
        kind,
        key,
        code,
        target,
        title=f"Exempt trail {trail.name} from the Deny ({names}) in the {what}",
        region=region,
        calls=[make_call(_compact(doc))],
        before=before,
        after=after,
        risk=(
            f"CHANGES AN EXPLICIT DENY ({names}): adds an ArnNotEquals aws:SourceArn "
            f"condition so it no longer applies to deliveries of {trail.arn}; it keeps "
            "applying to every other request. The statement is not deleted. Any missing "
            "documented Allow statements are added too."
        ),
        preconditions=[precondition],
        fixes=fixes,
        extra=(
            f"alters the explicit Deny {names} of the {what}; someone put it there on "
            "purpose: check with its owner before confirming"
        ),
    )


def _s3_plans(
    trail: TrailConfig, key: ViewKey, codes: set[Code], docs: Documents, org_id: str | None
) -> list[Plan]:
    bucket = trail.s3_bucket or ""
    region = trail.home_region or key.region
    fixes = [
        c
        for c in (Code.S3_POLICY_DENIES_CLOUDTRAIL, Code.S3_POLICY_ACL_CHECK_MISSING)
        if c in codes
    ]
    code = fixes[0]
    requests = _s3_requests(trail, key, org_id)
    documented = _s3_documented(trail, org_id)
    purpose = [0, 1, 2][: len(documented)]
    current = docs.bucket_policy
    try:
        needed = _needed(documented, requests, current, purpose)
        merged, added = merge_statements(current, needed)
    except PolicyError:
        return []
    before = canonical(current) if current not in (None, "") else ""
    pre = Precondition(
        ApiCall("s3", "get_bucket_policy", {"Bucket": bucket}, region),
        "s3_policy",
        before or None,
        f"the policy of bucket {bucket} is still the one this plan was made from",
    )

    def call(text: str) -> ApiCall:
        return ApiCall("s3", "put_bucket_policy", {"Bucket": bucket, "Policy": text}, region)

    out: list[Plan] = []
    still_denied = Outcome.DENIED in _decide(merged, requests)
    if added:
        notes = []
        if still_denied:
            notes.append(
                "An explicit Deny in this policy still blocks CloudTrail after this change; "
                "see the separate plan that exempts this trail from it."
            )
        out.append(
            _plan(
                "s3-policy",
                key,
                code,
                bucket,
                title=f"Add the CloudTrail statements for trail {trail.name} to the policy of bucket {bucket}",
                region=region,
                calls=[call(_compact(merged))],
                before=before,
                after=canonical(merged),
                risk=_MERGE_RISK,
                preconditions=[pre],
                fixes=fixes,
                doc_name=f"s3://{bucket} policy",
                notes=notes,
            )
        )
    if still_denied:
        deny = _deny_plan(
            "s3-deny",
            trail,
            key,
            code,
            bucket,
            current=current,
            merged=merged,
            requests=requests,
            region=region,
            make_call=call,
            precondition=pre,
            fixes=fixes,
            what=f"policy of bucket {bucket}",
        )
        if deny is not None:
            out.append(deny)
    return out


def _s3_missing_plans(
    trail: TrailConfig, key: ViewKey, docs: Documents, org_id: str | None
) -> list[Plan]:
    bucket = trail.s3_bucket or ""
    region = trail.home_region or key.region
    doc = policy_document(_s3_documented(trail, org_id))
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    code = Code.S3_BUCKET_MISSING
    absent = Precondition(
        ApiCall("s3", "head_bucket", {"Bucket": bucket}, region),
        "s3_exists",
        None,
        f"bucket {bucket} still does not exist (anywhere: bucket names are global)",
    )
    plans = [
        _plan(
            "s3-create",
            key,
            code,
            bucket,
            title=f"CREATE bucket {bucket} in {region} with the CloudTrail bucket policy",
            region=region,
            calls=[
                ApiCall("s3", "create_bucket", create, region),
                ApiCall(
                    "s3", "put_bucket_policy", {"Bucket": bucket, "Policy": _compact(doc)}, region
                ),
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
    ]
    trail_region = trail.home_region or key.region
    old = canonical({"S3BucketName": bucket})
    plans.append(
        _plan(
            "trail-retarget",
            key,
            code,
            trail.arn,
            title=f"Point trail {trail.name} at another, existing bucket (you name it)",
            region=trail_region,
            calls=[
                ApiCall(
                    "cloudtrail",
                    "update_trail",
                    {"Name": trail.arn, "S3BucketName": "${bucket}"},
                    trail_region,
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
                Precondition(
                    ApiCall(
                        "cloudtrail",
                        "describe_trails",
                        {"trailNameList": [trail.arn]},
                        trail_region,
                    ),
                    "trail_bucket",
                    old,
                    f"trail {trail.name} still points at {bucket}",
                )
            ],
            doc_name=f"trail {trail.name}",
            parameters=["bucket"],
        )
    )
    return plans


def _key_id(trail: TrailConfig, docs: Documents) -> tuple[str, str]:
    meta = docs.key_metadata or {}
    kid = str(meta.get("KeyId") or "")
    arn = str(meta.get("Arn") or (trail.kms_key_id or ""))
    if not kid:
        ident = trail.kms_key_id or ""
        kid = ident.split("/", 1)[1] if ident.startswith("arn:") and "/" in ident else ident
    return kid, arn


def _kms_plans(trail: TrailConfig, key: ViewKey, codes: set[Code], docs: Documents) -> list[Plan]:
    kid, karn = _key_id(trail, docs)
    region = (
        region_of(karn, trail.home_region or key.region)
        if karn.startswith("arn:")
        else (trail.home_region or key.region)
    )
    if karn.startswith("arn:") and account_of(karn) != key.account_id:
        return []
    state_read = ApiCall("kms", "describe_key", {"KeyId": kid}, region)
    target = karn or kid
    enabled = canonical({"KeyState": "Enabled"})
    out: list[Plan] = []
    if Code.KMS_KEY_PENDING_DELETION in codes:
        before = canonical({"KeyState": "PendingDeletion"})
        out.append(
            _plan(
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
                    Precondition(
                        state_read, "kms_key_state", before, f"key {kid} is still PendingDeletion"
                    )
                ],
                doc_name=f"KMS key {kid} state",
            )
        )
    elif Code.KMS_KEY_DISABLED in codes and (docs.key_metadata or {}).get("KeyState") in (
        None,
        "Disabled",
    ):
        before = canonical({"KeyState": "Disabled"})
        out.append(
            _plan(
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
                    Precondition(
                        state_read, "kms_key_state", before, f"key {kid} is still Disabled"
                    )
                ],
                doc_name=f"KMS key {kid} state",
            )
        )
    if Code.KMS_POLICY_DENIES_CLOUDTRAIL in codes:
        out += _resource_policy_plans(
            "kms",
            trail,
            key,
            Code.KMS_POLICY_DENIES_CLOUDTRAIL,
            target,
            current=docs.key_policy,
            documented=[cloudtrail_kms_statement(trail.owner_account, trail.arn)],
            requests=[
                (
                    "kms:GenerateDataKey",
                    karn or kid,
                    cloudtrail_context(
                        trail, **{"kms:EncryptionContext:aws:cloudtrail:arn": trail.arn}
                    ),
                )
            ],
            region=region,
            make_call=lambda text: ApiCall(
                "kms",
                "put_key_policy",
                {"KeyId": kid, "PolicyName": "default", "Policy": text},
                region,
            ),
            read=ApiCall("kms", "get_key_policy", {"KeyId": kid, "PolicyName": "default"}, region),
            read_kind="kms_policy",
            what=f"key policy of {kid}",
        )
    return out


def _resource_policy_plans(
    svc: str,
    trail: TrailConfig,
    key: ViewKey,
    code: str,
    target: str,
    *,
    current: Any,
    documented: Sequence[Mapping[str, Any]],
    requests: Sequence[Request],
    region: str,
    make_call: Any,
    read: ApiCall,
    read_kind: str,
    what: str,
) -> list[Plan]:
    try:
        needed = _needed(documented, requests, current, list(range(len(documented))))
        merged, added = merge_statements(current, needed)
    except PolicyError:
        return []
    before = canonical(current) if current not in (None, "") else ""
    pre = Precondition(
        read, read_kind, before or None, f"the {what} is still the one this plan was made from"
    )
    still_denied = Outcome.DENIED in _decide(merged, requests)
    out: list[Plan] = []
    if added:
        out.append(
            _plan(
                f"{svc}-policy",
                key,
                code,
                target,
                title=f"Add the CloudTrail statement for trail {trail.name} to the {what}",
                region=region,
                calls=[make_call(_compact(merged))],
                before=before,
                after=canonical(merged),
                risk=_MERGE_RISK,
                preconditions=[pre],
                doc_name=what,
                notes=(
                    [
                        "An explicit Deny still blocks CloudTrail after this change; see the separate plan."
                    ]
                    if still_denied
                    else []
                ),
            )
        )
    if still_denied:
        deny = _deny_plan(
            f"{svc}-deny",
            trail,
            key,
            code,
            target,
            current=current,
            merged=merged,
            requests=requests,
            region=region,
            make_call=make_call,
            precondition=pre,
            fixes=[code],
            what=what,
        )
        if deny is not None:
            out.append(deny)
    return out


def _sns_default_statement(topic_arn: str, account: str) -> dict[str, Any]:
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


def _sns_plans(trail: TrailConfig, key: ViewKey, codes: set[Code], docs: Documents) -> list[Plan]:
    arn = trail.sns_topic_arn or ""
    if account_of(arn) != key.account_id:
        return []
    region = region_of(arn, key.region)
    statement = cloudtrail_sns_statement(arn, trail.arn, trail.owner_account)
    out: list[Plan] = []
    if Code.SNS_TOPIC_MISSING in codes:
        name = arn.rsplit(":", 1)[-1]
        doc = policy_document([statement, _sns_default_statement(arn, key.account_id)])
        out.append(
            _plan(
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
                        {"Name": name, "Attributes": {"Policy": _compact(doc)}},
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
                    Precondition(
                        ApiCall("sns", "get_topic_attributes", {"TopicArn": arn}, region),
                        "sns_exists",
                        None,
                        f"topic {arn} still does not exist",
                    )
                ],
                doc_name=f"topic {name} policy",
            )
        )
    if Code.SNS_POLICY_DENIES_CLOUDTRAIL in codes:
        out += _resource_policy_plans(
            "sns",
            trail,
            key,
            Code.SNS_POLICY_DENIES_CLOUDTRAIL,
            arn,
            current=docs.topic_policy,
            documented=[statement],
            requests=[("SNS:Publish", arn, cloudtrail_context(trail))],
            region=region,
            make_call=lambda text: ApiCall(
                "sns",
                "set_topic_attributes",
                {"TopicArn": arn, "AttributeName": "Policy", "AttributeValue": text},
                region,
            ),
            read=ApiCall("sns", "get_topic_attributes", {"TopicArn": arn}, region),
            read_kind="sns_policy",
            what=f"topic policy of {arn}",
        )
    return out


def _cloudwatch_plans(
    trail: TrailConfig, key: ViewKey, codes: set[Code], docs: Documents, org_id: str | None
) -> list[Plan]:
    garn = trail.log_group_arn or ""
    gname = log_group_name(garn)
    out: list[Plan] = []
    if Code.CLOUDWATCH_LOG_GROUP_MISSING in codes and account_of(garn) == key.account_id:
        region = region_of(garn, key.region)
        out.append(
            _plan(
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
                    Precondition(
                        ApiCall(
                            "logs", "describe_log_groups", {"logGroupNamePrefix": gname}, region
                        ),
                        "log_group",
                        None,
                        f"log group {gname} still does not exist",
                    )
                ],
                doc_name=f"log group {gname}",
            )
        )
    rarn = trail.cw_role_arn or ""
    if not rarn or account_of(rarn) != key.account_id:
        return out
    role = rarn.rsplit("/", 1)[-1]
    iam_region = trail.home_region or key.region
    if Code.CLOUDWATCH_ROLE_TRUST_INVALID in codes and docs.role_trust is not None:
        documented = _statement_list(cloudwatch_role_trust_policy())
        try:
            needed = _needed(
                documented,
                [("sts:AssumeRole", rarn, cloudtrail_context(trail))],
                docs.role_trust,
                [0],
            )
            merged, added = merge_statements(_url_decoded(docs.role_trust), needed)
        except PolicyError:
            merged, added = {}, []
        if added:
            before = canonical(_url_decoded(docs.role_trust))
            out.append(
                _plan(
                    "iam-trust",
                    key,
                    Code.CLOUDWATCH_ROLE_TRUST_INVALID,
                    rarn,
                    title=f"Let cloudtrail.amazonaws.com assume role {role} (trust policy, merged)",
                    region=iam_region,
                    calls=[
                        ApiCall(
                            "iam",
                            "update_assume_role_policy",
                            {"RoleName": role, "PolicyDocument": _compact(merged)},
                            iam_region,
                        )
                    ],
                    before=before,
                    after=canonical(merged),
                    risk=(
                        "Adds one trust statement for cloudtrail.amazonaws.com; whoever could "
                        "assume the role before still can. The role's permissions are unchanged."
                    ),
                    preconditions=[
                        Precondition(
                            ApiCall("iam", "get_role", {"RoleName": role}, iam_region),
                            "iam_trust",
                            before,
                            f"the trust policy of {role} is still the one this plan was made from",
                        )
                    ],
                    doc_name=f"role {role} trust policy",
                )
            )
    if Code.CLOUDWATCH_ROLE_PERMISSIONS_MISSING in codes and garn:
        region = region_of(garn, key.region)
        acct = account_of(garn) or trail.owner_account
        documented = _statement_list(
            cloudwatch_role_permissions(
                garn, acct, region, org_id if trail.organization_trail else None
            )
        )
        current = (docs.role_inline or {}).get(INLINE_POLICY_NAME)
        try:
            merged, added = merge_statements(_url_decoded(current), documented)
        except PolicyError:
            return out
        if added:
            before = canonical(_url_decoded(current)) if current not in (None, "") else ""
            out.append(
                _plan(
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
                                "PolicyDocument": _compact(merged),
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
                        Precondition(
                            ApiCall(
                                "iam",
                                "get_role_policy",
                                {"RoleName": role, "PolicyName": INLINE_POLICY_NAME},
                                iam_region,
                            ),
                            "iam_inline",
                            before or None,
                            f"inline policy {INLINE_POLICY_NAME} of {role} is unchanged",
                        )
                    ],
                    doc_name=f"role {role} policy {INLINE_POLICY_NAME}",
                )
            )
    return out


def _logging_plan(trail: TrailConfig, key: ViewKey) -> Plan:
    region = trail.home_region or key.region
    before = canonical({"IsLogging": False})
    return _plan(
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
            Precondition(
                ApiCall("cloudtrail", "get_trail_status", {"Name": trail.arn}, region),
                "trail_logging",
                before,
                f"trail {trail.name} is still not logging",
            )
        ],
        doc_name=f"trail {trail.name}",
    )


def plans_for(
    trail: TrailConfig,
    key: ViewKey,
    findings: Iterable[Finding],
    docs: Documents,
    org_id: str | None = None,
) -> list[Plan]:
    """Every plan that addresses ``findings`` of this view, from the current documents.

    Views outside the account that owns the trail get none (their destinations are not
    changeable with this account's credentials, and the owner's view carries the plans).
    """
    if not trail.arn or key.account_id != trail.owner_account:
        return []
    codes = {f.code for f in findings}
    out: list[Plan] = []
    if Code.LOGGING_STOPPED in codes:
        out.append(_logging_plan(trail, key))
    if trail.s3_bucket:
        if Code.S3_BUCKET_MISSING in codes:
            out += _s3_missing_plans(trail, key, docs, org_id)
        elif codes & {Code.S3_POLICY_DENIES_CLOUDTRAIL, Code.S3_POLICY_ACL_CHECK_MISSING}:
            out += _s3_plans(trail, key, codes, docs, org_id)
    if trail.kms_key_id and codes & {
        Code.KMS_KEY_PENDING_DELETION,
        Code.KMS_KEY_DISABLED,
        Code.KMS_POLICY_DENIES_CLOUDTRAIL,
    }:
        out += _kms_plans(trail, key, codes, docs)
    if trail.sns_topic_arn and codes & {Code.SNS_TOPIC_MISSING, Code.SNS_POLICY_DENIES_CLOUDTRAIL}:
        out += _sns_plans(trail, key, codes, docs)
    if codes & {
        Code.CLOUDWATCH_LOG_GROUP_MISSING,
        Code.CLOUDWATCH_ROLE_TRUST_INVALID,
        Code.CLOUDWATCH_ROLE_PERMISSIONS_MISSING,
    }:
        out += _cloudwatch_plans(trail, key, codes, docs, org_id)
    return out


def attach_plan_ids(findings: Iterable[Finding], plans: Sequence[Plan]) -> tuple[Finding, ...]:
    """The findings with ``plan_ids`` set from the plans that fix them."""
    out = []
    for f in findings:
        ids = tuple(p.id for p in plans if f.code in p.fixes)
        out.append(replace(f, plan_ids=ids) if ids else f)
    return tuple(out)
