"""Changing a policy document the way every plan must: merge, never replace (pure).

* **Merge.** :func:`merge_statements` adds statements to the existing document; no existing
  statement is removed or altered. New statements go *first* in the ``Statement`` list
  (order is irrelevant to IAM evaluation) so the diff of an ordinary plan is additions
  only. A Sid that is already taken gets a ``Trailtop`` suffix.
* **An explicit Deny is never touched silently.** An added Allow cannot beat a Deny, so the
  smallest change that lets CloudTrail through one is computed separately
  (:func:`exclude_trail`, :func:`lift_denies`) for a plan that needs an extra confirmation.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from core.fix.documents import canonical
from core.judge.policy import CLOUDTRAIL_SERVICE, Outcome, Principal, evaluate, parse_policy
from core.judge.statements import policy_document

__all__ = [
    "Request",
    "decide",
    "exclude_trail",
    "lift_denies",
    "merge_statements",
    "needed",
    "statement_list",
]

#: One request CloudTrail makes for a delivery: (action, resource, request context).
Request = tuple[str, str, dict[str, str]]

_CLOUDTRAIL = Principal.service_(CLOUDTRAIL_SERVICE)


def statement_list(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The statements of a document as a list (a single statement may be a bare object)."""
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


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return canonical(dict(a)) == canonical(dict(b))


def merge_statements(
    current: Any, additions: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return (merged document, the statements actually added, with their final Sids).

    ``current`` is JSON text, a mapping or None. Every existing statement is kept as is;
    an addition identical to an existing statement is skipped; a taken Sid is renamed.
    Raises :class:`~core.judge.policy.PolicyError` if ``current`` cannot be read.
    """
    doc: dict[str, Any] = (
        copy.deepcopy(parse_policy(current)) if current not in (None, "") else policy_document([])
    )
    existing = statement_list(doc)
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


def decide(doc: Any, requests: Sequence[Request]) -> list[Outcome]:
    """The outcome of each request by CloudTrail under ``doc`` (None: no policy)."""
    return [
        evaluate(doc, principal=_CLOUDTRAIL, action=a, resource=r, context=c).outcome
        for a, r, c in requests
    ]


def _without_denies(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    out["Statement"] = [s for s in statement_list(doc) if s.get("Effect") != "Deny"]
    return out


def needed(
    documented: Sequence[Mapping[str, Any]],
    requests: Sequence[Request],
    doc: Any,
    purpose: Sequence[int],
) -> list[Mapping[str, Any]]:
    """The documented statements whose request (``purpose[i]`` indexes ``requests``) the
    current document, Denies aside, does not allow.

    Denies are set aside because an Allow is needed whether or not a Deny also blocks the
    request; the Deny is the separate plan's business."""
    base = _without_denies(parse_policy(doc)) if doc not in (None, "") else None
    outcomes = decide(base, requests)
    return [
        st for st, i in zip(documented, purpose, strict=True) if outcomes[i] is not Outcome.ALLOWED
    ]


def lift_denies(
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
        stmts = statement_list(out)
        stmts[blocking] = exclude_trail(stmts[blocking], trail_arn)
        out["Statement"] = stmts
        changed.append(blocking)
    return None
