"""A tenant's places: how its limit on active jobs holds exactly, under any burst.

A tenant's places are one record: the ids of the jobs that hold one (with when they took it
and, for an upload, when its URL expires) and a version number. Every change is a read and a
replace conditional on the version read, retried while another writer wins the race, so a
burst of requests can never take more places than the limit, and no request counts rows.

* ``admit`` takes a place before the job's video is stored; a full book refuses the job.
* The job store frees a job's place with its final status (``JobStore._write``).
* An upload's place stops counting the moment its URL expires. It stays on record for
  ``LAPSED_KEPT_S`` more, longer than any start request runs, so a start racing the expiry sees
  it lapsed and refuses (``keep``) instead of joining a job that took the place meanwhile.
* The reconcile sweep frees the places of jobs that ended without freeing theirs (a crash
  between the two writes) and of requests that died between taking a place and writing their
  job (``repair``).

Two implementations honour one contract (tests/integration/test_places_contract.py):
``DynamoPlaceBook`` (``chalicelib/jobs/dynamo.py``: one item per tenant, ``places#<tenant>``)
and ``InMemoryPlaceBook`` (here). The composition root gives the job store a book only when a
limit is set.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chalicelib.errors import IllegalTransition, ServiceUnavailable
from chalicelib.jobs.record import FINAL_STATES, PENDING, JobRecord

log = logging.getLogger(__name__)
RACES = 100  # conditional replaces one change may lose before the caller gets a 503
ORPHAN_S = 300  # a place whose job row never appeared (its request died) is freed after
LAPSED_KEPT_S = 120  # see the module's docstring


@dataclass(frozen=True)
class Place:
    """One job's place, taken at ``since``; an upload's lapses at ``until``, its URL's expiry."""

    since: float
    until: float | None = None

    def held(self, now: float) -> bool:
        return self.until is None or self.until > now

    def kept(self, now: float) -> bool:
        return self.until is None or self.until > now - LAPSED_KEPT_S


@dataclass(frozen=True)
class Places:
    """A tenant's places as stored, and the version a conditional replace checks (0: none)."""

    jobs: dict[str, Place] = field(default_factory=dict)
    version: int = 0

    def held(self, now: float) -> set[str]:
        """The ids of the jobs whose place counts at ``now``."""
        return {job_id for job_id, place in self.jobs.items() if place.held(now)}


# the new places from the stored ones and now (None: no write), and what to answer
Change = Callable[[dict[str, Place], float], tuple[dict[str, Place] | None, int | None]]


class PlaceBook(ABC):
    """Every tenant's places under one ``limit`` of active jobs."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    # --- what an adapter implements -------------------------------------------------------

    @abstractmethod
    def read(self, tenant: str) -> Places:
        """The tenant's places as stored now (a consistent read)."""

    @abstractmethod
    def _replace(self, tenant: str, read: Places, jobs: dict[str, Place]) -> bool:
        """Store ``jobs`` as the tenant's places (version + 1) iff the stored version is still
        ``read.version``; whether it was stored."""

    @abstractmethod
    def _every(self) -> Iterator[tuple[str, Places]]:
        """Every tenant's places (the sweep's repair)."""

    # --- the rules, once for every adapter -------------------------------------------------

    def admit(self, job: JobRecord, now: float | None = None) -> int | None:
        """Take a place for ``job`` (an upload's lapses at its ``upload_expires_at``): None once
        it holds one, else how many places are held (the caller refuses the job)."""

        def take(jobs: dict[str, Place], at: float) -> tuple[dict[str, Place] | None, int | None]:
            held = sum(place.held(at) for place in jobs.values())
            if job.job_id in jobs:
                return None, None
            if held >= self.limit:
                return None, held
            kept = {job_id: place for job_id, place in jobs.items() if place.kept(at)}
            return {**kept, job.job_id: Place(at, job.upload_expires_at)}, None

        return self._change(job.tenant, take, now)

    def free(self, tenant: str, job_ids: set[str]) -> None:
        """These jobs no longer count against the tenant's limit (those that held no place are
        passed by)."""

        def drop(jobs: dict[str, Place], _: float) -> tuple[dict[str, Place] | None, None]:
            if job_ids.isdisjoint(jobs):
                return None, None
            return {job_id: p for job_id, p in jobs.items() if job_id not in job_ids}, None

        self._change(tenant, drop)

    def keep(self, job: JobRecord) -> None:
        """A started upload holds its place until it ends, no longer until its URL expires;
        IllegalTransition if the place has lapsed (a new job may have taken it)."""

        def hold(jobs: dict[str, Place], at: float) -> tuple[dict[str, Place] | None, None]:
            place = jobs.get(job.job_id)
            if place is None or place.until is None:
                return None, None
            if not place.held(at):
                raise IllegalTransition(
                    f"job {job.job_id} cannot go to {PENDING}: its upload URL expired"
                )
            return {**jobs, job.job_id: Place(place.since)}, None

        self._change(job.tenant, hold)

    def repair(
        self, find: Callable[[str], JobRecord | None], now: float | None = None
    ) -> list[str]:
        """Free the places of jobs that ended, lapsed long ago, or never got a row (``find``
        reads a job); the ids freed."""
        at = time.time() if now is None else now
        freed: list[str] = []
        for tenant, places in self._every():
            stale = {job_id for job_id, p in places.jobs.items() if _stale(job_id, p, at, find)}
            if stale:
                self.free(tenant, stale)
                freed.extend(sorted(stale))
                log.warning("freed %d stale places of tenant %s", len(stale), tenant)
        return freed

    def _change(self, tenant: str, change: Change, now: float | None = None) -> int | None:
        """Apply ``change`` to the stored places as one conditional replace, read and tried
        again while another writer wins the race; what ``change`` answered."""
        for race in range(RACES):
            read = self.read(tenant)
            jobs, answer = change(dict(read.jobs), time.time() if now is None else now)
            if jobs is None or self._replace(tenant, read, jobs):
                return answer
            time.sleep(random.uniform(0, 0.002 * min(race + 1, 10)))  # noqa: S311  spread retries
        raise ServiceUnavailable(f"too many requests for tenant {tenant!r} at once; retry shortly")


def _stale(job_id: str, place: Place, now: float, find: Callable[[str], JobRecord | None]) -> bool:
    if not place.kept(now):
        return True
    job = find(job_id)
    if job is None:
        return place.since < now - ORPHAN_S
    return job.status in FINAL_STATES


class InMemoryPlaceBook(PlaceBook):
    """Places in a dict under a lock: the same rules as DynamoDB's conditional writes."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self._places: dict[str, Places] = {}
        self._lock = threading.Lock()

    def read(self, tenant: str) -> Places:
        with self._lock:
            return copy.deepcopy(self._places.get(tenant, Places()))

    def _replace(self, tenant: str, read: Places, jobs: dict[str, Place]) -> bool:
        with self._lock:
            if self._places.get(tenant, Places()).version != read.version:
                return False
            self._places[tenant] = Places(dict(jobs), read.version + 1)
            return True

    def _every(self) -> Iterator[tuple[str, Places]]:
        with self._lock:
            return iter(copy.deepcopy(list(self._places.items())))
