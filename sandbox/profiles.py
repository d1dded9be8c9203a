"""Shared config and credentials files for the emulated estate (fake, distinctive keys).

The keys are obviously fake but unique strings, listed in the manifest under ``secrets`` so
tests can grep trailtop's output and logs to prove secrets never leak.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StaticKey:
    access_key_id: str
    secret_access_key: str


#: The management account of every scenario (moto's default account).
MGMT = "123456789012"
#: The role Organizations creates in a new member account, trusting the management account.
ORG_ROLE = "OrganizationAccountAccessRole"

#: The management account's long-lived key (IAM user ``sandbox-admin`` in 123456789012).
MGMT_KEY = StaticKey("AKIATRAILTOPSANDBOX1", "ttFAKEsecret/DoNotLeak+Mgmt0123456789abc")


def organization_manifest(
    org_id: str,
    members: Mapping[str, str],
    profile: str,
    regions: Sequence[str],
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The manifest's `organization`, `accounts` (management first) and `profiles` of an
    estate whose management account is reached by a static-key `profile` and every member
    (`members`: name -> id) by the Organization role."""
    named = names or {MGMT: "management", **{v: k for k, v in members.items()}}
    return {
        "organization": {
            "id": org_id,
            "management_account": MGMT,
            "role_name": ORG_ROLE,
            "members": [{"id": v, "name": k} for k, v in members.items()],
        },
        "accounts": {
            a: {
                "name": named[a],
                "reached_by": f"profile {profile} (static keys)"
                if a == MGMT
                else f"organization role {ORG_ROLE}",
                "regions": list(regions),
            }
            for a in [MGMT, *members.values()]
        },
        "profiles": {
            "default": {"account": MGMT, "static": True},
            profile: {"account": MGMT, "static": True},
        },
    }


def sso_start_url(profile: str) -> str:
    """The (fictitious) Identity Center start URL of an SSO profile; one per profile, so
    each profile has its own token in the SSO cache."""
    return f"https://sandbox-{profile}.awsapps.com/start"


@dataclass
class ProfileSet:
    """Profiles to write: static keys, roles (``role_arn`` + ``source_profile``) and SSO."""

    static: dict[str, StaticKey] = field(default_factory=dict)
    roles: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (role_arn, source)
    #: name -> (account id, role name): IAM Identity Center profiles (see sso_start_url()).
    sso: dict[str, tuple[str, str]] = field(default_factory=dict)
    region: str = "us-east-1"

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write ``config`` and ``credentials`` in ``directory``; returns both paths."""
        config_lines: list[str] = []
        cred_lines: list[str] = []
        for name, key in self.static.items():
            header = "default" if name == "default" else f"profile {name}"
            config_lines += [f"[{header}]", f"region = {self.region}", "output = json", ""]
            cred_lines += [
                f"[{name}]",
                f"aws_access_key_id = {key.access_key_id}",
                f"aws_secret_access_key = {key.secret_access_key}",
                "",
            ]
        for name, (role_arn, source) in self.roles.items():
            config_lines += [
                f"[profile {name}]",
                f"role_arn = {role_arn}",
                f"source_profile = {source}",
                f"region = {self.region}",
                "output = json",
                "",
            ]
        for name, (account, role_name) in self.sso.items():
            config_lines += [
                f"[profile {name}]",
                f"sso_start_url = {sso_start_url(name)}",
                f"sso_region = {self.region}",
                f"sso_account_id = {account}",
                f"sso_role_name = {role_name}",
                f"region = {self.region}",
                "output = json",
                "",
            ]
        config = directory / "config"
        credentials = directory / "credentials"
        config.write_text("\n".join(config_lines))
        credentials.write_text("\n".join(cred_lines))
        credentials.chmod(0o600)
        return config, credentials
