"""``DynamoSearchIndex``: the ``SearchIndex`` port in the job table, through pynamodb.

A posting is the item ``search#<job_id>#<term>`` (the table's one key, so a repeated write
overwrites it) with ``term_key`` = ``<tenant>#<term>``, the partition key of the ``tenant-term``
index (infra/resources.py): a search reads a term's postings with one query on it, never a
scan. A job's term list is the item ``search#<job_id>``. Neither has a ``status`` or a
``list_tenant``, so the sweep's scan and the job listing pass them by; both carry the job row's
``expires_at``, the table's TTL attribute. Ranges are stored as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.adapters.dynamo import table_meta
from chalicelib.search.index import SearchIndex
from chalicelib.search.terms import Posting, Span

PREFIX = "search#"  # + job id: never a job id, a key or a places item
TERM_INDEX = "tenant-term"  # infra/resources.py declares it (term_key)
QUERY_PAGE = 1000  # postings read per query call (each well under 1 KB)


def _item_id(job_id: str, term: str | None = None) -> str:
    return f"{PREFIX}{job_id}" if term is None else f"{PREFIX}{job_id}#{term}"


def _term_index() -> GlobalSecondaryIndex:
    class TenantTerm(GlobalSecondaryIndex):
        class Meta:
            index_name = TERM_INDEX
            projection = AllProjection()

        term_key = UnicodeAttribute(hash_key=True)

    return TenantTerm()


def _model(meta: type) -> type[Model]:
    class SearchRow(Model):
        Meta = meta  # type: ignore[assignment]  # pynamodb reads it as a plain class
        item_id = UnicodeAttribute(hash_key=True, attr_name="job_id")  # the table's one key
        term_key = UnicodeAttribute(null=True)  # postings only: "<tenant>#<term>"
        search_job = UnicodeAttribute()  # the job's id
        tenant = UnicodeAttribute()
        pipeline_id = UnicodeAttribute(null=True)
        created_at = UnicodeAttribute(null=True)
        name = UnicodeAttribute(null=True)
        spans = UnicodeAttribute(null=True)  # [[start_ms, end_ms, confidence, line], ...]
        terms = UnicodeAttribute(null=True)  # a term list: JSON array of the job's terms
        expires_at = NumberAttribute(null=True)  # the table's TTL attribute
        by_term = _term_index()

    return SearchRow


def _spans_json(spans: Sequence[Span]) -> str:
    rows = [[s.start_ms, s.end_ms, s.confidence, *([s.line] if s.line else [])] for s in spans]
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False)


def _posting(row: Any) -> Posting:
    spans = tuple(
        Span(int(r[0]), int(r[1]), float(r[2]), r[3] if len(r) > 3 else "")
        for r in json.loads(row.spans)
    )
    term = row.term_key.removeprefix(f"{row.tenant}#")
    return Posting(
        row.tenant,
        term,
        row.search_job,
        row.pipeline_id or "",
        row.created_at or "",
        row.name or "",
        spans,
    )


class DynamoSearchIndex(SearchIndex):
    def __init__(self, table_name: str, *, region: str, host: str | None = None):
        self._rows: Any = _model(table_meta(table_name, region, host))

    def postings(self, tenant: str, term: str, limit: int) -> list[Posting]:
        rows = self._rows.by_term.query(f"{tenant}#{term}", limit=limit, page_size=QUERY_PAGE)
        return [_posting(row) for row in rows]

    def _terms(self, job_id: str) -> list[str] | None:
        try:
            row = self._rows.get(_item_id(job_id), consistent_read=True)
        except DoesNotExist:
            return None
        return [str(term) for term in json.loads(row.terms or "[]")]

    def _write_terms(
        self, job_id: str, tenant: str, terms: list[str], expires_at: int | None
    ) -> None:
        self._rows(
            _item_id(job_id),
            search_job=job_id,
            tenant=tenant,
            terms=json.dumps(terms, ensure_ascii=False),
            expires_at=expires_at,
        ).save()

    def _write(self, postings: Sequence[Posting], expires_at: int | None) -> None:
        with self._rows.batch_write() as batch:  # 25 items a call; unprocessed ones are retried
            for p in postings:
                batch.save(
                    self._rows(
                        _item_id(p.job_id, p.term),
                        term_key=f"{p.tenant}#{p.term}",
                        search_job=p.job_id,
                        tenant=p.tenant,
                        pipeline_id=p.pipeline_id,
                        created_at=p.created_at,
                        name=p.name,
                        spans=_spans_json(p.spans),
                        expires_at=expires_at,
                    )
                )

    def _delete(self, job_id: str, terms: Iterable[str]) -> None:
        with self._rows.batch_write() as batch:
            for term in terms:
                batch.delete(self._rows(_item_id(job_id, term)))

    def _delete_terms(self, job_id: str) -> None:
        with self._rows.batch_write() as batch:  # as BatchWriteItem: the analyzer undoes a put
            batch.delete(self._rows(_item_id(job_id)))  # and has no DeleteItem
