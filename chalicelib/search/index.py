"""The ``SearchIndex`` port: one item per (tenant, term, job), and one list of a job's terms.

Writing a job's postings is idempotent: each item's key is made of the job and the term, so a
redelivered completion overwrites what the first wrote and never doubles it. A job's *term list*
(its manifest) is written before its postings and names every term it may have items for, so
``remove`` always finds them all, even after a ``put`` cut short; it is removed last. Items carry
the job row's expiry (the table's TTL), so they expire with it.

Two implementations honour one contract (tests/integration/test_search_index_contract.py):
``DynamoSearchIndex`` (``chalicelib/search/dynamo.py``) and ``InMemorySearchIndex`` (here).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

from chalicelib.search.terms import Posting


class SearchIndex(ABC):
    # --- what an adapter implements -------------------------------------------------------

    @abstractmethod
    def postings(self, tenant: str, term: str, limit: int) -> list[Posting]:
        """Up to ``limit`` postings of ``term`` in the tenant's jobs (any order)."""

    @abstractmethod
    def _terms(self, job_id: str) -> list[str] | None:
        """The job's term list (None: it has none)."""

    @abstractmethod
    def _write_terms(
        self, job_id: str, tenant: str, terms: list[str], expires_at: int | None
    ) -> None:
        """Store the job's term list."""

    @abstractmethod
    def _write(self, postings: Sequence[Posting], expires_at: int | None) -> None:
        """Store each posting, replacing the item of the same job and term."""

    @abstractmethod
    def _delete(self, job_id: str, terms: Iterable[str]) -> None:
        """Remove the job's items of these terms (those that do not exist are passed by)."""

    @abstractmethod
    def _delete_terms(self, job_id: str) -> None:
        """Remove the job's term list."""

    # --- the rules, once for every adapter -------------------------------------------------

    def put(
        self, job_id: str, tenant: str, postings: Sequence[Posting], expires_at: int | None
    ) -> None:
        """Make ``postings`` the job's index items; safe to repeat, and to run again after a
        ``put`` that was cut short."""
        old = set(self._terms(job_id) or ())
        new = {posting.term for posting in postings}
        self._write_terms(job_id, tenant, sorted(old | new), expires_at)
        self._write(postings, expires_at)
        if old - new:
            self._delete(job_id, sorted(old - new))
            self._write_terms(job_id, tenant, sorted(new), expires_at)

    def remove(self, job_id: str) -> int:
        """Remove every index item of the job (term list last); how many terms it had."""
        terms = self._terms(job_id)
        if terms is None:
            return 0
        self._delete(job_id, terms)
        self._delete_terms(job_id)
        return len(terms)


class InMemorySearchIndex(SearchIndex):
    """Items in dicts under a lock."""

    def __init__(self) -> None:
        self._postings: dict[tuple[str, str], Posting] = {}  # (job id, term)
        self._lists: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def postings(self, tenant: str, term: str, limit: int) -> list[Posting]:
        with self._lock:
            found = [p for p in self._postings.values() if (p.tenant, p.term) == (tenant, term)]
        return found[:limit]

    def _terms(self, job_id: str) -> list[str] | None:
        with self._lock:
            terms = self._lists.get(job_id)
            return None if terms is None else list(terms)

    def _write_terms(
        self, job_id: str, tenant: str, terms: list[str], expires_at: int | None
    ) -> None:
        with self._lock:
            self._lists[job_id] = list(terms)

    def _write(self, postings: Sequence[Posting], expires_at: int | None) -> None:
        with self._lock:
            for posting in postings:
                self._postings[posting.job_id, posting.term] = posting

    def _delete(self, job_id: str, terms: Iterable[str]) -> None:
        with self._lock:
            for term in terms:
                self._postings.pop((job_id, term), None)

    def _delete_terms(self, job_id: str) -> None:
        with self._lock:
            self._lists.pop(job_id, None)
