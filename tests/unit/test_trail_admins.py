"""Who administers CloudTrail, as Organizations tells the profiles' accounts: a final answer
changes it, a passing failure does not, and a plain member is not asked every sweep. The
calls are answered by a table here (the seam is `TrailAdmins.refresh`'s `call`), not AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from botocore.exceptions import ClientError

from core.aws.collect import Account
from core.aws.trail_admins import REASK_REFUSED, TrailAdmins

MGMT, SEC, DEV = "111111111111", "222222222222", "333333333333"
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _err(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, "op")


def _base(account_id: str, profile: str) -> Account:
    return Account(account_id, profile, cast(Any, None), f"profile:{profile}", "us-east-1")


class Org:
    """Answers DescribeOrganization and ListDelegatedAdministrators per account."""

    def __init__(self) -> None:
        self.admins = [SEC]
        self.fail: dict[tuple[str, str], ClientError] = {}
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, acct: Account, op: str, **kw: Any) -> Any:
        self.asked.append((acct.account_id, op))
        if (acct.account_id, op) in self.fail:
            raise self.fail[(acct.account_id, op)]
        if op == "describe_organization":
            return {"Organization": {"Id": "o-abc", "MasterAccountId": MGMT}}
        assert kw == {"ServicePrincipal": "cloudtrail.amazonaws.com"}
        if acct.account_id not in (MGMT, *self.admins):
            raise _err("AccessDeniedException")
        return {"DelegatedAdministrators": [{"Id": a} for a in self.admins]}


async def test_an_administrator_learns_it_and_a_passing_failure_keeps_the_answer() -> None:
    org, admins = Org(), TrailAdmins()
    sec = _base(SEC, "security")
    assert await admins.refresh(org, [sec], ["security"], T0) == {MGMT: frozenset({SEC})}
    assert sec.org_id == "o-abc"
    # Throttled past the retries, or the profile failing this time: the answer stands.
    org.fail[(SEC, "list_delegated_administrators")] = _err("ThrottlingException")
    assert await admins.refresh(org, [_base(SEC, "security")], ["security"], T0) == {
        MGMT: frozenset({SEC})
    }
    assert await admins.refresh(org, [], ["security"], T0) == {MGMT: frozenset({SEC})}
    # DescribeOrganization is asked once per profile's account, not every resolve.
    assert [op for _a, op in org.asked].count("describe_organization") == 1


async def test_a_failed_describe_organization_on_the_first_ask_learns_nothing_yet() -> None:
    org, admins = Org(), TrailAdmins()
    org.fail[(SEC, "describe_organization")] = _err("ThrottlingException")
    assert await admins.refresh(org, [_base(SEC, "security")], ["security"], T0) == {}
    del org.fail[(SEC, "describe_organization")]
    assert await admins.refresh(org, [_base(SEC, "security")], ["security"], T0) == {
        MGMT: frozenset({SEC})
    }


async def test_a_final_answer_changes_it_and_a_refused_member_is_not_asked_again_soon() -> None:
    org, admins = Org(), TrailAdmins()
    sec = _base(SEC, "security")
    await admins.refresh(org, [sec], ["security"], T0)
    # Deregistered: the account is no administrator of anything now, and is refused.
    org.admins = []
    assert await admins.refresh(org, [sec], ["security"], T0 + timedelta(minutes=10)) == {}
    asked = len(org.asked)
    await admins.refresh(org, [sec], ["security"], T0 + timedelta(minutes=20))
    assert len(org.asked) == asked  # refused ten minutes ago: not asked
    org.admins = [SEC]
    later = T0 + timedelta(minutes=10) + REASK_REFUSED
    assert await admins.refresh(org, [sec], ["security"], later) == {MGMT: frozenset({SEC})}


async def test_one_answer_per_organization_is_enough_and_the_latest_wins() -> None:
    org, admins = Org(), TrailAdmins()
    bases = [_base(DEV, "dev"), _base(MGMT, "mgmt"), _base(SEC, "security")]
    profiles = ["dev", "mgmt", "security"]
    assert await admins.refresh(org, bases, profiles, T0) == {MGMT: frozenset({SEC})}
    # The account that answered is asked first next time, and alone.
    org.asked.clear()
    org.admins = []
    assert await admins.refresh(org, bases, profiles, T0 + timedelta(minutes=5)) == {
        MGMT: frozenset()
    }
    assert [a for a, op in org.asked if op == "list_delegated_administrators"] == [MGMT]


async def test_an_answer_from_a_profile_no_longer_configured_is_forgotten() -> None:
    org, admins = Org(), TrailAdmins()
    await admins.refresh(org, [_base(SEC, "security")], ["security"], T0)
    assert await admins.refresh(org, [_base(DEV, "dev")], ["dev"], T0) == {}


async def test_an_account_in_no_organization_has_no_administrators() -> None:
    org, admins = Org(), TrailAdmins()
    org.fail[(DEV, "describe_organization")] = _err("AWSOrganizationsNotInUseException")
    assert await admins.refresh(org, [_base(DEV, "dev")], ["dev"], T0) == {}
    assert (DEV, "list_delegated_administrators") not in org.asked


async def test_the_latest_answer_about_an_organization_wins() -> None:
    org, admins = Org(), TrailAdmins()
    profiles = ["mgmt", "security"]
    # The security account answers while the management profile is failing...
    assert await admins.refresh(org, [_base(SEC, "security")], profiles, T0) == {
        MGMT: frozenset({SEC})
    }
    # ...then the management account answers, later, with another list.
    org.admins = [DEV]
    later = T0 + timedelta(minutes=10)
    assert await admins.refresh(org, [_base(MGMT, "mgmt")], profiles, later) == {
        MGMT: frozenset({DEV})
    }


async def test_a_refused_describe_organization_is_not_asked_every_resolve() -> None:
    org, admins = Org(), TrailAdmins()
    org.fail[(DEV, "describe_organization")] = _err("AccessDeniedException")
    for minutes in (0, 10, 20):
        await admins.refresh(org, [_base(DEV, "dev")], ["dev"], T0 + timedelta(minutes=minutes))
    assert org.asked.count((DEV, "describe_organization")) == 1
    await admins.refresh(org, [_base(DEV, "dev")], ["dev"], T0 + REASK_REFUSED)
    assert org.asked.count((DEV, "describe_organization")) == 2


async def test_an_organization_that_is_gone_is_final() -> None:
    org, admins = Org(), TrailAdmins()
    sec = _base(SEC, "security")
    await admins.refresh(org, [sec], ["security"], T0)
    org.fail[(SEC, "list_delegated_administrators")] = _err("AWSOrganizationsNotInUseException")
    assert await admins.refresh(org, [_base(SEC, "security")], ["security"], T0) == {}


async def test_every_resolve_labels_the_profiles_account_with_its_organization() -> None:
    org, admins = Org(), TrailAdmins()
    await admins.refresh(org, [_base(SEC, "security")], ["security"], T0)
    again = _base(SEC, "security")  # each resolve makes the account anew
    await admins.refresh(org, [again], ["security"], T0)
    assert again.org_id == "o-abc"
    assert org.asked.count((SEC, "describe_organization")) == 1
