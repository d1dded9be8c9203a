"""Seeding helpers: build an estate over HTTP with boto3, as identifiable actors.

Scenarios create and break resources through the sandbox's own front door, so the same
middleware records every write as a CloudTrail event with a believable actor (assumed
role, user agent, source IP) and a backdated time: the demo then tells a story.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, Credentials, ReadOnlyCredentials

from .control_client import ControlClient

#: Headers only the sandbox reads: a backdated event time and a source IP for the story.
EVENT_TIME_HEADER = "X-Sandbox-Event-Time"
SOURCE_IP_HEADER = "X-Sandbox-Source-Ip"

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30
)


class _Acting(threading.local):
    """The actor the current thread is calling as (None: the seeder's static-key user)."""

    actor: Actor | None = None


class _ActingCredentials(Credentials):  # type: ignore[misc]
    """Signs each call with the credentials of the actor making it, on the calling thread."""

    def __init__(self, acting: _Acting, default: ReadOnlyCredentials) -> None:
        super().__init__(default.access_key, default.secret_key, default.token)
        self._acting = acting
        self._default = default

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        actor = self._acting.actor
        if actor is not None and actor.frozen is not None:
            return actor.frozen
        return self._default


class _ActingProvider(CredentialProvider):  # type: ignore[misc]
    METHOD = "sandbox-actor"
    CANONICAL_NAME = "custom-sandbox-actor"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class ClientPool:
    """One boto3 client per (service, region), shared by every actor of a seeder.

    Creating a client costs ~10 ms of CPU (its class, endpoint resolver, hooks): one per
    actor, service and region was most of a demo seeding's client CPU. What differs
    between actors, their credentials, user agent, source IP and story time, is applied
    per call instead, from the thread making it (`_Acting`).
    """

    def __init__(self, endpoint_url: str, access_key: str, secret_key: str) -> None:
        self.endpoint_url = endpoint_url
        self.acting = _Acting()
        core = botocore.session.get_session()
        default = ReadOnlyCredentials(access_key, secret_key, None)
        core.get_component("credential_provider").insert_before(
            "env", _ActingProvider(_ActingCredentials(self.acting, default))
        )
        self.session = boto3.Session(region_name="us-east-1", botocore_session=core)
        #: What botocore appends to a configured user agent (boto3 sets it on the session).
        self._ua_extra = core.user_agent_extra or ""
        self._clients: dict[tuple[str, str], Any] = {}
        #: boto3 Session.client() is not thread-safe; actors seed from worker threads.
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self.session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=_CONFIG
                )
                client.meta.events.register("before-send", self._add_headers)
                self._clients[key] = client
            return client

    def _add_headers(self, request: Any, **_: Any) -> None:
        actor = self.acting.actor
        if actor is None:
            return
        if actor.at is not None:
            request.headers[EVENT_TIME_HEADER] = f"{actor.at:.3f}"
        if actor.source_ip:
            request.headers[SOURCE_IP_HEADER] = actor.source_ip
        if actor.user_agent:
            # What a client configured with `Config(user_agent=...)` sends (the header is
            # not signed, so it may change after signing).
            request.headers["User-Agent"] = " ".join(
                filter(None, [actor.user_agent, self._ua_extra])
            )


class _ActorClient:
    """A shared client as seen by one actor: each call is made as that actor."""

    def __init__(self, actor: Actor, client: Any) -> None:
        self._actor = actor
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method
        acting = self._actor.pool.acting

        def call(*args: Any, **kwargs: Any) -> Any:
            previous, acting.actor = acting.actor, self._actor
            try:
                return method(*args, **kwargs)
            finally:
                acting.actor = previous

        return call


class Actor:
    """One principal doing seeding calls; ``at`` backdates the events it causes.

    ``at`` is per thread, so one actor can seed from several worker threads at once.
    """

    def __init__(
        self,
        pool: ClientPool,
        arn: str,
        user_agent: str | None = None,
        source_ip: str | None = None,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.pool = pool
        self.endpoint_url = pool.endpoint_url
        self.arn = arn
        self.user_agent = user_agent
        self.source_ip = source_ip
        #: The role's credentials (None: the seeder's static-key user).
        self.frozen = (
            ReadOnlyCredentials(
                credentials["aws_access_key_id"],
                credentials["aws_secret_access_key"],
                credentials.get("aws_session_token"),
            )
            if credentials
            else None
        )
        self._story = threading.local()

    @property
    def at(self) -> float | None:
        value: float | None = getattr(self._story, "at", None)
        return value

    @at.setter
    def at(self, value: float | None) -> None:
        self._story.at = value

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return _ActorClient(self, self.pool.client(service, region))


class Seeder:
    """Makes actors (static-key user or assumed roles) against one sandbox endpoint."""

    def __init__(self, endpoint_url: str, access_key: str, secret_key: str) -> None:
        self.endpoint_url = endpoint_url
        self.control = ControlClient(endpoint_url)
        self.pool = ClientPool(endpoint_url, access_key, secret_key)
        self.base = self.pool.session
        self.now = time.time()
        self._sts = self.pool.client("sts", "us-east-1")
        self._lock = threading.Lock()

    def ago(self, minutes: float) -> float:
        """A story time: ``minutes`` before the seeding started."""
        return self.now - minutes * 60.0

    def admin(self, user_agent: str | None = None, source_ip: str | None = None) -> Actor:
        """The management account's static-key user."""
        return Actor(self.pool, "static", user_agent, source_ip)

    def role(
        self,
        account: str,
        role_name: str,
        session_name: str,
        user_agent: str | None = None,
        source_ip: str | None = None,
    ) -> Actor:
        """An actor acting through ``arn:aws:iam::<account>:role/<role_name>``."""
        arn = f"arn:aws:iam::{account}:role/{role_name}"
        with self._lock:
            creds = self._sts.assume_role(RoleArn=arn, RoleSessionName=session_name)["Credentials"]
        credentials = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        return Actor(self.pool, arn, user_agent, source_ip, credentials)
