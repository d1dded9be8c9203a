"""CloudTrail Event history: records write calls passing through, answers LookupEvents.

moto has no LookupEvents. The middleware turns every successful management write it
forwards (trail, bucket, key, topic, log group, role changes) into a CloudTrail event in
the account and region where AWS records it, with the caller's identity, so "who broke
it" can be asked of the sandbox exactly as of AWS, including LookupEvents' 2 requests per
second per account and region.
"""

from __future__ import annotations

import base64
import bisect
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .identity import Caller
from .protocol import EVENT_SOURCES, CallInfo, request_parameters

RECORDED_SERVICES = {"cloudtrail", "s3", "kms", "sns", "logs", "iam", "organizations"}
_READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup")
_KMS_DATA_OPS = {
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateRandom",
    "Sign",
    "Verify",
}
#: S3 calls that are management (bucket-level) events; object calls are data events.
_S3_MANAGEMENT = {
    "CreateBucket",
    "DeleteBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls",
    "PutBucketAcl",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "PutBucketVersioning",
    "PutBucketTagging",
    "PutBucketLifecycleConfiguration",
    "PutPublicAccessBlock",
}
#: Services whose events land in us-east-1 whatever endpoint region was signed.
_GLOBAL_SERVICES = {"iam", "organizations"}
LOOKUP_ATTRIBUTES = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)


def is_recorded(info: CallInfo) -> bool:
    """Management write events CloudTrail keeps in Event history."""
    if info.service not in RECORDED_SERVICES or info.operation.startswith(_READ_PREFIXES):
        return False
    if info.service == "s3":
        return info.operation in _S3_MANAGEMENT
    return not (info.service == "kms" and info.operation in _KMS_DATA_OPS)


def event_region(info: CallInfo, bucket_region: str | None) -> str:
    if info.service in _GLOBAL_SERVICES:
        return "us-east-1"
    return bucket_region or info.region


def _resources(
    info: CallInfo, account: str, region: str, response: dict[str, Any]
) -> list[dict[str, str]]:
    """The resources block: (type, name-or-ARN) of what the call touched."""
    p = info.params
    out: list[dict[str, str]] = []

    def add(kind: str, arn: str, name: str | None = None) -> None:
        out.append({"accountId": account, "type": kind, "ARN": arn, "name": name or arn})

    if info.service == "cloudtrail":
        name = p.get("Name") or p.get("TrailName")
        if isinstance(name, str):
            arn = (
                name
                if name.startswith("arn:")
                else f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"
            )
            add("AWS::CloudTrail::Trail", arn)
    elif info.service == "s3" and info.bucket:
        add("AWS::S3::Bucket", f"arn:aws:s3:::{info.bucket}", info.bucket)
    elif info.service == "kms":
        key = p.get("KeyId") or (response.get("KeyMetadata") or {}).get("Arn")
        if isinstance(key, str):
            key_arn = key if key.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key}"
            add("AWS::KMS::Key", key_arn)
    elif info.service == "sns":
        topic = p.get("TopicArn") or (
            f"arn:aws:sns:{region}:{account}:{p['Name']}" if p.get("Name") else None
        )
        if isinstance(topic, str):
            add("AWS::SNS::Topic", topic)
    elif info.service == "logs" and p.get("logGroupName"):
        name = p["logGroupName"]
        add("AWS::Logs::LogGroup", f"arn:aws:logs:{region}:{account}:log-group:{name}", name)
    elif info.service == "iam":
        if p.get("RoleName"):
            add("AWS::IAM::Role", f"arn:aws:iam::{account}:role/{p['RoleName']}", p["RoleName"])
        if p.get("PolicyArn"):
            add("AWS::IAM::Policy", p["PolicyArn"])
    return out


@dataclass
class _Bucket:
    """Token bucket: LookupEvents allows 2 requests per second per account and region."""

    tokens: float
    stamp: float


@dataclass
class EventStore:
    """Events per (account, region), oldest first, plus LookupEvents' rate limit."""

    lookup_rps: float | None = 2.0
    _events: dict[tuple[str, str], list[tuple[float, str, dict[str, Any]]]] = field(
        default_factory=dict
    )
    _limits: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        info: CallInfo,
        caller: Caller,
        region: str,
        when: float,
        source_ip: str,
        user_agent: str,
        response: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Store one event for a successful write call; returns the CloudTrail event record."""
        account = caller.account
        resources = _resources(info, account, region, response or {})
        event_id = str(uuid.uuid4())
        record = {
            "eventVersion": "1.09",
            "userIdentity": caller.user_identity(),
            "eventTime": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": EVENT_SOURCES.get(info.service, f"{info.service}.amazonaws.com"),
            "eventName": info.operation,
            "awsRegion": region,
            "sourceIPAddress": source_ip,
            "userAgent": user_agent,
            "requestParameters": request_parameters(info) or None,
            "responseElements": response or None,
            "requestID": str(uuid.uuid4()),
            "eventID": event_id,
            "readOnly": False,
            "resources": [
                {"accountId": r["accountId"], "type": r["type"], "ARN": r["ARN"]} for r in resources
            ],
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
        summary = {
            "EventId": event_id,
            "EventName": info.operation,
            "ReadOnly": "false",
            "AccessKeyId": caller.access_key,
            "EventTime": when,
            "EventSource": record["eventSource"],
            "Username": caller.user_name,
            "Resources": [
                {"ResourceType": r["type"], "ResourceName": r["name"]} for r in resources
            ],
            "CloudTrailEvent": json.dumps(record),
            "_match_names": [r["name"] for r in resources] + [r["ARN"] for r in resources],
        }
        with self._lock:
            bisect.insort(self._events.setdefault((account, region), []), (when, event_id, summary))
        return record

    def record_synthetic(
        self,
        account: str,
        region: str,
        times: list[float],
        templates: list[dict[str, Any]],
        replace: tuple[float, float] | None = None,
    ) -> int:
        """Store events no client sent through the front door (CloudTrail's own reads).

        Each time takes the next template in turn. A template names the event
        (``event_source``, ``event_name``), its ``user_identity`` and ``resources``
        (``type``, ``arn``, optional ``name``), and optionally ``request_parameters``,
        ``read_only`` (default true), ``error_code``/``error_message``, ``source_ip``,
        ``user_agent``, ``username`` and ``access_key_id``. ``replace`` = (since, until)
        first drops the synthetic events in that window (history rewritten after a break).
        """
        if not templates:
            return 0
        rows: list[tuple[float, str, dict[str, Any]]] = []
        for i, when in enumerate(times):
            t = templates[i % len(templates)]
            rows.append(self._synthetic_row(account, region, float(when), t))
        with self._lock:
            bucket = self._events.setdefault((account, region), [])
            if replace is not None:
                since, until = replace
                bucket[:] = [
                    row
                    for row in bucket
                    if not (row[2].get("_synthetic") and since < row[0] <= until)
                ]
            bucket.extend(rows)
            bucket.sort(key=lambda row: (row[0], row[1]))
        return len(rows)

    @staticmethod
    def _synthetic_row(
        account: str, region: str, when: float, t: dict[str, Any]
    ) -> tuple[float, str, dict[str, Any]]:
        event_id = str(uuid.uuid4())
        read_only = bool(t.get("read_only", True))
        resources = [
            {
                "accountId": str(r.get("account", account)),
                "type": str(r["type"]),
                "ARN": str(r["arn"]),
                "name": str(r.get("name") or r["arn"]),
            }
            for r in t.get("resources", [])
        ]
        identity = dict(t.get("user_identity") or {})
        record: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": str(t["event_source"]),
            "eventName": str(t["event_name"]),
            "awsRegion": region,
            "sourceIPAddress": str(t.get("source_ip") or identity.get("invokedBy") or ""),
            "userAgent": str(t.get("user_agent") or identity.get("invokedBy") or ""),
            "requestParameters": t.get("request_parameters"),
            "responseElements": None,
            "requestID": str(uuid.uuid4()),
            "eventID": event_id,
            "readOnly": read_only,
            "resources": [
                {"accountId": r["accountId"], "type": r["type"], "ARN": r["ARN"]} for r in resources
            ],
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
        if t.get("error_code"):
            record["errorCode"] = str(t["error_code"])
            record["errorMessage"] = str(t.get("error_message") or "")
        summary: dict[str, Any] = {
            "EventId": event_id,
            "EventName": record["eventName"],
            "ReadOnly": "true" if read_only else "false",
            "EventTime": when,
            "EventSource": record["eventSource"],
            "Resources": [
                {"ResourceType": r["type"], "ResourceName": r["name"]} for r in resources
            ],
            "CloudTrailEvent": json.dumps(record),
            "_match_names": [r["name"] for r in resources] + [r["ARN"] for r in resources],
            "_synthetic": True,
        }
        if t.get("access_key_id"):
            summary["AccessKeyId"] = str(t["access_key_id"])
        if t.get("username"):
            summary["Username"] = str(t["username"])
        return when, event_id, summary

    def allow_lookup(self, account: str, region: str) -> bool:
        """Consume a LookupEvents token; False means AWS would throttle this call."""
        if self.lookup_rps is None:
            return True
        now = time.monotonic()
        with self._lock:
            bucket = self._limits.setdefault((account, region), _Bucket(self.lookup_rps, now))
            bucket.tokens = min(
                self.lookup_rps, bucket.tokens + (now - bucket.stamp) * self.lookup_rps
            )
            bucket.stamp = now
            if bucket.tokens < 1.0:
                return False
            bucket.tokens -= 1.0
            return True

    def all_events(
        self, account: str | None = None, region: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            items = [(k, list(v)) for k, v in self._events.items()]
        return [
            json.loads(s["CloudTrailEvent"])
            for (acct, reg), events in items
            if account in (None, acct) and region in (None, reg)
            for _, _, s in events
        ]

    def counts(self) -> list[dict[str, Any]]:
        """Events per (account, region): total and read-only ones."""
        with self._lock:
            items = [(k, list(v)) for k, v in self._events.items()]
        return [
            {
                "account": account,
                "region": region,
                "total": len(events),
                "read_only": sum(1 for _, _, s in events if s["ReadOnly"] == "true"),
            }
            for (account, region), events in sorted(items)
        ]

    def lookup(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        """LookupEvents: one lookup attribute, a time range, newest first, paginated.

        Raises ValueError(code, message) for requests AWS rejects.
        """
        attributes = params.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise ValueError(
                "InvalidLookupAttributesException",
                "You cannot specify more than one lookup attribute.",
            )
        now = time.time()
        start = float(params.get("StartTime", now - 90 * 86400))
        end = float(params.get("EndTime", now))
        if start > end:
            raise ValueError("InvalidTimeRangeException", "Start time must be before end time.")
        max_results = int(params.get("MaxResults", 50))
        if not 1 <= max_results <= 50:
            raise ValueError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
        offset = 0
        token = params.get("NextToken")
        if token:
            try:
                offset = int(base64.b64decode(token).decode().split(":", 1)[1])
            except (ValueError, IndexError):
                raise ValueError("InvalidNextTokenException", "Invalid NextToken.") from None
        with self._lock:
            events = list(self._events.get((account, region), []))
        matched = [
            s
            for when, _, s in reversed(events)
            if start <= when <= end and (not attributes or _matches(s, attributes[0]))
        ]
        page = matched[offset : offset + max_results]
        body: dict[str, Any] = {
            "Events": [{k: v for k, v in s.items() if not k.startswith("_")} for s in page]
        }
        if offset + max_results < len(matched):
            body["NextToken"] = base64.b64encode(f"lookup:{offset + max_results}".encode()).decode()
        return body


def _matches(summary: dict[str, Any], attribute: dict[str, Any]) -> bool:
    key = attribute.get("AttributeKey")
    value = attribute.get("AttributeValue")
    if key not in LOOKUP_ATTRIBUTES:
        raise ValueError("InvalidLookupAttributesException", f"Unknown lookup attribute {key}.")
    if key == "ResourceName":
        return value in summary["_match_names"]
    if key == "ResourceType":
        return any(r["ResourceType"] == value for r in summary["Resources"])
    return bool(summary.get(key) == value)
