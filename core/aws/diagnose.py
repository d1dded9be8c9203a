"""Destination diagnostics: read buckets, keys, topics, log groups and roles (I/O).

Cost rule: destinations are shared (one bucket serves a multi-region trail's 17 views), so
each is read at most once per sweep, and only when
- it was never read, or the operator asked for a full refresh,
- a view that uses it changed (its status errors, IsLogging or its configuration), or
- `poll.diagnose_refresh_seconds` passed since it was read.
Judging (core/judge/rootcause.py) is pure and runs every sweep on the cached facts.

Only views in the account that owns the trail are diagnosed: an organization trail seen
from a member account is MANAGED_ELSEWHERE (core/judge/evaluate.py) and its destinations are read
from the management account's own views.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.parse
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.aws.errors import describe_error, error_code
from core.judge.rootcause import (
    Destinations,
    Fact,
    root_causes,
)
from core.model import STATUS_ERROR_FIELDS, Finding, TrailConfig
from core.util.arn import Arn, account_of, log_group_name, region_of
from core.util.error_codes import ACCESS, NOT_FOUND

if TYPE_CHECKING:
    from core.aws.collect import Account, Collector
    from core.engine.protocols import ViewInput


log = logging.getLogger(__name__)


DestId = tuple[str, str, str]  # (reading account, kind, identifier)


def _doc(value: Any) -> Any:
    """IAM returns policy documents URL-encoded in the raw API; botocore usually decodes."""
    if isinstance(value, str):
        text = urllib.parse.unquote(value) if value.lstrip().startswith("%") else value
        try:
            return json.loads(text)
        except ValueError:
            return text
    return value


def _rediagnose_signature(v: ViewInput) -> tuple[Any, ...]:
    """What, when it changes, makes a view's destinations worth reading again at once."""
    st = v.status or {}
    return (v.trail, st.get("IsLogging"), *(st.get(f) for f in STATUS_ERROR_FIELDS))


def destinations_of(trail: TrailConfig, account: str) -> list[DestId]:
    out: list[DestId] = []
    if trail.s3_bucket:
        out.append((account, "bucket", trail.s3_bucket))
    if trail.kms_key_id:
        out.append((account, "key", trail.kms_key_id))
    if trail.sns_topic_arn:
        out.append((account, "topic", trail.sns_topic_arn))
    if trail.log_group_arn:
        out.append((account, "log_group", trail.log_group_arn))
    if trail.cw_role_arn:
        out.append((account, "role", trail.cw_role_arn))
    return out


class DestinationDiagnoser:
    def __init__(self, refresh_seconds: float, clock: Any = time.monotonic) -> None:
        self.refresh_seconds = refresh_seconds
        self.calls = 0
        self._clock = clock
        self._facts: dict[DestId, tuple[Fact, float]] = {}
        self.org_ids: dict[str, str | None] = {}
        self._signatures: dict[str, tuple[Any, ...]] = {}
        self._own_buckets: dict[str, set[str] | None] = {}
        #: The destinations judged for each view in the last diagnose() (remediation plans
        #: are made from these documents).
        self.destinations: dict[str, Destinations] = {}

    async def diagnose(
        self, collector: Collector, views: Sequence[ViewInput], now: datetime, force: bool
    ) -> dict[str, list[Finding]]:
        mine = [v for v in views if v.key.account_id == v.trail.owner_account]
        accounts: dict[str, Account] = {v.account.account_id: v.account for v in mine}
        home: dict[DestId, str] = {}
        due: set[DestId] = set()
        t = self._clock()
        for v in mine:
            sig = _rediagnose_signature(v)
            changed = self._signatures.get(v.key.id) != sig
            self._signatures[v.key.id] = sig
            for d in destinations_of(v.trail, v.key.account_id):
                home.setdefault(d, v.trail.home_region)
                cached = self._facts.get(d)
                if force or cached is None or changed or t - cached[1] >= self.refresh_seconds:
                    due.add(d)
        self._own_buckets = {}
        ordered = sorted(due)
        results = await asyncio.gather(
            *(self._read(collector, accounts[d[0]], d, home[d]) for d in ordered),
            return_exceptions=True,
        )
        for d, res in zip(ordered, results, strict=True):
            if isinstance(res, BaseException):
                if isinstance(res, asyncio.CancelledError):
                    raise res
                res = Fact(d[1], d[2], None, describe_error(res))
            self._facts[d] = (res, t)

        org_ids: dict[str, str | None] = {}
        for v in mine:
            if v.trail.organization_trail and v.key.account_id not in org_ids:
                org_ids[v.key.account_id] = await collector.org_id(v.account)

        out: dict[str, list[Finding]] = {}
        self.destinations = {}
        self.org_ids = org_ids
        for v in mine:
            facts = {d[1]: self._facts[d][0] for d in destinations_of(v.trail, v.key.account_id)}
            dest = Destinations(
                bucket=facts.get("bucket"),
                key=facts.get("key"),
                topic=facts.get("topic"),
                log_group=facts.get("log_group"),
                role=facts.get("role"),
            )
            self.destinations[v.key.id] = dest
            found = root_causes(v.trail, v.key, dest, now, org_ids.get(v.key.account_id))
            if found:
                out[v.key.id] = found
        return out

    # -- readers ------------------------------------------------------------------------

    async def _call(
        self, col: Collector, acct: Account, service: str, region: str, op: str, **kw: Any
    ) -> Any:
        self.calls += 1
        return await col.call(acct.session, service, region, op, **kw)

    async def _read(self, col: Collector, acct: Account, d: DestId, region: str) -> Fact:
        kind, ident = d[1], d[2]
        reader = {
            "bucket": self._bucket,
            "key": self._key,
            "topic": self._topic,
            "log_group": self._log_group,
            "role": self._role,
        }[kind]
        try:
            return await reader(col, acct, ident, region)
        except Exception as exc:  # noqa: BLE001 - a destination we cannot read is "cannot tell"
            code = error_code(exc) or ""
            log.debug(
                "reading %s %s from %s: %s", kind, ident, acct.account_id, describe_error(exc)
            )
            if code in NOT_FOUND.get(kind, frozenset()):
                return Fact(kind, ident, False, describe_error(exc))
            return Fact(kind, ident, None, describe_error(exc))

    async def _owned_buckets(self, col: Collector, acct: Account, region: str) -> set[str] | None:
        if acct.account_id not in self._own_buckets:
            try:
                names: set[str] = set()
                token: str | None = None
                while True:
                    kw: dict[str, Any] = {"ContinuationToken": token} if token else {}
                    resp = await self._call(col, acct, "s3", region, "list_buckets", **kw)
                    names.update(b["Name"] for b in resp.get("Buckets", []))
                    token = resp.get("ContinuationToken")
                    if not token:
                        break
                self._own_buckets[acct.account_id] = names
            except Exception as exc:  # noqa: BLE001 - then ownership is unknown, not "foreign"
                log.debug("ListBuckets in %s: %s", acct.account_id, describe_error(exc))
                self._own_buckets[acct.account_id] = None
        return self._own_buckets[acct.account_id]

    async def _bucket(self, col: Collector, acct: Account, name: str, region: str) -> Fact:
        owned = await self._owned_buckets(col, acct, region)
        foreign = owned is not None and name not in owned
        if foreign:
            try:
                await self._call(col, acct, "s3", region, "head_bucket", Bucket=name)
            except Exception as exc:  # noqa: BLE001
                code = error_code(exc) or ""
                if code in NOT_FOUND["bucket"]:
                    return Fact("bucket", name, False, describe_error(exc))
                return Fact("bucket", name, None, describe_error(exc), foreign=True)
        try:
            resp = await self._call(col, acct, "s3", region, "get_bucket_policy", Bucket=name)
            policy: Any = resp.get("Policy")
        except Exception as exc:  # noqa: BLE001
            code = error_code(exc) or ""
            if code in NOT_FOUND["bucket_policy"]:
                policy = None
            elif code in NOT_FOUND["bucket"]:
                return Fact("bucket", name, False, describe_error(exc))
            elif foreign and (code in ACCESS or code == "AccessDenied"):
                return Fact(
                    "bucket",
                    name,
                    True,
                    "owned by another account; policy not readable",
                    foreign=True,
                )
            else:
                raise
        return Fact(
            "bucket",
            name,
            True,
            "owned by another account" if foreign else None,
            foreign=foreign,
            data={"policy": policy},
        )

    async def _key(self, col: Collector, acct: Account, key_id: str, region: str) -> Fact:
        kregion = region_of(key_id, region) if key_id.startswith("arn:") else region
        owner = account_of(key_id) if key_id.startswith("arn:") else acct.account_id
        foreign = bool(owner) and owner != acct.account_id
        try:
            meta = (await self._call(col, acct, "kms", kregion, "describe_key", KeyId=key_id))[
                "KeyMetadata"
            ]
        except Exception as exc:  # noqa: BLE001
            code = error_code(exc) or ""
            if code in NOT_FOUND["key"]:
                return Fact("key", key_id, False, describe_error(exc))
            return Fact("key", key_id, None, describe_error(exc), foreign=foreign)
        data: dict[str, Any] = {"metadata": meta}
        try:
            pol = await self._call(
                col,
                acct,
                "kms",
                kregion,
                "get_key_policy",
                KeyId=meta.get("KeyId", key_id),
                PolicyName="default",
            )
            data["policy"] = pol.get("Policy")
        except Exception as exc:  # noqa: BLE001
            data["policy_error"] = describe_error(exc)
        return Fact("key", key_id, True, data.get("policy_error"), foreign=foreign, data=data)

    async def _topic(self, col: Collector, acct: Account, arn: str, region: str) -> Fact:
        foreign = account_of(arn) != acct.account_id
        resp = await self._call(
            col, acct, "sns", region_of(arn, region), "get_topic_attributes", TopicArn=arn
        )
        attrs = resp.get("Attributes", {})
        return Fact("topic", arn, True, None, foreign=foreign, data={"policy": attrs.get("Policy")})

    async def _log_group(self, col: Collector, acct: Account, arn: str, region: str) -> Fact:
        name = log_group_name(arn)
        resp = await self._call(
            col,
            acct,
            "logs",
            region_of(arn, region),
            "describe_log_groups",
            logGroupNamePrefix=name,
        )
        exists = any(g.get("logGroupName") == name for g in resp.get("logGroups", []))
        return Fact("log_group", arn, exists, None if exists else "no log group with that name")

    async def _role(self, col: Collector, acct: Account, arn: str, region: str) -> Fact:
        name = Arn.parse(arn).leaf or arn
        role = (await self._call(col, acct, "iam", region, "get_role", RoleName=name))["Role"]
        trust = _doc(role.get("AssumeRolePolicyDocument"))
        policies: list[Any] = []
        by_name: dict[str, Any] = {}
        inline = await self._call(col, acct, "iam", region, "list_role_policies", RoleName=name)
        for pname in inline.get("PolicyNames", []):
            p = await self._call(
                col, acct, "iam", region, "get_role_policy", RoleName=name, PolicyName=pname
            )
            by_name[pname] = _doc(p.get("PolicyDocument"))
            policies.append(by_name[pname])
        attached = await self._call(
            col, acct, "iam", region, "list_attached_role_policies", RoleName=name
        )
        for ap in attached.get("AttachedPolicies", []):
            pol = (
                await self._call(col, acct, "iam", region, "get_policy", PolicyArn=ap["PolicyArn"])
            )["Policy"]
            ver = await self._call(
                col,
                acct,
                "iam",
                region,
                "get_policy_version",
                PolicyArn=ap["PolicyArn"],
                VersionId=pol["DefaultVersionId"],
            )
            policies.append(_doc(ver["PolicyVersion"].get("Document")))
        return Fact(
            "role", arn, True, None, data={"trust": trust, "policies": policies, "inline": by_name}
        )
