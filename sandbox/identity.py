"""Who is calling: the account and principal behind an access key, read from moto's IAM/STS.

moto scopes assumed-role keys to the role's account; the sandbox must resolve callers the
same way moto does (never MOTO_ACCOUNT_ID), so faults, counters and recorded events land in
the account the request really acts in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.iam.models import get_account_id_from, iam_backends
from moto.sts.models import sts_backends


@dataclass(frozen=True)
class Caller:
    """The principal behind one access key."""

    account: str
    arn: str
    access_key: str
    kind: str  # "AssumedRole" | "IAMUser" | "Root"
    principal_id: str
    user_name: str  # CloudTrail's "Username" for LookupEvents
    role_arn: str | None = None

    def user_identity(self) -> dict[str, Any]:
        """CloudTrail's userIdentity block for this caller."""
        ident: dict[str, Any] = {
            "type": self.kind,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account,
            "accessKeyId": self.access_key,
        }
        if self.kind == "IAMUser":
            ident["userName"] = self.user_name
        if self.kind == "AssumedRole" and self.role_arn:
            role_name = self.role_arn.rsplit("/", 1)[-1]
            ident["sessionContext"] = {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": self.principal_id.split(":")[0],
                    "arn": self.role_arn,
                    "accountId": self.account,
                    "userName": role_name,
                },
                "attributes": {"mfaAuthenticated": "false"},
            }
        return ident


_ACCOUNTS: dict[str, str] = {}
_CALLERS: dict[str, Caller] = {}
#: Role sessions the control plane declared expired (expire_sessions), and the
#: expiration of each role session seen, by access key id.
_EXPIRED: set[str] = set()
_EXPIRATION: dict[str, datetime | None] = {}  # None: not a role session


def expire_sessions(role_arn: str) -> list[str]:
    """Expire every session of this role issued so far; returns their access key ids."""
    keys = [
        role.access_key_id
        for backends in sts_backends.values()
        for backend in backends.values()
        for role in backend.assumed_roles
        if role.role_arn == role_arn
    ]
    _EXPIRED.update(keys)
    return keys


def is_expired(access_key: str, clock_offset: float = 0.0) -> bool:
    """Whether a role session is past its Expiration on the estate's clock (the machine's
    plus ``clock_offset`` seconds), or was expired explicitly: AWS then answers
    ExpiredToken. Keys that are not role sessions never expire here."""
    if access_key in _EXPIRED:
        return True
    if access_key not in _EXPIRATION:
        # Looked up once per key: moto scans every session of the account to find it.
        account = account_of(access_key)
        role = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
        if (
            role is None
            and iam_backends[account]["aws"].get_user_from_access_key_id(access_key) is None
        ):
            return False  # neither a session nor a user's key yet: ask again next time
        _EXPIRATION[access_key] = role.expiration if role is not None else None
    expiration = _EXPIRATION[access_key]
    return expiration is not None and expiration <= utcnow() + timedelta(seconds=clock_offset)


def account_of(access_key: str) -> str:
    """The account moto acts in for this key (its own lookup, so we always agree).

    Cached only once moto knows the key: an unknown key falls back to the default account
    and may become known later (an AssumeRole answer is read before it is used).
    """
    if not access_key:
        return DEFAULT_ACCOUNT_ID
    cached = _ACCOUNTS.get(access_key)
    if cached is not None:
        return cached
    account = get_account_id_from(access_key)
    if account != DEFAULT_ACCOUNT_ID:
        _ACCOUNTS[access_key] = account
    return account


def is_known(access_key: str) -> bool:
    """Whether this server issued the key (an IAM user's key or an assumed-role session).

    moto acts in its default account for a key it never issued; AWS rejects it
    (InvalidClientTokenId / UnrecognizedClientException / InvalidAccessKeyId). A server
    restarted on the same port must not let a client's old sessions act as another account.
    """
    if not access_key:
        return True
    if access_key in _ACCOUNTS or access_key in _CALLERS:
        return True
    if account_of(access_key) != DEFAULT_ACCOUNT_ID:
        return True
    if sts_backends[DEFAULT_ACCOUNT_ID]["aws"].get_assumed_role_from_access_key(access_key):
        return True
    return (
        iam_backends[DEFAULT_ACCOUNT_ID]["aws"].get_user_from_access_key_id(access_key) is not None
    )


def resolve_caller(access_key: str) -> Caller:
    """Resolve an access key to its principal, as STS GetCallerIdentity would."""
    cached = _CALLERS.get(access_key)
    if cached is not None:
        return cached
    account = account_of(access_key)
    role = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
    if role is not None:
        caller = Caller(
            account=account,
            arn=role.arn,
            access_key=access_key,
            kind="AssumedRole",
            principal_id=role.user_id,
            user_name=role.session_name,
            role_arn=role.role_arn,
        )
        _CALLERS[access_key] = caller
        return caller
    iam = iam_backends[account]["aws"]
    user = iam.get_user_from_access_key_id(access_key)
    if user is not None:
        caller = Caller(
            account=account,
            arn=user.arn,
            access_key=access_key,
            kind="IAMUser",
            principal_id=user.id,
            user_name=user.name,
        )
        _CALLERS[access_key] = caller
        return caller
    return Caller(
        account=account,
        arn=f"arn:aws:iam::{account}:root",
        access_key=access_key,
        kind="Root",
        principal_id=account,
        user_name="root",
    )


def register_static_key(account: str, user_name: str, access_key_id: str, secret: str) -> str:
    """Make a chosen static key belong to an IAM user, so it resolves like a real user's key."""
    iam = iam_backends[account]["aws"]
    if user_name not in iam.users:
        iam.create_user(region_name="us-east-1", user_name=user_name, path="/", tags=[])
    key = iam.create_access_key(user_name)
    iam.access_keys.pop(key.physical_resource_id, None)
    key.access_key_id = access_key_id
    key.secret_access_key = secret
    iam.access_keys[key.physical_resource_id] = key
    return iam.users[user_name].arn
