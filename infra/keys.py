"""Tenants' access keys, for operators (not shipped in the API's Lambda package).

    python -m infra.keys create --tenant acme     # make key TENANT=acme: prints one JSON line
    python -m infra.keys list                     # one JSON line per key (never a secret)
    python -m infra.keys revoke --access-key-id VJ...   # both its token and its secret stop working

It talks to the stage the environment names, like the API (``chalicelib/config.py``): the local
emulator by default; on AWS set VIDEO_JOBS_STAGE, VIDEO_JOBS_TABLE and VIDEO_JOBS_KEYS_KMS_KEY to
the stack's outputs, with credentials allowed to write the table and kms:Encrypt with the key.
The secret access key and the API token are printed once and cannot be shown again.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys

from chalicelib.access.keys import AccessKey, KeyStore, token_hash
from chalicelib.access.secrets import SecretBox
from chalicelib.bootstrap import access_key_store, secret_box
from chalicelib.config import load_settings
from chalicelib.jobs.record import utc_now
from chalicelib.jobs.tenancy import check_tenant_name

ACCESS_KEY_PREFIX = "VJ"  # like AWS's AKIA: tells our keys apart at a glance
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_access_key_id() -> str:
    return ACCESS_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(18))


def create(keys: KeyStore, box: SecretBox, tenant: str) -> dict[str, str]:
    """A new key for ``tenant``: what the tenant is given (once)."""
    tenant = check_tenant_name(tenant)
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
        )
    )
    return {
        "tenant": tenant,
        "access_key_id": access_key_id,
        "secret_access_key": secret,
        "api_token": api_token,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create, list and revoke tenants' access keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="a new key for a tenant").add_argument(
        "--tenant", required=True
    )
    commands.add_parser("list", help="every key, revoked ones too (no secrets)")
    commands.add_parser("revoke", help="revoke one key").add_argument(
        "--access-key-id", required=True
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    keys = access_key_store(settings)
    if args.command == "create":
        box = secret_box(settings)
        try:
            print(json.dumps(create(keys, box, args.tenant)))
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


if __name__ == "__main__":
    sys.exit(main())
