"""The artifact in S3: stored once under its content address, handed out as a presigned URL.

``publish`` asks S3 for ``<prefix>/artifacts/<commit>-<sha256>.zip`` first (HeadObject):
an object of the artifact's size is reused, so a re-run of the same commit uploads
nothing; otherwise one PutObject with the SHA-256 checksum, which S3 verifies. The
servers then get a presigned GET URL (SigV4, ``expires`` seconds) and the sha256: they
need no AWS permission of their own, and they check the bytes themselves.

IAM for the runner's role: ``s3:PutObject`` and ``s3:GetObject`` on
``arn:aws:s3:::<bucket>/<prefix>/artifacts/*`` (GetObject also signs the URL), and
``s3:ListBucket`` on the bucket with the condition ``s3:prefix`` = ``<prefix>/artifacts/*``:
without it S3 answers a HeadObject of a missing key with 403 instead of 404, which is
taken as "missing", so every run uploads again.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ssm_action.deploy.artifact import Artifact
from ssm_action.errors import ActionError

URL_EXPIRY = 3600  # seconds; long enough for every target of a rate-limited command to download
MAX_URL_EXPIRY = 7 * 24 * 3600  # SigV4's limit (and never past the role session's end)
MISSING = {"404", "NoSuchKey", "NotFound"}
DENIED = {"403", "AccessDenied", "Forbidden"}


@dataclass(frozen=True)
class Published:
    bucket: str
    key: str
    uploaded: bool  # False: the same bytes were already there
    bytes_sent: int
    url: str  # presigned GET: a credential for ``expires`` seconds, never logged

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def client(region: str | None = None) -> Any:
    """An S3 client that signs URLs with SigV4 (presigned SigV2 URLs fail in newer regions)."""
    import boto3  # lazily: only deploys from an artifact need it
    from botocore.config import Config

    return boto3.client("s3", region_name=region, config=Config(
        signature_version="s3v4", retries={"mode": "standard", "max_attempts": 5}))


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def refused(action: str, where: str, exc: Exception, bucket: str, prefix: str,
            folder: str = "artifacts") -> ActionError:
    allowed = "/".join(p for p in (bucket, prefix.strip("/"), f"{folder}/*") if p)
    return ActionError(f"{action} failed", f"AWS refused {action} on {where}: {exc}. Give the workflow's "
                       f"AWS role s3:PutObject and s3:GetObject on arn:aws:s3:::{allowed}, and check that "
                       "s3-bucket exists in aws-region.", anchor="artifact-delivery")


def stored_size(s3: Any, bucket: str, key: str, prefix: str) -> int | None:
    """The stored object's size; None when it is missing (or S3 will not say: no ListBucket)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        if _code(exc) in MISSING | DENIED:
            return None
        raise refused("HeadObject", f"s3://{bucket}/{key}", exc, bucket, prefix) from exc
    except BotoCoreError as exc:
        raise refused("HeadObject", f"s3://{bucket}/{key}", exc, bucket, prefix) from exc


def publish(s3: Any, bucket: str, prefix: str, artifact: Artifact,
            expires: int = URL_EXPIRY) -> Published:
    """Store ``artifact`` unless it is there, and presign a GET for the servers."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not 1 <= expires <= MAX_URL_EXPIRY:
        raise ValueError(f"expires must be 1..{MAX_URL_EXPIRY} seconds, not {expires}")
    key = artifact.key(prefix)
    uploaded = stored_size(s3, bucket, key, prefix) != artifact.size
    if uploaded:
        checksum = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
        try:
            with open(artifact.path, "rb") as body:
                s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/zip",
                              ChecksumSHA256=checksum,
                              Metadata={"sha256": artifact.sha256, "commit": artifact.commit})
        except (BotoCoreError, ClientError) as exc:
            raise refused("PutObject", f"s3://{bucket}/{key}", exc, bucket, prefix) from exc
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                    ExpiresIn=expires)
    return Published(bucket, key, uploaded, artifact.size if uploaded else 0, url)
