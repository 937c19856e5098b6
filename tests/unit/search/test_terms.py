"""Index terms: folding, words, label names and parents, and one job's postings."""

import pytest

from chalicelib.search.terms import Span, fold, job_postings, label_term, text_term, words
from tests.support.search import a_job, label, segments, text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EXIT", ["exit"]),
        ("Éxit!", ["exit"]),
        ("  Café, crème-brûlée ", ["cafe", "creme", "brulee"]),
        ("STRASSE straße", ["strasse", "strasse"]),
        ("snake_case and.dots", ["snake", "case", "and", "dots"]),
        ("Ｅｘｉｔ ２０２６", ["exit", "2026"]),  # full-width letters and digits (NFKD)
        ("出口 exit", ["出口", "exit"]),
        ("!!! ...", []),
        ("a" * 65 + " b", ["b"]),  # OCR noise longer than a word is left out
    ],
)
def test_words_are_folded_and_split_on_punctuation(raw, expected):
    assert words(raw) == expected


def test_fold_drops_case_and_accents_only():
    assert fold("ÀÉÎÕÜ ñ") == "aeiou n"


def test_label_terms_fold_names_and_read_model_spellings():
    assert label_term("Car") == label_term("car") == label_term(" CAR") == "l:car"
    assert label_term("motorbike") == label_term("Motorcycle") == "l:motorcycle"
    assert label_term("traffic_light") == label_term("Traffic Light") == "l:traffic light"


def test_a_jobs_postings_hold_each_word_and_label_with_parents_and_ranges():
    job = a_job()
    found = job_postings(job, segments(
        [text("Emergency EXIT", 1000, 4000, 0.9), text("exit", 9000, 9000, 0.8)],
        [label("car", 2000, 6000, 0.7), label("truck", 5000, 8000, 0.5)],
    ))  # fmt: skip
    by_term = {p.term: p for p in found}
    assert sorted(by_term) == ["l:car", "l:transportation", "l:truck", "l:vehicle",
                               "t:emergency", "t:exit"]  # fmt: skip
    assert by_term["t:exit"].spans == (
        Span(1000, 4000, 0.9, "emergency exit"),
        Span(9000, 9000, 0.8, "exit"),
    )
    assert by_term["l:vehicle"].name == "Vehicle"
    assert [s.start_ms for s in by_term["l:vehicle"].spans] == [2000, 5000]
    assert by_term["l:car"].spans == (Span(2000, 6000, 0.7),)
    assert {(p.tenant, p.job_id, p.created_at) for p in found} == {
        (job.tenant, job.job_id, job.created_at)
    }
    assert text_term("exit") == "t:exit"


def test_the_same_results_give_the_same_postings():
    job = a_job()
    document = segments([text("b a", 0, 1), text("a", 5, 9)], [label("dog", 0, 5)])
    assert job_postings(job, document) == job_postings(job, document)
    assert job_postings(job, {}) == []


def test_the_longest_seen_terms_are_kept_past_the_limit(monkeypatch):
    monkeypatch.setattr("chalicelib.search.terms.MAX_TERMS_PER_JOB", 2)
    monkeypatch.setattr("chalicelib.search.terms.MAX_RANGES_PER_TERM", 1)
    document = segments([text("short", 0, 10), text("long", 0, 5000), text("mid", 0, 900),
                         text("long", 6000, 7000)])  # fmt: skip
    found = job_postings(a_job(), document)
    assert [(p.term, len(p.spans)) for p in found] == [("t:long", 1), ("t:mid", 1)]
