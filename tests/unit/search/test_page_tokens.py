"""Page tokens that decode to non-ASCII text are refused like any forged token (not a 500:
``hmac.compare_digest`` raises TypeError on a non-ASCII str)."""

from __future__ import annotations

import base64

import pytest

from chalicelib.errors import InvalidToken
from chalicelib.jobs.library import PageTokens
from chalicelib.jobs.store import JobWindow
from chalicelib.search.query import Query
from chalicelib.search.service import SearchTokens

FORGED = [
    base64.urlsafe_b64encode("[1]\né".encode()).decode(),  # a non-ASCII "mac"
    "é",  # not base64 at all
]


@pytest.mark.parametrize("token", FORGED)
def test_a_search_token_with_non_ascii_text_is_invalid(token):
    with pytest.raises(InvalidToken):
        SearchTokens(b"k").read("acme", Query(("exit",), ()), token)


@pytest.mark.parametrize("token", FORGED)
def test_a_listing_token_with_non_ascii_text_is_invalid(token):
    with pytest.raises(InvalidToken):
        PageTokens(b"k").read("acme", JobWindow(), token)
