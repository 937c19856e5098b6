"""The class-name rules, shared by registration and a file's 'names' metadata."""

from __future__ import annotations

from chalicelib.models.record import class_names_problem
from chalicelib.search.terms import label_term


def test_a_name_that_unicode_decomposition_makes_long_is_refused():
    # 64 characters, but 1,154 once folded: a 2,114-byte label term, over DynamoDB's key limit
    name = "\ufdfa" * 64
    assert len(label_term(name).encode()) > 2048
    assert "decomposed" in (class_names_problem([name]) or "")


def test_accented_names_of_full_length_are_fine():
    assert class_names_problem(["é" * 64, "Straßenbahn"]) is None
