"""Class names read from a file's 'names' metadata obey the rules of registered ones: a
hostile file cannot bring a name with a comma, one of 10,000 characters, or 5,000 names."""

from __future__ import annotations

import pytest

from chalicelib.analysis.model_probe import probe
from chalicelib.errors import InvalidModel
from tests.support import tenant_models as tm


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (["hard hat", "a,b"], "'a,b'"),
        (["x" * 10_000], "1 to 64 printable characters"),
        ([f"c{i}" for i in range(1001)], "1 to 1000 names"),
        (["head", "head"], "'head' more than once"),
        (["bell\x07"], "printable"),
    ],
)
def test_unusable_metadata_names_are_refused_saying_so(tmp_path, names, says):
    path = tmp_path / "model.onnx"
    path.write_bytes(tm.serialized(tm.detector(classes=names)))
    with pytest.raises(InvalidModel, match="'names' metadata") as raised:
        probe({"path": str(path)})
    assert says in raised.value.message


def test_usable_metadata_names_are_taken(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(tm.serialized(tm.detector(classes=["hard hat", "head"])))
    assert probe({"path": str(path)})["class_names"] == ["hard hat", "head"]
