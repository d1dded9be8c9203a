"""moto, cheaper per request: what the sandbox's server changes in it, and why.

The demo's estate is seeded through the server's front door (141 calls) while the operator
waits for the first screen, so moto's per-request overheads are the demo's start time:

- **Backend by host.** moto's dispatcher finds a request's backend by listing its own
  package directory (a listdir and a stat per service module, twice per request). The
  answer for a host never changes: it is kept.
- **Regions per service.** Each new account's backend asks botocore for the service's
  regions again (moto caches the answer per account object, so never across accounts);
  here it is kept per service.
- **Symmetric KMS keys.** moto makes an RSA-2048 private key for every key, symmetric ones
  included (~0.1 s of CPU each). Only Sign, Verify and GetPublicKey use it, which AWS
  refuses on a symmetric key: those keys share one private key, made on first use.
  Asymmetric keys still get their own.
- **Warm-up.** The service models and the Flask application of each service the sandbox
  emulates are built before the first request needs them (`warm`), while the parent is
  still importing its SDK.

The patches draw nothing from moto's random generator, and the warm-up runs on one thread
before any request, so the seeded ids (sandbox/server.py, `seed_ids`) repeat as before.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

import moto.backends as moto_backends
import moto.kms.models as kms_models
from moto.core.base_backend import AccountSpecificBackend
from moto.core.utils import get_service_model
from moto.kms import utils as kms_utils
from moto.kms.utils import RSAPrivateKey
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

#: The services the sandbox's scenarios and trailtop's sweeps call (botocore names).
SERVICES = ("sts", "iam", "organizations", "cloudtrail", "s3", "kms", "sns", "logs")


class CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering each host's backend (see the module docstring)."""

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._modules = frozenset(moto_backends.list_of_moto_modules())
        self._by_host: dict[str, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host is None:
            return None
        if host in self._by_host:
            return self._by_host[host]
        if host == "moto_api" or host in self._modules:
            backend: Any = host
        else:
            backend = super().get_backend_for_host(host)
        self._by_host[host] = backend
        return backend

    def warm(self, services: Iterable[str] = SERVICES) -> None:
        """Build the models and applications of `services` now, not in their first request."""
        for service in services:
            get_service_model(service)
            backend = self.get_backend_for_host(f"{service}.us-east-1.amazonaws.com")
            with self.lock:
                if backend and backend not in self.app_instances:
                    self.app_instances[backend] = self.create_app(backend)


_original_private_key = kms_utils.generate_private_key
_symmetric_specs = frozenset({"", "SYMMETRIC_DEFAULT"})
_shared_lock = threading.Lock()


@functools.cache
def _shared_rsa() -> RSAPrivateKey:
    return RSAPrivateKey(key_size=2048)


class _SharedPrivateKey:
    """Stands for the RSA key of a symmetric KMS key: one key for all, made on first use."""

    def __getattr__(self, name: str) -> Any:
        with _shared_lock:
            key = _shared_rsa()
        return getattr(key, name)


def _private_key(key_spec: str) -> Any:
    if not key_spec or key_spec in _symmetric_specs or key_spec.startswith("HMAC_"):
        return _SharedPrivateKey()
    return _original_private_key(key_spec)


_original_regions = AccountSpecificBackend._generate_regions.__wrapped__


@functools.cache
def _regions_of(service_name: str) -> tuple[str, ...]:
    return tuple(_original_regions(None, service_name))


def _generate_regions(self: AccountSpecificBackend[Any], service_name: str) -> list[str]:
    return list(_regions_of(service_name))


def install() -> None:
    """Patch moto's KMS keys and backend regions (idempotent; the server process only)."""
    kms_models.generate_private_key = _private_key  # type: ignore[attr-defined]
    AccountSpecificBackend._generate_regions = _generate_regions  # type: ignore[method-assign,assignment]
