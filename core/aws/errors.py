"""AWS errors as trailtop reports them: a code to decide on, a line safe to show and log.

The reason line carries the error code, the operation and AWS's message, never request
parameters or credentials; the code sets live in core/util/error_codes.py (pure data).
"""

from __future__ import annotations

import asyncio
import re
import traceback

import aiohttp
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
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

__all__ = ["credential_process_of", "describe_error", "error_code", "needs_sso_login"]

#: What a profile without credentials needs: said wherever "no credentials" is.
NO_CREDENTIALS_HINT = (
    "no credentials found: name a profile (--profile P or AWS_PROFILE; create one with "
    "aws configure or aws configure sso) or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
)


def needs_sso_login(exc: BaseException) -> bool:
    """The profile's IAM Identity Center session is over: only a human can renew it.

    The SDK raises these when no token is cached (SSOTokenLoadError), when the cached token
    has expired or the portal refuses it (UnauthorizedSSOTokenError), and when an
    ``sso_session`` token could not be refreshed (TokenRetrievalError from provider sso).
    """
    if isinstance(exc, UnauthorizedSSOTokenError | SSOTokenLoadError):
        return True
    return isinstance(exc, TokenRetrievalError) and exc.kwargs.get("provider") == "sso"


def credential_process_of(exc: BaseException) -> str | None:
    """The ``credential_process`` command whose run raised ``exc``, if one did.

    The SDK's process provider does not put the command in its errors; it is the
    ``credential_process`` argument of the provider's frames in the traceback, so the
    operator is told which command of which profile failed.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for frame, _line in traceback.walk_tb(current.__traceback__):
            if frame.f_globals.get("__name__", "").endswith("botocore.credentials"):
                command = frame.f_locals.get("credential_process")
                if isinstance(command, str) and command:
                    return command
        current = current.__cause__ or current.__context__
    return None


_SECRET_OPTION = re.compile(
    r"(?i)(-[\w-]*(?:token|secret|password|passwd|key)[\w-]*(?:=|\s+))(\S+)"
)


def _credential_process_error(exc: BaseException) -> str | None:
    command = credential_process_of(exc)
    if command is None:
        return None
    # The operator's own command, but never the value of an option that names a secret.
    shown = _SECRET_OPTION.sub(r"\1<redacted>", command)
    shown = shown if len(shown) <= 200 else shown[:199] + "…"
    if isinstance(exc, FileNotFoundError | PermissionError):
        why = f"cannot run {exc.filename or 'it'}: {exc.strerror or type(exc).__name__}"
    elif isinstance(exc, CredentialRetrievalError):
        why = str(exc.kwargs.get("error_msg") or "").strip() or "it failed"
    else:
        why = f"{type(exc).__name__}: {exc}"
    return f"credential_process failed ({why}); fix the profile's command: {shown}"


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:64].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body"))


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
        if _looks_like_html(msg):
            # Not an AWS error document: a proxy's or an emulator's error page.
            msg = (
                "the endpoint answered with an HTML page, not an AWS error "
                "(check the region name and --endpoint-url)"
            )
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
    process_error = _credential_process_error(exc)
    if process_error is not None:
        return process_error
    if isinstance(exc, CredentialRetrievalError):
        provider = exc.kwargs.get("provider", "?")
        return f"credentials not retrieved ({provider}): {exc.kwargs.get('error_msg', '')}".strip()
    if isinstance(exc, ProfileNotFound):
        return f"unknown profile: {exc.kwargs.get('profile', '?')}"
    if isinstance(exc, PartialCredentialsError):
        return f"incomplete credentials: {exc.kwargs.get('cred_var', '?')} is missing"
    if isinstance(exc, NoCredentialsError):
        return NO_CREDENTIALS_HINT
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
