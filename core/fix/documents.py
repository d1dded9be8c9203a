"""The documents plans are made from, and the text forms plans show and send (pure).

One text form for everything a human compares (``before``/``after``, diffs, precondition
values): :func:`canonical`, so that JSON formatting never shows up as a change. AWS gets the
compact form instead, because policy size limits count whitespace.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from core.judge.facts import Destinations

__all__ = ["Documents", "canonical", "compact", "diff", "documents_from", "url_decoded"]


def canonical(value: Any) -> str:
    """The text form used for ``before``/``after``, diffs and precondition comparison:
    JSON, indent 2, sorted keys. JSON text is parsed first (so formatting never matters)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, sort_keys=True)


def compact(doc: Mapping[str, Any]) -> str:
    """The document text sent to AWS (sorted keys, no whitespace: policy size limits)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def url_decoded(value: Any) -> Any:
    """IAM returns documents URL-encoded in the raw API (botocore usually decodes).

    Only text that starts with ``%`` is decoded: a JSON document never does, and a decoded
    one may legitimately contain ``%`` sequences (in a condition value) that must survive."""
    if isinstance(value, str) and value.lstrip().startswith("%"):
        return unquote(value, encoding="utf-8", errors="replace")
    return value


def diff(before: str, after: str, name: str) -> str:
    """A unified diff of two :func:`canonical` texts, labelled current/planned."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=False),
        after.splitlines(keepends=False),
        fromfile=f"{name} (current)",
        tofile=f"{name} (planned)",
        lineterm="",
        n=3,
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class Documents:
    """The current documents plans are made from (what core/aws/diagnose.py read).

    A policy value is JSON text, a parsed mapping, or None for "no policy attached".
    ``role_inline`` maps inline policy names of the delivery role to their documents;
    None means the names are unknown (the plan then assumes trailtop's inline policy is
    absent, and the apply-time precondition catches it if it is not).
    """

    bucket_policy: Any = None
    key_policy: Any = None
    key_metadata: Mapping[str, Any] | None = None
    topic_policy: Any = None
    role_trust: Any = None
    role_inline: Mapping[str, Any] | None = None
    #: The account that owns the bucket (bucket names carry none), where known.
    bucket_owner: str | None = None
    #: A KMS-encrypted log group's key: its policy and DescribeKey metadata.
    log_group_key_policy: Any = None
    log_group_key_metadata: Mapping[str, Any] | None = None


def documents_from(dest: Destinations) -> Documents:
    """Extract the documents from diagnosed destinations (``Fact.data``)."""

    def data(f: Any) -> Mapping[str, Any]:
        return f.data if f is not None and f.exists else {}

    role = data(dest.role)
    inline = role.get("inline")
    group = data(dest.log_group)
    return Documents(
        bucket_policy=data(dest.bucket).get("policy"),
        key_policy=data(dest.key).get("policy"),
        key_metadata=data(dest.key).get("metadata"),
        topic_policy=data(dest.topic).get("policy"),
        role_trust=role.get("trust"),
        role_inline=dict(inline) if isinstance(inline, Mapping) else None,
        log_group_key_policy=group.get("key_policy"),
        log_group_key_metadata=group.get("key_metadata"),
    )
