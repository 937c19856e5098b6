"""The static checks of a tenant's ONNX file, on graphs built with onnx.helper."""

from __future__ import annotations

import pytest
from onnx import helper

from chalicelib.errors import InvalidModel
from chalicelib.models import wire
from tests.support import tenant_models as tm


def test_a_sound_detector_passes_with_what_it_holds():
    facts = wire.check_model_bytes(tm.serialized(tm.detector("v5")))
    assert facts.nodes == 3 and facts.opset == tm.OPSET
    assert facts.input_shape == [1, 3, tm.SIDE, tm.SIDE]
    assert facts.class_names() == tuple(tm.CLASSES)


def test_a_named_input_side_is_accepted():
    facts = wire.check_model_bytes(tm.serialized(tm.detector(side="height")))
    assert facts.input_shape == [1, 3, "height", "height"]


@pytest.mark.parametrize(
    ("model", "says"),
    [
        (tm.with_custom_operator, "operator set 'com.acme'"),
        (tm.with_external_data, "stored as external data"),
        (lambda: tm.detector(side=4096), "at most 1280"),
    ],
)
def test_hostile_graphs_are_refused_saying_what_to_fix(model, says):
    with pytest.raises(InvalidModel, match=says):
        wire.check_model_bytes(tm.serialized(model()))


def test_a_custom_operator_in_the_standard_opset_list_is_still_found():
    model = tm.detector()
    model.graph.node.append(helper.make_node("Backdoor", ["output0"], ["x"], domain="com.acme"))
    with pytest.raises(InvalidModel, match="custom operator 'com.acme::Backdoor'"):
        wire.check_model_bytes(tm.serialized(model))


def test_external_data_inside_a_subgraph_is_found():
    inner = tm.with_external_data().graph
    model = tm.detector()
    model.graph.node.append(helper.make_node("If", ["cond"], ["y"], then_branch=inner,
                                             else_branch=inner))  # fmt: skip
    with pytest.raises(InvalidModel, match="external data"):
        wire.check_model_bytes(tm.serialized(model))


def test_the_node_cap_holds(monkeypatch):
    monkeypatch.setattr(wire, "MAX_MODEL_NODES", 2)
    with pytest.raises(InvalidModel, match="more than 2 nodes"):
        wire.check_model_bytes(tm.serialized(tm.detector()))


@pytest.mark.parametrize(
    "data", [b"", b"hello, this is not a model", b"\x08\x09", b"\xff" * 64, b"\x0a\x05abc"]
)
def test_bytes_that_are_no_onnx_model_are_refused(data):
    with pytest.raises(InvalidModel, match="not an ONNX model"):
        wire.check_model_bytes(data)


def test_a_truncated_model_is_refused():
    data = tm.serialized(tm.detector())
    with pytest.raises(InvalidModel, match="not an ONNX model"):
        wire.check_model_bytes(data[: len(data) // 2])
