"""`--demo` shows the same estate on every run: moto's ids (account ids, KMS key ids,
access keys) depend on the seed and on the request that creates them, not on which of the
seeding threads runs first, so the plan ids the README's flow uses repeat."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

server = pytest.importorskip("sandbox.server")


@pytest.fixture
def seeded() -> Iterator[Any]:
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    server.seed_ids(14)
    try:
        yield mock_random
    finally:  # this process's moto goes back to unseeded, unshared randomness
        server._seed = None
        server._occurrences.clear()
        mock_random.__class__ = MotoRandom
        mock_random.seed()


def _create(rng: Any, requests: list[tuple[str, str]], order: list[int]) -> dict[str, str]:
    """Run `requests` (operation, name) on threads in `order`; returns name -> new id."""
    ids: dict[str, str] = {}
    turns = [threading.Event() for _ in requests]

    def one(i: int) -> None:
        turns[i].wait(timeout=10)
        op, name = requests[i]
        with server._request_ids("kms", op, "111111111111", "eu-west-1", {"Description": name}):
            ids[name] = str(rng.uuid4())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for i in order:  # one at a time, in this order
        turns[i].set()
        threads[i].join(timeout=10)
    return ids


def test_ids_follow_the_requests_not_the_thread_order(seeded: Any) -> None:
    requests = [("CreateKey", "trail-a"), ("CreateKey", "trail-b"), ("CreateKey", "trail-c")]
    first = _create(seeded, requests, [0, 1, 2])
    server._occurrences.clear()  # a new server process starts counting from zero
    second = _create(seeded, requests, [2, 0, 1])
    assert first == second
    assert len(set(first.values())) == 3  # different requests, different ids
    # The same request again (a second key with the same description) gets a new id.
    again = _create(seeded, [("CreateKey", "trail-a")], [0])
    assert again["trail-a"] != first["trail-a"]


def test_unseeded_draws_are_not_repeated() -> None:
    from moto.moto_api._internal import mock_random

    with server._request_ids("kms", "CreateKey", "1", "eu-west-1", {}):
        one = mock_random.uuid4()
    with server._request_ids("kms", "CreateKey", "1", "eu-west-1", {}):
        two = mock_random.uuid4()
    assert one != two
