"""The last minutes of the metrics (``chalicelib/metrics.py``) for the local operator:
``GET /video/stats`` and ``video-jobs stats``.

Who sees what: with authentication off (the local default) every caller is the operator and
sees every tenant's numbers, auth refusals included. With it required, a caller sees only the
lines of its own tenant (jobs submitted, finished, their analysis and queue times); lines that
belong to no tenant (auth refusals, webhook attempts) are the operator's, who reads the
metrics file itself or the CloudWatch dashboard. On AWS there is no metrics file: the numbers
are in CloudWatch, and the route answers ``StatsUnavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.errors import BadRequest, StatsUnavailable, quoted, quoted_list
from chalicelib.jobs.tenancy import Caller
from chalicelib.metrics import MetricsLedger, summarize

DEFAULT_MINUTES = 60
MAX_MINUTES = 24 * 60


def window_minutes(params: Mapping[str, str] | None) -> int:
    """``minutes`` (1..1440, default 60); any other parameter is refused."""
    params = params or {}
    unknown = set(params) - {"minutes"}
    if unknown:
        raise BadRequest(f"unknown query parameter(s) {quoted_list(unknown)}: only minutes")
    raw = params.get("minutes", str(DEFAULT_MINUTES))
    if raw.isascii() and raw.isdigit() and len(raw) <= 5 and 1 <= int(raw) <= MAX_MINUTES:
        return int(raw)
    raise BadRequest(f"minutes must be a whole number from 1 to {MAX_MINUTES}, got {quoted(raw)}")


class JobStats:
    """Reads the local stack's metrics file (None: a deployment without one)."""

    def __init__(self, ledger: MetricsLedger | None, clock: Callable[[], float] = time.time):
        self._ledger, self._clock = ledger, clock

    def last(self, params: Mapping[str, str] | None, caller: Caller) -> dict[str, Any]:
        minutes = window_minutes(params)
        if self._ledger is None:
            raise StatsUnavailable(
                "this deployment keeps no stats of its own: see the CloudWatch dashboard "
                "(docs/operations.md); the local stack (make run) keeps them"
            )
        now = self._clock()
        tenant = caller.tenant if caller.restricted else None
        entries = self._ledger.lines(since=now - minutes * 60)
        return {
            "minutes": minutes,
            "tenant": tenant,
            "metrics": summarize(entries, tenant=tenant),
        }
