"""Delivery emulation: per-view delivery state that CloudTrail's GetTrailStatus reports.

A view is (account, region, trail ARN). Deliveries happen on a global tick every
``interval`` seconds while the trail logs; each view is evaluated lazily when asked (ticks
elapsed since its last evaluation collapse into one attempt at the latest tick), so no
thread spins per view. A successful attempt clears the channel's error and moves its time;
a failed one records the error and keeps the last success time, as CloudTrail does.
A forced delivery (control endpoint) makes every view attempt once more, immediately:
tests use it instead of sleeping.

A quiet view is a region with no API activity: CloudTrail has no log file to deliver
there, so its log, notification and CloudWatch Logs channels neither move nor fail, while
digest files (log file validation on) keep coming, since CloudTrail delivers one for every
hour even when no API activity happened. The sandbox's digest cadence is its delivery
tick, not an hour: time is compressed for tests.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.cloudtrail.models import Trail

from . import destinations
from .destinations import TrailRef

CHANNELS = ("s3", "digest", "cloudwatch", "sns")
#: Channels that only move when a log file is delivered (a quiet region has none).
_LOG_CHANNELS = ("s3", "cloudwatch", "sns")


@dataclass
class ChannelState:
    last_success: float | None = None
    last_attempt: float | None = None
    error: str | None = None

    def record(self, at: float, error: str | None) -> None:
        self.last_attempt = at
        self.error = error
        if error is None:
            self.last_success = max(at, self.last_success or at)


@dataclass
class ViewState:
    trail_id: int
    last_tick: int = -1
    forced_generation: int = 0
    channels: dict[str, ChannelState] = field(
        default_factory=lambda: {c: ChannelState() for c in CHANNELS}
    )


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


#: Finds an injected error text for a view: (account, region, trail ARN) -> {field: text}.
OverrideLookup = Callable[[str, str, str, str], dict[str, str]]


class DeliveryEngine:
    """Keeps every view's delivery state and renders GetTrailStatus answers."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.time) -> None:
        self.interval = max(interval, 0.01)
        self.clock = clock
        self.origin = clock()
        self._lock = threading.Lock()
        self._views: dict[tuple[str, str, str], ViewState] = {}
        self._seeds: dict[str, float | None] = {}
        #: Quiet views -> when their last log file was delivered (None: keep what it had).
        self._quiet: dict[tuple[str, str, str], float | None] = {}
        self._forced_generation = 0
        self._forced_at = 0.0

    # -- control ---------------------------------------------------------------------------
    def seed_history(self, trail_arn: str, last_success: float | None) -> None:
        """New views of this trail start with this last success (None: never delivered)."""
        with self._lock:
            self._seeds[trail_arn] = last_success
            for key in [k for k in self._views if k[2] == trail_arn]:
                del self._views[key]

    def set_quiet(
        self, account: str, region: str, trail_arn: str, quiet: bool, last_log: float | None
    ) -> None:
        """Mark a view quiet (no API activity: no log file) or active again.

        ``last_log`` is when its last log file was delivered; it becomes the time its log,
        notification and CloudWatch Logs channels report from now on.
        """
        key = (account, region, trail_arn)
        with self._lock:
            if not quiet:
                self._quiet.pop(key, None)
                return
            self._quiet[key] = last_log
            view = self._views.get(key)
            if view is not None:
                self._apply_quiet(view, last_log)

    def quiet_views(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"account": k[0], "region": k[1], "trail_arn": k[2], "last_log": v}
                for k, v in self._quiet.items()
            ]

    @staticmethod
    def _apply_quiet(view: ViewState, last_log: float | None) -> None:
        if last_log is None:
            return
        for name in _LOG_CHANNELS:
            view.channels[name].last_success = last_log
            view.channels[name].last_attempt = last_log
            view.channels[name].error = None

    def force_delivery(self) -> float:
        """Every logging view attempts one delivery at its next evaluation, stamped now."""
        with self._lock:
            self._forced_generation += 1
            self._forced_at = self.clock()
            return self._forced_at

    def set_interval(self, interval: float) -> None:
        with self._lock:
            now = self.clock()
            self.interval = max(interval, 0.01)
            self.origin = now
            for view in self._views.values():
                view.last_tick = 0

    # -- evaluation ------------------------------------------------------------------------
    def _view(self, key: tuple[str, str, str], trail: Trail) -> ViewState:
        view = self._views.get(key)
        if view is None or view.trail_id != id(trail):
            view = ViewState(trail_id=id(trail))
            seeded = self._seeds.get(key[2], -1.0)
            if seeded != -1.0:
                for channel in view.channels.values():
                    channel.last_success = seeded
                    channel.last_attempt = seeded
            if key in self._quiet:
                self._apply_quiet(view, self._quiet[key])
            self._views[key] = view
        return view

    def _attempt(self, view: ViewState, ref: TrailRef, at: float, quiet: bool) -> None:
        trail = ref.trail
        if quiet:
            # No activity, no log file: only the hourly digest is delivered.
            if trail.log_validation:
                view.channels["digest"].record(at, destinations.s3_error(ref, "CloudTrail-Digest"))
            return
        s3 = destinations.s3_error(ref)
        log_error = s3 or destinations.kms_error(ref)
        view.channels["s3"].record(at, log_error)
        if trail.log_validation:
            # Digest files use SSE-S3, never the trail's KMS key: only bucket problems hit them.
            view.channels["digest"].record(at, destinations.s3_error(ref, "CloudTrail-Digest"))
        if destinations.topic_arn(trail) and log_error is None:
            view.channels["sns"].record(at, destinations.sns_error(ref))
        if trail.cw_log_group_arn:
            view.channels["cloudwatch"].record(at, destinations.cloudwatch_error(ref))

    def _evaluate(self, ref: TrailRef) -> ViewState:
        key = (ref.view_account, ref.view_region, ref.arn)
        view = self._view(key, ref.trail)
        if not ref.trail.status.is_logging:
            return view
        now = self.clock()
        attempt: float | None = None
        tick = math.floor((now - self.origin) / self.interval)
        if tick > view.last_tick:
            attempt = self.origin + tick * self.interval
            view.last_tick = tick
        if self._forced_generation > view.forced_generation:
            view.forced_generation = self._forced_generation
            attempt = max(attempt or 0.0, self._forced_at)
        if attempt is not None:
            # A trail cannot have delivered before it started logging.
            attempt = max(attempt, _epoch(ref.trail.status.started) or attempt)
            self._attempt(view, ref, attempt, key in self._quiet)
        return view

    def status(self, ref: TrailRef, overrides: dict[str, str] | None = None) -> dict[str, Any]:
        """The GetTrailStatus response body for one view."""
        with self._lock:
            view = self._evaluate(ref)
            channels = {
                name: ChannelState(c.last_success, c.last_attempt, c.error)
                for name, c in view.channels.items()
            }
        trail = ref.trail
        body: dict[str, Any] = {"IsLogging": bool(trail.status.is_logging)}
        started = _epoch(trail.status.started)
        stopped = _epoch(trail.status.stopped)
        if started is not None:
            body["StartLoggingTime"] = started
            body["TimeLoggingStarted"] = iso(started)
        if stopped is not None:
            body["StopLoggingTime"] = stopped
            body["TimeLoggingStopped"] = iso(stopped)
        fields = [
            ("s3", "LatestDeliveryError", "LatestDeliveryTime", True),
            (
                "digest",
                "LatestDigestDeliveryError",
                "LatestDigestDeliveryTime",
                trail.log_validation,
            ),
            (
                "sns",
                "LatestNotificationError",
                "LatestNotificationTime",
                bool(destinations.topic_arn(trail)),
            ),
            (
                "cloudwatch",
                "LatestCloudWatchLogsDeliveryError",
                "LatestCloudWatchLogsDeliveryTime",
                bool(trail.cw_log_group_arn),
            ),
        ]
        for channel, error_field, time_field, configured in fields:
            state = channels[channel]
            if not configured:
                continue
            if state.last_success is not None:
                body[time_field] = state.last_success
            if state.error is not None:
                body[error_field] = state.error
        s3 = channels["s3"]
        sns = channels["sns"]
        body["LatestDeliveryAttemptTime"] = iso(s3.last_attempt) if s3.last_attempt else ""
        body["LatestDeliveryAttemptSucceeded"] = iso(s3.last_success) if s3.last_success else ""
        notifies = bool(destinations.topic_arn(trail))
        body["LatestNotificationAttemptTime"] = (
            iso(sns.last_attempt) if notifies and sns.last_attempt else ""
        )
        body["LatestNotificationAttemptSucceeded"] = (
            iso(sns.last_success) if notifies and sns.last_success else ""
        )
        body.update(overrides or {})
        return body

    def snapshot(self) -> list[dict[str, Any]]:
        """All views' raw state, for the control endpoint (debugging and tests)."""
        with self._lock:
            return [
                {
                    "account": k[0],
                    "region": k[1],
                    "trail_arn": k[2],
                    **{
                        name: {"last_success": c.last_success, "error": c.error}
                        for name, c in v.channels.items()
                    },
                }
                for k, v in self._views.items()
            ]
