"""A search's parameters, phrases, labels within a distance, merged ranges and the score."""

import pytest
from chalice.app import MultiDict

from chalicelib.errors import BadRequest
from chalicelib.search.query import Query, hit_ranges, job_parts, parse_query, score
from chalicelib.search.terms import job_postings
from tests.support.search import a_job, label, segments, text


def test_text_and_labels_are_folded_and_labels_given_both_ways():
    query = parse_query(MultiDict({"text": ["  Emergency, EXIT "], "label": ["Car,person", "car"]}))
    assert query.phrase == ("emergency", "exit") and query.text == "emergency exit"
    assert query.labels == ("l:car", "l:person")
    assert (query.min_confidence, query.within_ms, query.limit) == (0.0, None, 20)
    plain = parse_query({"label": "dog", "min_confidence": "0.5", "within_ms": "0", "limit": "3"})
    assert (plain.phrase, plain.labels, plain.min_confidence, plain.within_ms, plain.limit) == (
        (),
        ("l:dog",),
        0.5,
        0,
        3,
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "say what to search for: text"),
        ({"text": "!!!"}, "text '!!!': send a word or a phrase of 1 to 10 words"),
        ({"text": "a " * 11}, "of 1 to 10 words"),
        ({"text": "x" * 201}, "at most 200 characters"),
        ({"label": "car,,dog"}, "label '': name a label such as Car"),
        ({"label": ",".join(f"l{i}" for i in range(11))}, "11 labels: search for at most 10"),
        ({"label": "a " * 3000}, "at most 200 characters"),  # a DynamoDB key is 2048 bytes
        ({"label": "\ufdfa" * 100}, "at most 200 characters"),  # 1,800 once folded
        (
            {"text": "a", "min_confidence": "50"},
            "min_confidence '50': use a decimal number from 0 to 1",
        ),
        ({"text": "a", "min_confidence": "nan"}, "min_confidence 'nan'"),
        ({"text": "a", "min_confidence": "1_0"}, "min_confidence '1_0'"),
        ({"text": "a", "within_ms": "-1"}, "within_ms '-1': use a whole number from 0 to 21600000"),
        ({"text": "a", "within_ms": "9" * 5000}, "within_ms '9999"),
        ({"text": "a", "limit": "0"}, "limit '0': use a whole number from 1 to 100"),
        ({"text": "a", "limit": "101"}, "limit '101'"),
        ({"text": "a", "tenant": "globex"}, "unknown query parameter(s) 'tenant': the accepted"),
    ],
)
def test_garbage_is_a_bad_request_that_says_what_to_fix(params, message):
    with pytest.raises(BadRequest) as raised:
        parse_query(params)
    assert message in raised.value.message


def test_repeated_single_parameters_are_refused():
    for name, value in (("text", "a"), ("limit", "2"), ("within_ms", "5")):
        with pytest.raises(BadRequest, match=f"{name} is given more than once"):
            parse_query(MultiDict({"text": ["x"], name: [value, value]}))


def postings_of(*texts, labels=()):
    return {p.term: p for p in job_postings(a_job(), segments(list(texts), list(labels)))}


def ranges(query: Query, postings):
    parts = job_parts(query, postings)
    return None if parts is None else hit_ranges(query, parts)


def test_a_phrase_matches_its_words_in_order_in_one_line():
    postings = postings_of(
        text("EMERGENCY EXIT", 1000, 3000),
        text("exit emergency", 5000, 6000),
        text("exit", 8000, 8000),
    )
    phrase = parse_query({"text": "emergency exit"})
    assert ranges(phrase, postings) == [
        {"start_ms": 1000, "end_ms": 3000, "text": ["emergency exit"], "labels": []}
    ]
    assert [r["start_ms"] for r in ranges(parse_query({"text": "exit"}), postings)] == [
        1000,
        5000,
        8000,
    ]
    assert ranges(parse_query({"text": "emergency stop"}), postings) is None
    assert ranges(parse_query({"text": "gency"}), postings) is None  # words, not substrings


def test_all_labels_must_appear_and_low_confidence_ranges_do_not_count():
    postings = postings_of(labels=[label("car", 0, 2000, 0.9), label("person", 10000, 12000, 0.3)])
    both = parse_query({"label": "car,person"})
    assert [r["labels"] for r in ranges(both, postings)] == [["Car"], ["Person"]]
    assert ranges(parse_query({"label": "car,person", "min_confidence": "0.5"}), postings) is None
    assert ranges(parse_query({"label": "car,dog"}), postings) is None
    assert ranges(parse_query({"label": "vehicle"}), postings)[0]["labels"] == ["Vehicle"]


def test_within_ms_keeps_only_ranges_near_every_other_part():
    postings = postings_of(
        text("EXIT", 1000, 2000),
        text("EXIT", 60000, 61000),
        labels=[label("car", 2500, 4000), label("person", 100000, 101000)],
    )
    near = parse_query({"text": "exit", "label": "car", "within_ms": "500"})
    assert ranges(near, postings) == [
        {"start_ms": 1000, "end_ms": 2000, "text": ["exit"], "labels": []},
        {"start_ms": 2500, "end_ms": 4000, "text": [], "labels": ["Car"]},
    ]
    assert (
        ranges(parse_query({"text": "exit", "label": "car", "within_ms": "499"}), postings) is None
    )
    apart = parse_query({"label": "car,person", "within_ms": "10000"})
    assert ranges(apart, postings) is None
    assert len(ranges(parse_query({"label": "car,person"}), postings)) == 2


def test_overlapping_ranges_merge_and_name_every_part_in_them():
    postings = postings_of(
        text("exit", 1000, 3000), labels=[label("car", 2000, 5000), label("truck", 4000, 6000)]
    )
    query = parse_query({"text": "exit", "label": "car,vehicle"})
    assert ranges(query, postings) == [
        {"start_ms": 1000, "end_ms": 6000, "text": ["exit"], "labels": ["Car", "Vehicle"]}
    ]


def test_more_parts_together_for_longer_score_higher():
    one = [{"start_ms": 0, "end_ms": 1000, "text": ["exit"], "labels": []}]
    two = [{"start_ms": 0, "end_ms": 1000, "text": ["exit"], "labels": ["Car"]}]
    longer = [{"start_ms": 0, "end_ms": 3500, "text": ["exit"], "labels": []}]
    assert score(one) == 2.0 and score(two) == 4.0 and score(longer) == 4.5
    assert score(one + longer) == 6.5
