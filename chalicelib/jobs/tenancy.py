"""Who is asking: the ``Caller`` every use case that touches a job is handed.

With ``VIDEO_JOBS_AUTH=off`` every request is the ``PUBLIC`` caller: its jobs belong to the
``default`` tenant (so rows stay uniform) and it may see every job. With ``required`` the
authenticator (``chalicelib/access/authenticator.py``) names the tenant, and a caller sees only
its tenant's jobs; a viewer link's caller sees one job only.

A signed (Rekognition API) caller also carries what its access key was granted: the S3
locations (``s3://bucket/prefix``) its Start* requests may analyze, and the SNS topics its
``NotificationChannel`` may name. Any other caller with auth required may name none; ``PUBLIC``
may name any (our own bucket is refused by the storage port whoever asks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_TENANT = "default"
TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
# S3's rules for bucket names (3-63 lower-case letters, digits, '.' and '-'), then a key prefix
# (no control characters)
S3_LOCATION = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/([^\x00-\x1f\x7f]{0,1024}))?")
DOT_SEGMENTS = frozenset({".", ".."})
SNS_TOPIC_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:sns:[a-z0-9-]{1,30}:[0-9]{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?"
)


@dataclass(frozen=True)
class Caller:
    tenant: str = DEFAULT_TENANT
    restricted: bool = True  # False: authentication is off, every job is visible
    job_id: str | None = None  # a viewer link: this one job, read only
    sources: tuple[str, ...] | None = ()  # S3 locations Start* may analyze; None: any
    topics: tuple[str, ...] | None = ()  # SNS topic ARNs a NotificationChannel may name; None: any
    until: int | None = None  # a library link's caller: its access ends then (epoch s)

    def may_see(self, tenant: str, job_id: str) -> bool:
        if not self.restricted:
            return True
        return tenant == self.tenant and self.job_id in (None, job_id)

    def may_read(self, bucket: str, key: str) -> bool:
        """May this caller have ``s3://bucket/key`` analyzed?"""
        if self.sources is None:
            return True
        if DOT_SEGMENTS & set(key.split("/")):  # a URL path may resolve them out of the prefix
            return False
        return any(bucket == b and key.startswith(prefix) for b, prefix in map(split, self.sources))

    def may_notify(self, topic_arn: str) -> bool:
        return self.topics is None or topic_arn in self.topics


PUBLIC = Caller(DEFAULT_TENANT, restricted=False, sources=None, topics=None)


def check_tenant_name(name: str) -> str:
    if not TENANT_NAME.fullmatch(name):
        raise ValueError(
            f"tenant {name!r}: use 1 to 40 lower-case letters, digits and '-' (a letter or "
            "digit first)"
        )
    return name


def split(location: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as (bucket, prefix); ValueError if it is not one."""
    match = S3_LOCATION.fullmatch(location)
    if match is None or ".." in match.group(1):
        raise ValueError(
            f"source {location[:80]!r}: use s3://<bucket>/ or s3://<bucket>/<prefix>/ (a valid S3 "
            "bucket name: 3 to 63 lower-case letters, digits, '.' and '-')"
        )
    return match.group(1), match.group(2) or ""


def check_source(location: str) -> str:
    """A grantable S3 location, written one way: ``s3://bucket/`` plus the prefix."""
    bucket, prefix = split(location)
    return f"s3://{bucket}/{prefix}"


def check_topic(arn: str) -> str:
    if not SNS_TOPIC_ARN.fullmatch(arn):
        raise ValueError(
            f"topic {arn[:80]!r}: use an SNS topic ARN, arn:aws:sns:<region>:<account>:<name>"
        )
    return arn
