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

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

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

ContextValue = str | Sequence[str]


class PolicyError(ValueError):
    """The policy document cannot be read (malformed JSON or structure)."""


class _Unsupported(Exception):
    """A construct this evaluator does not implement; the answer becomes UNKNOWN."""


class _Unknowable(_Unsupported):
    """A condition on a key whose value the caller cannot know; the answer becomes UNKNOWN."""


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


class RequestContext(dict[str, Any]):
    """A request context that knows what it does not know.

    As a dict it holds the keys known to be present (key -> value, list of values or bool).
    ``absent``: keys known to be missing from the request (``*``/``?`` patterns, case
    insensitive). ``unknown``: keys (patterns) whose value cannot be known, each with the
    reason. ``open_world``: a key neither held nor named is unknowable too (``why``), instead
    of absent. Held keys win over ``unknown``, which wins over ``absent``.

    It is a dict so that it travels wherever a plain context does; ``dict(ctx)`` or
    ``{**ctx}`` keep only the known keys (a closed world), so derive with :meth:`with_values`.
    """

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        absent: Iterable[str] = (),
        unknown: Mapping[str, str] | None = None,
        open_world: bool = False,
        why: str = "its value in this request is not known",
    ) -> None:
        super().__init__(values or {})
        self.absent: tuple[str, ...] = tuple(absent)
        self.unknown: dict[str, str] = dict(unknown or {})
        self.open_world = open_world
        self.why = why

    def with_values(self, values: Mapping[str, Any]) -> RequestContext:
        """A copy with ``values`` added (a held key is known: it leaves ``unknown``)."""
        held = {k.lower() for k in values}
        return RequestContext(
            {**{k: v for k, v in self.items() if k.lower() not in held}, **values},
            absent=self.absent,
            unknown=self.unknown,
            open_world=self.open_world,
            why=self.why,
        )

    def with_unknown(self, unknown: Mapping[str, str]) -> RequestContext:
        """A copy where the ``unknown`` keys are unknowable (with their reason)."""
        gone = {k.lower() for k in unknown}
        return RequestContext(
            {k: v for k, v in self.items() if k.lower() not in gone},
            absent=self.absent,
            unknown={**self.unknown, **unknown},
            open_world=self.open_world,
            why=self.why,
        )

    def with_absent(self, absent: Iterable[str]) -> RequestContext:
        """A copy where the ``absent`` keys are known to be missing."""
        extra = tuple(absent)
        gone = {k.lower() for k in extra}
        return RequestContext(
            {k: v for k, v in self.items() if k.lower() not in gone},
            absent=self.absent + extra,
            unknown={k: v for k, v in self.unknown.items() if k.lower() not in gone},
            open_world=self.open_world,
            why=self.why,
        )


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
    raise _Unsupported(f"{element} must be a string or a list of strings")


# --------------------------------------------------------------------------- matching


@lru_cache(maxsize=4096)
def _glob_re(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(out), flags)


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob_re(pattern, ignore_case).fullmatch(value) is not None


def _arn_match(pattern: str, value: str) -> bool:
    """ArnEquals/ArnLike: each of the six colon-delimited components is compared
    separately, each may contain ``*``/``?``."""
    p_parts = pattern.split(":", 5)
    v_parts = value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return False
    return all(_glob(p, v) for p, v in zip(p_parts, v_parts, strict=True))


def _has_variable(value: str, variables: bool) -> bool:
    return variables and "${" in value


Tri = bool | None  # True / False / None = cannot tell


def _any_tri(results: Iterable[Tri]) -> Tri:
    seen_unknown = False
    for r in results:
        if r is True:
            return True
        if r is None:
            seen_unknown = True
    return None if seen_unknown else False


def _not_tri(value: Tri) -> Tri:
    return None if value is None else not value


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
        raise _Unsupported(f"Principal {json.dumps(spec)} is neither '*' nor an object")
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
    return _any_tri(results)


def _resource_match(pattern: str, resource: str, variables: bool) -> Tri:
    if pattern == "*":
        return True
    if _has_variable(pattern, variables):
        return None
    return _glob(pattern, resource)


# --------------------------------------------------------------------------- conditions


Matcher = Callable[[str, str], bool]  # (request value, policy value) -> match


def _m_string(v: str, p: str) -> bool:
    return v == p


def _m_string_ic(v: str, p: str) -> bool:
    return v.casefold() == p.casefold()


def _m_like(v: str, p: str) -> bool:
    return _glob(p, v)


def _m_arn(v: str, p: str) -> bool:
    return _arn_match(p, v)


def _m_bool(v: str, p: str) -> bool:
    if p.lower() not in ("true", "false"):
        raise _Unsupported(f"Bool value {p!r} is not true/false")
    return v.lower() == p.lower()


def _num(p: str) -> float:
    try:
        return float(p)
    except ValueError as exc:
        raise _Unsupported(f"numeric condition value {p!r} is not a number") from exc


def _numeric(cmp: Callable[[float, float], bool]) -> Matcher:
    def match(v: str, p: str) -> bool:
        expected = _num(p)
        try:
            actual = float(v)
        except ValueError:
            return False
        return cmp(actual, expected)

    return match


def _m_ip(v: str, p: str) -> bool:
    try:
        network = ipaddress.ip_network(p, strict=False)
    except ValueError as exc:
        raise _Unsupported(f"IpAddress value {p!r} is not an address or CIDR") from exc
    try:
        address = ipaddress.ip_address(v)
    except ValueError:
        return False
    return address.version == network.version and address in network


# base operator (lower case) -> (matcher, negated)
_OPERATORS: Final[dict[str, tuple[Matcher, bool]]] = {
    "stringequals": (_m_string, False),
    "stringnotequals": (_m_string, True),
    "stringequalsignorecase": (_m_string_ic, False),
    "stringnotequalsignorecase": (_m_string_ic, True),
    "stringlike": (_m_like, False),
    "stringnotlike": (_m_like, True),
    "arnequals": (_m_arn, False),
    "arnlike": (_m_arn, False),
    "arnnotequals": (_m_arn, True),
    "arnnotlike": (_m_arn, True),
    "bool": (_m_bool, False),
    "numericequals": (_numeric(lambda a, b: a == b), False),
    "numericnotequals": (_numeric(lambda a, b: a == b), True),
    "numericlessthan": (_numeric(lambda a, b: a < b), False),
    "numericlessthanequals": (_numeric(lambda a, b: a <= b), False),
    "numericgreaterthan": (_numeric(lambda a, b: a > b), False),
    "numericgreaterthanequals": (_numeric(lambda a, b: a >= b), False),
    "ipaddress": (_m_ip, False),
    "notipaddress": (_m_ip, True),
}


@dataclass(frozen=True)
class _Operator:
    name: str
    set_op: str | None  # "forallvalues" | "foranyvalue" | None
    base: str  # lower case, without IfExists
    if_exists: bool


def _parse_operator(name: str) -> _Operator:
    rest = name
    set_op: str | None = None
    if ":" in rest:
        prefix, rest = rest.split(":", 1)
        if prefix.lower() not in ("forallvalues", "foranyvalue"):
            raise _Unsupported(f"unknown condition set operator {prefix!r}")
        set_op = prefix.lower()
    base = rest.lower()
    if_exists = base.endswith("ifexists") and base != "ifexists"
    if if_exists:
        base = base[: -len("ifexists")]
    if base == "null":
        if set_op or if_exists:
            raise _Unsupported(f"condition operator {name!r} is not supported")
    elif base not in _OPERATORS:
        raise _Unsupported(f"condition operator {name!r} is not supported")
    return _Operator(name=name, set_op=set_op, base=base, if_exists=if_exists)


def _policy_values(raw: Any, variables: bool) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str):
            if _has_variable(item, variables):
                raise _Unsupported(f"policy variable in condition value {item!r}")
            out.append(item)
        elif isinstance(item, int | float):
            out.append(str(item))
        else:
            raise _Unsupported(f"condition value {json.dumps(item)} is not a scalar")
    return tuple(out)


@dataclass(frozen=True)
class _Context:
    """The normalized request context: lower-case keys to their values."""

    values: dict[str, tuple[str, ...]]
    absent: tuple[str, ...] = ()
    unknown: tuple[tuple[str, str], ...] = ()
    open_world: bool = False
    why: str = ""

    def get(self, key: str) -> tuple[str, ...] | None:
        """The key's values, or None when it is absent. Raises _Unknowable."""
        k = key.lower()
        present = self.values.get(k)
        if present is not None:
            return present or None
        for pattern, reason in self.unknown:
            if _glob(pattern, k, ignore_case=True):
                raise _Unknowable(f"{key}: {reason}")
        if any(_glob(pattern, k, ignore_case=True) for pattern in self.absent):
            return None
        if self.open_world:
            raise _Unknowable(f"{key}: {self.why}")
        return None

    def shown(self, key: str) -> str:
        try:
            actual = self.get(key)
        except _Unknowable:
            return "unknown"
        if not actual:
            return "absent"
        return json.dumps(actual[0] if len(actual) == 1 else list(actual))


def _normalize_context(context: Mapping[str, ContextValue | bool] | None) -> _Context:
    values: dict[str, tuple[str, ...]] = {}
    for key, value in (context or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            values[key.lower()] = ("true" if value else "false",)
        elif isinstance(value, str):
            values[key.lower()] = (value,)
        else:
            values[key.lower()] = tuple(
                ("true" if v else "false") if isinstance(v, bool) else str(v) for v in value
            )
    if not isinstance(context, RequestContext):
        return _Context(values)
    return _Context(
        values,
        absent=tuple(a.lower() for a in context.absent),
        unknown=tuple((k.lower(), why) for k, why in context.unknown.items()),
        open_world=context.open_world,
        why=context.why,
    )


def _eval_condition(op_name: str, key: str, raw: Any, ctx: _Context, variables: bool) -> Tri:
    """One (operator, key, values) triple. Raises _Unsupported."""
    op = _parse_operator(op_name)
    values = _policy_values(raw, variables)
    present = ctx.get(key)
    if op.base == "null":
        wanted: list[bool] = []
        for v in values:
            if v.lower() not in ("true", "false"):
                raise _Unsupported(f"Null value {v!r} is not true/false")
            wanted.append(v.lower() == "true")
        is_null = present is None
        return any(w == is_null for w in wanted)

    matcher, negated = _OPERATORS[op.base]

    def single(v: str) -> bool:
        hit = any(matcher(v, p) for p in values)
        return not hit if negated else hit

    if op.set_op is None:
        if present is None:
            return op.if_exists or negated
        if len(set(present)) > 1:
            raise _Unsupported(
                f"{key} has several values in the request; {op_name} needs "
                "ForAnyValue:/ForAllValues: for a multivalued key"
            )
        return single(present[0])
    if op.set_op == "forallvalues":
        if present is None:
            return True
        return all(single(v) for v in present)
    # foranyvalue
    if present is None:
        return op.if_exists
    return any(single(v) for v in present)


def _describe_condition(op_name: str, key: str, raw: Any, ctx: _Context) -> str:
    got = ctx.shown(key)
    return f'condition {op_name} {{"{key}": {json.dumps(raw)}}} not met (request: {key}={got})'


def _eval_conditions(block: Any, ctx: _Context, variables: bool) -> tuple[Tri, str]:
    if block is None:
        return True, ""
    if not isinstance(block, Mapping):
        return None, "Condition is not an object"
    unknown: str | None = None
    for op_name, keys in block.items():
        if not isinstance(keys, Mapping):
            unknown = unknown or f"condition {op_name!r} is not an object"
            continue
        for key, raw in keys.items():
            try:
                result = _eval_condition(op_name, key, raw, ctx, variables)
            except _Unknowable as exc:
                unknown = unknown or f"cannot tell condition {op_name} on {exc}"
                continue
            except _Unsupported as exc:
                unknown = unknown or f"cannot evaluate condition {op_name} on {key}: {exc}"
                continue
            if not result:
                return False, _describe_condition(op_name, key, raw, ctx)
    if unknown is not None:
        return None, unknown
    return True, ""


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
    ctx: _Context,
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
                raise _Unsupported("statement has both Principal and NotPrincipal")
            if not has_p and not has_np:
                return _Verdict(False, "statement names no Principal", False)
            if has_p:
                pm = _principal_match(st["Principal"], principal)
                if note(pm, "cannot evaluate Principal"):
                    return _Verdict(False, f"Principal does not name {principal.describe()}", False)
            else:
                pm = _not_tri(_principal_match(st["NotPrincipal"], principal))
                if note(pm, "cannot evaluate NotPrincipal"):
                    return _Verdict(False, f"NotPrincipal excludes {principal.describe()}", False)

        # Action
        if ("Action" in st) == ("NotAction" in st):
            raise _Unsupported("statement must have exactly one of Action / NotAction")
        if "Action" in st:
            patterns = _str_list(st["Action"], "Action")
            if not any(_glob(p, action, ignore_case=True) for p in patterns):
                return _Verdict(False, f"Action does not cover {action}", False)
        else:
            patterns = _str_list(st["NotAction"], "NotAction")
            if any(_glob(p, action, ignore_case=True) for p in patterns):
                return _Verdict(False, f"NotAction excludes {action}", False)

        # Resource (absent in role trust policies: applies to the policy's own resource)
        if "Resource" in st and "NotResource" in st:
            raise _Unsupported("statement has both Resource and NotResource")
        if "Resource" in st:
            rpatterns = _str_list(st["Resource"], "Resource")
            rm = _any_tri(_resource_match(p, resource, variables) for p in rpatterns)
            if note(rm, "policy variable in Resource"):
                return _Verdict(False, f"Resource does not cover {resource}", False)
        elif "NotResource" in st:
            rpatterns = _str_list(st["NotResource"], "NotResource")
            rm = _not_tri(_any_tri(_resource_match(p, resource, variables) for p in rpatterns))
            if note(rm, "policy variable in NotResource"):
                return _Verdict(False, f"NotResource excludes {resource}", False)
    except _Unsupported as exc:
        return _Verdict(None, str(exc), False)

    cond, why = _eval_conditions(st.get("Condition"), ctx, variables)
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
    ctx = _normalize_context(context)

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
