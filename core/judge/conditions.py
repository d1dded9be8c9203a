"""Conditions of IAM policies: the request context and the condition operators (pure).

core/judge/policy.py matches principals, actions and resources and combines statements;
this module answers one condition block against a request context,
True, False or None ("cannot tell"), following the IAM policy elements reference for
condition operators, ``...IfExists``, ``Null`` and the set operators.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

ContextValue = str | Sequence[str]


class Unsupported(Exception):
    """A construct this evaluator does not implement; the answer becomes UNKNOWN."""


class Unknowable(Unsupported):
    """A condition on a key whose value the caller cannot know; the answer becomes UNKNOWN."""


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


@lru_cache(maxsize=4096)
def glob_re(pattern: str, ignore_case: bool) -> re.Pattern[str]:
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


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return glob_re(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, value: str) -> bool:
    """ArnEquals/ArnLike: each of the six colon-delimited components is compared
    separately, each may contain ``*``/``?``."""
    p_parts = pattern.split(":", 5)
    v_parts = value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return False
    return all(glob_match(p, v) for p, v in zip(p_parts, v_parts, strict=True))


def has_variable(value: str, variables: bool) -> bool:
    return variables and "${" in value


Tri = bool | None  # True / False / None = cannot tell


def any_tri(results: Iterable[Tri]) -> Tri:
    seen_unknown = False
    for r in results:
        if r is True:
            return True
        if r is None:
            seen_unknown = True
    return None if seen_unknown else False


def not_tri(value: Tri) -> Tri:
    return None if value is None else not value


# --------------------------------------------------------------------------- conditions


Matcher = Callable[[str, str], bool]  # (request value, policy value) -> match


def _m_string(v: str, p: str) -> bool:
    return v == p


def _m_string_ic(v: str, p: str) -> bool:
    return v.casefold() == p.casefold()


def _m_like(v: str, p: str) -> bool:
    return glob_match(p, v)


def _m_arn(v: str, p: str) -> bool:
    return arn_match(p, v)


def _m_bool(v: str, p: str) -> bool:
    if p.lower() not in ("true", "false"):
        raise Unsupported(f"Bool value {p!r} is not true/false")
    return v.lower() == p.lower()


def _num(p: str) -> float:
    try:
        return float(p)
    except ValueError as exc:
        raise Unsupported(f"numeric condition value {p!r} is not a number") from exc


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
        raise Unsupported(f"IpAddress value {p!r} is not an address or CIDR") from exc
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
            raise Unsupported(f"unknown condition set operator {prefix!r}")
        set_op = prefix.lower()
    base = rest.lower()
    if_exists = base.endswith("ifexists") and base != "ifexists"
    if if_exists:
        base = base[: -len("ifexists")]
    if base == "null":
        if set_op or if_exists:
            raise Unsupported(f"condition operator {name!r} is not supported")
    elif base not in _OPERATORS:
        raise Unsupported(f"condition operator {name!r} is not supported")
    return _Operator(name=name, set_op=set_op, base=base, if_exists=if_exists)


def _policy_values(raw: Any, variables: bool) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str):
            if has_variable(item, variables):
                raise Unsupported(f"policy variable in condition value {item!r}")
            out.append(item)
        elif isinstance(item, int | float):
            out.append(str(item))
        else:
            raise Unsupported(f"condition value {json.dumps(item)} is not a scalar")
    return tuple(out)


@dataclass(frozen=True)
class EvalContext:
    """The normalized request context: lower-case keys to their values."""

    values: dict[str, tuple[str, ...]]
    absent: tuple[str, ...] = ()
    unknown: tuple[tuple[str, str], ...] = ()
    open_world: bool = False
    why: str = ""

    def get(self, key: str) -> tuple[str, ...] | None:
        """The key's values, or None when it is absent. Raises Unknowable."""
        k = key.lower()
        present = self.values.get(k)
        if present is not None:
            return present or None
        for pattern, reason in self.unknown:
            if glob_match(pattern, k, ignore_case=True):
                raise Unknowable(f"{key}: {reason}")
        if any(glob_match(pattern, k, ignore_case=True) for pattern in self.absent):
            return None
        if self.open_world:
            raise Unknowable(f"{key}: {self.why}")
        return None

    def shown(self, key: str) -> str:
        try:
            actual = self.get(key)
        except Unknowable:
            return "unknown"
        if not actual:
            return "absent"
        return json.dumps(actual[0] if len(actual) == 1 else list(actual))


def normalize_context(context: Mapping[str, ContextValue | bool] | None) -> EvalContext:
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
        return EvalContext(values)
    return EvalContext(
        values,
        absent=tuple(a.lower() for a in context.absent),
        unknown=tuple((k.lower(), why) for k, why in context.unknown.items()),
        open_world=context.open_world,
        why=context.why,
    )


def _eval_condition(op_name: str, key: str, raw: Any, ctx: EvalContext, variables: bool) -> Tri:
    """One (operator, key, values) triple. Raises Unsupported."""
    op = _parse_operator(op_name)
    values = _policy_values(raw, variables)
    present = ctx.get(key)
    if op.base == "null":
        wanted: list[bool] = []
        for v in values:
            if v.lower() not in ("true", "false"):
                raise Unsupported(f"Null value {v!r} is not true/false")
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
            raise Unsupported(
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


def _describe_condition(op_name: str, key: str, raw: Any, ctx: EvalContext) -> str:
    got = ctx.shown(key)
    return f'condition {op_name} {{"{key}": {json.dumps(raw)}}} not met (request: {key}={got})'


def eval_conditions(block: Any, ctx: EvalContext, variables: bool) -> tuple[Tri, str]:
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
            except Unknowable as exc:
                unknown = unknown or f"cannot tell condition {op_name} on {exc}"
                continue
            except Unsupported as exc:
                unknown = unknown or f"cannot evaluate condition {op_name} on {key}: {exc}"
                continue
            if not result:
                return False, _describe_condition(op_name, key, raw, ctx)
    if unknown is not None:
        return None, unknown
    return True, ""
