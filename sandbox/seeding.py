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
from botocore.config import Config

from .control_client import ControlClient

#: Headers only the sandbox reads: a backdated event time and a source IP for the story.
EVENT_TIME_HEADER = "X-Sandbox-Event-Time"
SOURCE_IP_HEADER = "X-Sandbox-Source-Ip"

#: boto3 Session.client() is not thread-safe; seeding creates clients from worker threads.
_CLIENT_LOCK = threading.Lock()

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30
)


class Actor:
    """One principal doing seeding calls; ``at`` backdates the events it causes.

    ``at`` is per thread, so one actor can seed from several worker threads at once.
    """

    def __init__(
        self,
        session: boto3.Session,
        endpoint_url: str,
        arn: str,
        user_agent: str | None = None,
        source_ip: str | None = None,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.session = session
        self.credentials = credentials or {}
        self.endpoint_url = endpoint_url
        self.arn = arn
        self.user_agent = user_agent
        self.source_ip = source_ip
        self._story = threading.local()
        self._clients: dict[tuple[str, str], Any] = {}

    @property
    def at(self) -> float | None:
        value: float | None = getattr(self._story, "at", None)
        return value

    @at.setter
    def at(self, value: float | None) -> None:
        self._story.at = value

    def client(self, service: str, region: str = "us-east-1") -> Any:
        with _CLIENT_LOCK:
            key = (service, region)
            if key not in self._clients:
                config = (
                    _CONFIG.merge(Config(user_agent=self.user_agent))
                    if self.user_agent
                    else _CONFIG
                )
                client = self.session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    config=config,
                    **self.credentials,
                )
                client.meta.events.register("before-send", self._add_headers)
                self._clients[key] = client
            return self._clients[key]

    def _add_headers(self, request: Any, **_: Any) -> None:
        if self.at is not None:
            request.headers[EVENT_TIME_HEADER] = f"{self.at:.3f}"
        if self.source_ip:
            request.headers[SOURCE_IP_HEADER] = self.source_ip


class Seeder:
    """Makes actors (static-key user or assumed roles) against one sandbox endpoint."""

    def __init__(self, endpoint_url: str, access_key: str, secret_key: str) -> None:
        self.endpoint_url = endpoint_url
        self.control = ControlClient(endpoint_url)
        self.base = boto3.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name="us-east-1"
        )
        self.now = time.time()
        self._sts = self.base.client("sts", endpoint_url=endpoint_url, config=_CONFIG)
        self._lock = threading.Lock()

    def ago(self, minutes: float) -> float:
        """A story time: ``minutes`` before the seeding started."""
        return self.now - minutes * 60.0

    def admin(self, user_agent: str | None = None, source_ip: str | None = None) -> Actor:
        """The management account's static-key user."""
        return Actor(self.base, self.endpoint_url, "static", user_agent, source_ip)

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
        # One shared session (its model cache) with per-actor credentials: much faster
        # than a boto3 Session per actor, which would re-read every service model.
        credentials = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        return Actor(self.base, self.endpoint_url, arn, user_agent, source_ip, credentials)
