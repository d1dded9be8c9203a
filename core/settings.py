"""Settings: the TOML file < `TRAILTOP_*` environment < CLI flags.

Strict on purpose: an unknown key or a wrong type is an error that names the key, because a
silently ignored typo in a monitoring tool's config means watching less than you think.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
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
            parts = r.split("-")
            if len(parts) < 3 or not parts[-1].isdigit():
                raise ValueError(f"{r!r} is not a region name (like eu-west-1)")
        return v


class PollSettings(_Strict):
    interval_seconds: float = Field(default=60.0, ge=1.0, le=86400.0)
    concurrency: int = Field(default=64, ge=1, le=512)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    read_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    max_attempts: int = Field(default=3, ge=1, le=10)
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
        return (init_settings, env_settings, _FileSource(settings_cls))


#: The TOML document for the Settings() call in progress (pydantic-settings sources are classes).
_file_data: dict[str, Any] = {}


class _FileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return _file_data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_data)


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


def _format_validation(err: ValidationError, origin: str, text: str | None = None) -> str:
    lines = []
    for e in err.errors():
        key = _loc(tuple(e.get("loc", ())))
        line = _line_of(text, key)
        where = f"{origin}, line {line}" if line else origin
        if e.get("type") == "extra_forbidden":
            lines.append(f"{where}: unknown key '{key}'")
        else:
            got = e.get("input")
            shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
            lines.append(f"{where}: key '{key}': {e.get('msg')} (got {shown})")
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
    # Validate the file alone first so its errors name the file, not the environment.
    try:
        _file_data = {}
        Settings.model_validate(data) if data else None
    except ValidationError as e:
        raise ConfigError(_format_validation(e, origin, text)) from e
    try:
        _file_data = data
        return Settings(**dict(overrides or {})), path
    except ValidationError as e:
        raise ConfigError(_format_validation(e, "environment/flags (TRAILTOP_*)")) from e
    finally:
        _file_data = {}


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out
