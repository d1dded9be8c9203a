"""Shared fixtures: the emulated AWS estate (``sandbox/``) and aiobotocore clients for it.

Fixtures
--------
``sandbox`` (session)
    The ``demo`` estate on a free port, delivery interval 1 s, started once per test run and
    stopped by pid at the end. Treat it as READ-ONLY: do not change resources in it and do
    not leave fault rules behind (use ``sandbox_faults`` to add faults on it safely).
``sandbox_faults`` (function)
    ``sandbox.faults``, cleared after the test.
``sandbox_factory`` (function)
    ``sandbox_factory(scenario="demo", **kwargs)`` starts a private ``Sandbox`` for a test
    that must mutate or break the estate; every one it started is stopped after the test.
    Pass ``delivery_interval=3600`` and drive deliveries with ``sb.deliver()`` when the
    test must decide exactly when a delivery happens.
``aws_client`` (function, async)
    ``await aws_client(service, account=None, region="us-east-1", sb=None, retries=1)``:
    an aiobotocore client acting in ``account`` (management static keys when None, else an
    assumed role) against ``sb`` (default: the session sandbox); closed after the test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from sandbox import Sandbox

DEMO_DELIVERY_INTERVAL = 1.0


def _assert_gone(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    raise AssertionError(f"sandbox server pid {pid} still running after stop()")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(scenario="demo", delivery_interval=DEMO_DELIVERY_INTERVAL).start()
    try:
        yield sb
    finally:
        pid = sb.pid
        sb.stop()
        _assert_gone(pid)


@pytest.fixture
def sandbox_faults(sandbox: Sandbox) -> Iterator[Any]:
    yield sandbox.faults
    sandbox.faults.clear()


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def start(scenario: str = "demo", **kwargs: Any) -> Sandbox:
        sb = Sandbox(scenario=scenario, **kwargs)
        started.append(sb)
        return sb.start()

    yield start
    for sb in started:
        pid = sb.pid
        sb.stop()
        _assert_gone(pid)


AwsClientFactory = Callable[..., Awaitable[Any]]


@pytest.fixture
async def aws_client(request: pytest.FixtureRequest) -> AsyncIterator[AwsClientFactory]:
    stack = AsyncExitStack()
    session = get_session()

    async def make(
        service: str,
        account: str | None = None,
        region: str = "us-east-1",
        sb: Sandbox | None = None,
        retries: int = 1,
    ) -> Any:
        target = sb if sb is not None else request.getfixturevalue("sandbox")
        creds = target.session(account).get_credentials().get_frozen_credentials()
        config = AioConfig(
            retries={"total_max_attempts": retries, "mode": "standard"},
            connect_timeout=5,
            read_timeout=15,
        )
        return await stack.enter_async_context(
            session.create_client(
                service,
                region_name=region,
                endpoint_url=target.endpoint_url,
                aws_access_key_id=creds.access_key,
                aws_secret_access_key=creds.secret_key,
                aws_session_token=creds.token,
                config=config,
            )
        )

    try:
        yield make
    finally:
        await stack.aclose()
