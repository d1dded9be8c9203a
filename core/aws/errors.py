"""AWS errors as trailtop reports them: a code to decide on, a line safe to show and log.

The reason line carries the error code, the operation and AWS's message, never request
parameters or credentials; the code sets live in core/util/error_codes.py (pure data).
"""

from __future__ import annotations

import asyncio

import aiohttp
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from core.util.error_codes import ACCESS, CREDENTIAL, CREDENTIAL_OR_REGION, THROTTLE

__all__ = ["describe_error", "error_code", "needs_sso_login"]


def needs_sso_login(exc: BaseException) -> bool:
    """The profile's IAM Identity Center session is over: only a human can renew it.

    The SDK raises these when no token is cached (SSOTokenLoadError), when the cached token
    has expired or the portal refuses it (UnauthorizedSSOTokenError), and when an
    ``sso_session`` token could not be refreshed (TokenRetrievalError from provider sso).
    """
    if isinstance(exc, UnauthorizedSSOTokenError | SSOTokenLoadError):
        return True
    return isinstance(exc, TokenRetrievalError) and exc.kwargs.get("provider") == "sso"


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def describe_error(exc: BaseException) -> str:
    """A one-line reason safe to show and log: codes and AWS messages, never credentials."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "Error")
        msg = str(err.get("Message") or "").strip()
        op = getattr(exc, "operation_name", "")
        kind = ""
        if code in ACCESS:
            kind = "access denied"
        elif code in CREDENTIAL:
            kind = "credentials rejected"
            if code in CREDENTIAL_OR_REGION:
                msg = (msg + " " if msg else "") + "(or the region is not enabled for this account)"
        elif code in THROTTLE:
            kind = "throttled (retries exhausted)"
        elif str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")).startswith(
            "5"
        ):
            kind = "service error"
        head = f"{kind}: " if kind else ""
        return f"{head}{code}{' on ' + op if op else ''}{': ' + msg if msg else ''}"
    if needs_sso_login(exc):
        return "SSO session expired or not logged in: run aws sso login for this profile"
    if isinstance(exc, ProfileNotFound):
        return f"unknown profile: {exc.kwargs.get('profile', '?')}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "no credentials found for this profile"
    if isinstance(exc, NoRegionError):
        return "no region configured"
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError):
        return f"endpoint unreachable: {getattr(exc, 'kwargs', {}).get('endpoint_url', '')}".rstrip(
            ": "
        )
    if isinstance(exc, ReadTimeoutError):
        return "read timeout: the endpoint did not answer in time"
    if isinstance(exc, ConnectionClosedError):
        return "connection closed by the endpoint"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return f"network error: {type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"
