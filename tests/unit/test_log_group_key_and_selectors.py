"""A KMS-encrypted log group CloudWatch Logs cannot use, and selectors without management events.

CLOUDWATCH_LOG_GROUP_KMS_DENIES: the key policy is judged with CloudWatch Logs' own requests
(``logs.<region>.amazonaws.com``, the group's ``aws:logs:arn`` encryption context), the key's
state with the trail keys' rules; a key that cannot be read or decided is "cannot tell".
TRAIL_NO_MANAGEMENT_EVENTS: the selectors as GetEventSelectors answers them, and what that
means for the region's coverage. Pure, plus diagnose driven by a fake collector (our own
protocol, no botocore).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from botocore.exceptions import ClientError

from core.aws.collect import Account
from core.aws.diagnose import DestinationDiagnoser
from core.codes import Code
from core.engine.protocols import ViewInput
from core.fix.documents import documents_from
from core.fix.plans import plans_for
from core.judge.cause_targets import targets_for
from core.judge.culprit import cause_event
from core.judge.delivery_settings import management_events
from core.judge.evaluate import Thresholds, judge_view, view_covers_region
from core.judge.facts import Destinations, Fact
from core.judge.rootcause import root_causes
from core.judge.statements import cloudwatch_logs_key_statement
from core.model import Finding, Severity, State, TrailConfig, ViewKey

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
ACCT, KEY_ACCT, MEMBER = "111111111111", "333333333333", "444444444444"
REGION = "us-east-1"
ARN = f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/main"
GROUP = f"arn:aws:logs:{REGION}:{ACCT}:log-group:trail-events:*"
BARE_GROUP = GROUP.removesuffix(":*")
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{KEY_ACCT}:key/{KEY_ID}"
ROOT = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{KEY_ACCT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def trail(**kw: Any) -> TrailConfig:
    raw = {
        "Name": "main",
        "TrailARN": ARN,
        "HomeRegion": REGION,
        "S3BucketName": "ct-logs",
        "IsMultiRegionTrail": True,
        "CloudWatchLogsLogGroupArn": GROUP,
        "CloudWatchLogsRoleArn": f"arn:aws:iam::{ACCT}:role/ct-logs",
        **kw,
    }
    return TrailConfig.from_describe(raw)


KEY = ViewKey(ACCT, REGION, ARN)


def key_policy(*extra: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [ROOT, *extra]})


def documented() -> str:
    return key_policy(cloudwatch_logs_key_statement(GROUP))


def group(state: str = "Enabled", policy: Any = None, **data: Any) -> Fact:
    meta: dict[str, Any] = {"KeyId": KEY_ID, "Arn": KEY_ARN, "KeyState": state}
    if state == "PendingDeletion":
        meta["DeletionDate"] = NOW + timedelta(days=7)
    body: dict[str, Any] = {"kms_key": KEY_ARN, "key_metadata": meta, **data}
    if policy is not None:
        body["key_policy"] = policy
    return Fact("log_group", GROUP, True, data=body)


def group_findings(fact: Fact) -> list[Finding]:
    return [
        f
        for f in root_causes(trail(), KEY, Destinations(log_group=fact), NOW)
        if f.channel.value == "cloudwatch"
    ]


def codes(found: list[Finding]) -> list[str]:
    return [f.code for f in found]


# -- the key policy ----------------------------------------------------------------------------


def test_an_unencrypted_group_or_the_documented_statement_has_no_finding() -> None:
    assert group_findings(Fact("log_group", GROUP, True)) == []
    assert group_findings(group(policy=documented())) == []
    # The account-wide variant AWS documents (ArnLike on the account's groups) too.
    wide = dict(cloudwatch_logs_key_statement(GROUP))
    wide["Condition"] = {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCT}:*"}
    }
    assert group_findings(group(policy=key_policy(wide))) == []


def test_a_key_policy_without_cloudwatch_logs_fails_the_cloudwatch_channel() -> None:
    found = group_findings(group(policy=key_policy()))
    assert codes(found) == [Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES]
    f = found[0]
    assert f.severity is Severity.HIGH and f.state is State.FAILING
    ev = f.evidence
    assert ev["cause"] == "key_policy" and ev["decision"] == "not_granted"
    assert ev["missing_actions"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert ev["service_principal"] == f"logs.{REGION}.amazonaws.com"
    assert ev["owner_account"] == KEY_ACCT and ev["key_arn"] == KEY_ARN
    assert ev["missing_statement"] == cloudwatch_logs_key_statement(GROUP)
    condition = ev["missing_statement"]["Condition"]["ArnEquals"]
    assert condition == {"kms:EncryptionContext:aws:logs:arn": BARE_GROUP}


def test_a_statement_for_another_group_region_or_principal_does_not_count() -> None:
    other_group = cloudwatch_logs_key_statement(GROUP.replace("trail-events", "app-logs"))
    other_region = dict(cloudwatch_logs_key_statement(GROUP))
    other_region["Principal"] = {"Service": "logs.eu-west-1.amazonaws.com"}
    cloudtrail_only = dict(cloudwatch_logs_key_statement(GROUP))
    cloudtrail_only["Principal"] = {"Service": "cloudtrail.amazonaws.com"}
    for st in (other_group, other_region, cloudtrail_only):
        assert codes(group_findings(group(policy=key_policy(st)))) == [
            Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES
        ], st


def test_an_explicit_deny_is_the_deciding_statement() -> None:
    deny = {
        "Sid": "NoDecryptOutsideTheAccount",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    found = group_findings(group(policy=key_policy(cloudwatch_logs_key_statement(GROUP), deny)))
    ev = found[0].evidence
    assert ev["decision"] == "denied" and ev["sid"] == "NoDecryptOutsideTheAccount"
    assert ev["missing_actions"] == ["kms:Decrypt"]
    assert "Deny" in found[0].remediation


def test_a_perimeter_deny_exempting_aws_services_lets_cloudwatch_logs_through() -> None:
    perimeter = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {
            "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc"},
            "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
        },
    }
    policy = key_policy(cloudwatch_logs_key_statement(GROUP), perimeter)
    assert group_findings(group(policy=policy)) == []


def test_an_undocumented_condition_or_an_unread_policy_is_cannot_tell() -> None:
    source = dict(cloudwatch_logs_key_statement(GROUP))
    source["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCT}}
    via = dict(cloudwatch_logs_key_statement(GROUP))
    via["Condition"] = {"StringEquals": {"kms:ViaService": f"logs.{REGION}.amazonaws.com"}}
    for st in (source, via):
        found = group_findings(group(policy=key_policy(st)))
        assert codes(found) == [Code.DIAGNOSTICS_INCOMPLETE], st
        assert found[0].severity is Severity.INFO
    unread = group(key_policy_error=f"owned by account {KEY_ACCT}, which trailtop does not reach")
    found = group_findings(unread)
    assert codes(found) == [Code.DIAGNOSTICS_INCOMPLETE]
    assert KEY_ACCT in found[0].evidence["reason"]
    undescribed = Fact(
        "log_group", GROUP, True, data={"kms_key": KEY_ARN, "key_error": "AccessDenied"}
    )
    assert codes(group_findings(undescribed)) == [Code.DIAGNOSTICS_INCOMPLETE]


def test_a_disabled_pending_or_missing_key_fails_like_a_refusal() -> None:
    expected = {"Disabled": "key_disabled", "PendingDeletion": "key_pending_deletion"}
    for state, cause in {**expected, "PendingImport": "key_state"}.items():
        found = group_findings(group(state, policy=documented()))
        assert codes(found) == [Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES], state
        assert found[0].evidence["cause"] == cause and found[0].evidence["KeyState"] == state
    pending = group_findings(group("PendingDeletion", policy=documented()))[0]
    assert pending.evidence["DeletionDate"] == (NOW + timedelta(days=7)).isoformat()
    gone = Fact("log_group", GROUP, True, data={"kms_key": KEY_ARN, "key_missing": "NotFound"})
    found = group_findings(gone)
    assert [f.evidence["cause"] for f in found] == ["key_missing"]


def test_the_refusal_explains_the_cloudwatch_delivery_error() -> None:
    found = group_findings(group(policy=key_policy()))
    status = {
        "IsLogging": True,
        "LatestDeliveryTime": NOW - timedelta(minutes=5),
        "LatestCloudWatchLogsDeliveryError": "AccessDeniedException",
        "LatestCloudWatchLogsDeliveryTime": NOW - timedelta(hours=1),
    }
    judged = judge_view(trail(), KEY, status, NOW, Thresholds(), diagnostics=found)
    error = next(f for f in judged.findings if f.code == Code.CLOUDWATCH_DELIVERY_ERROR)
    assert error.evidence["explained_by"] == [Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES]
    assert judged.findings[0].code == Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES


def test_put_key_policy_on_the_groups_key_or_associate_kms_key_is_the_culprit() -> None:
    t = trail()
    finding = group_findings(group(policy=key_policy()))[0]
    tgts = targets_for(finding.code, t, None, finding.evidence)
    assert {(x.kind, x.account) for x in tgts if x.phase == 1} == {
        ("log_group", ACCT),
        ("key", KEY_ACCT),
    }
    status = {"IsLogging": True, "LatestCloudWatchLogsDeliveryTime": NOW - timedelta(hours=1)}

    def event(name: str, params: dict[str, str], resource: str, minutes: int) -> dict[str, Any]:
        return {
            "eventName": name,
            "eventTime": (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventID": name,
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{KEY_ACCT}:user/kim"},
            "requestParameters": params,
            "resources": [{"ARN": resource}],
        }

    put = event("PutKeyPolicy", {"keyId": KEY_ARN}, KEY_ARN, 50)
    other = event("PutKeyPolicy", {"keyId": "other"}, "arn:aws:kms:::key/other", 40)
    found = cause_event(finding.code, t, status, [put, other], tgts)
    assert found is not None and found["event_name"] == "PutKeyPolicy"
    assert found["resource"] == KEY_ARN and found["confidence"] == "high"
    assoc = event("AssociateKmsKey", {"logGroupName": "trail-events"}, BARE_GROUP, 45)
    found = cause_event(finding.code, t, status, [assoc], tgts)
    assert found is not None and found["event_name"] == "AssociateKmsKey"


# -- the plans ---------------------------------------------------------------------------------


def group_plans(fact: Fact) -> tuple[list[Finding], list[Any]]:
    t = trail()
    dest = Destinations(log_group=fact)
    found = root_causes(t, KEY, dest, NOW)
    return found, plans_for(t, KEY, found, documents_from(dest))


def test_the_policy_plan_merges_the_documented_statement_in_the_keys_account() -> None:
    current = key_policy()
    _, plans = group_plans(group(policy=current))
    assert [p.id.rsplit("-", 1)[0] for p in plans] == ["logs-key-policy"]
    plan = plans[0]
    assert plan.account_id == KEY_ACCT and plan.region == REGION and plan.target == KEY_ARN
    assert plan.fixes == (Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES,)
    (call,) = plan.calls
    assert (call.service, call.operation) == ("kms", "put_key_policy")
    assert call.params["KeyId"] == KEY_ID and call.params["PolicyName"] == "default"
    merged = json.loads(call.params["Policy"])
    assert ROOT in merged["Statement"]  # nothing removed
    assert cloudwatch_logs_key_statement(GROUP) in merged["Statement"]
    (pre,) = plan.preconditions
    assert pre.kind == "kms_policy" and pre.read.operation == "get_key_policy"
    # The merged policy is judged healthy.
    assert group_findings(group(policy=call.params["Policy"])) == []


def test_state_plans_enable_or_cancel_and_a_deny_gets_no_plan() -> None:
    _, plans = group_plans(group("Disabled", policy=documented()))
    assert [[c.operation for c in p.calls] for p in plans] == [["enable_key"]]
    assert plans[0].account_id == KEY_ACCT and plans[0].preconditions[0].kind == "kms_key_state"
    _, plans = group_plans(group("PendingDeletion", policy=documented()))
    assert [[c.operation for c in p.calls] for p in plans] == [
        ["cancel_key_deletion", "enable_key"]
    ]
    deny = {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}
    found, plans = group_plans(group(policy=key_policy(cloudwatch_logs_key_statement(GROUP), deny)))
    assert codes(found) == [Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES] and plans == []
    found, plans = group_plans(
        Fact("log_group", GROUP, True, data={"kms_key": KEY_ARN, "key_missing": "NotFound"})
    )
    assert codes(found) == [Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES] and plans == []


# -- event selectors ---------------------------------------------------------------------------

NO_MANAGEMENT = {"ReadWriteType": "All", "IncludeManagementEvents": False}


def advanced(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"AdvancedEventSelectors": [{"Name": "s", "FieldSelectors": list(fields)}]}


def category(*values: str) -> dict[str, Any]:
    return {"Field": "eventCategory", "Equals": list(values)}


def test_management_events_as_aws_documents_the_selectors() -> None:
    both, read, write = {"read", "write"}, {"read"}, {"write"}
    cases: list[tuple[dict[str, Any], set[str] | None]] = [
        ({}, both),  # no custom selector: AWS's default
        ({"EventSelectors": [{}]}, both),  # the documented defaults
        ({"EventSelectors": [NO_MANAGEMENT]}, set()),
        ({"EventSelectors": [{"ReadWriteType": "ReadOnly"}]}, read),
        ({"EventSelectors": [NO_MANAGEMENT, {"ReadWriteType": "WriteOnly"}]}, write),
        ({"EventSelectors": [{"ReadWriteType": "Sometimes"}]}, None),
        (
            advanced(category("Data"), {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}),
            set(),
        ),
        (advanced(category("Management")), both),
        (advanced(category("Management"), {"Field": "readOnly", "Equals": ["true"]}), read),
        (
            advanced(
                category("Management"), {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}
            ),
            both,
        ),
        (advanced({"Field": "readOnly", "Equals": ["true"]}), None),  # no eventCategory
        (advanced({"Field": "eventCategory", "NotEquals": ["Data"]}), None),
    ]
    for answer, expected in cases:
        got = management_events(answer)
        assert (None if got is None else set(got)) == expected, answer


def selector_findings(data: dict[str, Any], exists: bool | None = True) -> list[Finding]:
    fact = Fact("selectors", ARN, exists, None if exists else "AccessDenied", data=data)
    return [
        f
        for f in root_causes(trail(), KEY, Destinations(selectors=fact), NOW)
        if f.channel.value == "trail"
    ]


def test_selectors_without_management_events_are_a_posture_fact_on_the_view() -> None:
    assert selector_findings({"EventSelectors": [{}]}) == []
    found = selector_findings({"EventSelectors": [NO_MANAGEMENT]})
    assert codes(found) == [Code.TRAIL_NO_MANAGEMENT_EVENTS]
    f = found[0]
    assert f.severity is Severity.LOW and f.state is State.OK
    assert f.evidence["EventSelectors"] == [NO_MANAGEMENT] and f.evidence["region"] == REGION
    found = selector_findings(advanced(category("Data")))
    assert codes(found) == [Code.TRAIL_NO_MANAGEMENT_EVENTS]
    # Not read, or not readable: cannot tell, never the finding.
    assert codes(selector_findings({}, exists=None)) == [Code.DIAGNOSTICS_INCOMPLETE]
    assert codes(selector_findings(advanced({"Field": "readOnly", "Equals": ["true"]}))) == [
        Code.DIAGNOSTICS_INCOMPLETE
    ]


def test_a_view_without_management_events_does_not_cover_its_region() -> None:
    found = selector_findings({"EventSelectors": [NO_MANAGEMENT]})
    logging = {"IsLogging": True}
    assert view_covers_region(logging, found) is False
    assert view_covers_region(logging, []) is True
    assert view_covers_region({"IsLogging": False}, []) is False
    assert view_covers_region(None, []) is None
    delivering = {**logging, "LatestDeliveryTime": NOW - timedelta(minutes=5)}
    plain = trail(CloudWatchLogsLogGroupArn=None, CloudWatchLogsRoleArn=None)
    judged = judge_view(plain, KEY, delivering, NOW, Thresholds(), diagnostics=found)
    assert judged.state is State.OK and view_covers_region(delivering, judged.findings) is False


def test_put_event_selectors_is_the_culprit() -> None:
    t = trail()
    record = {
        "eventName": "PutEventSelectors",
        "eventTime": "2026-11-27T17:30:00Z",
        "eventID": "e-1",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/cost-cutter"},
        "requestParameters": {"trailName": "main", "eventSelectors": [NO_MANAGEMENT]},
    }
    found = cause_event(Code.TRAIL_NO_MANAGEMENT_EVENTS, t, {"IsLogging": True}, [record])
    assert found is not None and found["actor"].endswith("user/cost-cutter")
    assert [x.kind for x in targets_for(Code.TRAIL_NO_MANAGEMENT_EVENTS, t)] == ["trail"]


# -- what diagnose reads (a fake collector) ------------------------------------------------------


class Collector:
    """Answers the reads diagnose makes for one trail with an encrypted log group."""

    def __init__(self) -> None:
        self.selectors: dict[str, Any] | None = {
            "EventSelectors": [{"IncludeManagementEvents": True}]
        }
        self.key_policies = {KEY_ACCT: documented()}
        self.ops: list[tuple[str, str, str]] = []
        self.trail_admins: dict[str, frozenset[str]] = {}

    async def call(self, session: Any, service: str, region: str, op: str, **kw: Any) -> Any:
        acct = str(session)
        self.ops.append((acct, op, region))
        if op == "get_event_selectors":
            if self.selectors is None:
                raise _error("AccessDeniedException", op)
            return {"TrailARN": kw["TrailName"], **self.selectors}
        if op == "describe_log_groups":
            name = BARE_GROUP.split("log-group:", 1)[1]
            return {"logGroups": [{"logGroupName": name, "kmsKeyId": KEY_ARN}]}
        if op == "describe_key":
            return {"KeyMetadata": {"KeyId": KEY_ID, "Arn": KEY_ARN, "KeyState": "Enabled"}}
        if op == "get_key_policy":
            policy = self.key_policies.get(acct)
            if policy is None:
                raise _error("AccessDeniedException", op)
            return {"Policy": policy}
        raise _error("AccessDenied", op)

    async def org_id(self, acct: Any) -> str | None:
        return None


def _error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "refused"}}, op)


def _account(account_id: str) -> Account:
    return Account(account_id, None, cast(Any, account_id), "profile", REGION)


def diagnose(
    col: Collector,
    t: TrailConfig,
    keys: list[ViewKey],
    diag: DestinationDiagnoser,
    reached: tuple[str, ...] = (ACCT, KEY_ACCT),
) -> dict[str, list[Finding]]:
    accounts = {a: _account(a) for a in {*reached, *(k.account_id for k in keys)}}
    views = [ViewInput(accounts[k.account_id], k, t, {"IsLogging": True}) for k in keys]
    reach = [accounts[a] for a in reached]
    return asyncio.run(diag.diagnose(cast(Any, col), views, NOW, False, reach))


def cw_only(t: TrailConfig) -> TrailConfig:
    return TrailConfig(t.name, t.arn, t.home_region, t.multi_region, log_group_arn=GROUP)


def test_diagnose_reads_the_groups_key_once_as_its_owner() -> None:
    col, diag = Collector(), DestinationDiagnoser(3600.0)
    t = cw_only(trail())
    keys = [ViewKey(ACCT, r, ARN) for r in (REGION, "eu-west-1")]
    assert diagnose(col, t, keys, diag) == {}
    key_reads = [(a, op) for a, op, _ in col.ops if op in ("describe_key", "get_key_policy")]
    assert key_reads == [(KEY_ACCT, "describe_key"), (KEY_ACCT, "get_key_policy")]
    col.key_policies = {KEY_ACCT: key_policy()}
    found = diagnose(col, t, keys, DestinationDiagnoser(3600.0))
    assert {k: codes(v) for k, v in found.items()} == {
        k.id: [Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES] for k in keys
    }
    assert found[keys[0].id][0].evidence["owner_account"] == KEY_ACCT


def test_diagnose_names_the_key_owner_it_does_not_reach() -> None:
    col = Collector()
    found = diagnose(col, cw_only(trail()), [KEY], DestinationDiagnoser(3600.0), reached=(ACCT,))
    (f,) = found[KEY.id]
    assert f.code == Code.DIAGNOSTICS_INCOMPLETE and f"owned by account {KEY_ACCT}" in str(
        f.evidence["reason"]
    )


def test_diagnose_reads_the_selectors_once_per_trail_in_its_home_region() -> None:
    clock = [0.0]
    col, diag = Collector(), DestinationDiagnoser(3600.0, clock=lambda: clock[0])
    t = TrailConfig("main", ARN, REGION, True)
    keys = [ViewKey(ACCT, r, ARN) for r in (REGION, "eu-west-1", "ap-southeast-2")]
    assert diagnose(col, t, keys, diag) == {}
    reads = [(a, r) for a, op, r in col.ops if op == "get_event_selectors"]
    assert reads == [(ACCT, REGION)]
    clock[0] = 60.0  # within the refresh: no read
    diagnose(col, t, keys, diag)
    assert len([op for _, op, _ in col.ops if op == "get_event_selectors"]) == 1
    col.selectors = {"EventSelectors": [NO_MANAGEMENT]}
    changed = TrailConfig("main", ARN, REGION, True, log_file_validation=True)
    found = diagnose(col, changed, keys, diag)  # a changed trail is read again at once
    assert {k: codes(v) for k, v in found.items()} == {
        k.id: [Code.TRAIL_NO_MANAGEMENT_EVENTS] for k in keys
    }


def test_a_member_view_of_an_organization_trail_says_it_too_but_not_an_unread_one() -> None:
    col = Collector()
    col.selectors = advanced(category("Data"))
    org = TrailConfig("org", ARN, REGION, True, organization_trail=True)
    member = ViewKey(MEMBER, "eu-west-1", ARN)
    found = diagnose(col, org, [member], DestinationDiagnoser(3600.0), reached=(MEMBER,))
    assert codes(found[member.id]) == [Code.TRAIL_NO_MANAGEMENT_EVENTS]
    # Read as a viewer when the owner is not reached, by ARN in the home region.
    assert [(a, r) for a, op, r in col.ops if op == "get_event_selectors"] == [(MEMBER, REGION)]
    col.selectors = None
    found = diagnose(col, org, [member], DestinationDiagnoser(3600.0), reached=(MEMBER,))
    assert found == {}  # the owner's views say what could not be read
    owner = ViewKey(ACCT, REGION, ARN)
    found = diagnose(col, org, [owner], DestinationDiagnoser(3600.0), reached=(ACCT,))
    assert codes(found[owner.id]) == [Code.DIAGNOSTICS_INCOMPLETE]
