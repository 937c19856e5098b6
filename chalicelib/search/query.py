"""A search's parameters, and how one job's postings match it and rank.

A query has *parts*: its text (one word, or a phrase: the words in that order within one line of
text), and each label. A job matches when every part has a range in it: a phrase's are the text
spans whose line holds the phrase; a label's are its segments (its own, or those of labels it
is a parent of). ``min_confidence`` (0 to 1, as in submit) drops ranges seen with a lower best
confidence. With ``within_ms`` a range counts only if every other part has a range at most that
far from it (0: they overlap), so ``EXIT`` near a car is not ``EXIT`` at 0:05 and a car at 3:00.

A hit's ranges are the counted ranges merged where they overlap, each naming the parts seen in
it. Its score is, summed over those ranges, the number of parts in the range times (1 + its
length in seconds): more parts together, for longer, rank higher. Ties go newest job first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.config import (
    DEFAULT_SEARCH_LIMIT,
    MAX_SEARCH_LABELS,
    MAX_SEARCH_LIMIT,
    MAX_SEARCH_TEXT_CHARS,
    MAX_SEARCH_WORDS,
    MAX_WITHIN_MS,
)
from chalicelib.errors import BadRequest, quoted, quoted_list
from chalicelib.search.terms import Posting, Span, label_term, text_term, words

PARAMS = ("text", "label", "min_confidence", "within_ms", "limit", "next_token")


@dataclass(frozen=True)
class Query:
    phrase: tuple[str, ...]  # folded words; () without text
    labels: tuple[str, ...]  # label terms, sorted, distinct
    min_confidence: float = 0.0
    within_ms: int | None = None
    limit: int = DEFAULT_SEARCH_LIMIT

    @property
    def text(self) -> str:
        return " ".join(self.phrase)

    def scope(self) -> list[Any]:
        """What a page token is bound to (all but the page size)."""
        return [self.text, list(self.labels), self.min_confidence, self.within_ms]


def _values(params: Mapping[str, str], name: str) -> list[str]:
    """Every value of a parameter given once or several times (Chalice's ``MultiDict``)."""
    if name not in params:
        return []
    getlist = getattr(params, "getlist", None)
    return list(getlist(name)) if getlist else [params[name]]


def _whole(raw: str, name: str, low: int, high: int) -> int:
    # len first: int() refuses more than 4300 digits
    if not (
        len(raw) <= len(str(high)) and raw.isascii() and raw.isdigit() and low <= int(raw) <= high
    ):
        raise BadRequest(f"{name} {quoted(raw)}: use a whole number from {low} to {high}")
    return int(raw)


def _confidence(raw: str) -> float:
    try:
        value = float(raw) if raw.isascii() and len(raw) <= 20 else -1.0
    except ValueError:
        value = -1.0
    if not (0.0 <= value <= 1.0) or "_" in raw:  # also NaN, which compares false
        raise BadRequest(
            f"min_confidence {quoted(raw)}: use a decimal number from 0 to 1, e.g. 0.5 (the "
            "lowest best confidence of a text span or label segment that counts)"
        )
    return value


def _labels(params: Mapping[str, str]) -> tuple[str, ...]:
    names = [name.strip() for value in _values(params, "label") for name in value.split(",")]
    # a long name (or one NFKD makes long: U+FDFA is 18 characters) would make an index key
    # over DynamoDB's 2048 bytes
    bad = [n for n in names if len(n) > MAX_SEARCH_TEXT_CHARS or not words(n)]
    bad += [n for n in names if n not in bad and len(label_term(n)) > MAX_SEARCH_TEXT_CHARS]
    if bad:
        raise BadRequest(
            f"label {quoted_list(bad)}: name a label such as Car or Person, at most "
            f"{MAX_SEARCH_TEXT_CHARS} characters (several: label=car&label=person, or "
            "label=car,person)"
        )
    terms = sorted({label_term(name) for name in names})
    if len(terms) > MAX_SEARCH_LABELS:
        raise BadRequest(f"{len(terms)} labels: search for at most {MAX_SEARCH_LABELS} at once")
    return tuple(terms)


def _phrase(params: Mapping[str, str]) -> tuple[str, ...]:
    texts = _values(params, "text")
    if len(texts) > 1:
        raise BadRequest("text is given more than once: send one word or phrase")
    if not texts:
        return ()
    raw = texts[0]
    found = tuple(words(raw)) if len(raw) <= MAX_SEARCH_TEXT_CHARS else ()
    if len(raw) > MAX_SEARCH_TEXT_CHARS or not found or len(found) > MAX_SEARCH_WORDS:
        raise BadRequest(
            f"text {quoted(raw)}: send a word or a phrase of 1 to {MAX_SEARCH_WORDS} words "
            f"(letters or digits; at most {MAX_SEARCH_TEXT_CHARS} characters)"
        )
    return found


def parse_query(params: Mapping[str, str] | None) -> Query:
    """``GET /video/search``'s parameters, each bad one a ``BadRequest`` that says what to fix."""
    params = params or {}
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {quoted_list(unknown)}: the accepted ones "
            f"are {', '.join(PARAMS)}"
        )
    for name in ("min_confidence", "within_ms", "limit", "next_token"):
        if len(_values(params, name)) > 1:
            raise BadRequest(f"{name} is given more than once: send it once")
    phrase, labels = _phrase(params), _labels(params)
    if not phrase and not labels:
        raise BadRequest("say what to search for: text (a word or phrase), label, or both")
    within = params.get("within_ms")
    limit = params.get("limit")
    return Query(
        phrase,
        labels,
        min_confidence=_confidence(params["min_confidence"]) if "min_confidence" in params else 0.0,
        within_ms=None if within is None else _whole(within, "within_ms", 0, MAX_WITHIN_MS),
        limit=DEFAULT_SEARCH_LIMIT
        if limit is None
        else _whole(limit, "limit", 1, MAX_SEARCH_LIMIT),
    )


def query_terms(query: Query) -> list[str]:
    """The index terms a query reads: its words', then its labels'."""
    return [text_term(word) for word in dict.fromkeys(query.phrase)] + list(query.labels)


@dataclass
class Part:
    """One part of a query in one job: its name as a hit shows it, and its ranges there."""

    name: str
    is_label: bool
    spans: list[Span] = field(default_factory=list)


def job_parts(query: Query, postings: Mapping[str, Posting]) -> list[Part] | None:
    """The query's parts in one job (``postings``: the job's posting of each term the query
    read); None when some part is missing from it."""
    if any(term not in postings for term in query_terms(query)):
        return None
    parts = []
    if query.phrase:  # any of its words' postings holds every line the phrase can be in
        wanted, first = f" {query.text} ", postings[text_term(query.phrase[0])]
        parts.append(Part(query.text, False, [s for s in first.spans if wanted in f" {s.line} "]))
    parts += [Part(postings[term].name, True, list(postings[term].spans)) for term in query.labels]
    for part in parts:
        part.spans = [s for s in part.spans if s.confidence >= query.min_confidence]
    return parts if all(part.spans for part in parts) else None


def _gap(a: Span, b: Span) -> int:
    """How far apart two ranges are (0: they overlap or touch)."""
    return max(0, a.start_ms - b.end_ms, b.start_ms - a.end_ms)


def _near(parts: list[Part], within_ms: int) -> list[Part]:
    """Each part's ranges that have a range of every other part within ``within_ms``."""
    near = []
    for index, part in enumerate(parts):
        others = [other for i, other in enumerate(parts) if i != index]
        kept = [
            s
            for s in part.spans
            if all(any(_gap(s, o) <= within_ms for o in other.spans) for other in others)
        ]
        near.append(Part(part.name, part.is_label, kept))
    return near


def hit_ranges(query: Query, parts: list[Part]) -> list[dict[str, Any]] | None:
    """The job's matching ranges, merged where they overlap, each naming the text and labels
    seen in it, by start; None if ``within_ms`` leaves some part with no range."""
    if query.within_ms is not None:
        parts = _near(parts, query.within_ms)
        if not all(part.spans for part in parts):
            return None
    seen = sorted((s.start_ms, s.end_ms, i) for i, part in enumerate(parts) for s in part.spans)
    merged: list[dict[str, Any]] = []
    members: list[set[int]] = []
    for start, end, index in seen:
        if merged and start <= merged[-1]["end_ms"]:
            merged[-1]["end_ms"] = max(merged[-1]["end_ms"], end)
            members[-1].add(index)
        else:
            merged.append({"start_ms": start, "end_ms": end})
            members.append({index})
    for row, indexes in zip(merged, members, strict=True):
        named = [parts[i] for i in sorted(indexes)]
        row["text"] = [p.name for p in named if not p.is_label]
        row["labels"] = sorted(p.name for p in named if p.is_label)
    return merged


def score(ranges: Sequence[Mapping[str, Any]]) -> float:
    """Parts in a range times (1 + its seconds), summed over the ranges."""
    total = sum(
        (len(r["text"]) + len(r["labels"])) * (1 + (r["end_ms"] - r["start_ms"]) / 1000)
        for r in ranges
    )
    return round(total, 3)


def rank_key(hit: Mapping[str, Any]) -> tuple[float, float, str]:
    """Best score first, then the newest job, then by id: a total order pages can resume in."""
    created = datetime.fromisoformat(str(hit["created_at"]).replace("Z", "+00:00")).timestamp()
    return -float(hit["score"]), -created, str(hit["job_id"])
