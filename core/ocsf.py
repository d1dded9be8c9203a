"""OCSF output (`--once --format ocsf`): one OCSF Detection Finding (class 2004) per finding.

Detection Finding rather than Compliance Finding: trailtop detects that audit logs are not
arriving (and why), it does not evaluate a compliance control. This is also the class
Security Lake and SIEMs receive from other cloud posture tools, built here with the same
models (py-ocsf-models), so a record that does not fit the schema fails when it is built.

Each record's `finding_info.uid` is stable: derived from the finding code and the view id
(account, region, trail ARN), never from time, so the same finding on the same trail keeps
its uid run after run and a consumer can deduplicate or close it. A muted finding is
`status_id` Suppressed with the mute's reason as `comment`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.detection_finding import (
    DetectionFinding,
    DetectionFindingTypeID,
)
from py_ocsf_models.events.findings.severity_id import SeverityID
from py_ocsf_models.events.findings.status_id import StatusID
from py_ocsf_models.objects.account import Account, TypeID
from py_ocsf_models.objects.analytic import Analytic
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.group import Group
from py_ocsf_models.objects.metadata import Metadata
from py_ocsf_models.objects.organization import Organization
from py_ocsf_models.objects.product import Product
from py_ocsf_models.objects.remediation import Remediation
from py_ocsf_models.objects.resource_details import ResourceDetails

from core.model import Finding, Severity, Snapshot
from core.report import jsonable, tool_version
from core.util.arn import Arn
from core.util.text import JSON_RAW

#: Namespace of the finding uids (a UUID5 of code and view id): never change it, or every
#: consumer sees every finding as new.
UID_NAMESPACE = uuid.UUID("5b0f6a52-3c1e-4d7e-9a43-7f1d2c8e9b10")

_SEVERITY: Mapping[Severity, SeverityID] = {
    Severity.CRITICAL: SeverityID.Critical,
    Severity.HIGH: SeverityID.High,
    Severity.MEDIUM: SeverityID.Medium,
    Severity.LOW: SeverityID.Low,
    Severity.INFO: SeverityID.Informational,
    Severity.UNKNOWN: SeverityID.Unknown,
}


def finding_uid(code: str, view_id: str, nth: int = 0) -> str:
    """Stable across runs: the same code on the same view is the same uid. `nth` tells
    apart a code that occurs twice in one view (in order of appearance)."""
    name = f"{code}|{view_id}" + (f"|{nth}" if nth else "")
    return f"trailtop-{uuid.uuid5(UID_NAMESPACE, name)}"


def _ms(dt: datetime) -> int:
    """OCSF timestamps are milliseconds since the epoch."""
    return int(dt.timestamp() * 1000)


def _partition(arn: str) -> str:
    return Arn.parse(arn).partition or "aws"


def _record(
    snap: Snapshot,
    f: Finding,
    uid: str,
    *,
    account_id: str,
    account_label: str,
    region: str,
    resource: ResourceDetails,
    view_id: str,
    state: str,
) -> DetectionFinding:
    activity = ActivityID.Create
    severity = _SEVERITY.get(f.severity, SeverityID.Unknown)
    status = StatusID.Suppressed if f.muted is not None else StatusID.New
    at = snap.generated_at
    unmapped: dict[str, Any] = {
        "view_id": view_id,
        "view_state": state,
        "channel": f.channel.value,
        "evidence": jsonable(dict(f.evidence)),
    }
    if f.plan_ids:
        unmapped["plans"] = list(f.plan_ids)
    if f.cause_event is not None:
        unmapped["cause_event"] = jsonable(dict(f.cause_event))
    if f.muted is not None:
        unmapped["muted"] = f.muted.to_json()
    org = snap.org_ids.get(account_id)
    return DetectionFinding(
        message=f.message,
        activity_id=activity.value,
        activity_name=activity.name,
        comment=f.muted.reason if f.muted is not None else None,
        finding_info=FindingInformation(
            uid=uid,
            title=f"{f.code} ({f.channel.value})",
            desc=f.message,
            types=[f"CloudTrail delivery/{f.channel.value}"],
            analytic=Analytic(
                uid=str(f.code), name=str(f.code), type_id=1, type="Rule", category="cloudtrail"
            ),
            created_time=_ms(at),
            created_time_dt=at,
        ),
        severity_id=severity.value,
        severity=severity.name,
        status_id=status.value,
        status=status.name,
        status_code=state,
        status_detail=f.message,
        remediation=Remediation(desc=f.remediation or f.message),
        resources=[resource],
        cloud=Cloud(
            provider="AWS",
            region=region,
            account=Account(
                uid=account_id,
                name=account_label,
                type_id=TypeID.AWS_Account.value,
                type="AWS Account",
            ),
            org=Organization(uid=org) if org else None,
        ),
        metadata=Metadata(
            event_code=str(f.code),
            product=Product(
                uid="trailtop", name="trailtop", vendor_name="trailtop", version=tool_version()
            ),
            profiles=["cloud", "datetime"],
            tenant_uid=org,
        ),
        time=_ms(at),
        time_dt=at,
        type_uid=DetectionFindingTypeID.Create,
        type_name=f"Detection Finding: {DetectionFindingTypeID.Create.name}",
        unmapped=unmapped,
    )


def ocsf_findings(snap: Snapshot) -> Iterator[DetectionFinding]:
    """Every finding of every view, then every coverage finding, as OCSF records."""
    for v in snap.views:
        seen: dict[str, int] = {}
        resource = ResourceDetails(
            uid=v.trail.arn or v.id,
            name=v.trail.name,
            type="AwsCloudTrailTrail" if v.trail.arn else "AwsAccount",
            region=v.key.region,
            cloud_partition=_partition(v.trail.arn),
            group=Group(name="cloudtrail"),
            data={"home_region": v.trail.home_region, "profile": v.profile},
        )
        for f in v.findings:
            nth = seen.get(f.code, 0)
            seen[f.code] = nth + 1
            yield _record(
                snap,
                f,
                finding_uid(f.code, v.id, nth),
                account_id=v.key.account_id,
                account_label=v.account_label,
                region=v.key.region,
                resource=resource,
                view_id=v.id,
                state=v.state.value,
            )
    for g in snap.coverage:
        where = f"{g.account_id}|{g.region}|"
        resource = ResourceDetails(
            uid=g.account_id,
            name=g.account_id,
            type="AwsAccount",
            region=g.region,
            group=Group(name="cloudtrail"),
            data={"profile": g.profile},
        )
        for n, f in enumerate(g.findings):
            yield _record(
                snap,
                f,
                finding_uid(f.code, where, n),
                account_id=g.account_id,
                account_label=g.account_id,
                region=g.region,
                resource=resource,
                view_id=where,
                state=f.state.value,
            )


def to_ocsf_text(snap: Snapshot) -> str:
    """A JSON array of the records, one per line (jq reads it whole; grep line by line)."""
    lines = [
        json.dumps(r.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
        for r in ocsf_findings(snap)
    ]
    body = ",\n".join(lines)
    return ("[\n" + body + "\n]\n" if lines else "[]\n").translate(JSON_RAW)
