"""Tests for core.judge.policy.

Expected outcomes are written from the IAM policy evaluation reference and the AWS
CloudTrail User Guide, not from running the evaluator. Documented policies are copied
(with placeholders substituted) from the guide's pages "Amazon S3 bucket policy for
CloudTrail", "Creating a trail for an organization with the AWS CLI", "Configure AWS KMS
key policies for CloudTrail" / "Default KMS key policy created in CloudTrail console",
"Amazon SNS topic policy for CloudTrail" and "Role policy document for CloudTrail to use
CloudWatch Logs for monitoring".
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from core.judge.policy import (
    CLOUDTRAIL_SERVICE,
    Decision,
    Outcome,
    PolicyError,
    Principal,
    RequestContext,
    evaluate,
    explain,
    parse_policy,
)
from core.judge.statements import (
    cloudtrail_bucket_statements,
    cloudtrail_kms_describe_statement,
    cloudtrail_kms_statement,
    cloudtrail_sns_statement,
    cloudwatch_role_permissions,
    cloudwatch_role_trust_policy,
    policy_document,
)

ACCT = "111111111111"
MEMBER = "222222222222"
OTHER = "333333333333"
ORG = "o-exampleorgid"
REGION = "us-east-2"
BUCKET = "amzn-s3-demo-bucket"
TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/main"
OTHER_TRAIL = f"arn:aws:cloudtrail:{REGION}:{OTHER}:trail/main"
ORG_TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/org-trail"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = f"arn:aws:sns:{REGION}:{ACCT}:trail-notifications"
ROLE = f"arn:aws:iam::{ACCT}:role/CloudTrail_CloudWatchLogs_Role"
GROUP = f"arn:aws:logs:{REGION}:{ACCT}:log-group:CloudTrail/logs"
STREAM = f"{GROUP}:log-stream:{ACCT}_CloudTrail_{REGION}"

CT = Principal.service_(CLOUDTRAIL_SERVICE)
ACL = "bucket-owner-full-control"


def obj(key: str) -> str:
    return f"arn:aws:s3:::{BUCKET}/{key}"


LOG_KEY = f"AWSLogs/{ACCT}/CloudTrail/{REGION}/2024/05/01/{ACCT}_CloudTrail_{REGION}_x.json.gz"


def put_ctx(source_arn: str = TRAIL, acl: str | None = ACL) -> dict[str, str]:
    ctx = {"aws:SourceArn": source_arn, "aws:SourceAccount": source_arn.split(":")[4]}
    if acl is not None:
        ctx["s3:x-amz-acl"] = acl
    return ctx


def put(policy: Any, key: str = LOG_KEY, **ctx: Any) -> Decision:
    return evaluate(
        policy, principal=CT, action="s3:PutObject", resource=obj(key), context=put_ctx(**ctx)
    )


def allow(**extra: Any) -> dict[str, Any]:
    """A base Allow for cloudtrail s3:PutObject on the bucket's objects."""
    st: dict[str, Any] = {
        "Sid": "Base",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDTRAIL_SERVICE},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    st.update(extra)
    return st


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# ------------------------------------------------------------------ documented S3 policies

# "Amazon S3 bucket policy for CloudTrail" (current guide, with aws:SourceArn).
S3_DOC = f"""
{{
    "Version": "2012-10-17",
    "Statement": [
        {{
            "Sid": "AWSCloudTrailAclCheck20150319",
            "Effect": "Allow",
            "Principal": {{"Service": "cloudtrail.amazonaws.com"}},
            "Action": "s3:GetBucketAcl",
            "Resource": "arn:aws:s3:::{BUCKET}",
            "Condition": {{
                "StringEquals": {{"aws:SourceArn": "{TRAIL}"}}
            }}
        }},
        {{
            "Sid": "AWSCloudTrailWrite20150319",
            "Effect": "Allow",
            "Principal": {{"Service": "cloudtrail.amazonaws.com"}},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::{BUCKET}/AWSLogs/{ACCT}/*",
            "Condition": {{
                "StringEquals": {{
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "aws:SourceArn": "{TRAIL}"
                }}
            }}
        }}
    ]
}}
"""

# Older guide text: no SourceArn, with a prefix.
S3_DOC_LEGACY_PREFIX = f"""
{{
    "Version": "2012-10-17",
    "Statement": [
        {{
            "Sid": "AWSCloudTrailAclCheck20150319",
            "Effect": "Allow",
            "Principal": {{"Service": "cloudtrail.amazonaws.com"}},
            "Action": "s3:GetBucketAcl",
            "Resource": "arn:aws:s3:::{BUCKET}"
        }},
        {{
            "Sid": "AWSCloudTrailWrite20150319",
            "Effect": "Allow",
            "Principal": {{"Service": "cloudtrail.amazonaws.com"}},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::{BUCKET}/my-prefix/AWSLogs/{ACCT}/*",
            "Condition": {{"StringEquals": {{"s3:x-amz-acl": "bucket-owner-full-control"}}}}
        }}
    ]
}}
"""

# Organization trail bucket policy ("Creating a trail for an organization with the AWS CLI").
S3_ORG_DOC = f"""
{{
    "Version": "2012-10-17",
    "Statement": [
        {{
            "Sid": "AWSCloudTrailAclCheck20150319",
            "Effect": "Allow",
            "Principal": {{"Service": ["cloudtrail.amazonaws.com"]}},
            "Action": "s3:GetBucketAcl",
            "Resource": "arn:aws:s3:::{BUCKET}",
            "Condition": {{"StringEquals": {{"aws:SourceArn": "{ORG_TRAIL}"}}}}
        }},
        {{
            "Sid": "AWSCloudTrailWrite20150319",
            "Effect": "Allow",
            "Principal": {{"Service": ["cloudtrail.amazonaws.com"]}},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::{BUCKET}/AWSLogs/{ACCT}/*",
            "Condition": {{
                "StringEquals": {{
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "aws:SourceArn": "{ORG_TRAIL}"
                }}
            }}
        }},
        {{
            "Sid": "AWSCloudTrailOrganizationWrite20150319",
            "Effect": "Allow",
            "Principal": {{"Service": ["cloudtrail.amazonaws.com"]}},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::{BUCKET}/AWSLogs/{ORG}/*",
            "Condition": {{
                "StringEquals": {{
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "aws:SourceArn": "{ORG_TRAIL}"
                }}
            }}
        }}
    ]
}}
"""


def test_documented_bucket_policy_grants_put() -> None:
    d = put(S3_DOC)
    assert d.outcome is Outcome.ALLOWED
    assert d.sid == "AWSCloudTrailWrite20150319"
    assert d.statement_index == 1
    assert d.statement is not None and d.statement["Action"] == "s3:PutObject"


def test_documented_bucket_policy_grants_acl_check() -> None:
    d = evaluate(
        S3_DOC,
        principal=CT,
        action="s3:GetBucketAcl",
        resource=f"arn:aws:s3:::{BUCKET}",
        context={"aws:SourceArn": TRAIL, "aws:SourceAccount": ACCT},
    )
    assert d.outcome is Outcome.ALLOWED
    assert d.sid == "AWSCloudTrailAclCheck20150319"
    assert d.statement_index == 0


def test_bucket_policy_wrong_source_arn_not_granted() -> None:
    d = put(S3_DOC, source_arn=OTHER_TRAIL)
    assert d.outcome is Outcome.NOT_GRANTED
    assert d.statement is None and d.sid is None
    assert "aws:SourceArn" in d.reason


def test_bucket_policy_missing_acl_not_granted() -> None:
    d = put(S3_DOC, acl=None)
    assert d.outcome is Outcome.NOT_GRANTED
    assert "s3:x-amz-acl" in d.reason


def test_bucket_policy_other_acl_value_not_granted() -> None:
    assert put(S3_DOC, acl="private").outcome is Outcome.NOT_GRANTED


def test_bucket_policy_wrong_account_in_resource_not_granted() -> None:
    # the policy grants AWSLogs/111111111111/*, the trail writes AWSLogs/333333333333/...
    d = put(S3_DOC, key=f"AWSLogs/{OTHER}/CloudTrail/{REGION}/x.json.gz")
    assert d.outcome is Outcome.NOT_GRANTED
    assert "AWSCloudTrailWrite" not in (d.sid or "")


def test_legacy_policy_with_prefix_grants_prefixed_key() -> None:
    assert put(S3_DOC_LEGACY_PREFIX, key=f"my-prefix/{LOG_KEY}").outcome is Outcome.ALLOWED


def test_legacy_policy_wrong_prefix_not_granted() -> None:
    assert put(S3_DOC_LEGACY_PREFIX, key=LOG_KEY).outcome is Outcome.NOT_GRANTED
    assert put(S3_DOC_LEGACY_PREFIX, key=f"other/{LOG_KEY}").outcome is Outcome.NOT_GRANTED


def test_org_bucket_policy_grants_member_logs_under_org_id() -> None:
    key = f"AWSLogs/{ORG}/{MEMBER}/CloudTrail/{REGION}/2024/05/01/x.json.gz"
    d = put(S3_ORG_DOC, key=key, source_arn=ORG_TRAIL)
    assert d.outcome is Outcome.ALLOWED
    assert d.sid == "AWSCloudTrailOrganizationWrite20150319"
    assert d.statement_index == 2


def test_org_bucket_policy_grants_management_account_logs() -> None:
    d = put(S3_ORG_DOC, source_arn=ORG_TRAIL)
    assert d.outcome is Outcome.ALLOWED
    assert d.statement_index == 1


def test_org_bucket_policy_rejects_other_trail() -> None:
    key = f"AWSLogs/{ORG}/{MEMBER}/CloudTrail/{REGION}/x.json.gz"
    assert put(S3_ORG_DOC, key=key, source_arn=TRAIL).outcome is Outcome.NOT_GRANTED


def test_org_bucket_acl_check() -> None:
    d = evaluate(
        S3_ORG_DOC,
        principal=CT,
        action="s3:GetBucketAcl",
        resource=f"arn:aws:s3:::{BUCKET}",
        context={"aws:SourceArn": ORG_TRAIL},
    )
    assert d.outcome is Outcome.ALLOWED


def test_explicit_deny_for_everyone_beats_documented_grant() -> None:
    policy = json.loads(S3_DOC)
    policy["Statement"].append(
        {
            "Sid": "DenyAllPuts",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    )
    d = put(policy)
    assert d.outcome is Outcome.DENIED
    assert d.sid == "DenyAllPuts"
    assert d.statement_index == 2
    assert d.statement is not None and d.statement["Effect"] == "Deny"
    assert "DenyAllPuts" in explain(d)


def test_deny_wins_whatever_the_order() -> None:
    deny = {
        "Sid": "D",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": "*",
    }
    assert put(doc(deny, allow())).outcome is Outcome.DENIED
    assert put(doc(allow(), deny)).outcome is Outcome.DENIED


# ------------------------------------------------------------------ documented KMS policies

KMS_DOC = f"""
{{
    "Version": "2012-10-17",
    "Id": "Key policy created by CloudTrail",
    "Statement": [
        {{
            "Sid": "Enable IAM user permissions",
            "Effect": "Allow",
            "Principal": {{"AWS": ["arn:aws:iam::{ACCT}:root"]}},
            "Action": "kms:*",
            "Resource": "*"
        }},
        {{
            "Sid": "Allow CloudTrail to encrypt logs",
            "Effect": "Allow",
            "Principal": {{"Service": "cloudtrail.amazonaws.com"}},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {{
                "StringEquals": {{"aws:SourceArn": "{TRAIL}"}},
                "StringLike": {{
                    "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:{ACCT}:trail/*"
                }}
            }}
        }},
        {{
            "Sid": "Allow CloudTrail to describe key",
            "Effect": "Allow",
            "Principal": {{"Service": "cloudtrail.amazonaws.com"}},
            "Action": "kms:DescribeKey",
            "Resource": "*"
        }}
    ]
}}
"""

# "Granting encrypt permissions" example with two accounts, no SourceArn.
KMS_DOC_TWO_ACCOUNTS = f"""
{{
    "Version": "2012-10-17",
    "Statement": [{{
        "Sid": "Enable CloudTrail Encrypt Permissions",
        "Effect": "Allow",
        "Principal": {{"Service": "cloudtrail.amazonaws.com"}},
        "Action": "kms:GenerateDataKey*",
        "Resource": "*",
        "Condition": {{
            "StringLike": {{
                "kms:EncryptionContext:aws:cloudtrail:arn": [
                    "arn:aws:cloudtrail:*:{ACCT}:trail/*",
                    "arn:aws:cloudtrail:*:{MEMBER}:trail/*"
                ]
            }}
        }}
    }}]
}}
"""


def kms_ctx(trail: str = TRAIL) -> dict[str, str]:
    return {
        "aws:SourceArn": trail,
        "aws:SourceAccount": trail.split(":")[4],
        "kms:EncryptionContext:aws:cloudtrail:arn": trail,
    }


def kms(policy: Any, action: str = "kms:GenerateDataKey", trail: str = TRAIL) -> Decision:
    return evaluate(policy, principal=CT, action=action, resource=KEY_ARN, context=kms_ctx(trail))


def test_documented_kms_policy_grants_generate_data_key() -> None:
    d = kms(KMS_DOC)
    assert d.outcome is Outcome.ALLOWED
    assert d.sid == "Allow CloudTrail to encrypt logs"


def test_documented_kms_policy_grants_describe_key() -> None:
    d = kms(KMS_DOC, action="kms:DescribeKey")
    assert d.outcome is Outcome.ALLOWED
    assert d.sid == "Allow CloudTrail to describe key"


def test_kms_root_statement_does_not_cover_service_principal() -> None:
    # only the account root is named by statement 0; a service principal is not in an account
    d = kms(KMS_DOC, action="kms:Decrypt")
    assert d.outcome is Outcome.NOT_GRANTED


def test_kms_wrong_trail_not_granted() -> None:
    assert kms(KMS_DOC, trail=OTHER_TRAIL).outcome is Outcome.NOT_GRANTED


def test_kms_two_account_example_grants_both_accounts_only() -> None:
    member_trail = f"arn:aws:cloudtrail:eu-west-1:{MEMBER}:trail/t"
    assert kms(KMS_DOC_TWO_ACCOUNTS).outcome is Outcome.ALLOWED
    assert kms(KMS_DOC_TWO_ACCOUNTS, trail=member_trail).outcome is Outcome.ALLOWED
    assert kms(KMS_DOC_TWO_ACCOUNTS, trail=OTHER_TRAIL).outcome is Outcome.NOT_GRANTED


def test_kms_org_trail_uses_management_account_context() -> None:
    # an organization trail's encryption context is the management account's trail ARN
    policy = policy_document([cloudtrail_kms_statement(ACCT, ORG_TRAIL)])
    assert kms(policy, trail=ORG_TRAIL).outcome is Outcome.ALLOWED
    assert kms(policy, trail=TRAIL).outcome is Outcome.NOT_GRANTED


def test_kms_generate_data_key_wildcard_covers_variants_not_decrypt() -> None:
    assert kms(KMS_DOC_TWO_ACCOUNTS, "kms:GenerateDataKeyWithoutPlaintext").allowed
    assert kms(KMS_DOC_TWO_ACCOUNTS, "kms:Decrypt").outcome is Outcome.NOT_GRANTED


# ------------------------------------------------------------------ documented SNS policies

SNS_DOC_DEFAULT = f"""
{{
    "Version": "2012-10-17",
    "Statement": [
        {{
            "Sid": "AWSCloudTrailSNSPolicy20131101",
            "Effect": "Allow",
            "Principal": {{"Service": "cloudtrail.amazonaws.com"}},
            "Action": "SNS:Publish",
            "Resource": "{TOPIC}"
        }}
    ]
}}
"""

SNS_DOC_SOURCE_ARN = f"""
{{
    "Version": "2012-10-17",
    "Statement": [{{
        "Sid": "AWSCloudTrailSNSPolicy20150319",
        "Effect": "Allow",
        "Principal": {{"Service": "cloudtrail.amazonaws.com"}},
        "Action": "SNS:Publish",
        "Resource": "{TOPIC}",
        "Condition": {{"StringEquals": {{"aws:SourceArn": "{TRAIL}"}}}}
    }}]
}}
"""


def sns(policy: Any, trail: str = TRAIL, topic: str = TOPIC) -> Decision:
    return evaluate(
        policy,
        principal=CT,
        action="sns:Publish",
        resource=topic,
        context={"aws:SourceArn": trail, "aws:SourceAccount": trail.split(":")[4]},
    )


def test_documented_sns_default_policy_grants_publish_case_insensitive_action() -> None:
    d = sns(SNS_DOC_DEFAULT)
    assert d.outcome is Outcome.ALLOWED
    assert d.sid == "AWSCloudTrailSNSPolicy20131101"


def test_documented_sns_source_arn_policy() -> None:
    assert sns(SNS_DOC_SOURCE_ARN).outcome is Outcome.ALLOWED
    assert sns(SNS_DOC_SOURCE_ARN, trail=OTHER_TRAIL).outcome is Outcome.NOT_GRANTED


def test_sns_org_trail_source_arn() -> None:
    policy = policy_document([cloudtrail_sns_statement(TOPIC, ORG_TRAIL)])
    assert sns(policy, trail=ORG_TRAIL).outcome is Outcome.ALLOWED


def test_sns_other_topic_not_granted() -> None:
    other = f"arn:aws:sns:{REGION}:{ACCT}:another-topic"
    assert sns(SNS_DOC_DEFAULT, topic=other).outcome is Outcome.NOT_GRANTED


# ------------------------------------------------------------------ CloudWatch Logs role

CW_PERMISSIONS_DOC = f"""
{{
  "Version": "2012-10-17",
  "Statement": [
    {{
      "Sid": "AWSCloudTrailCreateLogStream2014110",
      "Effect": "Allow",
      "Action": ["logs:CreateLogStream"],
      "Resource": ["{GROUP}:log-stream:{ACCT}_CloudTrail_{REGION}*"]
    }},
    {{
      "Sid": "AWSCloudTrailPutLogEvents20141101",
      "Effect": "Allow",
      "Action": ["logs:PutLogEvents"],
      "Resource": ["{GROUP}:log-stream:{ACCT}_CloudTrail_{REGION}*"]
    }}
  ]
}}
"""

TRUST_DOC = """
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "",
      "Effect": "Allow",
      "Principal": {"Service": "cloudtrail.amazonaws.com"},
      "Action": "sts:AssumeRole"
    }
  ]
}
"""


def test_trust_policy_lets_cloudtrail_assume_role() -> None:
    d = evaluate(TRUST_DOC, principal=CT, action="sts:AssumeRole", resource=ROLE)
    assert d.outcome is Outcome.ALLOWED
    assert d.statement_index == 0


def test_trust_policy_for_another_service_is_not_a_grant() -> None:
    policy = json.loads(TRUST_DOC)
    policy["Statement"][0]["Principal"] = {"Service": "ec2.amazonaws.com"}
    d = evaluate(policy, principal=CT, action="sts:AssumeRole", resource=ROLE)
    assert d.outcome is Outcome.NOT_GRANTED


@pytest.mark.parametrize("action", ["logs:CreateLogStream", "logs:PutLogEvents"])
def test_role_permissions_grant_delivery(action: str) -> None:
    d = evaluate(
        CW_PERMISSIONS_DOC,
        principal=Principal.aws_(ROLE),
        action=action,
        resource=STREAM,
        identity_policy=True,
    )
    assert d.outcome is Outcome.ALLOWED
    assert d.sid is not None and action.split(":")[1] in d.sid


def test_role_permissions_other_log_group_not_granted() -> None:
    other = f"arn:aws:logs:{REGION}:{ACCT}:log-group:other:log-stream:{ACCT}_CloudTrail_{REGION}"
    d = evaluate(
        CW_PERMISSIONS_DOC,
        principal=Principal.aws_(ROLE),
        action="logs:PutLogEvents",
        resource=other,
        identity_policy=True,
    )
    assert d.outcome is Outcome.NOT_GRANTED


def test_role_permissions_missing_put_log_events() -> None:
    policy = json.loads(CW_PERMISSIONS_DOC)
    del policy["Statement"][1]
    d = evaluate(
        policy,
        principal=Principal.aws_(ROLE),
        action="logs:PutLogEvents",
        resource=STREAM,
        identity_policy=True,
    )
    assert d.outcome is Outcome.NOT_GRANTED


def test_identity_policy_mode_ignores_principal_and_applies_deny() -> None:
    policy = doc(
        {"Effect": "Allow", "Action": "logs:*", "Resource": "*"},
        {"Sid": "NoPut", "Effect": "Deny", "Action": "logs:PutLogEvents", "Resource": f"{GROUP}:*"},
    )
    role = Principal.aws_(ROLE)
    create = evaluate(
        policy, principal=role, action="logs:CreateLogStream", resource=STREAM, identity_policy=True
    )
    put_events = evaluate(
        policy, principal=role, action="logs:PutLogEvents", resource=STREAM, identity_policy=True
    )
    assert create.outcome is Outcome.ALLOWED
    assert put_events.outcome is Outcome.DENIED and put_events.sid == "NoPut"


def test_resource_policy_mode_requires_a_principal() -> None:
    # the same identity-style statement, read as a resource policy, names nobody
    policy = doc({"Effect": "Allow", "Action": "logs:*", "Resource": "*"})
    d = evaluate(policy, principal=CT, action="logs:PutLogEvents", resource=STREAM)
    assert d.outcome is Outcome.NOT_GRANTED


# ------------------------------------------------------------------ builders vs documentation


def test_builder_bucket_statements_match_documentation() -> None:
    built = policy_document(cloudtrail_bucket_statements(BUCKET, None, [ACCT], TRAIL))
    assert built == json.loads(S3_DOC)


def test_builder_org_bucket_statements_match_documentation() -> None:
    built = policy_document(cloudtrail_bucket_statements(BUCKET, "", [ACCT, ORG], ORG_TRAIL))
    expected = json.loads(S3_ORG_DOC)
    for st in expected["Statement"]:  # the guide writes the service as a one-element list
        st["Principal"] = {"Service": CLOUDTRAIL_SERVICE}
    assert built == expected


def test_builder_bucket_statements_with_prefix_and_source_account() -> None:
    sts = cloudtrail_bucket_statements(BUCKET, "/my-prefix/", ACCT, None, source_account=ACCT)
    assert sts[1]["Resource"] == f"arn:aws:s3:::{BUCKET}/my-prefix/AWSLogs/{ACCT}/*"
    assert sts[1]["Condition"] == {"StringEquals": {"s3:x-amz-acl": ACL, "aws:SourceAccount": ACCT}}
    assert put(policy_document(sts), key=f"my-prefix/{LOG_KEY}").outcome is Outcome.ALLOWED


def test_builder_kms_statements_match_documentation() -> None:
    expected = json.loads(KMS_DOC)["Statement"]
    assert cloudtrail_kms_statement(ACCT, TRAIL) == expected[1]
    assert cloudtrail_kms_describe_statement() == expected[2]
    legacy = json.loads(KMS_DOC_TWO_ACCOUNTS)["Statement"][0]
    built = cloudtrail_kms_statement([ACCT, MEMBER])
    assert built["Condition"] == legacy["Condition"]


def test_builder_sns_statement_matches_documentation() -> None:
    assert cloudtrail_sns_statement(TOPIC, TRAIL) == json.loads(SNS_DOC_SOURCE_ARN)["Statement"][0]


def test_builder_cloudwatch_policies_match_documentation() -> None:
    assert cloudwatch_role_permissions(GROUP + ":*") == json.loads(CW_PERMISSIONS_DOC)
    trust = json.loads(TRUST_DOC)
    del trust["Statement"][0]["Sid"]
    assert cloudwatch_role_trust_policy() == trust


def test_builder_cloudwatch_org_streams() -> None:
    policy = cloudwatch_role_permissions(GROUP, ACCT, REGION, org_id=ORG)
    member_stream = f"{GROUP}:log-stream:{ORG}_{MEMBER}_CloudTrail_{REGION}"
    d = evaluate(
        policy,
        principal=Principal.aws_(ROLE),
        action="logs:PutLogEvents",
        resource=member_stream,
        identity_policy=True,
    )
    assert d.outcome is Outcome.ALLOWED


# ------------------------------------------------------------------ wildcards


@pytest.mark.parametrize(
    ("pattern", "outcome"),
    [
        ("s3:Put*", Outcome.ALLOWED),
        ("s3:*Object", Outcome.ALLOWED),
        ("s3:P?tObject", Outcome.ALLOWED),
        ("*", Outcome.ALLOWED),
        ("S3:PUTOBJECT", Outcome.ALLOWED),  # actions are case-insensitive
        ("s3:Get*", Outcome.NOT_GRANTED),
        ("s3:PutObjectAcl", Outcome.NOT_GRANTED),
        ("s3:P?Object", Outcome.NOT_GRANTED),  # ? is exactly one character
    ],
)
def test_action_wildcards(pattern: str, outcome: Outcome) -> None:
    assert put(doc(allow(Action=pattern))).outcome is outcome


@pytest.mark.parametrize(
    ("pattern", "outcome"),
    [
        (f"arn:aws:s3:::{BUCKET}/*", Outcome.ALLOWED),
        (f"arn:aws:s3:::{BUCKET}/AWSLogs/*/CloudTrail/*", Outcome.ALLOWED),
        (f"arn:aws:s3:::{BUCKET}/AWSLogs/11111111111?/*", Outcome.ALLOWED),
        ("arn:aws:s3:::amzn-s3-*", Outcome.ALLOWED),
        ("*", Outcome.ALLOWED),
        ("arn:aws:s3:::AMZN-S3-DEMO-BUCKET/*", Outcome.NOT_GRANTED),  # case-sensitive
        (f"arn:aws:s3:::{BUCKET}", Outcome.NOT_GRANTED),  # the bucket, not its objects
        (f"arn:aws:s3:::{BUCKET}/AWSLogs/{OTHER}/*", Outcome.NOT_GRANTED),
    ],
)
def test_resource_wildcards(pattern: str, outcome: Outcome) -> None:
    assert put(doc(allow(Resource=pattern))).outcome is outcome


def test_resource_list() -> None:
    policy = doc(allow(Resource=[f"arn:aws:s3:::{BUCKET}/x/*", f"arn:aws:s3:::{BUCKET}/AWSLogs/*"]))
    assert put(policy).outcome is Outcome.ALLOWED


# ------------------------------------------------------------------ Not* elements


def test_not_principal_deny_hits_everyone_else() -> None:
    deny = {
        "Sid": "OnlyAdmin",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCT}:role/Admin"},
        "Action": "s3:*",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    d = put(doc(allow(), deny))
    assert d.outcome is Outcome.DENIED and d.sid == "OnlyAdmin"


def test_not_principal_deny_spares_the_named_service() -> None:
    deny = {
        "Effect": "Deny",
        "NotPrincipal": {"Service": [CLOUDTRAIL_SERVICE, "config.amazonaws.com"]},
        "Action": "s3:*",
        "Resource": "*",
    }
    d = put(doc(allow(), deny))
    assert d.outcome is Outcome.ALLOWED and d.sid == "Base"


def test_not_action_deny() -> None:
    deny = {
        "Sid": "ReadOnly",
        "Effect": "Deny",
        "Principal": "*",
        "NotAction": "s3:Get*",
        "Resource": "*",
    }
    assert put(doc(allow(), deny)).outcome is Outcome.DENIED
    get = evaluate(
        doc(allow(Action="s3:*"), deny), principal=CT, action="s3:GetObject", resource=obj("k")
    )
    assert get.outcome is Outcome.ALLOWED


def test_not_action_allow() -> None:
    st = allow(NotAction=["s3:Delete*", "s3:PutBucketPolicy"])
    del st["Action"]
    assert put(doc(st)).outcome is Outcome.ALLOWED
    d = evaluate(doc(st), principal=CT, action="s3:DeleteObject", resource=obj("k"))
    assert d.outcome is Outcome.NOT_GRANTED


def test_not_resource_deny() -> None:
    deny = {
        "Sid": "OnlyLogs",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "NotResource": f"arn:aws:s3:::{BUCKET}/AWSLogs/*",
    }
    assert put(doc(allow(), deny)).outcome is Outcome.ALLOWED
    d = put(doc(allow(), deny), key="elsewhere/file")
    assert d.outcome is Outcome.DENIED and d.sid == "OnlyLogs"


# ------------------------------------------------------------------ principals


@pytest.mark.parametrize(
    ("spec", "who", "matches"),
    [
        ("*", CT, True),
        ({"AWS": "*"}, CT, True),  # equivalent to "*"
        ({"Service": CLOUDTRAIL_SERVICE}, CT, True),
        ({"Service": ["config.amazonaws.com", CLOUDTRAIL_SERVICE]}, CT, True),
        ({"Service": "config.amazonaws.com"}, CT, False),
        ({"AWS": f"arn:aws:iam::{ACCT}:root"}, CT, False),  # a service is in no account
        ({"Federated": "cognito-identity.amazonaws.com"}, CT, False),
        ({"AWS": ACCT}, Principal.aws_(ROLE), True),
        ({"AWS": f"arn:aws:iam::{ACCT}:root"}, Principal.aws_(ROLE), True),
        ({"AWS": ROLE}, Principal.aws_(ROLE), True),
        ({"AWS": f"arn:aws:iam::{ACCT}:role/Other"}, Principal.aws_(ROLE), False),
        ({"AWS": OTHER}, Principal.aws_(ROLE), False),
        ({"AWS": ACCT}, Principal(aws="arn:aws:sts::x", account=ACCT), True),
        # a legacy per-region CloudTrail account, when the caller names it as well
        (
            {"AWS": "arn:aws:iam::475085895292:root"},
            Principal(CLOUDTRAIL_SERVICE, "475085895292"),
            True,
        ),
    ],
)
def test_principal_forms(spec: Any, who: Principal, matches: bool) -> None:
    st = allow(Principal=spec)
    d = evaluate(doc(st), principal=who, action="s3:PutObject", resource=obj(LOG_KEY))
    assert d.outcome is (Outcome.ALLOWED if matches else Outcome.NOT_GRANTED)


def test_unknown_principal_type_is_unknown() -> None:
    d = put(doc(allow(Principal={"Martian": "x"})))
    assert d.outcome is Outcome.UNKNOWN


# ------------------------------------------------------------------ conditions


def cond(c: dict[str, Any], **ctx: Any) -> Outcome:
    """Outcome of the base Allow guarded by condition ``c`` in context ``ctx``."""
    d = evaluate(
        doc(allow(Condition=c)),
        principal=CT,
        action="s3:PutObject",
        resource=obj(LOG_KEY),
        context=ctx,
    )
    return d.outcome


A, N, U = Outcome.ALLOWED, Outcome.NOT_GRANTED, Outcome.UNKNOWN
SRC = {"aws:SourceArn": TRAIL}


def test_string_like_source_arn_wildcard() -> None:
    c = {"StringLike": {"aws:SourceArn": f"arn:aws:cloudtrail:*:{ACCT}:trail/*"}}
    assert cond(c, **SRC) is A
    assert cond(c, **{"aws:SourceArn": OTHER_TRAIL}) is N
    assert cond(c) is N  # missing key: positive operator is false


def test_arn_like_compares_components() -> None:
    assert cond({"ArnLike": {"aws:SourceArn": f"arn:aws:cloudtrail:*:{ACCT}:trail/*"}}, **SRC) is A
    assert cond({"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:*:*"}}, **SRC) is A
    assert (
        cond({"ArnLike": {"aws:SourceArn": f"arn:aws:cloudtrail:eu-*:{ACCT}:trail/*"}}, **SRC) is N
    )
    # the "*" may not span components: this pattern has only five of them
    assert cond({"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:trail/main"}}, **SRC) is N
    # ... while StringLike treats the ARN as a plain string
    assert cond({"StringLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:trail/main"}}, **SRC) is A


def test_arn_equals_and_negations() -> None:
    assert cond({"ArnEquals": {"aws:SourceArn": TRAIL}}, **SRC) is A
    assert cond({"ArnNotEquals": {"aws:SourceArn": TRAIL}}, **SRC) is N
    assert cond({"ArnNotLike": {"aws:SourceArn": f"arn:aws:cloudtrail:*:{OTHER}:*"}}, **SRC) is A


def test_condition_value_list_is_or() -> None:
    assert cond({"StringEquals": {"aws:SourceArn": [OTHER_TRAIL, TRAIL]}}, **SRC) is A
    assert cond({"StringEquals": {"aws:SourceArn": [OTHER_TRAIL, ORG_TRAIL]}}, **SRC) is N
    # negated operator with a list: the value must differ from all of them
    assert cond({"StringNotEquals": {"aws:SourceArn": [OTHER_TRAIL, TRAIL]}}, **SRC) is N


def test_several_keys_and_operators_are_and() -> None:
    ctx = {"aws:SourceArn": TRAIL, "s3:x-amz-acl": ACL}
    both = {"StringEquals": {"aws:SourceArn": TRAIL, "s3:x-amz-acl": ACL}}
    assert cond(both, **ctx) is A
    assert cond(both, **{"aws:SourceArn": TRAIL, "s3:x-amz-acl": "private"}) is N
    two_ops = {"StringEquals": {"s3:x-amz-acl": ACL}, "ArnLike": {"aws:SourceArn": OTHER_TRAIL}}
    assert cond(two_ops, **ctx) is N


def test_if_exists_with_missing_key() -> None:
    c = {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}
    assert cond(c) is A  # key absent: IfExists is true
    assert cond(c, **{"aws:SourceVpce": "vpce-1a2b3c4d"}) is A
    assert cond(c, **{"aws:SourceVpce": "vpce-99999999"}) is N
    assert cond({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}) is N


def test_negated_operator_with_missing_key_is_true() -> None:
    deny = {
        "Sid": "OnlyOurAccount",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:SourceAccount": ACCT}},
    }
    policy = doc(allow(), deny)
    absent = evaluate(
        policy, principal=CT, action="s3:PutObject", resource=obj(LOG_KEY), context={}
    )
    assert absent.outcome is Outcome.DENIED and absent.sid == "OnlyOurAccount"
    assert put(policy).outcome is Outcome.ALLOWED  # SourceAccount = ACCT


def test_not_ip_address_deny_blocks_service_without_source_ip() -> None:
    deny = {
        "Sid": "CorpNetworkOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}},
    }
    policy = doc(allow(), deny)
    assert put(policy).outcome is Outcome.DENIED
    inside = evaluate(
        policy,
        principal=CT,
        action="s3:PutObject",
        resource=obj(LOG_KEY),
        context={"aws:SourceIp": "10.1.2.3"},
    )
    assert inside.outcome is Outcome.ALLOWED


def test_null_operator() -> None:
    assert cond({"Null": {"aws:SourceArn": "false"}}, **SRC) is A  # key must be present
    assert cond({"Null": {"aws:SourceArn": "false"}}) is N
    assert cond({"Null": {"aws:SourceArn": "true"}}) is A  # key must be absent
    assert cond({"Null": {"aws:SourceArn": True}}, **SRC) is N  # JSON boolean accepted


def test_bool_operator() -> None:
    assert cond({"Bool": {"aws:SecureTransport": "true"}}, **{"aws:SecureTransport": "true"}) is A
    assert cond({"Bool": {"aws:SecureTransport": "true"}}, **{"aws:SecureTransport": "false"}) is N
    assert cond({"Bool": {"aws:SecureTransport": "true"}}) is N
    assert cond({"BoolIfExists": {"aws:SecureTransport": "true"}}) is A


def test_for_any_value() -> None:
    c = {"ForAnyValue:StringEquals": {"aws:PrincipalServiceNamesList": CLOUDTRAIL_SERVICE}}
    assert (
        cond(c, **{"aws:PrincipalServiceNamesList": ["other.amazonaws.com", CLOUDTRAIL_SERVICE]})
        is A
    )
    assert cond(c, **{"aws:PrincipalServiceNamesList": ["other.amazonaws.com"]}) is N
    assert cond(c) is N  # missing key: ForAnyValue is false


def test_for_all_values() -> None:
    c = {"ForAllValues:StringLike": {"aws:TagKeys": ["Created*", "Owner"]}}
    assert cond(c, **{"aws:TagKeys": ["CreatedBy", "CreatedAt", "Owner"]}) is A
    assert cond(c, **{"aws:TagKeys": ["CreatedBy", "Team"]}) is N
    assert cond(c) is A  # missing key: ForAllValues is true


def test_multivalued_key_without_set_operator_is_unknown() -> None:
    c = {"StringEquals": {"aws:TagKeys": "Owner"}}
    assert cond(c, **{"aws:TagKeys": ["Owner", "Team"]}) is U
    assert cond(c, **{"aws:TagKeys": ["Owner"]}) is A  # one value: single-valued


def test_condition_keys_case_insensitive_values_case_sensitive() -> None:
    assert cond({"StringEquals": {"AWS:SOURCEARN": TRAIL}}, **SRC) is A
    assert cond({"StringEquals": {"aws:sourcearn": TRAIL}}, **{"Aws:SourceArn": TRAIL}) is A
    assert cond({"StringEquals": {"aws:SourceArn": TRAIL.upper()}}, **SRC) is N
    assert cond({"StringLike": {"aws:SourceArn": TRAIL.upper()}}, **SRC) is N
    assert cond({"StringEqualsIgnoreCase": {"aws:SourceArn": TRAIL.upper()}}, **SRC) is A
    assert cond({"StringNotEqualsIgnoreCase": {"aws:SourceArn": TRAIL.upper()}}, **SRC) is N


def test_numeric_operator() -> None:
    c = {"NumericLessThanEquals": {"s3:max-keys": "10"}}
    assert cond(c, **{"s3:max-keys": "7"}) is A
    assert cond(c, **{"s3:max-keys": "11"}) is N


# ------------------------------------------------------------------ cannot tell


def test_unknown_operator_in_matching_allow_is_unknown() -> None:
    d = put(doc(allow(Condition={"StringFancy": {"aws:SourceArn": TRAIL}})))
    assert d.outcome is Outcome.UNKNOWN
    assert "StringFancy" in d.reason
    assert d.statement_index == 0 and d.sid == "Base"
    assert explain(d).startswith("cannot tell")


def test_unsupported_operators_are_unknown_never_allowed() -> None:
    assert cond({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}) is U
    assert cond({"BinaryEquals": {"x:key": "QmluYXJ5"}}, **{"x:key": "QmluYXJ5"}) is U
    assert cond({"ForSomeValues:StringEquals": {"aws:SourceArn": TRAIL}}, **SRC) is U


def test_unknown_operator_irrelevant_when_action_does_not_match() -> None:
    other = {
        "Sid": "Reads",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"StringFancy": {"aws:SourceArn": TRAIL}},
    }
    d = put(doc(allow(), other))
    assert d.outcome is Outcome.ALLOWED and d.sid == "Base"


def test_unknown_operator_with_a_false_condition_cannot_apply() -> None:
    c = {"StringFancy": {"aws:SourceArn": TRAIL}, "StringEquals": {"s3:x-amz-acl": "private"}}
    assert cond(c, **{"s3:x-amz-acl": ACL}) is N


def test_unknown_operator_in_deny_that_could_apply_makes_allow_unknown() -> None:
    deny = {
        "Sid": "Maybe",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "*",
        "Condition": {"StringFancy": {"aws:SourceArn": TRAIL}},
    }
    d = put(doc(allow(), deny))
    assert d.outcome is Outcome.UNKNOWN
    assert d.sid == "Maybe"


def test_unknown_deny_without_any_grant_stays_not_granted() -> None:
    deny = {
        "Sid": "Maybe",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringFancy": {"k": "v"}},
    }
    d = put(doc(deny))
    assert d.outcome is Outcome.NOT_GRANTED
    assert "Maybe" in d.reason


def test_policy_variable_in_resource_is_unknown() -> None:
    d = put(doc(allow(Resource="arn:aws:s3:::${aws:username}/*")))
    assert d.outcome is Outcome.UNKNOWN
    # in the 2008 language version variables are literal text: simply no match
    legacy = {
        "Version": "2008-10-17",
        "Statement": [allow(Resource="arn:aws:s3:::${aws:username}/*")],
    }
    assert put(legacy).outcome is Outcome.NOT_GRANTED


def test_invalid_effect_is_unknown() -> None:
    assert put(doc(allow(Effect="allow"))).outcome is Outcome.UNKNOWN


# ------------------------------------------------------------------ documents


def test_malformed_json() -> None:
    text = '{"Version": "2012-10-17", "Statement": [ {"Effect": "Allow",'
    with pytest.raises(PolicyError):
        parse_policy(text)
    d = put(text)
    assert d.outcome is Outcome.UNKNOWN
    assert "malformed" in d.reason


def test_non_object_documents() -> None:
    with pytest.raises(PolicyError):
        parse_policy("[]")
    with pytest.raises(PolicyError):
        parse_policy({"Statement": "Allow everything"})


def test_missing_statement_or_policy_grants_nothing() -> None:
    assert put({"Version": "2012-10-17"}).outcome is Outcome.NOT_GRANTED
    assert put(None).outcome is Outcome.NOT_GRANTED
    assert put(doc()).outcome is Outcome.NOT_GRANTED


def test_statement_as_single_object_and_json_text() -> None:
    single = {"Version": "2012-10-17", "Statement": allow()}
    assert put(single).outcome is Outcome.ALLOWED
    assert put(json.dumps(single)).outcome is Outcome.ALLOWED
    assert parse_policy(json.dumps(single).encode())["Statement"]["Sid"] == "Base"


def test_decision_is_frozen_and_explained() -> None:
    d = put(S3_DOC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.outcome = Outcome.DENIED  # type: ignore[misc]
    assert explain(d).startswith("allowed")
    assert "AWSCloudTrailWrite20150319" in explain(d)
    missing = put(S3_DOC, acl=None)
    assert explain(missing).startswith("not granted")


# ------------------------------------------------------------------ known, absent, unknowable


def with_ctx(policy: Any, ctx: Any) -> Decision:
    return evaluate(policy, principal=CT, action="s3:PutObject", resource=obj(LOG_KEY), context=ctx)


def ctx_cond(c: dict[str, Any], ctx: Any) -> Outcome:
    return with_ctx(doc(allow(Condition=c)), ctx).outcome


#: An open context: aws:SourceArn known, aws:PrincipalOrgID known absent, the rest unknowable.
OPEN = RequestContext(
    SRC,
    absent=["aws:PrincipalOrgID", "aws:PrincipalTag/*"],
    unknown={"aws:SourceIp": "the network of a service principal is not documented"},
    open_world=True,
    why="not documented for this request",
)


def test_plain_mapping_is_a_closed_world() -> None:
    # A key the mapping lacks is absent: IAM semantics, never "cannot tell".
    assert ctx_cond({"StringEquals": {"aws:SourceIp": "192.0.2.1"}}, SRC) is N
    assert ctx_cond({"StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}, SRC) is A
    assert ctx_cond({"Null": {"aws:SourceVpc": "true"}}, SRC) is A
    closed = RequestContext(SRC)
    assert ctx_cond({"StringEquals": {"aws:SourceIp": "192.0.2.1"}}, closed) is N


@pytest.mark.parametrize(
    "c",
    [
        {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        {"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}},
        {"StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-1"}},
        {"Null": {"aws:SourceVpc": "true"}},
        {"Null": {"aws:SourceVpc": "false"}},
        {"BoolIfExists": {"aws:ViaAWSService": "false"}},
        {"ForAllValues:StringEquals": {"aws:SourceOrgPaths": "o-x/r-y/"}},
        {"ForAnyValue:StringLike": {"aws:SourceOrgPaths": "o-x/*"}},
    ],
    ids=lambda c: next(iter(c)),
)
def test_unknowable_key_is_cannot_tell_whatever_the_operator(c: dict[str, Any]) -> None:
    assert ctx_cond(c, OPEN) is U


def test_unknowable_key_reason_is_given() -> None:
    d = with_ctx(doc(allow(Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})), OPEN)
    assert d.outcome is Outcome.UNKNOWN
    assert "aws:SourceIp" in d.reason and "network of a service principal" in d.reason
    d = with_ctx(doc(allow(Condition={"StringEquals": {"aws:SourceOrgID": "o-x"}})), OPEN)
    assert d.outcome is Outcome.UNKNOWN
    assert "aws:SourceOrgID" in d.reason and "not documented for this request" in d.reason


def test_known_absent_key_follows_iam_semantics_in_an_open_context() -> None:
    assert ctx_cond({"StringEquals": {"aws:PrincipalOrgID": "o-x"}}, OPEN) is N
    assert ctx_cond({"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-x"}}, OPEN) is A
    assert ctx_cond({"Null": {"aws:PrincipalOrgID": "true"}}, OPEN) is A
    # Patterns, case-insensitive.
    assert ctx_cond({"StringEquals": {"AWS:PrincipalTag/team": "ops"}}, OPEN) is N


def test_known_key_in_an_open_context() -> None:
    assert ctx_cond({"ArnEquals": {"aws:SourceArn": TRAIL}}, OPEN) is A
    assert ctx_cond({"ArnEquals": {"aws:SourceArn": OTHER_TRAIL}}, OPEN) is N


def test_a_false_condition_wins_over_an_unknowable_one() -> None:
    # Conditions are ANDed: one false condition means the statement does not apply.
    c = {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}, "ArnEquals": {"aws:SourceArn": OTHER_TRAIL}}
    assert ctx_cond(c, OPEN) is N
    deny = {
        "Sid": "Perimeter",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {
            "NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"},
            "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
        },
    }
    service = OPEN.with_values({"aws:PrincipalIsAWSService": "true"})
    assert with_ctx(doc(allow(), deny), service).outcome is Outcome.ALLOWED
    # Without the service key the Deny might apply: cannot tell, never allowed.
    unsure = with_ctx(doc(allow(), deny), OPEN)
    assert unsure.outcome is Outcome.UNKNOWN and unsure.sid == "Perimeter"


def test_unknowable_deny_without_a_grant_is_not_granted_not_denied() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
    }
    d = with_ctx(doc(deny), OPEN)
    assert d.outcome is Outcome.NOT_GRANTED
    assert "could not be evaluated" in d.reason


def test_request_context_derivations() -> None:
    assert isinstance(OPEN, dict) and dict(OPEN) == SRC
    more = OPEN.with_values({"aws:SourceIp": "192.0.2.7"})
    assert ctx_cond({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, more) is A
    assert ctx_cond({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, OPEN) is U  # unchanged
    lost = OPEN.with_unknown({"aws:SourceArn": "not read"})
    assert "aws:SourceArn" not in lost
    assert ctx_cond({"ArnEquals": {"aws:SourceArn": TRAIL}}, lost) is U
    gone = OPEN.with_absent(["aws:SourceIp"])
    assert ctx_cond({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, gone) is N
    assert ctx_cond({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, gone) is A
    # dict() keeps only the known keys: a closed world.
    assert ctx_cond({"StringEquals": {"aws:SourceOrgID": "o-x"}}, dict(OPEN)) is N


def test_list_and_bool_values_in_a_request_context() -> None:
    ctx = RequestContext(
        {"kms:EncryptionContextKeys": ["aws:cloudtrail:arn", "aws:s3:arn"], "flag": True}
    )
    both = {
        "ForAllValues:StringEquals": {
            "kms:EncryptionContextKeys": ["aws:cloudtrail:arn", "aws:s3:arn"]
        }
    }
    assert ctx_cond(both, ctx) is A
    one = {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["aws:cloudtrail:arn"]}}
    assert ctx_cond(one, ctx) is N
    assert ctx_cond({"Bool": {"flag": "true"}}, ctx) is A
