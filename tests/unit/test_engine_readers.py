"""When the reader of an organization trail changes between two resolves, every account is
described again at once: which copies are views depends on the reader (plain data; the
engine is never swept here, so nothing is called)."""

from __future__ import annotations

from typing import Any, cast

from core.aws.collect import Account
from core.engine.sweep import Engine
from core.model import TrailConfig
from core.settings import load_settings

MGMT, SEC, DEV = "111111111111", "222222222222", "333333333333"
REGIONS = ["us-east-1", "eu-west-1"]
ORG = TrailConfig("org", f"arn:aws:cloudtrail:us-east-1:{MGMT}:trail/org", "us-east-1", True, True)


def _engine() -> Engine:
    settings, _ = load_settings(None, {"aws": {"regions": REGIONS}})
    eng = Engine(settings)
    eng.accounts = [
        Account(a, None, cast(Any, None), "role", "us-east-1", regions=list(REGIONS))
        for a in (SEC, DEV)
    ]
    eng.trails = {(a, r): [ORG] for a in (SEC,) for r in REGIONS}
    eng.collapsed = {DEV: frozenset({ORG.arn})}
    return eng


def test_a_new_reader_makes_every_account_be_described_again() -> None:
    eng = _engine()
    eng.collector.trail_admins = {MGMT: frozenset({SEC})}
    eng._follow_readers()  # the first resolve: nothing to compare with
    assert eng._force_describe == set()
    eng._follow_readers()  # the same reader
    assert eng._force_describe == set()
    eng.collector.trail_admins = {}  # the administrator is gone: nobody reads the trail
    eng._follow_readers()
    assert eng._force_describe == {(a, r) for a in (SEC, DEV) for r in REGIONS}


def test_a_change_elsewhere_in_the_organization_describes_nothing_again() -> None:
    eng = _engine()
    eng.collector.trail_admins = {MGMT: frozenset({SEC})}
    eng._follow_readers()
    eng.collector.trail_admins = {MGMT: frozenset({SEC}), "999999999999": frozenset({DEV})}
    eng._follow_readers()
    assert eng._force_describe == set()
