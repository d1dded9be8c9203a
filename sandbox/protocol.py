"""AWS wire protocol helpers: who is calling what, and how AWS spells an error.

The middleware sees raw WSGI requests. To route, count, fault and record them it needs
the service, operation, region and caller of each one, and to inject errors it must answer
in the exact shape the SDK parses for that service's protocol (JSON, query, EC2, REST).
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

#: botocore's protocol per service we emulate (from botocore's service-2.json metadata).
PROTOCOLS: dict[str, str] = {
    "cloudtrail": "json",
    "kms": "json",
    "logs": "json",
    "organizations": "json",
    "sns": "query",
    "iam": "query",
    "sts": "query",
    "ec2": "ec2",
    "s3": "rest-xml",
    "account": "rest-json",
}

#: IAM action prefix per service (for AccessDenied messages and event sources).
EVENT_SOURCES: dict[str, str] = {
    "cloudtrail": "cloudtrail.amazonaws.com",
    "kms": "kms.amazonaws.com",
    "logs": "logs.amazonaws.com",
    "organizations": "organizations.amazonaws.com",
    "sns": "sns.amazonaws.com",
    "iam": "iam.amazonaws.com",
    "sts": "sts.amazonaws.com",
    "ec2": "ec2.amazonaws.com",
    "s3": "s3.amazonaws.com",
    "account": "account.amazonaws.com",
}

_SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")

#: S3 sub-resources that name a bucket-level operation: ?policy -> BucketPolicy.
_S3_SUBRESOURCES: dict[str, str] = {
    "policy": "BucketPolicy",
    "acl": "BucketAcl",
    "ownershipControls": "BucketOwnershipControls",
    "encryption": "BucketEncryption",
    "versioning": "BucketVersioning",
    "tagging": "BucketTagging",
    "location": "BucketLocation",
    "logging": "BucketLogging",
    "lifecycle": "BucketLifecycleConfiguration",
    "notification": "BucketNotificationConfiguration",
    "object-lock": "ObjectLockConfiguration",
    "publicAccessBlock": "PublicAccessBlock",
    "policyStatus": "BucketPolicyStatus",
    "requestPayment": "BucketRequestPayment",
}
_S3_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}


@dataclass
class CallInfo:
    """What one request is, as far as the sandbox cares."""

    service: str = "unknown"
    operation: str = "unknown"
    region: str = "us-east-1"
    access_key: str = ""
    account: str = ""
    protocol: str = "json"
    params: dict[str, Any] = field(default_factory=dict)
    bucket: str | None = None
    key: str | None = None  # S3 object key, for object-level calls


def parse_scope(authorization: str) -> tuple[str, str, str] | None:
    """(access key, region, service) from a SigV4 Authorization header."""
    match = _SCOPE_RE.search(authorization)
    if not match:
        return None
    return match.group(1), match.group(2), match.group(3).lower()


def _s3_operation(
    method: str, path: str, query: dict[str, list[str]], host: str
) -> tuple[str, str | None, str]:
    """Name an S3 REST call the way CloudTrail's eventName does: (operation, bucket, key)."""
    bucket: str | None = None
    key = ""
    host_name = host.split(":")[0]
    if ".s3." in host_name or host_name.endswith(".localhost"):
        bucket = host_name.split(".")[0]
        key = path.lstrip("/")
    else:
        parts = path.lstrip("/").split("/", 1)
        bucket = parts[0] or None
        key = parts[1] if len(parts) > 1 else ""
    verb = _S3_VERBS.get(method, method.title())
    if bucket is None:
        return ("ListBuckets" if method == "GET" else f"{verb}Service"), None, ""
    if key:
        if method == "PUT" and "partNumber" in query:
            return "UploadPart", bucket, key
        return f"{verb}Object", bucket, key
    for sub, name in _S3_SUBRESOURCES.items():
        if sub in query:
            return f"{verb}{name}", bucket, ""
    if method == "GET":
        listing = "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        return listing, bucket, ""
    if method == "POST" and "delete" in query:
        return "DeleteObjects", bucket, ""
    return (f"{verb}Bucket" if method != "PUT" else "CreateBucket"), bucket, ""


def _camel_lower(name: str) -> str:
    return name[:1].lower() + name[1:] if name else name


def describe_call(environ: dict[str, Any], body: bytes) -> CallInfo:
    """Identify service, operation, region, access key and parameters of a request."""
    info = CallInfo()
    scope = parse_scope(environ.get("HTTP_AUTHORIZATION", ""))
    if scope:
        info.access_key, info.region, info.service = scope
    info.protocol = PROTOCOLS.get(info.service, "json")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if info.service == "s3":
        info.operation, info.bucket, key = _s3_operation(
            method, path, query, environ.get("HTTP_HOST", "")
        )
        info.key = key or None
        info.params = {k: v[0] for k, v in query.items()}
        if info.operation == "PutBucketPolicy" and body:
            with contextlib.suppress(ValueError):
                info.params["bucketPolicy"] = json.loads(body)
    elif target:
        info.operation = target.rsplit(".", 1)[-1]
        try:
            loaded = json.loads(body or b"{}")
            info.params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            info.params = {}
    elif info.service == "account":
        info.operation = {
            "/listRegions": "ListRegions",
            "/getRegionOptStatus": "GetRegionOptStatus",
        }.get(path, path.strip("/"))
        try:
            loaded = json.loads(body or b"{}")
            info.params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            info.params = {}
    else:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if body else {}
        form.update(query)
        info.params = {k: v[0] for k, v in form.items()}
        info.operation = str(info.params.pop("Action", "unknown"))
        info.params.pop("Version", None)
    return info


def request_parameters(info: CallInfo) -> dict[str, Any]:
    """requestParameters as CloudTrail spells them: lowerCamel keys of the API input."""
    params = {_camel_lower(k): v for k, v in info.params.items()}
    if info.bucket:
        params = {"bucketName": info.bucket, **{k: v for k, v in params.items() if v != ""}}
        params.setdefault("Host", f"{info.bucket}.s3.{info.region}.amazonaws.com")
    return params


@dataclass
class WireResponse:
    """A complete HTTP answer the middleware sends instead of moto's."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]


def status_line(status: int) -> str:
    """WSGI status line for a code."""
    reasons = {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    return f"{status} {reasons.get(status, 'Error')}"


def json_response(payload: Any, status: int = 200) -> WireResponse:
    body = json.dumps(payload).encode()
    return WireResponse(
        status,
        body,
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", str(uuid.uuid4())),
            ("Content-Length", str(len(body))),
        ],
    )


def xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def error_response(protocol: str, status: int, code: str, message: str) -> WireResponse:
    """An error in the shape botocore's parser for ``protocol`` expects."""
    request_id = str(uuid.uuid4())
    msg = xml_escape(message)
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        ctype = "application/x-amz-json-1.1"
    elif protocol == "rest-json":
        body = json.dumps({"__type": code, "message": message}).encode()
        ctype = "application/json"
    elif protocol == "query":
        fault = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code>"
            f"<Message>{msg}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        ).encode()
        ctype = "text/xml"
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{msg}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        ctype = "text/xml;charset=UTF-8"
    else:  # rest-xml (S3)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{msg}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>sandbox</HostId></Error>"
        ).encode()
        ctype = "application/xml"
    headers = [
        ("Content-Type", ctype),
        ("x-amzn-RequestId", request_id),
        ("Content-Length", str(len(body))),
    ]
    if protocol in ("json", "rest-json"):
        headers.append(("x-amzn-ErrorType", code))
    return WireResponse(status, body, headers)


#: (status, code, message) per fault kind and protocol family, as AWS answers.
_FAULT_SHAPES: dict[str, dict[str, tuple[int, str, str]]] = {
    "throttle": {
        "json": (400, "ThrottlingException", "Rate exceeded"),
        "rest-json": (429, "ThrottlingException", "Rate exceeded"),
        "query": (400, "Throttling", "Rate exceeded"),
        "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
        "rest-xml": (503, "SlowDown", "Please reduce your request rate."),
    },
    "5xx:500": {
        "json": (
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
        "rest-json": (
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
        "query": (
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
        "ec2": (500, "InternalError", "An internal error has occurred."),
        "rest-xml": (500, "InternalError", "We encountered an internal error. Please try again."),
    },
    "5xx:503": {
        "json": (503, "ServiceUnavailable", "Service is unavailable. Please try again later."),
        "rest-json": (
            503,
            "ServiceUnavailableException",
            "Service is unavailable. Please try again later.",
        ),
        "query": (503, "ServiceUnavailable", "Service is unavailable. Please try again later."),
        "ec2": (503, "Unavailable", "The server is overloaded and can't handle the request."),
        "rest-xml": (503, "ServiceUnavailable", "Service is unable to handle request."),
    },
    "access_denied": {
        "json": (400, "AccessDeniedException", ""),
        "rest-json": (403, "AccessDeniedException", ""),
        "query": (403, "AccessDenied", ""),
        "ec2": (403, "UnauthorizedOperation", ""),
        "rest-xml": (403, "AccessDenied", "Access Denied"),
    },
    "region_disabled": {
        "json": (
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        "rest-json": (
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        "query": (
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ),
        "ec2": (401, "AuthFailure", "AWS was not able to validate the provided access credentials"),
        "rest-xml": (
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
    },
    "expired_token": {
        "json": (
            400,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ),
        "rest-json": (
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ),
        "query": (400, "ExpiredToken", "The security token included in the request is expired"),
        "ec2": (400, "RequestExpired", "Request has expired."),
        "rest-xml": (400, "ExpiredToken", "The provided token has expired."),
    },
}


def fault_response(
    kind: str,
    info: CallInfo,
    caller_arn: str,
    status: int | None = None,
    message: str | None = None,
) -> WireResponse:
    """The error AWS would send for ``kind`` to this caller on this call."""
    key = f"5xx:{status or 500}" if kind == "5xx" else kind
    shapes = _FAULT_SHAPES[key]
    code_status, code, default_message = shapes.get(info.protocol, shapes["json"])
    if kind == "access_denied" and not default_message:
        action = f"{info.service}:{info.operation}"
        default_message = (
            f"User: {caller_arn} is not authorized to perform: {action} "
            f"because no identity-based policy allows the {action} action"
        )
    return error_response(info.protocol, code_status, code, message or default_message)
