"""CloudTrail's delegated administrator, as Organizations and CloudTrail keep it.

moto implements RegisterDelegatedAdministrator / ListDelegatedAdministrators but accepts
only a few service principals, not ``cloudtrail.amazonaws.com``; it has no CloudTrail
RegisterOrganizationDelegatedAdmin; and it answers ListDelegatedAdministrators in a member
account with an empty list where AWS answers a delegated administrator with the
organization's list and refuses other members. The sandbox adds those, on moto's own
Organizations state, so both APIs agree.
"""

from __future__ import annotations

from typing import Any

from moto.organizations.models import (
    FakeDelegatedAdministrator,
    OrganizationsBackend,
    organizations_backends,
)

from .protocol import CallInfo, WireResponse, error_response, json_response

CLOUDTRAIL = "cloudtrail.amazonaws.com"
#: CloudTrail allows at most three delegated administrators per organization.
MAX_CLOUDTRAIL_ADMINS = 3


def allow_cloudtrail_delegation() -> None:
    """Let moto register delegated administrators for CloudTrail (AWS supports it)."""
    if CLOUDTRAIL not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
        FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(CLOUDTRAIL)


def _backend(account: str) -> OrganizationsBackend:
    backend: OrganizationsBackend = organizations_backends[account]["aws"]
    return backend


def cloudtrail_admins(management: str) -> list[str]:
    """Accounts registered as CloudTrail delegated administrators of this organization."""
    return [a.account.id for a in _backend(management).admins if CLOUDTRAIL in a.services]


def _fail(code: str, message: str) -> WireResponse:
    return error_response("json", 400, code, message)


def _management_backend(info: CallInfo) -> OrganizationsBackend | WireResponse:
    backend = _backend(info.account)
    if backend.org is not None:
        return backend
    if info.account in organizations_backends.master_accounts:
        return _fail(
            "NotOrganizationManagementAccountException",
            "This operation can be performed only by the organization's management account.",
        )
    return _fail(
        "OrganizationsNotInUseException",
        "This account is not a member of an organization.",
    )


def register_organization_delegated_admin(info: CallInfo) -> WireResponse:
    """cloudtrail:RegisterOrganizationDelegatedAdmin, from the management account."""
    backend = _management_backend(info)
    if isinstance(backend, WireResponse):
        return backend
    member = str(info.params.get("MemberAccountId", ""))
    if member == info.account:
        return _fail(
            "CannotDelegateManagementAccountException",
            "The management account cannot be registered as a delegated administrator.",
        )
    if not any(s.get("ServicePrincipal") == CLOUDTRAIL for s in backend.services):
        return _fail(
            "CloudTrailAccessNotEnabledException",
            "Trusted access for CloudTrail is not enabled in AWS Organizations.",
        )
    if not any(a.id == member for a in backend.accounts):
        return _fail("AccountNotFoundException", f"Account {member} was not found.")
    admins = cloudtrail_admins(info.account)
    if member in admins:
        return _fail(
            "AccountRegisteredException",
            f"Account {member} is already registered as a CloudTrail delegated administrator.",
        )
    if len(admins) >= MAX_CLOUDTRAIL_ADMINS:
        return _fail(
            "DelegatedAdminAccountLimitExceededException",
            "The organization already has the maximum number of CloudTrail delegated "
            "administrators.",
        )
    backend.register_delegated_administrator(AccountId=member, ServicePrincipal=CLOUDTRAIL)
    return json_response({})


def deregister_organization_delegated_admin(info: CallInfo) -> WireResponse:
    """cloudtrail:DeregisterOrganizationDelegatedAdmin, from the management account."""
    backend = _management_backend(info)
    if isinstance(backend, WireResponse):
        return backend
    member = str(info.params.get("DelegatedAdminAccountId", ""))
    if not any(a.id == member for a in backend.accounts):
        return _fail("AccountNotFoundException", f"Account {member} was not found.")
    if member not in cloudtrail_admins(info.account):
        return _fail(
            "AccountNotRegisteredException",
            f"Account {member} is not registered as a CloudTrail delegated administrator.",
        )
    backend.deregister_delegated_administrator(AccountId=member, ServicePrincipal=CLOUDTRAIL)
    return json_response({})


def list_delegated_administrators_for_member(info: CallInfo) -> WireResponse | None:
    """A member asks: a delegated administrator gets the organization's list, others are
    refused. The management account is left to moto (None)."""
    master = organizations_backends.master_accounts.get(info.account)
    if master is None or _backend(info.account).org is not None:
        return None
    management = organizations_backends[master[0]][master[1]]
    if not any(a.account.id == info.account for a in management.admins):
        return _fail("AccessDeniedException", "You don't have permissions to access this resource.")
    kwargs: dict[str, Any] = {}
    if info.params.get("ServicePrincipal"):
        kwargs["ServicePrincipal"] = str(info.params["ServicePrincipal"])
    try:
        listed = management.list_delegated_administrators(**kwargs)
    except Exception as err:  # noqa: BLE001 - moto's InvalidInputException and kin
        return _fail(
            getattr(err, "error_type", "InvalidInputException"), getattr(err, "message", str(err))
        )
    return json_response(listed)


def change_members(management: str, remove: list[str], add: list[str]) -> dict[str, Any]:
    """Remove member accounts from the organization and create new ones (by name).

    What RemoveAccountFromOrganization and CreateAccount do, for a test that changes the
    Organization under a running watcher; returns the removed ids and the new ids by name.
    """
    backend = _backend(management)
    if backend.org is None:
        raise ValueError(f"account {management} does not manage an organization")
    removed: list[str] = []
    for account_id in remove:
        if account_id == management:
            raise ValueError("the management account cannot leave its organization")
        backend.remove_account_from_organization(AccountId=account_id)
        removed.append(account_id)
    added: dict[str, str] = {}
    for name in add:
        status = backend.create_account(Email=f"{name}@example.com", AccountName=name)
        added[name] = str(status["CreateAccountStatus"]["AccountId"])
    return {"removed": removed, "added": added}
