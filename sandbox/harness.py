"""``Sandbox``: start the emulated estate in its own process, seed it, hand out access.

Used by tests, the demo and benchmarks. The server runs as ``python -m sandbox.serve`` (its
own GIL: in-process moto halves throughput); this object owns exactly that one pid, writes
the shared config/credentials files, and seeds the chosen scenario over HTTP.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .profiles import MGMT, MGMT_KEY, ProfileSet, sso_start_url

if TYPE_CHECKING:
    import boto3

    from .control_client import ControlClient, FaultsClient
    from .landing_zone import LandingZone

#: The scenarios of sandbox/scenarios.py, named here so that importing this module (and
#: spawning the server, `Sandbox.spawn`) costs no SDK import: boto3 loads while it starts.
SCENARIO_NAMES = ("demo", "bench", "landing-zone", "org", "empty")

_STARTUP_TIMEOUT = 60.0
#: Variables that would let real credentials or settings leak into a sandboxed process.
_AWS_VARS_TO_DROP = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


#: moto draws account ids, key ids and access keys from one random generator: seeded, the
#: same scenario gives the same estate on every run (the demo's plan ids repeat).
#: ``Sandbox(seed=None)`` gives fresh ids on every run instead.
DEFAULT_SEED = 14


class SandboxError(RuntimeError):
    """The sandbox server failed to start or to seed."""


class Sandbox:
    """One emulated AWS estate on 127.0.0.1 (see README in ``sandbox/__init__.py``)."""

    def __init__(
        self,
        scenario: str = "demo",
        delivery_interval: float = 2.0,
        port: int = 0,
        scenario_args: dict[str, Any] | None = None,
        lookup_events_rps: float | None = 2.0,
        workdir: str | Path | None = None,
        seed: int | None = DEFAULT_SEED,
        idle_timeout: float | None = None,
    ) -> None:
        if scenario not in SCENARIO_NAMES:
            raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIO_NAMES)}")
        self.scenario = scenario
        self.delivery_interval = delivery_interval
        self.port = port
        self.scenario_args = dict(scenario_args or {})
        self.lookup_events_rps = lookup_events_rps
        self.seed = seed
        #: Seconds the server keeps an idle connection open (None: the server's default).
        self.idle_timeout = idle_timeout
        self._own_workdir = workdir is None
        self.workdir = (
            Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="trailtop-sandbox-"))
        )
        self.log_path = self.workdir / "server.log"
        self.config_file = self.workdir / "config"
        self.credentials_file = self.workdir / "credentials"
        self.endpoint_url = ""
        self.pid: int | None = None
        self.manifest: dict[str, Any] = {}
        self.seed_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: ControlClient | None = None
        self._sessions: dict[tuple[str, str], boto3.Session] = {}
        self._credentials: dict[tuple[str, str], dict[str, str]] = {}
        self._client_lock = threading.Lock()
        self._spawn_lock = threading.Lock()
        self._sts: Any = None
        self._landing_zone: LandingZone | None = None
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------
    def spawn(self) -> Sandbox:
        """Start the server process and return at once (its ready line is read by `start`).

        Cheap in the caller (no SDK import), so the server's own start-up (~1.5 s) runs
        while the caller goes on (the demo: drawing its first screen, importing the SDK).
        Idempotent and safe from two threads at once (the demo's UI thread and its start
        thread may both ask); refused once stopped."""
        with self._spawn_lock:
            return self._spawn()

    def _spawn(self) -> Sandbox:
        if self._stopped:
            raise SandboxError("sandbox stopped")
        if self._proc is not None:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "sandbox.serve",
            "--port",
            str(self.port),
            "--delivery-interval",
            str(self.delivery_interval),
            "--lookup-events-rps",
            str(self.lookup_events_rps or 0),
            "--parent-pid",
            str(os.getpid()),
        ]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        if self.idle_timeout is not None:
            cmd += ["--idle-timeout", str(self.idle_timeout)]
        env = self._clean_env(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
        )
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        atexit.register(self.stop)
        return self

    def start(self) -> Sandbox:
        """Spawn the server (unless `spawn` did), wait for its ready line, write profiles,
        seed the scenario."""
        if self._proc is not None and self.endpoint_url:
            return self
        self.spawn()
        try:
            from .control_client import ControlClient
            from .scenarios import SCENARIOS  # boto3: imported while the server starts
            from .seeding import Seeder

            ready = self._read_ready_line()
            self.endpoint_url = f"http://127.0.0.1:{ready['port']}"
            self._control = ControlClient(self.endpoint_url)
            self._write_profiles({"default": {"static": True}, "demo-mgmt": {"static": True}})
            started = time.monotonic()
            seeder = Seeder(self.endpoint_url, MGMT_KEY.access_key_id, MGMT_KEY.secret_access_key)
            self.manifest = SCENARIOS[self.scenario](seeder, **self.scenario_args)
            self.seed_seconds = round(time.monotonic() - started, 2)
        except BaseException:
            self.stop()
            raise
        self.manifest.setdefault("profiles", {"default": {"account": MGMT, "static": True}})
        self._write_profiles(self.manifest["profiles"])
        self.manifest.update(
            {
                "endpoint_url": self.endpoint_url,
                "delivery_interval": self.delivery_interval,
                "seed_seconds": self.seed_seconds,
                "config_file": str(self.config_file),
                "credentials_file": str(self.credentials_file),
                "access_keys": {
                    name: MGMT_KEY.access_key_id
                    for name, info in self.manifest["profiles"].items()
                    if info.get("static") and name != "default"
                }
                or {"default": MGMT_KEY.access_key_id},
                "secrets": [MGMT_KEY.secret_access_key],
            }
        )
        return self

    def _read_ready_line(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self._proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        try:
            while time.monotonic() < deadline:
                if selector.select(timeout=deadline - time.monotonic()):
                    line = self._proc.stdout.readline()
                    if not line:
                        break
                    ready: dict[str, Any] = json.loads(line)
                    return ready
        finally:
            selector.close()
            self._proc.stdout.close()
        log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
        raise SandboxError(f"sandbox server did not start (exit {self._proc.poll()}):\n{log}")

    def _write_profiles(self, profiles: dict[str, dict[str, Any]]) -> None:
        spec = ProfileSet()
        for name, info in profiles.items():
            if info.get("static"):
                spec.static[name] = MGMT_KEY
            elif info.get("sso_account_id"):
                spec.sso[name] = (info["sso_account_id"], info["sso_role_name"])
            else:
                spec.roles[name] = (info["role_arn"], info["source_profile"])
        spec.write(self.workdir)

    def stop(self) -> None:
        """Terminate the one server process this object started; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    # -- access ----------------------------------------------------------------------------
    @staticmethod
    def _clean_env(base: dict[str, str] | os._Environ[str]) -> dict[str, str]:
        return {k: v for k, v in base.items() if k not in _AWS_VARS_TO_DROP}

    def aws_env(self) -> dict[str, str]:
        """Variables pointing an AWS SDK/CLI at this sandbox (merge over a cleaned env)."""
        return {
            "AWS_CONFIG_FILE": str(self.config_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_file),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def process_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: os.environ) without real AWS credentials, plus ``aws_env()``."""
        return {**self._clean_env(base if base is not None else os.environ), **self.aws_env()}

    @property
    def control(self) -> ControlClient:
        """Raw access to the /_sandbox control plane."""
        if self._control is None:
            raise SandboxError("sandbox not started")
        return self._control

    @property
    def faults(self) -> FaultsClient:
        """Fault rules: ``add(kind, **filters_and_params) -> id``, ``remove``, ``clear``, ``list``."""
        from .control_client import FaultsClient

        return FaultsClient(self.control)

    def _base(self) -> boto3.Session:
        """The management account's session: its model cache serves every client made here."""
        import boto3

        key = (MGMT, "")
        if key not in self._sessions:
            self._sessions[key] = boto3.Session(
                aws_access_key_id=MGMT_KEY.access_key_id,
                aws_secret_access_key=MGMT_KEY.secret_access_key,
                region_name="us-east-1",
            )
        return self._sessions[key]

    def _role_credentials(self, account: str | None, role_name: str) -> dict[str, str]:
        """Client keyword arguments acting in ``account`` (none for the management account)."""
        if account in (None, MGMT):
            return {}
        key = (account, role_name)
        if key not in self._credentials:
            if self._sts is None:
                self._sts = self._client_lock_held(
                    lambda: self._base().client("sts", endpoint_url=self.endpoint_url)
                )
            creds = self._sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{role_name}",
                RoleSessionName="sandbox-test",
            )["Credentials"]
            self._credentials[key] = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
        return self._credentials[key]

    def _client_lock_held(self, make: Callable[[], Any]) -> Any:
        """boto3's Session.client() is not thread-safe; tests may call from threads."""
        with self._client_lock:
            return make()

    def session(self, account: str | None = None, role_name: str = "SandboxAdmin") -> boto3.Session:
        """A boto3 session in ``account`` (management static keys, else an assumed role)."""
        if account in (None, MGMT):
            return self._base()
        key = (account, role_name)
        if key not in self._sessions:
            creds = self._role_credentials(account, role_name)
            import boto3
            import botocore.session

            # A fresh botocore session re-reads every service model; share the base's loader.
            core = botocore.session.Session()
            core.register_component(
                "data_loader", self._base()._session.get_component("data_loader")
            )
            self._sessions[key] = boto3.Session(
                **creds, region_name="us-east-1", botocore_session=core
            )
        return self._sessions[key]

    def boto3_client(
        self,
        service: str,
        account: str | None = None,
        region: str = "us-east-1",
        role_name: str = "SandboxAdmin",
    ) -> Any:
        """A boto3 client acting in ``account`` (assumes ``role_name`` there), for test setup.

        Made from the management account's session with the role's credentials: a new
        session per account would cost a model load per client."""
        from botocore.config import Config

        creds = self._role_credentials(account, role_name)
        return self._client_lock_held(
            lambda: self._base().client(
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                config=Config(retries={"max_attempts": 1}),
                **creds,
            )
        )

    @property
    def landing_zone(self) -> LandingZone:
        """Breaks, noise and delegated administration of the ``landing-zone`` scenario.

        ``sb.landing_zone.break_("key_disabled", minutes_ago=30)`` changes the estate as the
        owner account's actor and keeps ``sb.manifest`` true.
        """
        if self.manifest.get("scenario") != "landing-zone":
            raise SandboxError("landing_zone needs Sandbox(scenario='landing-zone')")
        if self._landing_zone is None:
            from .landing_zone import LandingZone
            from .seeding import Seeder

            seeder = Seeder(self.endpoint_url, MGMT_KEY.access_key_id, MGMT_KEY.secret_access_key)
            self._landing_zone = LandingZone(seeder, self.manifest)
        return self._landing_zone

    # -- organization, sessions, SSO ---------------------------------------------------------
    def change_organization(
        self, remove: list[str] | None = None, add: list[str] | None = None
    ) -> dict[str, Any]:
        """Remove members (ids) from the Organization and create new ones (names);
        returns {"removed": [...], "added": {name: id}} and keeps the manifest true."""
        org = self.manifest["organization"]
        result = self.control.call(
            "POST",
            "organization/members",
            {"management": org["management_account"], "remove": remove or [], "add": add or []},
        )
        gone = set(result["removed"])
        org["members"] = [m for m in org["members"] if m["id"] not in gone] + [
            {"id": i, "name": n} for n, i in result["added"].items()
        ]
        return result

    def advance_clock(self, seconds: float) -> float:
        """Let ``seconds`` pass on the estate's clock (STS and SSO sessions expire by it);
        returns the offset from the machine's clock."""
        return float(self.control.call("POST", "clock", {"advance": seconds})["offset"])

    def expire_role_sessions(self, role_arn: str) -> int:
        """Expire every session of a role issued so far: the server now answers them with
        ExpiredToken, as AWS does once a session's Expiration has passed."""
        return int(self.control.call("POST", "sts/expire", {"role_arn": role_arn})["expired"])

    def add_role_profile(self, name: str, role_arn: str, source_profile: str) -> None:
        """Add a role profile (``role_arn`` assumed from ``source_profile``) to the shared
        config, as an operator working from another account of the estate would have."""
        self.manifest["profiles"][name] = {
            "account": role_arn.split(":")[4],
            "role_arn": role_arn,
            "source_profile": source_profile,
        }
        self._write_profiles(self.manifest["profiles"])

    def add_sso_profile(
        self, name: str, account: str, role_name: str = "AdministratorAccess"
    ) -> None:
        """Add an IAM Identity Center profile to the shared config (no token cached yet)."""
        self.manifest["profiles"][name] = {
            "account": account,
            "sso_account_id": account,
            "sso_role_name": role_name,
        }
        self._write_profiles(self.manifest["profiles"])

    def sso_login(self, profile: str, home: Path, *, expires_in: float = 8 * 3600) -> Path:
        """What ``aws sso login --profile NAME`` leaves behind: a token the portal accepts,
        cached where the SDK looks (``HOME/.aws/sso/cache``). ``expires_in`` <= 0 writes a
        token that has already expired (the cache gone stale); returns the cache file."""
        token = "sandbox-sso-" + uuid.uuid4().hex
        expires_at = time.time() + expires_in
        if expires_in > 0:
            self.control.call("POST", "sso/tokens", {"token": token, "expires_at": expires_at})
        start_url = sso_start_url(profile)
        cache = home / ".aws" / "sso" / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / (hashlib.sha1(start_url.encode()).hexdigest() + ".json")
        stamp = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        path.write_text(
            json.dumps(
                {
                    "startUrl": start_url,
                    "region": "us-east-1",
                    "accessToken": token,
                    "expiresAt": stamp,
                }
            )
        )
        path.chmod(0o600)
        return path

    # -- control shortcuts -----------------------------------------------------------------
    def deliver(self) -> float:
        """Force one delivery attempt for every logging view now; returns its epoch time."""
        return float(self.control.call("POST", "delivery/tick")["at"])

    def requests(self, **filters: str | None) -> dict[str, Any]:
        """Server-side request counts: {"total": n, "counts": [{service, operation, account,
        region, count}], "connections": n, "open_connections": n} (connections are not
        filtered: one kept-alive connection may carry calls of several kinds)."""
        return self.control.call("GET", "requests", query=filters)

    def request_log(self, since: float = 0.0, **filters: str | None) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.control.call(
            "GET", "requests/log", query={"since": since, **filters}
        )["entries"]
        return entries

    def reset_requests(self) -> None:
        self.control.call("DELETE", "requests")

    def events(self, account: str | None = None, region: str | None = None) -> list[dict[str, Any]]:
        """Every recorded CloudTrail event (debugging; clients use LookupEvents)."""
        events: list[dict[str, Any]] = self.control.call(
            "GET", "events", query={"account": account, "region": region}
        )["events"]
        return events

    def trail(self, name: str, account: str | None = None) -> dict[str, Any]:
        """The manifest entry of a trail by name (and account when names repeat)."""
        for entry in self.manifest.get("trails", []):
            if entry["name"] == name and account in (None, entry["account"]):
                return dict(entry)
        raise KeyError(name)
