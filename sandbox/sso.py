"""The IAM Identity Center portal's ``GetRoleCredentials``, which moto does not serve.

An SSO profile (``sso_session`` or ``sso_start_url``, ``sso_account_id``, ``sso_role_name``)
gets its credentials in two steps: ``aws sso login`` caches a bearer token in
``~/.aws/sso/cache/``, and the SDK trades it for role credentials with an unsigned
``GET /federation/credentials?account_id=..&role_name=..`` carrying the token in the
``x-amz-sso_bearer_token`` header. The portal answers 401 ``UnauthorizedException`` for a
token it does not know or that has expired ("Session token not found or invalid"); the
SDK then tells the user to run ``aws sso login`` again. Here the portal knows the tokens
registered through the control plane, and the role credentials it hands out are moto STS
sessions of the account's role, so every other service sees an ordinary assumed role.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from moto.sts.models import sts_backends

from .protocol import CallInfo, WireResponse, error_response, json_response

PATH = "/federation/credentials"
#: Where the server's request handler puts the bearer token header (see server.py).
TOKEN_ENVIRON = "sandbox.sso_bearer_token"
#: An Identity Center permission set's default session duration (one hour).
SESSION_SECONDS = 3600


@dataclass
class SsoPortal:
    """Bearer tokens the portal accepts, each with its expiry (epoch seconds)."""

    tokens: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, token: str, expires_at: float) -> None:
        with self._lock:
            self.tokens[token] = expires_at

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self.tokens.pop(token, None) is not None

    def listing(self) -> dict[str, float]:
        with self._lock:
            return dict(self.tokens)

    def _valid(self, token: str) -> bool:
        with self._lock:
            expires = self.tokens.get(token)
        return expires is not None and expires > time.time()

    def get_role_credentials(
        self, environ: dict[str, Any], info: CallInfo, clock_offset: float = 0.0
    ) -> WireResponse:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        account = (query.get("account_id") or [""])[0]
        role_name = (query.get("role_name") or [""])[0]
        token = str(environ.get(TOKEN_ENVIRON, ""))
        info.account = account or info.account
        if not account or not role_name or not token:
            return error_response(
                "rest-json", 400, "InvalidRequestException", "Missing required parameter"
            )
        if not self._valid(token):
            return error_response(
                "rest-json", 401, "UnauthorizedException", "Session token not found or invalid"
            )
        role_arn = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{role_name}"
        session = sts_backends[account]["aws"].assume_role(
            region_name="us-east-1",
            role_session_name="sso-user",
            role_arn=role_arn,
            policy="",
            duration=SESSION_SECONDS + int(clock_offset),
            external_id="",
        )
        return json_response(
            {
                "roleCredentials": {
                    "accessKeyId": session.access_key_id,
                    "secretAccessKey": session.secret_access_key,
                    "sessionToken": session.session_token,
                    "expiration": int((time.time() + clock_offset + SESSION_SECONDS) * 1000),
                }
            }
        )
