"""Governance scripts: the vocabulary scanner, the pipeline registry check, the smoke checker."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from chalicelib.analysis.registry import PIPELINES
from scripts import check_pipelines, check_vocabulary, smoke_test
from scripts.check_vocabulary import DEFAULT_CONFIG, load_vocabulary, scan_text

ROOT = Path(__file__).resolve().parents[2]
REAL_VOCABULARY = load_vocabulary(DEFAULT_CONFIG)

# ---------------------------------------------------------------------------------------------
# Vocabulary scanner


def write_config(directory: Path, **overrides: list[str]) -> Path:
    """The real configuration, with some lists replaced."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8")) | overrides
    path = directory / "vocabulary.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def plant(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_scanner(capsys, *argv: str) -> tuple[int, list[str]]:
    status = check_vocabulary.main(list(argv))
    return status, capsys.readouterr().out.splitlines()


@pytest.fixture
def tree(tmp_path) -> Path:
    """A clean copy of the layout the configuration expects."""
    root = tmp_path / "repo"
    plant(root, "app.py", "from chalice import Chalice\n\napp = Chalice(app_name='x')\n")
    plant(
        root, "chalicelib/adapters/queue.py", '"""Jobs wait on a job_queue; workers poll it."""\n'
    )
    plant(root, "infra/resources.json", '{"queue": "video-jobs-queue"}\n')
    return root


def test_real_configuration_lists_the_agreed_terms():
    assert set(REAL_VOCABULARY.forbidden) == {
        "websocket",
        "streaming",
        "gpu_schedule",
        "distributed",
        "gpu_worker",
    }
    assert set(REAL_VOCABULARY.allowed) == {"job_queue", "async", "worker", "polling"}
    assert {"app.py", "chalicelib", "functions", "infra", "layers"} <= set(REAL_VOCABULARY.paths)
    assert "tests" not in REAL_VOCABULARY.paths


def test_clean_tree_exits_0(tmp_path, tree, capsys):
    config = write_config(tmp_path)
    assert run_scanner(capsys, "--config", str(config), "--root", str(tree)) == (
        0,
        ["vocabulary: OK"],
    )


def test_planted_violation_is_reported_with_file_and_line(tmp_path, tree, capsys):
    config = write_config(tmp_path)
    plant(tree, "chalicelib/push.py", "import json\n\nclient = make_websocket_client()\n")
    status, lines = run_scanner(capsys, "--config", str(config), "--root", str(tree))
    assert status == 1
    assert lines[0].startswith("chalicelib/push.py:3: websocket: client = make_websocket_client()")
    assert len(lines) == 2  # the violation and the count


def test_every_selected_file_type_in_every_configured_path_is_scanned(tmp_path, tree, capsys):
    config = write_config(tmp_path)
    plant(tree, "functions/analyzer/Dockerfile", "ENV MODE=distributed\n")
    plant(tree, "layers/analyzer/requirements.txt", "websockets==15.0\n")
    plant(tree, "infra/stack.yaml", "name: x\ngpu_worker_count: 2\n")
    status, lines = run_scanner(capsys, "--config", str(config), "--root", str(tree))
    assert status == 1
    assert [line.split(": ")[0] for line in lines[:-1]] == [
        "functions/analyzer/Dockerfile:1",
        "infra/stack.yaml:2",
        "layers/analyzer/requirements.txt:1",
    ]


def test_tests_docs_and_caches_are_not_scanned(tmp_path, tree, capsys):
    config = write_config(tmp_path)
    plant(tree, "tests/test_push.py", "websocket = 1\n")
    plant(tree, "docs/design.md", "No streaming here.\n")
    plant(tree, "chalicelib/NOTES.md", "No distributed GPU either.\n")
    plant(tree, "chalicelib/__pycache__/queue.json", '{"distributed": true}\n')
    assert run_scanner(capsys, "--config", str(config), "--root", str(tree))[0] == 0


def test_path_arguments_replace_the_configured_paths(tmp_path, tree, capsys):
    config = write_config(tmp_path)
    plant(tree, "chalicelib/push.py", "websocket = 1\n")
    explicit = plant(tmp_path, "elsewhere/notes.txt", "a\nstreaming\n")
    status, lines = run_scanner(capsys, "--config", str(config), str(explicit))
    assert status == 1
    assert lines[0].startswith(f"{explicit}:2: streaming")
    assert len(lines) == 2


def test_missing_path_argument_is_a_usage_error(tmp_path, capsys):
    config = write_config(tmp_path)
    assert run_scanner(capsys, "--config", str(config), str(tmp_path / "nope"))[0] == 2


@pytest.mark.parametrize(
    ("line", "terms"),
    [
        # identifiers: snake_case and camelCase parts, any case, plurals and compounds
        ("pool = gpu_worker_pool()", ["gpu_worker"]),
        ("body: StreamingBody = response['Body']", ["streaming"]),
        ("class GPUWorker:", ["gpu_worker"]),
        ("WEBSOCKET_URL = 'wss://x'", ["websocket"]),
        ("import websockets", ["websocket"]),
        ("from x import WebSocketApp", ["websocket"]),
        ("def gpu_scheduler():", ["gpu_schedule"]),
        ("run_gpu_schedule(jobs)", ["gpu_schedule"]),
        ("MODE = 'live-streaming'", ["streaming"]),
        # comments and strings count as much as code
        ("x = 1  # distributed lock", ["distributed"]),
        ('log.info("pushing results over a web socket")', ["websocket"]),
        ('"""Runs on a GPU worker."""', ["gpu_worker"]),
        # several terms on one line, each once
        ("websocket_streaming(websocket)", ["websocket", "streaming"]),
        # not forbidden: other words that merely share letters
        ("reads the video stream frame by frame", []),
        ("handler = logging.StreamHandler()", []),
        ('RAW_TYPES = {"application/octet-stream"}', []),
        ("Redis streams, Pub/Sub", []),
        ("redistributed = livestreaming = 1", []),
        ("the model's distribution (PyPI sdist)", []),
        ("uses_gpu. Worker threads poll", []),
        ("gpu_count = 0; worker = Worker()", []),
    ],
)
def test_identifier_comment_and_string_rules(line, terms):
    assert [v.term for v in scan_text(line, REAL_VOCABULARY, "f.py")] == terms


def test_allowed_term_does_not_hide_a_longer_forbidden_one():
    """``worker`` is allowed; ``gpu_worker`` contains it but is still forbidden."""
    assert [v.term for v in scan_text("worker = gpu_worker()", REAL_VOCABULARY, "f.py")] == [
        "gpu_worker"
    ]


def test_allowed_phrase_whitelists_a_forbidden_term_inside_it(tmp_path, tree, capsys):
    config = write_config(tmp_path, allowed=["worker", "streaming_body"])
    plant(tree, "chalicelib/adapters/storage.py", "body: StreamingBody = get()\nstreaming = True\n")
    status, lines = run_scanner(capsys, "--config", str(config), "--root", str(tree))
    assert status == 1
    assert [line.split(": ")[0] for line in lines[:-1]] == ["chalicelib/adapters/storage.py:2"]


def test_the_allowed_list_is_what_the_config_says(tmp_path, tree, capsys):
    """Without ``streaming_body`` in the config, the same file is flagged on both lines."""
    config = write_config(tmp_path, allowed=["worker"])
    plant(tree, "chalicelib/adapters/storage.py", "body: StreamingBody = get()\nstreaming = True\n")
    status, lines = run_scanner(capsys, "--config", str(config), "--root", str(tree))
    assert status == 1
    assert len(lines) == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"allowed": ["Web_Socket"]}, "both forbidden and allowed: websocket"),
        ({"forbidden": []}, "'forbidden' must be a non-empty list"),
        ({"forbidden": ["ok", "__"]}, "without letters or digits"),
        ({"include": "*.py"}, "'include' must be a non-empty list"),
    ],
)
def test_inconsistent_config_exits_2(tmp_path, tree, capsys, overrides, message):
    config = write_config(tmp_path, **overrides)
    assert check_vocabulary.main(["--config", str(config), "--root", str(tree)]) == 2
    assert message in capsys.readouterr().err


def test_real_repository_scans_clean():
    """The CI command on the real configuration: functional code uses none of the terms."""
    scanner = subprocess.run(
        [sys.executable, "-m", "scripts.check_vocabulary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert scanner.returncode == 0, scanner.stdout + scanner.stderr
    assert scanner.stdout == "vocabulary: OK\n"


# ---------------------------------------------------------------------------------------------
# Pipeline registry check: small stand-ins for pipelines, good and bad


class GoodPipeline:
    pipeline_id = "good"

    def __init__(self, settings, *, skip_unchanged_ocr: bool = True):
        self.settings = settings

    def analyze(self, file_path, *, sample_fps, emit, options=None, state=None, stop=None,
                timings=None):  # fmt: skip
        return None

    def fields(self, options, outcome) -> dict:
        return {}


class WrongIdPipeline(GoodPipeline):
    pipeline_id = "other"


class NoIdPipeline(GoodPipeline):
    pipeline_id = None


class TwoArgumentPipeline(GoodPipeline):
    def __init__(self, settings, model):
        super().__init__(settings)


class NoAnalyzePipeline:
    pipeline_id = "good"

    def __init__(self, settings):
        self.settings = settings

    def fields(self, options, outcome) -> dict:
        return {}


class NoFieldsPipeline(GoodPipeline):
    fields = None


class PositionalFpsPipeline(GoodPipeline):
    def analyze(self, file_path, fps, emit, options, state, stop, timings):
        return None


class NoEmitPipeline(GoodPipeline):
    def analyze(self, file_path, *, sample_fps, options, state, stop, timings):
        return None


class KeywordFilePipeline(GoodPipeline):
    def analyze(self, *, file_path, sample_fps, emit, options, state, stop, timings):
        return None


class ExtraRequiredPipeline(GoodPipeline):
    def analyze(self, file_path, *, sample_fps, emit, options, state, stop, timings, model):
        return None


def not_a_class(settings):
    return GoodPipeline(settings)


HERE = __name__
ANALYZE = "analyze(self, file_path, *, sample_fps, emit, options, state, stop, timings)"


def test_real_registry_passes(capsys):
    assert check_pipelines.check_registry(PIPELINES) == {pipeline: [] for pipeline in PIPELINES}
    assert check_pipelines.main() == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"pipelines: ok {p} -> {target}" for p, target in PIPELINES.items()]


def test_good_stand_in_passes():
    assert check_pipelines.check_registry({"good": f"{HERE}:GoodPipeline"}) == {"good": []}


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (f"{HERE}.GoodPipeline", "is not of the form 'module:attribute'"),
        ("tests.no_such_module:GoodPipeline", "module 'tests.no_such_module' is not importable"),
        (f"{HERE}:MissingPipeline", "has no attribute 'MissingPipeline'"),
        (f"{HERE}:not_a_class", "is a function, not a class"),
        (f"{HERE}:WrongIdPipeline", "its pipeline_id is 'other', but it is registered as 'good'"),
        (f"{HERE}:NoIdPipeline", "has no pipeline_id class attribute"),
        (f"{HERE}:TwoArgumentPipeline", "cannot be built as TwoArgumentPipeline(settings)"),
        (f"{HERE}:NoAnalyzePipeline", f"has no {ANALYZE} method"),
        (f"{HERE}:NoFieldsPipeline", "has no fields(self, options, outcome) method"),
        (f"{HERE}:PositionalFpsPipeline", "it takes no keyword argument sample_fps"),
        (f"{HERE}:NoEmitPipeline", "it takes no keyword argument emit"),
        (f"{HERE}:KeywordFilePipeline", f"does not fit {ANALYZE}"),
        (f"{HERE}:ExtraRequiredPipeline", "missing a required argument: 'model'"),
    ],
)
def test_each_kind_of_bad_entry_fails_clearly(target, problem):
    """Registered as "good", the id the stand-ins claim, so only the planted defect shows."""
    problems = check_pipelines.check_registry({"good": target})["good"]
    assert len(problems) == 1
    assert problem in problems[0]


def test_report_names_each_bad_entry_and_still_confirms_the_good_ones(capsys):
    registry = {"good": f"{HERE}:GoodPipeline", "bad": f"{HERE}:NoAnalyzePipeline"}
    assert check_pipelines.report(registry) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"pipelines: ok good -> {HERE}:GoodPipeline",
        f"pipelines: FAIL bad -> {HERE}:NoAnalyzePipeline: its pipeline_id is 'good', "
        "but it is registered as 'bad'",
        f"pipelines: FAIL bad -> {HERE}:NoAnalyzePipeline: has no {ANALYZE} method",
    ]


def test_empty_registry_fails(capsys):
    assert check_pipelines.report({}) == 1
    assert "registry is empty" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Smoke test: the results-shape checker, and the HTTP flow against a stand-in API


def results_document() -> dict:
    return {
        "job_id": "j",
        "results": {
            "video": {"width": 960, "height": 540, "duration_ms": 8800},
            "frames": [
                {"timestamp_ms": 0, "objects": [{"label": "car"}], "text": []},
                {"timestamp_ms": 1000, "objects": [], "text": [{"text": "A1"}]},
            ],
            "summary": {"objects": {"truck": {}, "car": {}}, "text": []},
        },
    }


def test_a_complete_document_has_the_expected_shape():
    document = results_document()
    assert smoke_test.check_results_shape(document) == []
    assert smoke_test.labels_of(document) == ("car", "truck")


def _without(path: tuple, value: object = None) -> dict:
    """The good document with the key at ``path`` removed (or set to ``value``)."""
    document = results_document()
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "document is not an object"),
        (_without(("results",)), "document.results is missing"),
        (_without(("results", "video", "width")), "results.video.width is missing"),
        (_without(("results", "video", "duration_ms")), "results.video.duration_ms is missing"),
        (_without(("results", "frames"), []), "results.frames is not a non-empty list"),
        (_without(("results", "frames", 1, "text")), "results.frames[1].text is missing"),
        (_without(("results", "summary", "text")), "results.summary.text is missing"),
        (_without(("results", "summary", "objects"), {}), "no object was detected in any frame"),
    ],
)
def test_shape_problems_are_named(document, problem):
    assert problem in smoke_test.check_results_shape(document)


def test_outcome_is_one_summary_line():
    outcome = smoke_test.Outcome("abc", 3.21, 9, ("car", "truck"))
    assert str(outcome) == "job abc completed in 3.2 s, 9 frames, labels car, truck"


class StandInApi(BaseHTTPRequestHandler):
    """Answers like the real API: 202 on submit, running then ``final_status``, then results."""

    final_status = "completed"
    polls = 0

    def _answer(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        ok = self.path == "/video/submit" and self.headers["Content-Type"] == "video/mp4"
        if ok:
            self._answer(202, {"job_id": "j", "status": "pending"})
        else:
            self._answer(415, {"code": "UnsupportedMediaType"})

    def do_GET(self) -> None:
        if self.path == "/video/status/j":
            type(self).polls += 1
            status = "running" if type(self).polls < 2 else self.final_status
            self._answer(200, {"status": status, "error_message": "the file has no video track"})
        elif self.path == "/video/results/j":
            self._answer(200, results_document())
        else:
            self._answer(404, {"code": "JobNotFound"})

    def log_message(self, *args) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def stand_in_api() -> Iterator[tuple[str, type[StandInApi]]]:
    handler = type("Api", (StandInApi,), {"polls": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def test_smoke_flow_prints_one_ok_line(stand_in_api, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(smoke_test, "POLL_INTERVAL_S", 0.01)
    url, _ = stand_in_api
    video = plant(tmp_path, "clip.mp4", "not really a video")
    assert smoke_test.main(["--url", url, "--video", str(video), "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("smoke: OK job j completed in ")
    assert out.endswith(" s, 2 frames, labels car, truck\n")


def test_smoke_reports_a_failed_job(stand_in_api, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(smoke_test, "POLL_INTERVAL_S", 0.01)
    url, handler = stand_in_api
    handler.final_status = "failed"
    video = plant(tmp_path, "clip.mp4", "x")
    assert smoke_test.main(["--url", url, "--video", str(video), "--timeout", "10"]) == 1
    assert capsys.readouterr().out == "smoke: FAILED job j failed: the file has no video track\n"


def test_smoke_fails_when_nothing_answers_or_the_video_is_missing(tmp_path, capsys):
    video = plant(tmp_path, "clip.mp4", "x")
    assert (
        smoke_test.main(["--url", "http://127.0.0.1:9", "--video", str(video), "--timeout", "0"])
        == 1
    )
    assert (
        capsys.readouterr().out
        == "smoke: FAILED nothing answers at http://127.0.0.1:9 (is the stack up?)\n"
    )
    assert smoke_test.main(["--video", str(tmp_path / "none.mp4")]) == 1
    assert "smoke: FAILED video " in capsys.readouterr().out
