"""The private aiobotocore internals core/aws/clients.py patches, checked against the pin.

If an upgrade removes or renames one of them, the patches switch themselves off (the
engine still works, only slower); this test makes such an upgrade visible instead.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import aiobotocore
from aiobotocore.client import AioClientCreator
from aiobotocore.httpsession import AIOHTTPSession

from core.aws import clients

ROOT = Path(__file__).resolve().parents[2]


def test_the_locked_aiobotocore_is_one_the_patches_were_checked_against() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    m = re.search(r"^aiobotocore==([\d.]+)", lock, re.M)
    assert m is not None
    assert m.group(1).rsplit(".", 1)[0] in clients.PATCHED_FOR
    assert aiobotocore.__version__ == m.group(1)


def test_private_members_exist_with_the_signatures_the_overrides_assume() -> None:
    assert clients.internals_match()
    assert clients.PATCHES_ACTIVE
    params = {
        "_build_ssl_contexts": ["self", "proxy_url"],
        "_get_session": ["self", "proxy_url"],
        "_create_connector": ["self", "proxy_url"],
        "_setup_proxy_ssl_context": ["self", "proxy_url"],
    }
    for name, expected in params.items():
        original = getattr(AIOHTTPSession, name)
        assert list(inspect.signature(original).parameters) == expected, name
    # Attributes the SSL-context override reads from the instance.
    init = inspect.getsource(AIOHTTPSession.__init__)
    for attr in ("self._verify", "self._cert_file", "self._key_file", "self._timeout"):
        assert attr in init, attr


def test_the_client_class_cache_is_installed_and_wraps_the_original() -> None:
    assert AioClientCreator._create_client_class is clients._cached_client_class
    assert inspect.iscoroutinefunction(clients._create_client_class)
    assert list(inspect.signature(clients._create_client_class).parameters) == [
        "self",
        "service_name",
        "service_model",
    ]


def test_config_uses_the_shared_pool_session_only_when_patched() -> None:
    cfg = clients.make_config(connect_timeout=1, read_timeout=1, max_attempts=1, pool_limit=4)
    assert cfg.http_session_cls is clients.SharedPoolHTTPSession
