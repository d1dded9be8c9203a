"""Reading one destination (bucket, key, topic, log group, role) or a trail's event
selectors, as one account (I/O). What to read, when and as whom is decided by
core/aws/diagnose.py; a read that fails is a Fact saying so ("cannot tell" or "missing"),
never an exception.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import TYPE_CHECKING, Any

from core.aws.errors import describe_error, error_code
from core.judge.delivery_settings import is_aws_managed_alias
from core.judge.facts import Fact
from core.model import TrailConfig
from core.util.arn import Arn, account_of, log_group_name, region_of
from core.util.error_codes import NOT_FOUND

if TYPE_CHECKING:
    from core.aws.collect import Account, Collector

log = logging.getLogger(__name__)

DestId = tuple[str, str]  # (kind, identifier): one read per destination, whoever views it


def bucket_region(location: str | None) -> str:
    """GetBucketLocation's ``LocationConstraint`` as a region: empty (null) is us-east-1 and
    the legacy ``EU`` is eu-west-1, as the S3 API reference documents."""
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else location


def _doc(value: Any) -> Any:
    """IAM returns policy documents URL-encoded in the raw API; botocore usually decodes."""
    if isinstance(value, str):
        text = urllib.parse.unquote(value) if value.lstrip().startswith("%") else value
        try:
            return json.loads(text)
        except ValueError:
            return text
    return value


class DestinationReader:
    """Counts its calls (the sweep's `diagnostic_calls`) and knows the accounts reached in
    the current diagnose, so a KMS key is read with its owner's credentials."""

    def __init__(self, reach_hint: str = "") -> None:
        #: How an operator would reach an account trailtop does not reach ("{account}").
        self.reach_hint = reach_hint
        self.calls = 0
        #: The accounts reached in the current diagnose().
        self.reached: dict[str, Account] = {}
        #: Buckets of judged trails with a KMS key: only their region is read.
        self.located: frozenset[str] = frozenset()
        #: Buckets of judged trails without a KMS key: only their default encryption is read.
        self.unkeyed: frozenset[str] = frozenset()

    async def call(
        self, col: Collector, acct: Account, service: str, region: str, op: str, **kw: Any
    ) -> Any:
        self.calls += 1
        return await col.call(acct.session, service, region, op, **kw)

    async def read(self, col: Collector, acct: Account, d: DestId, region: str) -> Fact:
        kind, ident = d
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
            data = {"error_code": code} if kind == "bucket" else {}
            return Fact(kind, ident, None, describe_error(exc), data=data)

    async def _bucket(self, col: Collector, acct: Account, name: str, region: str) -> Fact:
        try:
            resp = await self.call(col, acct, "s3", region, "get_bucket_policy", Bucket=name)
            policy: Any = resp.get("Policy")
        except Exception as exc:  # noqa: BLE001
            code = error_code(exc) or ""
            if code in NOT_FOUND["bucket_policy"]:
                policy = None
            elif code in NOT_FOUND["bucket"]:
                return Fact("bucket", name, False, describe_error(exc))
            else:
                raise
        data: dict[str, Any] = {"policy": policy}
        # CloudTrail does not deliver to a Requester Pays bucket: one call per bucket read.
        try:
            pay = await self.call(
                col, acct, "s3", region, "get_bucket_request_payment", Bucket=name
            )
            data["payer"] = pay.get("Payer")
        except Exception as exc:  # noqa: BLE001 - the policy still judges; the payer is unknown
            data["payer_error"] = describe_error(exc)
        if name in self.located:
            # A trail's KMS key must be in its bucket's region: asked only of buckets that
            # receive SSE-KMS log files, one call per bucket read.
            try:
                loc = await self.call(col, acct, "s3", region, "get_bucket_location", Bucket=name)
                data["region"] = bucket_region(loc.get("LocationConstraint"))
            except Exception as exc:  # noqa: BLE001 - then the key's region is not judged
                data["region_error"] = describe_error(exc)
        if name in self.unkeyed:
            # Default SSE-KMS and a trail without a key: a posture fact (AWS documents no
            # effect on CloudTrail), asked only of such buckets, one call per bucket read.
            data.update(await self._default_encryption(col, acct, name, region))
        return Fact("bucket", name, True, None, data=data)

    async def _default_encryption(
        self, col: Collector, acct: Account, name: str, region: str
    ) -> dict[str, Any]:
        """GetBucketEncryption's default rule: SSEAlgorithm, KMSMasterKeyID, BucketKeyEnabled
        (None when the bucket has no configuration)."""
        try:
            resp = await self.call(col, acct, "s3", region, "get_bucket_encryption", Bucket=name)
        except Exception as exc:  # noqa: BLE001 - then the default encryption is not judged
            if error_code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
                return {"default_encryption": None}
            return {"encryption_error": describe_error(exc)}
        rules = (resp.get("ServerSideEncryptionConfiguration") or {}).get("Rules") or [{}]
        rule = rules[0]
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        return {
            "default_encryption": {
                "SSEAlgorithm": default.get("SSEAlgorithm"),
                "KMSMasterKeyID": default.get("KMSMasterKeyID"),
                "BucketKeyEnabled": rule.get("BucketKeyEnabled"),
            }
        }

    async def _key(self, col: Collector, acct: Account, key_id: str, region: str) -> Fact:
        kregion = region_of(key_id, region)
        try:
            meta = (await self.call(col, acct, "kms", kregion, "describe_key", KeyId=key_id))[
                "KeyMetadata"
            ]
        except Exception as exc:  # noqa: BLE001
            code = error_code(exc) or ""
            if code in NOT_FOUND["key"]:
                return Fact("key", key_id, False, describe_error(exc))
            return Fact("key", key_id, None, describe_error(exc))
        data: dict[str, Any] = {"metadata": meta}
        try:
            pol = await self.call(
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
        return Fact("key", key_id, True, data.get("policy_error"), data=data)

    async def _topic(self, col: Collector, acct: Account, arn: str, region: str) -> Fact:
        resp = await self.call(
            col, acct, "sns", region_of(arn, region), "get_topic_attributes", TopicArn=arn
        )
        attrs = resp.get("Attributes", {})
        data: dict[str, Any] = {"policy": attrs.get("Policy")}
        kid = attrs.get("KmsMasterKeyId")
        if kid:
            data["kms_key"] = kid
            data.update(await self._topic_key(col, acct, arn, str(kid), region))
        return Fact("topic", arn, True, None, data=data)

    async def _topic_key(
        self, col: Collector, acct: Account, arn: str, kid: str, region: str
    ) -> dict[str, Any]:
        """The policy of a KMS-encrypted topic's key, read as the key's owner: one
        GetKeyPolicy per topic read, none for an AWS managed key (``alias/aws/...``: judged
        from the name) or a key named by alias (GetKeyPolicy takes a key id or ARN only)."""
        if is_aws_managed_alias(kid):
            return {}
        if kid.startswith("alias/") or ":alias/" in kid:
            return {
                "key_policy_error": "the topic names its key by alias and GetKeyPolicy takes "
                "a key id or ARN: set KmsMasterKeyId to the key ARN to have it checked"
            }
        owner = account_of(kid) or account_of(arn)
        reader = self.reached.get(owner)
        try:
            pol = await self.call(
                col,
                reader or acct,
                "kms",
                region_of(kid, region_of(arn, region)),
                "get_key_policy",
                KeyId=kid,
                PolicyName="default",
            )
        except Exception as exc:  # noqa: BLE001 - then the key is "cannot tell"
            return {"key_policy_error": self._unreached_key(reader, owner, describe_error(exc))}
        return {"key_policy": pol.get("Policy")}

    async def _log_group(self, col: Collector, acct: Account, arn: str, region: str) -> Fact:
        name = log_group_name(arn)
        resp = await self.call(
            col,
            acct,
            "logs",
            region_of(arn, region),
            "describe_log_groups",
            logGroupNamePrefix=name,
        )
        group = next((g for g in resp.get("logGroups", []) if g.get("logGroupName") == name), None)
        if group is None:
            return Fact("log_group", arn, False, "no log group with that name")
        data: dict[str, Any] = {}
        kid = group.get("kmsKeyId")
        if kid:
            data["kms_key"] = str(kid)
            data.update(await self._group_key(col, acct, arn, str(kid), region))
        return Fact("log_group", arn, True, None, data=data)

    async def _group_key(
        self, col: Collector, acct: Account, arn: str, kid: str, region: str
    ) -> dict[str, Any]:
        """The state and policy of a KMS-encrypted log group's key, read as the key's owner:
        one DescribeKey and one GetKeyPolicy per log group read (GetKeyPolicy has no
        cross-account use)."""
        owner = account_of(kid) or account_of(arn)
        reader = self.reached.get(owner)
        kregion = region_of(kid, region_of(arn, region))
        out: dict[str, Any] = {"key_owner": owner}
        try:
            meta = (
                await self.call(col, reader or acct, "kms", kregion, "describe_key", KeyId=kid)
            )["KeyMetadata"]
        except Exception as exc:  # noqa: BLE001 - gone, or "cannot tell"
            why = describe_error(exc)
            if (error_code(exc) or "") in NOT_FOUND["key"]:
                return {**out, "key_missing": why}
            return {**out, "key_error": self._unreached_key(reader, owner, why)}
        out["key_metadata"] = meta
        try:
            pol = await self.call(
                col,
                reader or acct,
                "kms",
                kregion,
                "get_key_policy",
                KeyId=meta.get("KeyId", kid),
                PolicyName="default",
            )
        except Exception as exc:  # noqa: BLE001 - then the key policy is "cannot tell"
            return {
                **out,
                "key_policy_error": self._unreached_key(reader, owner, describe_error(exc)),
            }
        return {**out, "key_policy": pol.get("Policy")}

    def _unreached_key(self, reader: Account | None, owner: str, why: str) -> str:
        """A refused key read: name the owner account when trailtop does not reach it."""
        if reader is not None or not owner:
            return why
        how = self.reach_hint.format(account=owner) if self.reach_hint else ""
        return (
            f"owned by account {owner}, which trailtop does not reach"
            + (f" (needs {how})" if how else "")
            + f"; {why}"
        )

    async def selectors(self, col: Collector, acct: Account, trail: TrailConfig) -> Fact:
        """GetEventSelectors for one trail, by ARN in its home region (a shadow trail, or an
        organization trail seen from a member account, is named by its full ARN)."""
        region = trail.home_region or region_of(trail.arn)
        try:
            resp = await self.call(
                col, acct, "cloudtrail", region, "get_event_selectors", TrailName=trail.arn
            )
        except Exception as exc:  # noqa: BLE001 - then the selectors are "cannot tell"
            log.debug("GetEventSelectors %s: %s", trail.arn, describe_error(exc))
            return Fact("selectors", trail.arn, None, describe_error(exc))
        data = {
            "EventSelectors": list(resp.get("EventSelectors") or []),
            "AdvancedEventSelectors": list(resp.get("AdvancedEventSelectors") or []),
        }
        return Fact("selectors", trail.arn, True, None, data=data)

    async def _role(self, col: Collector, acct: Account, arn: str, region: str) -> Fact:
        name = Arn.parse(arn).leaf or arn
        role = (await self.call(col, acct, "iam", region, "get_role", RoleName=name))["Role"]
        trust = _doc(role.get("AssumeRolePolicyDocument"))
        policies: list[Any] = []
        by_name: dict[str, Any] = {}
        inline = await self.call(col, acct, "iam", region, "list_role_policies", RoleName=name)
        for pname in inline.get("PolicyNames", []):
            p = await self.call(
                col, acct, "iam", region, "get_role_policy", RoleName=name, PolicyName=pname
            )
            by_name[pname] = _doc(p.get("PolicyDocument"))
            policies.append(by_name[pname])
        attached = await self.call(
            col, acct, "iam", region, "list_attached_role_policies", RoleName=name
        )
        for ap in attached.get("AttachedPolicies", []):
            pol = (
                await self.call(col, acct, "iam", region, "get_policy", PolicyArn=ap["PolicyArn"])
            )["Policy"]
            ver = await self.call(
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
