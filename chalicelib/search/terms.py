"""Index terms: the words of a job's text spans and the names of its labels, folded so that a
search finds ``Éxit``, ``EXIT`` and ``exit!`` alike.

A text term is ``t:<word>``: a run of letters and digits (any script) after case folding and
with accents removed (NFKD, combining marks dropped), so ``Straße`` is ``strasse`` and ``café``
is ``cafe``; punctuation and underscores separate words. A label term is ``l:<name>``, the
label's Rekognition name folded the same way (``l:traffic light``), for every label seen and
for each of its Rekognition parents (a car is also ``l:vehicle`` and ``l:transportation``).

One job's postings hold, per term, the time ranges it was seen in: a text span's or a label
segment's start and end, its best confidence and, for text, the span's whole line as folded
words, which is what a phrase is checked against.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.config import MAX_INDEXED_LINE_CHARS, MAX_RANGES_PER_TERM, MAX_TERMS_PER_JOB
from chalicelib.jobs.record import JobRecord
from chalicelib.results.labels import label_info

WORD = re.compile(r"[^\W_]+")
MAX_WORD_CHARS = 64  # a longer "word" is OCR noise, and would make a long key
TEXT, LABEL = "t:", "l:"


def fold(text: str) -> str:
    """Lower case (``casefold``) without accents: ``Éxit`` -> ``exit``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return [word for word in WORD.findall(fold(text)) if len(word) <= MAX_WORD_CHARS]


def text_term(word: str) -> str:
    return TEXT + word


def label_term(name: str) -> str:
    """``Traffic Light``, ``traffic-light`` and a model's ``traffic_light`` are one term."""
    return LABEL + " ".join(words(label_info(name).name))


@dataclass(frozen=True)
class Span:
    """One time range a term was seen in; ``line``: the folded words of a text span's line."""

    start_ms: int
    end_ms: int
    confidence: float
    line: str = ""


@dataclass(frozen=True)
class Posting:
    """One index item: a term in one job of one tenant, with the job's fields a hit shows."""

    tenant: str
    term: str
    job_id: str
    pipeline_id: str
    created_at: str
    name: str  # what a hit shows: the label's name ("Car"), or the word
    spans: tuple[Span, ...]


def _span(segment: Mapping[str, Any], line: str = "") -> Span:
    return Span(
        int(segment["start_ms"]),
        int(segment["end_ms"]),
        float(segment.get("max_confidence", 0.0)),
        line,
    )


def _found(segments: Mapping[str, Any]) -> Iterable[tuple[str, str, Span]]:
    """(term, name, span) for every word of every text span and every label and parent."""
    for row in segments.get("text") or []:
        line = " ".join(words(str(row["text"])))
        span = _span(row, line[:MAX_INDEXED_LINE_CHARS])
        for word in dict.fromkeys(line.split()):
            yield text_term(word), word, span
    for row in segments.get("objects") or []:
        info = label_info(str(row["label"]))
        for name in (info.name, *info.parents):
            yield label_term(name), name, _span(row)


def job_postings(job: JobRecord, segments: Mapping[str, Any]) -> list[Posting]:
    """What ``job`` (completed, with these ``segments`` in its results) puts in the index: one
    posting per term, its ranges in time order (the first ``MAX_RANGES_PER_TERM``). Past
    ``MAX_TERMS_PER_JOB`` terms, those seen longest are kept."""
    names: dict[str, str] = {}
    spans: dict[str, list[Span]] = {}
    for term, name, span in _found(segments):
        names.setdefault(term, name)
        spans.setdefault(term, []).append(span)

    def seen_ms(term: str) -> int:
        return sum(span.end_ms - span.start_ms + 1 for span in spans[term])

    kept = sorted(spans, key=lambda term: (-seen_ms(term), term))[:MAX_TERMS_PER_JOB]
    return [
        Posting(
            job.tenant,
            term,
            job.job_id,
            job.pipeline_id,
            job.created_at,
            names[term],
            tuple(sorted(set(spans[term]), key=_order)[:MAX_RANGES_PER_TERM]),
        )
        for term in sorted(kept)
    ]


def _order(span: Span) -> tuple[int, int, float, str]:
    return span.start_ms, span.end_ms, -span.confidence, span.line
