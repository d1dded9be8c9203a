"""Mutes: known, accepted findings that stay visible but no longer count.

A mute names a finding by code, account (id or alias), region and trail (name or ARN),
each a shell-style pattern, with a reason and an expiry. Mutes come from the config
(`[[mute.rules]]`) and from the mute file (`mute.file`, written by the TUI); both are
merged. A muted finding keeps its place in every output, marked (`Finding.muted`), but its
view's state is judged from the other findings, so it moves neither the exit status nor
alerts nor notifications. An expired mute no longer applies: the finding counts again, and
the engine says so once (a `Notice` of kind `mute-expired`).

Pure part: :func:`apply_mutes` (views and coverage in, marked copies out, with the expired
mutes that would have applied). I/O part: reading and writing the mute file, and
:class:`MuteBook`, which the engine keeps between sweeps (it re-reads the file when it
changes and remembers which expiries it has already reported).
"""

from __future__ import annotations

import logging
import os
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from core.codes import Code
from core.model import (
    CoverageGap,
    Finding,
    MuteMark,
    Notice,
    State,
    TrailView,
    worst_state,
)
from core.settings import ConfigError, MuteRule, Settings
from core.util.times import iso

log = logging.getLogger(__name__)

#: The `source` of a mute from the config file (the mute file's are its path).
CONFIG_SOURCE = "config"


@dataclass(frozen=True)
class Mute:
    """One mute rule, resolved: patterns, why, until when, and where it was written."""

    code: str
    reason: str
    expires: datetime
    account: str = "*"
    region: str = "*"
    trail: str = "*"
    source: str = CONFIG_SOURCE

    @classmethod
    def from_rule(cls, rule: MuteRule, source: str = CONFIG_SOURCE) -> Mute:
        return cls(
            code=rule.code,
            reason=rule.reason,
            expires=rule.expires,
            account=rule.account,
            region=rule.region,
            trail=rule.trail,
            source=source,
        )

    def active(self, now: datetime) -> bool:
        return now < self.expires

    def matches(
        self,
        code: str,
        account_id: str,
        region: str,
        trail_name: str = "",
        trail_arn: str = "",
        account_alias: str | None = None,
    ) -> bool:
        """Every pattern matches; the account by id or alias, the trail by name or ARN."""
        return (
            fnmatchcase(code, self.code)
            and (
                fnmatchcase(account_id, self.account)
                or (account_alias is not None and fnmatchcase(account_alias, self.account))
            )
            and fnmatchcase(region, self.region)
            and (fnmatchcase(trail_name, self.trail) or fnmatchcase(trail_arn, self.trail))
        )

    def mark(self) -> MuteMark:
        return MuteMark(self.reason, self.expires, self.source)

    def to_toml(self) -> str:
        """One `[[rules]]` table of the mute file."""
        lines = ["[[rules]]"]
        for key in ("code", "account", "region", "trail", "reason"):
            lines.append(f"{key} = {_toml_string(getattr(self, key))}")
        lines.append(f"expires = {iso(self.expires)}")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Expired:
    """An expired mute that would still cover a finding: where, for the once-only notice."""

    mute: Mute
    account_id: str
    region: str
    trail: str
    code: str


@dataclass(frozen=True)
class Muted:
    """What :func:`apply_mutes` returns."""

    views: list[TrailView]
    coverage: list[CoverageGap]
    expired: tuple[Expired, ...] = ()


# -- pure -------------------------------------------------------------------------------------


def mute_for(
    view: TrailView, finding: Finding, reason: str, expires: datetime, source: str
) -> Mute:
    """The mute the TUI writes for one finding of one view: exactly that code, account,
    region and trail (by ARN; a placeholder row has none, so any trail)."""
    return Mute(
        code=str(finding.code),
        reason=reason,
        expires=expires,
        account=_literal(view.key.account_id),
        region=_literal(view.key.region),
        trail=_literal(view.trail.arn) if view.trail.arn else "*",
        source=source,
    )


def _literal(text: str) -> str:
    """A pattern that matches exactly `text` (brackets quote the pattern characters)."""
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def view_state(view: TrailView, findings: Sequence[Finding]) -> State:
    """The state judged from the findings that count: unknown while the status could not be
    read (its STATUS_UNAVAILABLE finding unmuted), else the worst of the unmuted findings."""
    counting = [f for f in findings if f.muted is None]
    if any(f.code == Code.STATUS_UNAVAILABLE for f in counting):
        return State.UNKNOWN
    return worst_state(f.state for f in counting)


def _first(
    mutes: Sequence[Mute],
    now: datetime,
    code: str,
    account_id: str,
    region: str,
    trail_name: str = "",
    trail_arn: str = "",
    account_alias: str | None = None,
) -> tuple[Mute | None, Mute | None]:
    """(the first active mute that matches, the first expired one that matches)."""
    expired: Mute | None = None
    for m in mutes:
        if m.matches(code, account_id, region, trail_name, trail_arn, account_alias):
            if m.active(now):
                return m, None
            expired = expired or m
    return None, expired


def apply_mutes(
    views: Iterable[TrailView],
    coverage: Iterable[CoverageGap],
    mutes: Sequence[Mute],
    now: datetime,
) -> Muted:
    """Mark muted findings and judge each view again from the others. Muted findings move
    after the counting ones (the top finding is one that counts). Idempotent: marks from an
    earlier call are replaced. A view nothing applies to is returned as it was."""
    out_views: list[TrailView] = []
    expired: list[Expired] = []
    for v in views:
        marked: list[Finding] = []
        for f in v.findings:
            active, old = _first(
                mutes,
                now,
                f.code,
                v.key.account_id,
                v.key.region,
                v.trail.name,
                v.trail.arn,
                v.account_alias,
            )
            if old is not None:
                expired.append(
                    Expired(old, v.key.account_id, v.key.region, v.trail.name, str(f.code))
                )
            marked.append(_marked(f, active))
        if all(f.muted is None for f in (*marked, *v.findings)):
            out_views.append(v)
            continue
        ordered = (*(f for f in marked if f.muted is None), *(f for f in marked if f.muted))
        out_views.append(replace(v, findings=ordered, state=view_state(v, ordered)))
    out_coverage: list[CoverageGap] = []
    for g in coverage:
        gap_findings: list[Finding] = []
        for f in g.findings:
            active, old = _first(mutes, now, f.code, g.account_id, g.region)
            if old is not None:
                expired.append(Expired(old, g.account_id, g.region, "", str(f.code)))
            gap_findings.append(_marked(f, active))
        out_coverage.append(replace(g, findings=tuple(gap_findings)))
    return Muted(out_views, out_coverage, tuple(expired))


def _marked(f: Finding, mute: Mute | None) -> Finding:
    mark = mute.mark() if mute is not None else None
    return f if f.muted == mark else replace(f, muted=mark)


def counting(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that count (for metrics and notifications): the unmuted ones."""
    return [f for f in findings if f.muted is None]


def expiry_notice(e: Expired) -> Notice:
    where = f"trail {e.trail} in {e.region}" if e.trail else f"region {e.region}"
    return Notice(
        "mute-expired",
        e.account_id,
        f"The mute of {e.code} on {where} expired at {iso(e.mute.expires)} "
        f"(reason: {e.mute.reason}); it counts again.",
    )


# -- the mute file ------------------------------------------------------------------------


class _MuteFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[MuteRule] = []


def mute_file_path(settings: Settings) -> Path | None:
    return Path(settings.mute.file).expanduser() if settings.mute.file else None


def config_mutes(settings: Settings) -> list[Mute]:
    return [Mute.from_rule(r) for r in settings.mute.rules]


def load_mute_file(path: Path) -> list[Mute]:
    """The mutes of a mute file; none when it does not exist. Raises ConfigError naming
    the file (and the rule) when it cannot be read or is malformed."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the mute file: {e}") from e
    try:
        data = tomllib.loads(text)
        parsed = _MuteFile.model_validate(data)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: malformed TOML in the mute file: {e}") from e
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(f"{path}: mute file, {loc}: {first.get('msg')}") from e
    return [Mute.from_rule(r, str(path)) for r in parsed.rules]


_HEADER = (
    "# trailtop mutes: muted findings stay visible but do not count until `expires`.\n"
    "# Written by trailtop (key m); hand edits are kept. Fields: see config.example.toml [mute].\n"
)


def save_mute_file(path: Path, mutes: Sequence[Mute]) -> None:
    """Write the mute file atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _HEADER + "".join("\n" + m.to_toml() for m in mutes)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mutes-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_mute(path: Path, mute: Mute) -> list[Mute]:
    """Append one mute to the mute file (the TUI's `m`); returns the file's mutes."""
    mutes = [*load_mute_file(path), replace(mute, source=str(path))]
    save_mute_file(path, mutes)
    return mutes


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and every control character escaped."""
    out = ['"']
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


# -- between sweeps -----------------------------------------------------------------------


@dataclass
class MuteBook:
    """The engine's mutes: the config's, merged with the mute file's (re-read when it
    changes, so a mute written by the TUI or by hand applies at the next sweep), and the
    expiries already reported."""

    config: list[Mute] = field(default_factory=list)
    path: Path | None = None
    _file: list[Mute] = field(default_factory=list)
    _seen: tuple[int, int] | None = None
    _said: set[tuple[Mute, str]] = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: Settings) -> MuteBook:
        """Raises ConfigError when the mute file is malformed (trailtop stops at start)."""
        book = cls(config_mutes(settings), mute_file_path(settings))
        book.refresh(strict=True)
        return book

    def refresh(self, *, strict: bool = False) -> None:
        """Re-read the mute file if it changed. A malformed edit while running keeps the
        mutes read before (logged); at start (`strict`) it raises ConfigError."""
        if self.path is None:
            return
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp == self._seen and self._seen is not None:
            return
        try:
            self._file = load_mute_file(self.path) if stamp is not None else []
        except ConfigError as e:
            if strict:
                raise
            log.warning("mute file not re-read, the mutes read before still apply: %s", e)
        self._seen = stamp

    @property
    def mutes(self) -> list[Mute]:
        return [*self.config, *self._file]

    def apply(
        self, views: Iterable[TrailView], coverage: Iterable[CoverageGap], now: datetime
    ) -> tuple[list[TrailView], list[CoverageGap], list[Notice]]:
        """Apply the current mutes; notices for expiries not reported before (one per mute
        and account)."""
        self.refresh()
        result = apply_mutes(views, coverage, self.mutes, now)
        notices: list[Notice] = []
        for e in result.expired:
            key = (e.mute, e.account_id)
            if key not in self._said:
                self._said.add(key)
                notices.append(expiry_notice(e))
        return result.views, result.coverage, notices
