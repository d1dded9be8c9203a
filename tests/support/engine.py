"""Helpers to point the real engine at a sandbox (no mocks: HTTP on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings, deep_merge, load_settings
from sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]


def demo_overrides(sb: Sandbox, **extra: Any) -> dict[str, Any]:
    """Settings that reach every account of the demo estate the way an operator would."""
    m = sb.manifest
    base: dict[str, Any] = {
        "aws": {
            "profiles": ["demo-mgmt", "demo-prod"],
            "regions": [],
            "endpoint_url": sb.endpoint_url,
            "assume_roles": [{"role_arn": r["role_arn"]} for r in m["assume_roles"]],
            "organization": {"enabled": True, "role_name": m["organization"]["role_name"]},
        },
        "poll": {
            "interval_seconds": 1,
            "max_attempts": 2,
            "read_timeout_seconds": 5,
            "connect_timeout_seconds": 2,
        },
        "thresholds": {"s3_stale_seconds": 120, "cloudwatch_stale_seconds": 120},
    }
    return deep_merge(base, extra)


def settings_for(sb: Sandbox, **extra: Any) -> Settings:
    settings, _ = load_settings(None, demo_overrides(sb, **extra))
    return settings


@contextlib.contextmanager
def aws_env(sb: Sandbox) -> Iterator[None]:
    """Point botocore's shared config at the sandbox's profiles for this block."""
    with pytest.MonkeyPatch.context() as mp:
        for k in list(os.environ):
            if k.startswith(("AWS_", "TRAILTOP_")):
                mp.delenv(k)
        for k, v in sb.aws_env().items():
            mp.setenv(k, v)
        yield


def codes(view: Any) -> set[str]:
    return {f.code for f in view.findings}


def member_copy(trail: Mapping[str, Any], view: Mapping[str, Any]) -> bool:
    """A manifest view that is a member account's copy of an organization trail. trailtop
    shows such a copy from the trail's owner (`OrgCoverage`), not as a view, whenever it
    reaches the owner, as every scenario's profiles do."""
    return bool(trail.get("organization_trail")) and view["account"] != trail["account"]
