"""What every DynamoDB adapter shares: one table, reached through pynamodb.

Job rows (``chalicelib/jobs/dynamo.py``), idempotency keys (``chalicelib/intake/
dynamo_idempotency.py``) and access keys (``chalicelib/access/dynamo_keys.py``) live in the same
table, each under partition keys the others can never use. Each store builds its own pynamodb
model classes from ``table_meta``, so two stores (two tables, two emulators) never share
configuration and nothing is bound at class level.
"""

from __future__ import annotations

from chalicelib.config import emulator_credentials


def table_meta(table_name: str, region: str, host: str | None) -> type:
    """pynamodb's ``Meta`` for one table, region and endpoint (``host``: an emulator's URL, whose
    credentials it then carries)."""
    meta = {"table_name": table_name, "region": region, "host": host, **emulator_credentials(host)}
    return type("Meta", (), meta)


def is_condition_failure(error: Exception) -> bool:
    """The write was refused because its condition did not hold (not a fault)."""
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"
