"""Tenants' access keys, for operators (not shipped in the API's Lambda package).

    python -m infra.keys create --tenant acme --source s3://acme-videos/ --topic arn:aws:sns:...
        # or: make key TENANT=acme SOURCES="s3://acme-videos/" TOPICS="arn:..."; one JSON line
    python -m infra.keys list                     # one JSON line per key (never a secret)
    python -m infra.keys revoke --access-key-id VJ...   # both its token and its secret stop working

It talks to the stage the environment names, like the API (``chalicelib/config.py``): the local
emulator by default; on AWS set VIDEO_JOBS_STAGE, VIDEO_JOBS_TABLE and VIDEO_JOBS_KEYS_KMS_KEY to
the stack's outputs, with credentials allowed to write the table and kms:Encrypt with the key.
The secret access key and the API token are printed once and cannot be shown again.

``--source`` (repeatable) grants an S3 location the tenant's Rekognition Start* requests may
analyze (``s3://bucket/`` for a whole bucket, ``s3://bucket/prefix/`` for a folder; a prefix
matches keys that start with it); ``--topic`` (repeatable) an SNS topic its NotificationChannel
may name. A key with none may analyze nothing from S3 (with VIDEO_JOBS_AUTH=required). To
change a key's grants, create a new key with them and revoke the old one.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pynamodb.exceptions import PynamoDBException

from chalicelib.access.keys import AccessKey, KeyStore, token_hash
from chalicelib.access.secrets import SecretBox
from chalicelib.bootstrap import access_key_store, secret_box
from chalicelib.config import Settings, load_settings
from chalicelib.jobs.record import utc_now
from chalicelib.jobs.tenancy import check_source, check_tenant_name, check_topic

ACCESS_KEY_PREFIX = "VJ"  # like AWS's AKIA: tells our keys apart at a glance
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_access_key_id() -> str:
    return ACCESS_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(18))


def create(
    keys: KeyStore,
    box: SecretBox,
    tenant: str,
    sources: list[str] | tuple[str, ...] = (),
    topics: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """A new key for ``tenant`` with its grants: what the tenant is given (once)."""
    tenant = check_tenant_name(tenant)
    granted = tuple(dict.fromkeys(check_source(source) for source in sources))
    topics = tuple(dict.fromkeys(check_topic(topic) for topic in topics))
    access_key_id = new_access_key_id()
    secret = secrets.token_urlsafe(30)  # 40 characters, like an AWS secret access key
    api_token = secrets.token_urlsafe(32)  # 256 bits
    keys.add(
        AccessKey(
            access_key_id=access_key_id,
            tenant=tenant,
            secret_ciphertext=box.encrypt(access_key_id, secret),
            token_hash=token_hash(api_token),
            created_at=utc_now(),
            sources=granted,
            topics=topics,
        )
    )
    return {
        "tenant": tenant,
        "access_key_id": access_key_id,
        "secret_access_key": secret,
        "api_token": api_token,
        "sources": list(granted),
        "topics": list(topics),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create, list and revoke tenants' access keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    creating = commands.add_parser("create", help="a new key for a tenant")
    creating.add_argument("--tenant", required=True)
    creating.add_argument(
        "--source", action="append", default=[], metavar="S3_LOCATION",
        help="an S3 location Start* may analyze, s3://bucket/ or s3://bucket/prefix/ (repeat)",
    )  # fmt: skip
    creating.add_argument(
        "--topic", action="append", default=[], metavar="SNS_TOPIC_ARN",
        help="an SNS topic a NotificationChannel may name (repeat)",
    )  # fmt: skip
    commands.add_parser("list", help="every key, revoked ones too (no secrets)")
    commands.add_parser("revoke", help="revoke one key").add_argument(
        "--access-key-id", required=True
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    reach(settings)
    keys = access_key_store(settings)
    if args.command == "create":
        box = secret_box(settings)
        try:
            print(json.dumps(create(keys, box, args.tenant, args.source, args.topic)))
        except ValueError as error:
            parser.error(str(error))
    elif args.command == "list":
        for key in keys.all():
            print(json.dumps(key.listing()))
    else:
        revoked = keys.revoke(args.access_key_id, utc_now())
        if revoked is None:
            print(f"no key {args.access_key_id!r}", file=sys.stderr)
            return 1
        print(json.dumps(revoked.listing()))
    return 0


class StageUnreachable(Exception):
    """Nothing answers at the stage's emulator."""


def reach(settings: Settings) -> None:
    """Locally, fail at once when the emulator is down (boto3 would retry for ~8 s first)."""
    if not settings.aws_endpoint:
        return
    url = urlsplit(settings.aws_endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=3).close()
    except OSError:
        raise StageUnreachable(
            f"nothing answers at {settings.aws_endpoint} (the local stack's emulated AWS): "
            "start it with `make run`, or point VIDEO_JOBS_AWS_ENDPOINT at it"
        ) from None


def cli() -> int:
    """``main`` for a shell: a stage it cannot reach or use is one line on stderr, not a
    traceback. Locally no AWS_* variables are needed (the clients carry the emulator's)."""
    try:
        return main()
    except NoCredentialsError:  # only off the local stage
        print(f"keys: no AWS credentials for stage {load_settings().stage!r}: set AWS_PROFILE, "
              "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", file=sys.stderr)  # fmt: skip
        return 1
    except (StageUnreachable, BotoCoreError, ClientError, PynamoDBException) as error:
        print(f"keys: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(cli())
