"""Client side of the /_sandbox control plane (plain urllib: no SDK, no signing)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode


class ControlError(RuntimeError):
    """A control request the server refused (bad fault spec, unknown route...)."""


class ControlClient:
    """JSON calls to ``<endpoint>/_sandbox/...``."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")

    def call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = f"{self.endpoint_url}/_sandbox/{path.lstrip('/')}"
        clean = {k: v for k, v in (query or {}).items() if v is not None}
        if clean:
            url += "?" + urlencode(clean)
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                result: dict[str, Any] = json.loads(response.read() or b"{}")
                return result
        except urllib.error.HTTPError as err:
            raise ControlError(
                f"{method} {path}: {err.code} {err.read().decode(errors='replace')}"
            ) from None


class FaultsClient:
    """``sb.faults``: add/remove/list fault rules at run time.

    Kinds and their parameters (all take the filters service, operation, account, region,
    count, probability):
      latency(latency_ms) · throttle · 5xx(status=500|503) · access_denied(message?) ·
      drop · region_disabled · expired_token · error_message(message, trail?, field?)
    """

    def __init__(self, control: ControlClient) -> None:
        self._control = control

    def add(self, kind: str, **spec: Any) -> str:
        """Add a rule; returns its id (for ``remove``)."""
        return str(self._control.call("POST", "faults", {"kind": kind, **spec})["id"])

    def remove(self, rule_id: str) -> bool:
        return bool(self._control.call("DELETE", f"faults/{rule_id}")["removed"])

    def clear(self) -> None:
        self._control.call("DELETE", "faults")

    def list(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self._control.call("GET", "faults")["rules"]
        return rules
