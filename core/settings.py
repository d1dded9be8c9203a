"""Settings: the TOML file < `TRAILTOP_*` environment < CLI flags.

Strict on purpose: an unknown key, an unknown `TRAILTOP_*` variable or a wrong type is an
error that names the key (and the file and line, or the variable, or the flag), because a
silently ignored typo in a monitoring tool's config means watching less than you think.
The names trailtop hands to AWS are checked at start too (:func:`check_aws_names`): a
profile missing from the shared config or a misspelt region never fixes itself.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

APP_NAME = "trailtop"
ENV_PREFIX = "TRAILTOP_"
#: `TRAILTOP_*` variables that are not configuration keys (read by the command line).
NON_SETTING_VARIABLES = ("TRAILTOP_CONFIG", "TRAILTOP_DEBUG_LOG")
#: A region name: two or more letters, words, a number (eu-west-1, us-gov-east-1).
REGION_NAME = re.compile(r"^[a-z]{2,}(-[a-z]+)+-\d{1,2}$")


class ConfigError(Exception):
    """A configuration problem to show the user as one clear line (exit status 2)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads `concurrency = true` as 1: a wrong type, refused here.
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(v, bool) and field is not None and field.annotation in (int, float):
            raise ValueError("a number is required, not a boolean")
        return v


class AssumeRole(_Strict):
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    external_id: str = ""
    session_name: str = "trailtop"


class Organization(_Strict):
    enabled: bool = False
    role_name: str = Field(default="OrganizationAccountAccessRole", min_length=1)


class AwsSettings(_Strict):
    profiles: list[str] = []
    regions: list[str] = []
    endpoint_url: str = ""
    assume_roles: list[AssumeRole] = []
    organization: Organization = Organization()

    @field_validator("regions")
    @classmethod
    def _regions_look_like_regions(cls, v: list[str]) -> list[str]:
        for r in v:
            if not REGION_NAME.match(r):
                hint = " (one region per list item)" if any(c in r.strip() for c in ",; ") else ""
                raise ValueError(f"{r!r} is not a region name (like eu-west-1){hint}")
        return v


#: `poll.concurrency` when the config does not set it (see PollSettings). The connection
#: pools fall back to it too.
DEFAULT_CONCURRENCY = 128


class PollSettings(_Strict):
    interval_seconds: float = Field(default=60.0, ge=1.0, le=86400.0)
    #: Calls in flight across every target; each connection pool (the SDK's, the fast
    #: reads') keeps at most this many sockets. AWS's request quotas are per account and
    #: region, and a sweep's reads are a handful per account and region, spread over all of
    #: them; the exceptions (AssumeRole and Organizations calls, all made with the base
    #: account's credentials) come in larger bursts at a higher count. Throttling is retried
    #: by the SDK and counted per sweep.
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1, le=512)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    read_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    max_attempts: int = Field(default=3, ge=1, le=10)
    #: The sweep's hot reads without the SDK's per-call machinery (core/aws/fast_call.py);
    #: false sends every call through aiobotocore (same answers, ~2x the CPU per call).
    fast_reads: bool = True
    #: Trail configurations change rarely: re-describe every N sweeps (see core/engine/sweep.py).
    describe_every_sweeps: int = Field(default=10, ge=1, le=10000)
    #: Destinations (bucket, key, topic, role) are re-read at most this often when nothing changed.
    diagnose_refresh_seconds: float = Field(default=900.0, ge=0, le=86400.0)


class Thresholds(_Strict):
    #: No S3 log file for longer than this while logging: a silent channel, judged quiet
    #: (S3_DELIVERY_QUIET) or stale (S3_DELIVERY_STALE) by the digest heartbeat.
    s3_stale_seconds: float = Field(default=3600.0, gt=0, le=30 * 86400)
    cloudwatch_stale_seconds: float = Field(default=1800.0, gt=0, le=30 * 86400)
    #: Digest files come hourly even without activity: one hour plus 30 minutes for a late one.
    digest_stale_seconds: float = Field(default=5400.0, gt=0, le=30 * 86400)


class RemediationSettings(_Strict):
    enabled: bool = False
    audit_log: str = "~/.local/state/trailtop/audit.jsonl"
    #: Optional separate credentials for writes; empty = the same as reads.
    profile: str = ""
    role_arn: str = ""


class UiSettings(_Strict):
    bell: bool = False


class MetricsSettings(_Strict):
    """The Prometheus endpoint: `trailtop watch` serves it unless disabled; the TUI only
    when `tui_port` is set, on a port of its own so it never collides with a watcher."""

    enabled: bool = True
    #: Loopback by default: the metrics name accounts, regions and trails.
    address: str = Field(default="127.0.0.1", min_length=1)
    #: 0 picks a free port (logged in the watcher's `start` line).
    port: int = Field(default=9723, ge=0, le=65535)
    #: 0: the TUI serves no metrics.
    tui_port: int = Field(default=0, ge=0, le=65535)


class NotifySettings(_Strict):
    """Where `trailtop watch` sends one message per transition (turns failing, recovers,
    target unreachable or back). Every sink is off until configured."""

    #: POST of the JSON message (with a Slack-compatible `text`); empty: off.
    webhook_url: str = ""
    #: SNS topic to publish the JSON message to; empty: off.
    sns_topic_arn: str = Field(default="", pattern=r"^(arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:.+)?$")
    #: Profile that publishes to the topic; empty: the default credential chain.
    sns_profile: str = ""
    #: A command (argv list, no shell) that gets the JSON message on stdin; empty: off.
    command: list[str] = []
    #: One attempt of one sink may take this long before it counts as failed.
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: At most this many messages per minute per sink; the others wait their turn.
    max_per_minute: int = Field(default=20, ge=1, le=6000)
    #: A failed attempt is retried after this delay, doubled each time up to retry_max_seconds.
    retry_initial_seconds: float = Field(default=2.0, gt=0, le=3600)
    retry_max_seconds: float = Field(default=300.0, gt=0, le=86400)
    #: A message not accepted after this long is dropped (with a log line).
    give_up_after_seconds: float = Field(default=86400.0, gt=0, le=30 * 86400)
    #: Messages waiting per sink; when full the oldest is dropped (with a log line).
    queue_size: int = Field(default=100, ge=1, le=100000)
    #: Also send what is already failing or unreachable at the watcher's first sweep.
    on_start: bool = True


class MuteRule(_Strict):
    """One mute: findings whose code, account (id or alias), region and trail (name or ARN)
    all match these shell-style patterns (`*`, `?`, `[...]`) are shown but do not count,
    until `expires` (a date is midnight UTC at its start; a time without offset is UTC)."""

    code: str = Field(min_length=1)
    account: str = Field(default="*", min_length=1)
    region: str = Field(default="*", min_length=1)
    trail: str = Field(default="*", min_length=1)
    reason: str = Field(min_length=1)
    expires: datetime

    @field_validator("expires", mode="before")
    @classmethod
    def _date_is_midnight_utc(cls, v: Any) -> Any:
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime.combine(v, dtime(), UTC)
        return v

    @field_validator("expires")
    @classmethod
    def _naive_is_utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


class MuteSettings(_Strict):
    """Mutes from this file and from the mute file (`file`, written by the TUI) are merged."""

    #: The mute file; "" = none. A missing file is no mutes; a malformed one stops trailtop.
    file: str = "~/.config/trailtop/mutes.toml"
    rules: list[MuteRule] = []


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRAILTOP_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    aws: AwsSettings = AwsSettings()
    poll: PollSettings = PollSettings()
    thresholds: Thresholds = Thresholds()
    remediation: RemediationSettings = RemediationSettings()
    ui: UiSettings = UiSettings()
    mute: MuteSettings = MuteSettings()
    metrics: MetricsSettings = MetricsSettings()
    notify: NotifySettings = NotifySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier wins: CLI flags (init kwargs) > env > the TOML file (passed in as defaults).
        # The environment is read by _EnvSource, not pydantic-settings: lists may be comma
        # lists, and an unknown TRAILTOP_* variable is an error, not silence.
        return (init_settings, _EnvSource(settings_cls), _FileSource(settings_cls))


#: The TOML document for the Settings() call in progress (pydantic-settings sources are classes).
_file_data: dict[str, Any] = {}


class _FileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return _file_data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_data)


class _EnvSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return read_environment(os.environ)[0]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _variable(path: tuple[str, ...]) -> str:
    return ENV_PREFIX + "__".join(path).upper()


def setting_variables() -> list[str]:
    """Every `TRAILTOP_*` variable trailtop reads (sections, keys, and the others)."""
    out = list(NON_SETTING_VARIABLES)

    def walk(model: type[BaseModel], path: tuple[str, ...]) -> None:
        for name, field in model.model_fields.items():
            out.append(_variable((*path, name)))
            sub = _model_of(field.annotation)
            if sub is not None:
                walk(sub, (*path, name))

    walk(Settings, ())
    return out


def _env_value(variable: str, raw: str, annotation: Any) -> Any:
    """One variable's value: JSON for a section or a list of tables, JSON or a comma list
    for a list of names, the string itself otherwise (pydantic converts numbers, booleans)."""
    if _model_of(annotation) is not None:
        return _env_json(variable, raw, dict, 'a JSON object, e.g. {"interval_seconds": 30}')
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if _model_of(item) is not None:
            example = '[{"role_arn": "arn:aws:iam::111111111111:role/TrailtopReadOnly"}]'
            return _env_json(variable, raw, list, f"a JSON list of tables, e.g. {example}")
        if raw.lstrip().startswith("["):
            return _env_json(
                variable, raw, list, 'a JSON list, e.g. ["a", "b"], or a comma list a,b'
            )
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _env_json(variable: str, raw: str, kind: type, expected: str) -> Any:
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise ConfigError(f"{variable}: not valid JSON ({e}); expected {expected}") from e
    if not isinstance(value, kind):
        raise ConfigError(f"{variable}: expected {expected}, got {raw!r}")
    return value


def read_environment(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The `TRAILTOP_*` variables as nested settings, and the variable behind each dotted key.

    ``TRAILTOP_POLL__INTERVAL_SECONDS=30`` is ``poll.interval_seconds``; names are not case
    sensitive. An unknown variable raises ConfigError naming it (and the closest known one).
    """
    data: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX) or name.upper() in NON_SETTING_VARIABLES:
            continue
        variable = name.upper()
        path = tuple(p.lower() for p in variable[len(ENV_PREFIX) :].split("__"))
        model: type[BaseModel] | None = Settings
        annotation: Any = None
        for i, part in enumerate(path):
            field = model.model_fields.get(part) if model is not None else None
            if field is None:
                known = [v[len(ENV_PREFIX) :] for v in setting_variables()]
                rest = variable[len(ENV_PREFIX) :]
                close = difflib.get_close_matches(rest, known, n=1, cutoff=0.75)
                hint = f"; did you mean {ENV_PREFIX}{close[0]}?" if close else ""
                raise ConfigError(
                    f"{name}: unknown variable (trailtop reads TRAILTOP_<SECTION>__<KEY> for "
                    f"the keys of config.example.toml, e.g. TRAILTOP_POLL__INTERVAL_SECONDS, "
                    f"and {', '.join(NON_SETTING_VARIABLES)}){hint}"
                )
            annotation = field.annotation
            model = _model_of(annotation) if i < len(path) - 1 else None
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _env_value(name, environ[name], annotation)
        origin[".".join(path)] = name
    return data, origin


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_NAME / "config.toml"


def resolve_config_path(explicit: str | None) -> tuple[Path | None, bool]:
    """Return (path, required). An explicit or $TRAILTOP_CONFIG path must exist."""
    if explicit:
        return Path(explicit).expanduser(), True
    env = os.environ.get("TRAILTOP_CONFIG")
    if env:
        return Path(env).expanduser(), True
    p = default_config_path()
    return (p if p.exists() else None), False


def read_toml(path: Path) -> dict[str, Any]:
    return _parse(path, _read_text(path))


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: config file not found") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from e


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib's message already carries "(at line N, column M)".
        raise ConfigError(f"{path}: malformed TOML: {e}") from e


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not isinstance(p, int))


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")


def _line_of(text: str | None, dotted: str) -> int | None:
    """Best-effort line number of a dotted key in a TOML text (for error messages only)."""
    if not text:
        return None
    section = ""
    for n, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m:
            section = m.group(1).replace(" ", "")
            if section == dotted:
                return n
            continue
        k = _KEY.match(line)
        if k:
            key = k.group(1).strip("\"'")
            full = f"{section}.{key}" if section else key
            if full == dotted:
                return n
    return None


#: The flag behind a key set on the command line (for error messages).
_FLAGS: dict[str, str] = {
    "aws.profiles": "--profile",
    "aws.regions": "--region",
    "aws.endpoint_url": "--endpoint-url",
    "poll.interval_seconds": "--interval",
    "poll.concurrency": "--concurrency",
    "remediation.enabled": "--allow-remediation",
    "ui.bell": "--bell",
    "mute.file": "--mute-file",
}


def _origin_of(key: str, origins: Mapping[str, str]) -> str | None:
    """The variable or flag that set ``key`` or the section holding it."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:n]))
        if found:
            return found
    return None


def _format_validation(
    err: ValidationError,
    origin: str,
    text: str | None = None,
    origins: Mapping[str, str] | None = None,
) -> str:
    lines = []
    for e in err.errors():
        key = _loc(tuple(e.get("loc", ())))
        line = _line_of(text, key)
        where = _origin_of(key, origins or {}) or (f"{origin}, line {line}" if line else origin)
        if e.get("type") == "extra_forbidden":
            lines.append(f"{where}: unknown key '{key}'")
        else:
            got = e.get("input")
            shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
            hint = ""
            if where.startswith(ENV_PREFIX) and str(e.get("type", "")).startswith("list"):
                hint = '; a list is JSON (["a", "b"]) or a comma list (a,b)'
            lines.append(f"{where}: key '{key}': {e.get('msg')} (got {shown}){hint}")
    return "\n".join(lines)


def load_settings(
    config: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Settings, Path | None]:
    """Build Settings from file, environment and CLI overrides, or raise ConfigError."""
    global _file_data
    path, required = resolve_config_path(config)
    data: dict[str, Any] = {}
    text: str | None = None
    if path is not None and (required or path.exists()):
        text = _read_text(path)
        data = _parse(path, text)
    origin = str(path) if path else "configuration"
    # Validate each source on top of the ones below it, so an error names its source: the
    # file (and line), then the TRAILTOP_* variable, then the flag.
    try:
        _file_data = {}
        Settings.model_validate(data) if data else None
    except ValidationError as e:
        raise ConfigError(_format_validation(e, origin, text)) from e
    env, env_origins = read_environment(os.environ)
    try:
        Settings.model_validate(deep_merge(data, env)) if env else None
    except ValidationError as e:
        raise ConfigError(_format_validation(e, origin, text, env_origins)) from e
    flag_origins = {k: v for k, v in _FLAGS.items() if _has_key(overrides or {}, k)}
    try:
        _file_data = data
        return Settings(**dict(overrides or {})), path
    except ValidationError as e:
        raise ConfigError(
            _format_validation(e, "command line", None, {**env_origins, **flag_origins})
        ) from e
    finally:
        _file_data = {}


def _has_key(tree: Mapping[str, Any], dotted: str) -> bool:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


# --------------------------------------------------------------------------- AWS names


def source_of(
    key: str,
    overrides: Mapping[str, Any] | None = None,
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Where the value of a dotted key came from, for a message: flag, variable or file."""
    if _has_key(overrides or {}, key):
        return _FLAGS.get(key, "the command line")
    variable = _origin_of(key, read_environment(os.environ if environ is None else environ)[1])
    if variable:
        return variable
    return f"{key} in {config_path}" if config_path else key


def check_aws_names(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    sources: Mapping[str, str] | None = None,
) -> None:
    """Refuse, before any request, names that cannot work: a profile the shared config
    does not define (from the settings, AWS_PROFILE or remediation.profile) and a region
    that is a misspelling of a known one. Raises ConfigError listing what would work.
    ``sources`` names where each dotted key was set (see :func:`source_of`)."""
    env = os.environ if environ is None else environ
    where = dict(sources or {})
    wanted = [(p, where.get("aws.profiles", "aws.profiles")) for p in settings.aws.profiles]
    if not settings.aws.profiles:
        for var in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE"):  # botocore's order
            if env.get(var):
                wanted.append((env[var], var))
                break
    if settings.remediation.profile:
        wanted.append(
            (settings.remediation.profile, where.get("remediation.profile", "remediation.profile"))
        )
    if wanted:
        _check_profiles(wanted, env)
    if settings.aws.regions:
        _check_regions(settings.aws.regions, where.get("aws.regions", "aws.regions"))


def _shared_files(env: Mapping[str, str]) -> tuple[str, str]:
    config = env.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return config, credentials


def _check_profiles(wanted: list[tuple[str, str]], env: Mapping[str, str]) -> None:
    import botocore.exceptions
    import botocore.session

    config, credentials = _shared_files(env)
    try:
        session = botocore.session.Session()
        session.set_config_variable("config_file", os.path.expanduser(config))
        session.set_config_variable("credentials_file", os.path.expanduser(credentials))
        known = sorted(set(session.full_config.get("profiles", {})))
    except botocore.exceptions.BotoCoreError as e:
        raise ConfigError(f"the AWS shared config cannot be read ({config}): {e}") from e
    missing = [(name, source) for name, source in wanted if name not in known]
    if not missing:
        return
    name, source = missing[0]
    files = f"{config} or {credentials}"
    if not known:
        raise ConfigError(
            f"profile '{name}' (from {source}) does not exist: no profiles are configured "
            f"({files}). Create it with `aws configure --profile {name}` (access keys) or "
            f"`aws configure sso --profile {name}` (IAM Identity Center)"
        )
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"Did you mean '{close[0]}'? " if close else ""
    shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
    raise ConfigError(
        f"profile '{name}' (from {source}) is not in {files}. {hint}Known profiles: "
        f"{shown}. Fix the name, or create it with `aws configure --profile {name}` "
        f"or `aws configure sso --profile {name}`"
    )


def known_regions() -> list[str]:
    """The regions of every partition the installed AWS SDK knows."""
    from botocore.loaders import create_loader

    out: list[str] = []
    for partition in create_loader().load_data("partitions").get("partitions", []):
        out += [r for r in partition.get("regions", {}) if REGION_NAME.match(r)]
    return sorted(out)


def _check_regions(regions: list[str], source: str) -> None:
    """A region the SDK does not know is refused only when it looks like a misspelling of
    one it knows (eu-wst-1): a new region of a known area (ap-east-9) is let through."""
    known = known_regions()
    areas = {r.rsplit("-", 1)[0] for r in known}
    for r in regions:
        if r in known or r.rsplit("-", 1)[0] in areas:
            continue
        close = difflib.get_close_matches(r, known, n=3, cutoff=0.75)
        if close:
            raise ConfigError(
                f"region '{r}' (from {source}) is not an AWS region; did you "
                f"mean {' or '.join(close)}? (omit regions to poll every enabled region)"
            )


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out
