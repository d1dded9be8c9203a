"""A small IAM policy evaluator: does this document let a principal do an action?

Deliberately independent of core's policy reader (an emulation that shared it would agree
with its bugs). It covers the statement shapes AWS documents for CloudTrail destinations and
the ones landing zones add around them: Service/AWS/``*`` principals and NotPrincipal,
Action/NotAction lists with wildcards, Resource wildcards, and the String/Arn/Bool/Null
condition operators with ``IfExists`` (TLS-only and data-perimeter Denies use them).

A requester is either a service principal (``service_principal``, CloudTrail writing), an
AWS principal (``aws_principals``: the identifiers a caller matches in a Principal element,
see ``principal_names``), or neither (an identity policy, which has no Principal element).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class Decision:
    """Outcome of evaluating one request against one policy."""

    allowed: bool
    explicit_deny: bool = False


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: ``*`` any run, ``?`` one char; no character classes."""
    pattern = pattern.replace("[", "[[]")
    if ignore_case:
        return fnmatchcase(value.lower(), pattern.lower())
    return fnmatchcase(value, pattern)


def load(document: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Parse a policy document; None for absent or unreadable ones."""
    if document is None or document == "":
        return None
    if isinstance(document, dict):
        return document
    try:
        loaded = json.loads(document)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def principal_names(account: str, *arns: str | None) -> frozenset[str]:
    """What a caller of ``account`` matches in a Principal's ``AWS`` entry.

    The account (bare id or its root ARN) and each given ARN: for an assumed role, both the
    session ARN and the role's ARN. IAM allows no wildcard there except a lone ``*``.
    """
    names = {account, f"arn:aws:iam::{account}:root"}
    names.update(a for a in arns if a)
    return frozenset(names)


def _in_principal(
    principal: Any, service: str | None, aws_principals: frozenset[str] | None
) -> bool:
    """Whether the requester is named by one Principal (or NotPrincipal) element."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if service is not None and service in _as_list(principal.get("Service")):
        return True
    aws = [str(a) for a in _as_list(principal.get("AWS"))]
    if "*" in aws:
        return True
    return aws_principals is not None and any(a in aws_principals for a in aws)


def _principal_matches(
    statement: dict[str, Any], service: str | None, aws_principals: frozenset[str] | None
) -> bool:
    if service is None and aws_principals is None:  # identity policy: no Principal element
        return True
    if "NotPrincipal" in statement:
        return not _in_principal(statement["NotPrincipal"], service, aws_principals)
    return _in_principal(statement.get("Principal"), service, aws_principals)


def _action_matches(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(
            _wildcard(p, action, ignore_case=True) for p in _as_list(statement["NotAction"])
        )
    return any(_wildcard(p, action, ignore_case=True) for p in _as_list(statement.get("Action")))


def _resource_matches(statement: dict[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_wildcard(p, resource) for p in _as_list(statement["NotResource"]))
    if "Resource" not in statement:  # role trust policies name no resource: the role itself
        return True
    return any(_wildcard(p, resource) for p in _as_list(statement.get("Resource")))


def _operator_matches(operator: str, expected: list[Any], actual: str | None) -> bool:
    """One condition operator against one context value (None when the key is absent)."""
    base = operator.removesuffix("IfExists")
    if base == "Null":
        want_null = str(expected[0]).lower() == "true"
        return (actual is None) == want_null
    if actual is None:
        return operator.endswith("IfExists") or base.startswith(("StringNot", "ArnNot"))
    values = [str(v) for v in expected]
    checks: dict[str, Callable[[str], bool]] = {
        "StringEquals": lambda v: actual == v,
        "StringEqualsIgnoreCase": lambda v: actual.lower() == v.lower(),
        "StringLike": lambda v: _wildcard(v, actual),
        "ArnEquals": lambda v: actual == v,
        "ArnLike": lambda v: _wildcard(v, actual),
        "Bool": lambda v: actual.lower() == v.lower(),
    }
    negated = {
        "StringNotEquals": "StringEquals",
        "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
        "StringNotLike": "StringLike",
        "ArnNotEquals": "ArnEquals",
        "ArnNotLike": "ArnLike",
    }
    if base in negated:
        return not any(checks[negated[base]](v) for v in values)
    check = checks.get(base)
    if check is None:
        return False  # an operator we do not model never matches
    return any(check(v) for v in values)


def _conditions_match(statement: dict[str, Any], context: dict[str, str]) -> bool:
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, dict):
        return False
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, pairs in conditions.items():
        if not isinstance(pairs, dict):
            return False
        op = operator.split(":", 1)[-1]  # drop ForAnyValue:/ForAllValues: (single-valued keys)
        for key, expected in pairs.items():
            if not _operator_matches(op, _as_list(expected), lowered.get(key.lower())):
                return False
    return True


def evaluate(
    document: str | dict[str, Any] | None,
    *,
    action: str,
    resource: str,
    service_principal: str | None = None,
    context: dict[str, str] | None = None,
    aws_principals: frozenset[str] | None = None,
) -> Decision:
    """Allow needs a matching Allow statement and no matching Deny (IAM's rule)."""
    policy = load(document)
    if policy is None:
        return Decision(allowed=False)
    context = context or {}
    allowed = False
    for statement in _as_list(policy.get("Statement")):
        if not isinstance(statement, dict):
            continue
        if not (
            _principal_matches(statement, service_principal, aws_principals)
            and _action_matches(statement, action)
            and _resource_matches(statement, resource)
            and _conditions_match(statement, context)
        ):
            continue
        if statement.get("Effect") == "Deny":
            return Decision(allowed=False, explicit_deny=True)
        if statement.get("Effect") == "Allow":
            allowed = True
    return Decision(allowed=allowed)


def allows_any(
    documents: list[str | dict[str, Any] | None],
    *,
    action: str,
    resource: str,
    context: dict[str, str] | None = None,
) -> bool:
    """Identity policies (inline + attached): one Allow anywhere, no Deny anywhere."""
    decisions = [evaluate(d, action=action, resource=resource, context=context) for d in documents]
    if any(d.explicit_deny for d in decisions):
        return False
    return any(d.allowed for d in decisions)
