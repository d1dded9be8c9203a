"""Pure evaluation of AWS policy documents (no I/O, standard library only).

Answers one question: does this policy let ``principal`` do ``action`` on ``resource``
in this request context?  The answer is a :class:`Decision`:

* ``ALLOWED``     - an Allow statement applies and no Deny does (the Allow is returned);
* ``DENIED``      - an explicit Deny applies (the Deny is returned; Deny always wins);
* ``NOT_GRANTED`` - no Allow applies (the caller says what is missing);
* ``UNKNOWN``     - a statement that matters could not be evaluated (unsupported operator,
  policy variable, malformed element, multivalued key without set operator, a condition on a
  key whose value the caller cannot know...).  The evaluator never guesses: "cannot tell" is
  never turned into "allowed" nor into "denied".

Semantics follow the IAM policy evaluation reference: explicit Deny beats Allow;
``Principal``/``NotPrincipal``; ``Action``/``NotAction`` (case-insensitive, ``*``/``?``
wildcards); ``Resource``/``NotResource`` (case-sensitive wildcards); conditions are ANDed
across operators and keys and ORed across the values of one key; condition keys are
case-insensitive, values case-sensitive (except ``...IgnoreCase``); a key missing from the
request makes positive operators false, negated operators (``StringNotEquals`` ...) true,
``...IfExists`` true, ``ForAllValues`` true and ``ForAnyValue`` false.

The request context says, for every condition key, one of three things. A plain mapping is
a closed world: the keys it holds are present, every other key is absent from the request
(the IAM semantics above apply). A :class:`RequestContext` can also be open: a key it does
not hold, and does not name as absent, is *unknowable* (its value exists, or may, but the
caller cannot know it: the source IP of a service principal's request, say), and any
condition on it is "cannot tell", whatever the operator (``...IfExists`` and ``Null``
included).

Resource policies (bucket, key, topic, role trust policies) name their principal; identity
policies (``identity_policy=True``) do not, the principal is implied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from core.judge.conditions import (
    ContextValue,
    EvalContext,
    RequestContext,
    Tri,
    Unsupported,
    any_tri,
    eval_conditions,
    glob_match,
    has_variable,
    normalize_context,
    not_tri,
)

__all__ = [
    "CLOUDTRAIL_SERVICE",
    "Decision",
    "Outcome",
    "PolicyError",
    "Principal",
    "RequestContext",
    "evaluate",
    "explain",
    "parse_policy",
]

CLOUDTRAIL_SERVICE: Final = "cloudtrail.amazonaws.com"
VERSION_2012: Final = "2012-10-17"
_ACCOUNT_RE: Final = re.compile(r"\d{12}")
_ROOT_ARN_RE: Final = re.compile(r"arn:[^:]+:iam::(\d{12}):root")


class PolicyError(ValueError):
    """The policy document cannot be read (malformed JSON or structure)."""


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    NOT_GRANTED = "not_granted"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Principal:
    """Who makes the request.

    ``service``: a service principal (``cloudtrail.amazonaws.com``);
    ``aws``: an IAM principal ARN (role, user, ``arn:aws:iam::ACCT:root``) or an account id;
    ``account``: the account of an IAM principal, when ``aws`` does not say it.
    A principal may carry both ``service`` and ``aws`` (matches if either is named).
    """

    service: str | None = None
    aws: str | None = None
    account: str | None = None

    @classmethod
    def service_(cls, name: str) -> Principal:
        return cls(service=name)

    @classmethod
    def aws_(cls, arn_or_account: str) -> Principal:
        return cls(aws=arn_or_account)

    @property
    def account_id(self) -> str | None:
        if self.account:
            return self.account
        if self.aws:
            if _ACCOUNT_RE.fullmatch(self.aws):
                return self.aws
            parts = self.aws.split(":", 5)
            if len(parts) == 6 and parts[0] == "arn" and _ACCOUNT_RE.fullmatch(parts[4]):
                return parts[4]
        return None

    def describe(self) -> str:
        names = [n for n in (self.service, self.aws) if n]
        if not names and self.account:
            names.append(self.account)
        return " / ".join(names) or "anonymous"


@dataclass(frozen=True)
class Decision:
    """The answer. ``statement`` is the deciding statement: the Deny that applied, the Allow
    that granted, or (UNKNOWN) the statement that could not be evaluated. ``statement_index``
    is its 0-based position in the ``Statement`` list."""

    outcome: Outcome
    statement: Mapping[str, Any] | None = None
    statement_index: int | None = None
    sid: str | None = None
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED

    @property
    def refused(self) -> bool:
        """Known not to be allowed: an explicit Deny, or no Allow (UNKNOWN is neither)."""
        return self.outcome in (Outcome.DENIED, Outcome.NOT_GRANTED)


# --------------------------------------------------------------------------- parsing


def parse_policy(doc: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
    """Return the policy as a dict. Accepts a mapping or JSON text (as returned by
    GetBucketPolicy / GetKeyPolicy / GetTopicAttributes / GetRole, URL-decoded).
    Raises :class:`PolicyError` for malformed JSON or a document that is not an object
    or whose ``Statement`` is neither an object nor a list of objects."""
    if isinstance(doc, str | bytes):
        try:
            loaded = json.loads(doc)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PolicyError(f"malformed policy JSON: {exc}") from exc
    else:
        loaded = doc
    if not isinstance(loaded, Mapping):
        raise PolicyError(f"policy document is a {type(loaded).__name__}, not an object")
    result = dict(loaded)
    _statements(result)
    return result


def _statements(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = doc.get("Statement")
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        return [raw]
    if isinstance(raw, list) and all(isinstance(s, Mapping) for s in raw):
        return list(raw)
    raise PolicyError("Statement must be an object or a list of objects")


def _str_list(value: Any, element: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise Unsupported(f"{element} must be a string or a list of strings")


# --------------------------------------------------------------------------- matching


def _aws_principal_match(value: str, principal: Principal) -> bool:
    if value == "*":
        return True
    account = value if _ACCOUNT_RE.fullmatch(value) else None
    if account is None and (m := _ROOT_ARN_RE.fullmatch(value)):
        account = m.group(1)
    if account is not None:
        return principal.account_id == account
    return principal.aws is not None and principal.aws == value


def _principal_match(spec: Any, principal: Principal) -> Tri:
    if spec == "*":
        return True
    if not isinstance(spec, Mapping):
        raise Unsupported(f"Principal {json.dumps(spec)} is neither '*' nor an object")
    results: list[Tri] = []
    for ptype, raw in spec.items():
        values = _str_list(raw, f"Principal.{ptype}")
        if ptype == "AWS":
            results.append(any(_aws_principal_match(v, principal) for v in values))
        elif ptype == "Service":
            svc = principal.service
            results.append(svc is not None and any(v.lower() == svc.lower() for v in values))
        elif ptype in ("Federated", "CanonicalUser"):
            results.append(False)
        else:
            results.append(None)  # unknown principal type: cannot tell
    return any_tri(results)


def _resource_match(pattern: str, resource: str, variables: bool) -> Tri:
    if pattern == "*":
        return True
    if has_variable(pattern, variables):
        return None
    return glob_match(pattern, resource)


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class _Verdict:
    applies: Tri
    reason: str
    scope_matched: bool  # principal, action and resource matched (conditions decided)


def _statement_verdict(
    st: Mapping[str, Any],
    *,
    principal: Principal,
    action: str,
    resource: str,
    ctx: EvalContext,
    identity_policy: bool,
    variables: bool,
) -> _Verdict:
    unknown: str | None = None

    def note(result: Tri, why: str) -> bool:
        """Record an unknown; return True when the statement definitely does not apply."""
        nonlocal unknown
        if result is None:
            unknown = unknown or why
        return result is False

    try:
        # Principal
        if not identity_policy:
            has_p, has_np = "Principal" in st, "NotPrincipal" in st
            if has_p and has_np:
                raise Unsupported("statement has both Principal and NotPrincipal")
            if not has_p and not has_np:
                return _Verdict(False, "statement names no Principal", False)
            if has_p:
                pm = _principal_match(st["Principal"], principal)
                if note(pm, "cannot evaluate Principal"):
                    return _Verdict(False, f"Principal does not name {principal.describe()}", False)
            else:
                pm = not_tri(_principal_match(st["NotPrincipal"], principal))
                if note(pm, "cannot evaluate NotPrincipal"):
                    return _Verdict(False, f"NotPrincipal excludes {principal.describe()}", False)

        # Action
        if ("Action" in st) == ("NotAction" in st):
            raise Unsupported("statement must have exactly one of Action / NotAction")
        if "Action" in st:
            patterns = _str_list(st["Action"], "Action")
            if not any(glob_match(p, action, ignore_case=True) for p in patterns):
                return _Verdict(False, f"Action does not cover {action}", False)
        else:
            patterns = _str_list(st["NotAction"], "NotAction")
            if any(glob_match(p, action, ignore_case=True) for p in patterns):
                return _Verdict(False, f"NotAction excludes {action}", False)

        # Resource (absent in role trust policies: applies to the policy's own resource)
        if "Resource" in st and "NotResource" in st:
            raise Unsupported("statement has both Resource and NotResource")
        if "Resource" in st:
            rpatterns = _str_list(st["Resource"], "Resource")
            rm = any_tri(_resource_match(p, resource, variables) for p in rpatterns)
            if note(rm, "policy variable in Resource"):
                return _Verdict(False, f"Resource does not cover {resource}", False)
        elif "NotResource" in st:
            rpatterns = _str_list(st["NotResource"], "NotResource")
            rm = not_tri(any_tri(_resource_match(p, resource, variables) for p in rpatterns))
            if note(rm, "policy variable in NotResource"):
                return _Verdict(False, f"NotResource excludes {resource}", False)
    except Unsupported as exc:
        return _Verdict(None, str(exc), False)

    cond, why = eval_conditions(st.get("Condition"), ctx, variables)
    if cond is False:
        return _Verdict(False, why, unknown is None)
    if cond is None:
        unknown = unknown or why
    if unknown is not None:
        return _Verdict(None, unknown, False)
    return _Verdict(True, "", True)


def _label(index: int, st: Mapping[str, Any]) -> str:
    sid = st.get("Sid")
    return f"Statement[{index}]" + (f" (Sid {sid!r})" if isinstance(sid, str) and sid else "")


def _sid(st: Mapping[str, Any]) -> str | None:
    sid = st.get("Sid")
    return sid if isinstance(sid, str) else None


def evaluate(
    policy: Mapping[str, Any] | str | bytes | None,
    *,
    principal: Principal,
    action: str,
    resource: str,
    context: Mapping[str, ContextValue] | None = None,
    identity_policy: bool = False,
) -> Decision:
    """Decide whether ``policy`` lets ``principal`` perform ``action`` on ``resource``.

    ``policy`` None (no policy attached) -> NOT_GRANTED; malformed -> UNKNOWN.
    ``context``: request context keys (case-insensitive) to a value or a list of values.
    ``identity_policy``: the document is an identity policy (no Principal element).
    A Deny that cannot be evaluated makes an otherwise ALLOWED answer UNKNOWN; when no
    Allow applies the answer stays NOT_GRANTED and the reason mentions that Deny.
    """
    request = f"{principal.describe()} -> {action} on {resource}"
    if policy is None:
        return Decision(Outcome.NOT_GRANTED, reason=f"no policy document; {request} not granted")
    try:
        doc = parse_policy(policy)
        statements = _statements(doc)
    except PolicyError as exc:
        return Decision(Outcome.UNKNOWN, reason=f"cannot read the policy: {exc}")
    if not statements:
        return Decision(
            Outcome.NOT_GRANTED, reason=f"policy has no statements; {request} not granted"
        )

    variables = doc.get("Version") == VERSION_2012
    ctx = normalize_context(context)

    allows: list[int] = []
    denies: list[int] = []
    unknown_allows: list[tuple[int, str]] = []
    unknown_denies: list[tuple[int, str]] = []
    near_misses: list[tuple[int, str]] = []

    for i, st in enumerate(statements):
        effect = st.get("Effect")
        verdict = _statement_verdict(
            st,
            principal=principal,
            action=action,
            resource=resource,
            ctx=ctx,
            identity_policy=identity_policy,
            variables=variables,
        )
        if verdict.applies is False:
            if effect == "Allow" and verdict.scope_matched:
                near_misses.append((i, verdict.reason))
            continue
        if effect not in ("Allow", "Deny"):
            why = f"Effect {json.dumps(effect)} is neither Allow nor Deny"
            unknown_allows.append((i, why))
            unknown_denies.append((i, why))
            continue
        if verdict.applies is True:
            (allows if effect == "Allow" else denies).append(i)
        else:
            (unknown_allows if effect == "Allow" else unknown_denies).append((i, verdict.reason))

    def decision(outcome: Outcome, i: int, reason: str) -> Decision:
        st = statements[i]
        return Decision(outcome, dict(st), i, _sid(st), reason)

    if denies:
        i = denies[0]
        return decision(
            Outcome.DENIED, i, f"explicit Deny {_label(i, statements[i])} applies to {request}"
        )
    if allows and unknown_denies:
        i, why = unknown_denies[0]
        return decision(
            Outcome.UNKNOWN, i, f"Deny {_label(i, statements[i])} might apply to {request}: {why}"
        )
    if allows:
        i = allows[0]
        return decision(Outcome.ALLOWED, i, f"{_label(i, statements[i])} allows {request}")
    if unknown_allows:
        i, why = unknown_allows[0]
        return decision(
            Outcome.UNKNOWN, i, f"{_label(i, statements[i])} might allow {request}: {why}"
        )
    if near_misses:
        parts = [f"{_label(i, statements[i])}: {why}" for i, why in near_misses]
        reason = f"no statement allows {request}; " + "; ".join(parts)
    else:
        reason = f"no Allow statement covers {request}"
    if unknown_denies:
        i, why = unknown_denies[0]
        reason += f" (Deny {_label(i, statements[i])} could not be evaluated: {why})"
    return Decision(Outcome.NOT_GRANTED, reason=reason)


def explain(decision: Decision) -> str:
    """One line for humans."""
    prefix = {
        Outcome.ALLOWED: "allowed",
        Outcome.DENIED: "denied",
        Outcome.NOT_GRANTED: "not granted",
        Outcome.UNKNOWN: "cannot tell",
    }[decision.outcome]
    return f"{prefix}: {decision.reason}" if decision.reason else prefix
