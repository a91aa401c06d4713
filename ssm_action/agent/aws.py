"""AWS from the server, with the instance's own role: IMDSv2 credentials, SigV4, JSON 1.1 calls.

Stdlib only (the agent ships no SDK). The SDKs' standard variables say where AWS
is: ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` (default http://169.254.169.254),
``AWS_ENDPOINT_URL_<SERVICE>`` then ``AWS_ENDPOINT_URL`` (else the regional
endpoint), ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` (else the instance's region).
Errors name the IAM action and resource to allow, never a value.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

from ssm_action.agent.errors import StepError

IMDS_DEFAULT = "http://169.254.169.254"
IMDS_TTL = "21600"  # seconds the IMDSv2 token lives
TIMEOUT = 10.0  # seconds per HTTP request
ATTEMPTS = 3  # tries per AWS call on throttling, 5xx and connection errors
RETRYABLE = {"ThrottlingException", "Throttling", "TooManyRequestsException", "ThrottledException",
             "RequestLimitExceeded", "InternalServerError", "InternalServiceError",
             "InternalFailure", "ServiceUnavailable"}
UNSIGNED_HEADERS = {"user-agent", "expect", "x-amzn-trace-id"}  # as botocore


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str = ""


class AwsError(StepError):
    """A failed AWS call; ``code`` is AWS's error code (or our own for transport problems)."""

    def __init__(self, message: str, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


# --- SigV4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)

def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _canonical_uri(path: str) -> str:
    """The URL's path without dot segments or empty ones, encoded once more (all but S3)."""
    kept: List[str] = []
    for part in path.split("/"):
        if part == "..":
            if kept:
                kept.pop()
        elif part and part != ".":
            kept.append(part)
    normal = ("/" if path.startswith("/") else "") + "/".join(kept) + (
        "/" if path.endswith("/") and kept else "")
    return urllib.parse.quote(normal or "/", safe="/~")


def _canonical_query(query: str) -> str:
    pairs = sorted(tuple(pair.partition("=")[::2]) for pair in query.split("&")) if query else []
    return "&".join("%s=%s" % pair for pair in pairs)


def _canonical_host(parts: urllib.parse.SplitResult) -> str:
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    return host if parts.port in (None, default) else "%s:%d" % (host, parts.port)


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, creds: Credentials,
         region: str, service: str, now: datetime.datetime) -> Dict[str, str]:
    """``headers`` plus X-Amz-Date, the session token and Authorization (SigV4, as botocore)."""
    parts = urllib.parse.urlsplit(url)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    signed = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "x-amz-date")}
    signed["X-Amz-Date"] = stamp
    if creds.token:
        signed["X-Amz-Security-Token"] = creds.token
    lowered: Dict[str, str] = {k.lower(): " ".join(v.split()) for k, v in signed.items()
                               if k.lower() not in UNSIGNED_HEADERS}
    lowered.setdefault("host", _canonical_host(parts))
    names = ";".join(sorted(lowered))
    canonical = "\n".join([
        method.upper(), _canonical_uri(parts.path), _canonical_query(parts.query),
        "".join("%s:%s\n" % (name, lowered[name]) for name in sorted(lowered)),
        names, hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (stamp[:8], region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = ("AWS4" + creds.secret_key).encode("utf-8")
    for part in (stamp[:8], region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    signed["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        creds.access_key, scope, names, signature)
    return signed


# --- HTTP

def _opener(url: str) -> urllib.request.OpenerDirector:
    """Proxies from the environment as the SDKs honour them, never for loopback or IMDS."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host in ("localhost", "::1", "169.254.169.254", "fd00:ec2::254") or host.startswith("127."):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def http(method: str, url: str, headers: Mapping[str, str], body: Optional[bytes] = None,
         timeout: float = TIMEOUT) -> Tuple[int, bytes]:
    """(status, body) of one request; status 0 when nothing answered (the reason as body)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
    try:
        with _opener(url).open(request, timeout=timeout) as response:  # nosec B310 # http(s) only
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(getattr(exc, "reason", exc)).encode("utf-8", "replace")


# --- IMDSv2

class InstanceMetadata:
    """The instance metadata service, IMDSv2 only (a session token on every request)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.endpoint = (env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_DEFAULT).rstrip("/")
        self._token: Optional[str] = None

    def _fail(self, what: str, status: int, body: bytes) -> AwsError:
        reason = "no answer (%s)" % body.decode("utf-8", "replace")[:200] if not status else \
            "HTTP %d" % status
        return AwsError("instance metadata (IMDSv2) at %s: %s gave %s: run the agent on an EC2 "
                        "instance with metadata enabled (HttpTokens required is fine, a hop "
                        "limit of 1 is too low in a container)" % (self.endpoint, what, reason),
                        "IMDSUnavailable", status)

    def token(self) -> str:
        if self._token is None:
            status, body = http("PUT", self.endpoint + "/latest/api/token",
                                {"X-aws-ec2-metadata-token-ttl-seconds": IMDS_TTL}, b"", timeout=2)
            if status != 200:
                raise self._fail("the token request", status, body)
            self._token = body.decode("ascii", "replace").strip()
        return self._token

    def get(self, path: str) -> Tuple[int, str]:
        status, body = http("GET", self.endpoint + path,
                            {"X-aws-ec2-metadata-token": self.token()}, timeout=2)
        if status not in (200, 404):
            raise self._fail(path, status, body)
        return status, body.decode("utf-8", "replace")

    def credentials(self) -> Credentials:
        base = "/latest/meta-data/iam/security-credentials/"
        status, roles = self.get(base)
        role = roles.split()[0] if status == 200 and roles.split() else ""
        if not role:
            raise AwsError("the instance has no IAM role: attach an instance profile whose role "
                           "allows the calls named in docs/iam", "NoInstanceRole", status)
        status, text = self.get(base + role)
        try:
            doc = json.loads(text) if status == 200 else {}
        except ValueError:
            doc = {}
        if doc.get("Code", "Success") != "Success" or not doc.get("AccessKeyId"):
            raise AwsError("the instance role %s has no usable credentials (%s): check the "
                           "instance profile" % (role, doc.get("Code") or "HTTP %d" % status),
                           "NoCredentials", status)
        return Credentials(doc["AccessKeyId"], doc["SecretAccessKey"], doc.get("Token", ""))

    def identity(self) -> Dict[str, Any]:
        """The instance identity document (region, accountId); {} when it cannot be read."""
        status, text = self.get("/latest/dynamic/instance-identity/document")
        try:
            doc = json.loads(text) if status == 200 else {}
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}


# --- Clients

def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else (
        "aws-us-gov" if region.startswith("us-gov-") else "aws")


def endpoint(service: str, region: str, env: Mapping[str, str]) -> str:
    """Where ``service`` (ssm, secretsmanager) answers, as the SDKs decide it."""
    specific = {"ssm": "AWS_ENDPOINT_URL_SSM",
                "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER"}[service]
    given = env.get(specific) or env.get("AWS_ENDPOINT_URL")
    if given:
        return given.rstrip("/") + "/"
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    return "https://%s.%s%s/" % (service, region, suffix)


def _error_code(status: int, body: bytes) -> Tuple[str, str]:
    """AWS's error code and message: a JSON 1.1 error body, or an XML one (as moto's auth gives)."""
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = {key: found.group(1) for key, found in (
            (key, re.search(r"<%s>([^<]*)</%s>" % (key, key), text)) for key in ("Code", "Message"))
            if found}
    doc = doc if isinstance(doc, dict) else {}
    raw = str(doc.get("__type") or doc.get("Code") or "HTTP%d" % status)
    message = str(doc.get("message") or doc.get("Message") or "")
    return raw.split("#")[-1].split(":")[0], message


class Aws:
    """Signed JSON 1.1 calls with the instance role's credentials (fetched once)."""

    def __init__(self, env: Optional[Mapping[str, str]] = None,
                 clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(
                     datetime.timezone.utc), sleep: Callable[[float], None] = time.sleep) -> None:
        self.env = dict(os.environ if env is None else env)
        self.imds = InstanceMetadata(self.env)
        self.clock = clock
        self.sleep = sleep
        self._creds: Optional[Credentials] = None
        self._identity: Optional[Dict[str, Any]] = None

    @property
    def identity(self) -> Dict[str, Any]:
        if self._identity is None:
            self._identity = self.imds.identity()
        return self._identity

    @property
    def region(self) -> str:
        region = self.env.get("AWS_REGION") or self.env.get("AWS_DEFAULT_REGION") or str(
            self.identity.get("region") or "")
        if not region:
            raise AwsError("no AWS region: set AWS_REGION on the server (the instance metadata "
                           "did not give one)", "NoRegion")
        return region

    @property
    def account(self) -> str:
        """The instance's account for ARNs in messages; a placeholder when unknown."""
        return str(self.identity.get("accountId") or "<account>")

    def arn(self, service: str, resource: str) -> str:
        return "arn:%s:%s:%s:%s:%s" % (partition(self.region), service, self.region,
                                       self.account, resource)

    def call(self, service: str, target: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        """One JSON 1.1 operation (``target`` as in X-Amz-Target), retried on throttling/5xx."""
        if self._creds is None:
            self._creds = self.imds.credentials()
        url = endpoint(service, self.region, self.env)
        body = json.dumps(payload).encode("utf-8")
        status, code, message = 0, "", ""
        for attempt in range(ATTEMPTS):
            headers = sign("POST", url, {"Content-Type": "application/x-amz-json-1.1",
                                         "X-Amz-Target": target}, body, self._creds,
                           self.region, service, self.clock())
            status, answer = http("POST", url, headers, body)
            if status == 200:
                try:
                    value = json.loads(answer.decode("utf-8"))
                except ValueError:
                    value = None
                if isinstance(value, dict):
                    return value
                code, message = "BadResponse", "not a JSON object"
                break
            code, message = _error_code(status, answer) if status else (
                "ConnectionError", answer.decode("utf-8", "replace"))
            if code not in RETRYABLE and status < 500 and status != 0:
                break
            if attempt + 1 < ATTEMPTS:
                self.sleep(0.2 * 2 ** attempt + random.uniform(0, 0.1))  # nosec B311 # jitter
        where = "" if status else " at %s" % url
        detail = ": " + message[:300] if message else ""
        raise AwsError("%s%s failed: %s%s" % (target, where, code, detail), code, status)
