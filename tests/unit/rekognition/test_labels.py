"""Label names: every COCO class has its Rekognition name, custom classes pass through."""

from __future__ import annotations

import pytest

from app import answer_of
from chalicelib.errors import VideoJobsError
from chalicelib.rekognition import model
from chalicelib.results.labels import LABELS, label_info


def refused(operation: str, params: dict) -> VideoJobsError:
    with pytest.raises(VideoJobsError) as caught:
        model.validate(operation, params)
    assert answer_of(caught.value).aws_type == "InvalidParameterException"
    return caught.value


# --- label names ---------------------------------------------------------------------------------


def test_every_coco_class_has_a_rekognition_name(model_path):
    names_path = model_path.parent / "coco.names"
    classes = [line.strip() for line in names_path.read_text().splitlines() if line.strip()]
    assert len(classes) == 80
    assert set(classes) <= set(LABELS)
    spelled = {name: label_info(name).name for name in classes}
    assert spelled["motorbike"] == "Motorcycle" and spelled["aeroplane"] == "Airplane"
    assert spelled["sofa"] == "Couch" and spelled["tvmonitor"] == "Tv"
    assert spelled["pottedplant"] == "Potted Plant" and spelled["person"] == "Person"
    assert label_info("car").parents == ("Vehicle", "Transportation")


def test_a_custom_class_passes_through_title_cased():
    info = label_info("fire_truck")
    assert (info.name, info.parents, info.category) == ("Fire Truck", (), None)
