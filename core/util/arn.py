"""ARNs, parsed once: ``arn:partition:service:region:account:resource``.

The partition is read from the ARN, never assumed to be ``aws`` (GovCloud is ``aws-us-gov``,
China ``aws-cn``). Parsing never raises: a malformed value gives empty fields, because ARNs
come from AWS answers and configuration (untrusted) and a bad one must not end a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arn:
    partition: str = ""
    service: str = ""
    region: str = ""
    account: str = ""
    resource: str = ""

    @classmethod
    def parse(cls, value: str | None) -> Arn:
        parts = (value or "").split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            return cls()
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])

    @property
    def valid(self) -> bool:
        return bool(self.partition and self.service)

    @property
    def resource_name(self) -> str:
        """The part after the resource type: ``trail/main`` -> ``main``, ``key/abc`` -> ``abc``,
        ``log-group:/aws/x:*`` -> ``/aws/x``; a plain resource (an SNS topic) as it is."""
        res = self.resource
        if self.service == "logs" and res.startswith("log-group:"):
            name = res[len("log-group:") :]
            return name[:-2] if name.endswith(":*") else name
        for sep in ("/", ":"):
            if sep in res:
                return res.split(sep, 1)[1]
        return res

    @property
    def leaf(self) -> str:
        """The last ``/`` segment of the resource: a role's name without its path, a key's
        id, a trail's name; a resource without ``/`` (an SNS topic) as it is."""
        return self.resource.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        if not self.valid:
            return ""
        return ":".join(
            ("arn", self.partition, self.service, self.region, self.account, self.resource)
        )


def account_of(arn: str | None) -> str:
    """The account field of an ARN ("" when absent). As `Arn.parse(arn).account`, without
    the object: it is asked for every view and account-region of a sweep."""
    parts = (arn or "").split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def region_of(arn: str | None, default: str = "") -> str:
    """The region field of an ARN, or `default` when it has none."""
    return Arn.parse(arn).region or default


def partition_of(arn: str | None, default: str = "aws") -> str:
    """The partition of an ARN (``aws``, ``aws-cn``, ``aws-us-gov``), or `default`."""
    return Arn.parse(arn).partition or default


def log_group_name(arn: str) -> str:
    """A CloudWatch Logs group's name from its ARN (``...:log-group:NAME:*``); a value that
    is not a log group ARN is returned as it is (it may already be a name)."""
    parsed = Arn.parse(arn)
    if parsed.service == "logs" and parsed.resource.startswith("log-group:"):
        return parsed.resource_name
    return arn
