"""A whole results document as the worker stores it (head and pieces), for tests that build
documents at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.storage import StorageService
from chalicelib.results.document import encode
from chalicelib.results.pieces import PieceBuilder, encode_head, piece_path, write_once


def split_document(document: Mapping[str, Any]) -> tuple[bytes, list[bytes]]:
    """The head and the pieces of ``document``, each canonical JSON."""
    builder = PieceBuilder()
    pieces = [builder.add(encode(frame)) for frame in document.get("frames", [])]
    pieces.append(builder.close())
    return encode_head(document, builder.counts), [piece for piece in pieces if piece is not None]


def store_document(storage: StorageService, head_path: str, document: Mapping[str, Any]) -> None:
    """Store ``document`` once: the pieces, then the head."""
    head, pieces = split_document(document)
    for index, piece in enumerate(pieces):
        write_once(storage, piece_path(head_path, index), piece)
    write_once(storage, head_path, head)
