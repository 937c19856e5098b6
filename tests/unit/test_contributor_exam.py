"""docs/contributor-exam.md points at code that exists: every file path it names, and every
function, class, constant or setting it names in backticks."""

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAM = ROOT / "docs" / "contributor-exam.md"
CODE_DIRS = ["app.py", "chalicelib", "infra", "scripts", "tests", "layers", "functions"]
PATH_LIKE = re.compile(r"^[\w.\-/]+\.(py|md|yaml|yml|txt|toml|json|sh)$|^[\w.\-]+/[\w.\-/]*$")
NAME_LIKE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)?(\(\))?$")
# Backticked words that are values, not code names (statuses, markers, attributes of AWS).
NOT_CODE = {
    "pending",
    "running",
    "completed",
    "failed",
    "uploading",
    "cancelled",
    "slow",
    "worker",
    "async",
    "polling",
    "job_queue",
    "websocket",
    "streaming",
    "distributed",
    "gpu_worker",
    "gpu_schedule",
    "job_id",
    "attempts",
    "updated_at",
    "lease_owner",
    "status",
    "expires_at",
    "enqueued_at",
    "lease_expires_at",
    "pipeline_id",
    "sample_fps",
    "octet-stream",
    "stream",
    "include",
    "paths",
    "markers",
    "cv2",
    "onnxruntime",
    "numpy",
    "rapidocr",
    "rapidocr_onnxruntime",
    "onnx",
    "moto_server",
    "av",
    "aws",
    "aws_env",
    "tiny_mp4",
    "storage",
    "queue",
    "max_frames",
    "next_token",
    "memory",
    "GpuWorker",
    "yolo_only",
    "maxReceiveCount",
}  # fmt: skip  (examples, AWS names)


def code_text() -> str:
    files: list[Path] = []
    for name in CODE_DIRS:
        target = ROOT / name
        files += [target] if target.is_file() else sorted(target.rglob("*.py"))
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def defined(name: str, code: str) -> bool:
    """A def, class, assignment, attribute or keyword with this name, or (for UPPER_CASE
    settings and constants) the name anywhere in the code."""
    if name.isupper():
        return name in code
    pattern = (
        rf"(def|class)\s+{name}\b|^\s*{name}\s*[:=]|\b{name}\s*=|\.{name}\b"
        rf"|[(,]\s*{name}\s*[:=,)]|^import\s+{name}\b|^from\s+{name}\b"
    )
    return re.search(pattern, code, re.MULTILINE) is not None


def resolves(name: str, code: str) -> bool:
    """Each part defined in the code, or a library attribute (``functools.cache``)."""
    if all(defined(part, code) for part in name.split(".")):
        return True
    module, _, attribute = name.partition(".")
    try:
        imported = importlib.import_module(module)
    except ImportError:
        return False
    return attribute == "" or hasattr(imported, attribute)


def references() -> tuple[set[str], set[str]]:
    paths, names = set(), set()
    for token in re.findall(r"`([^`\n]+)`", EXAM.read_text(encoding="utf-8")):
        if (PATH_LIKE.match(token) and not token.startswith(".")) or (
            re.fullmatch(r"[\w.]+", token) and (ROOT / token).exists()
        ):
            paths.add(token)
        elif NAME_LIKE.match(token) and token not in NOT_CODE:
            names.add(token.removesuffix("()"))
    return paths, names


def test_every_path_in_the_exam_exists():
    paths, _ = references()
    assert len(paths) > 20  # the loop checked something
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == []


def test_every_code_name_in_the_exam_is_defined():
    _, names = references()
    code = code_text()
    assert len(names) > 40
    missing = sorted(name for name in names if not resolves(name, code))
    assert missing == []


def test_the_checker_catches_stale_names():
    code = code_text()
    assert not resolves("submit_video", code) and not resolves("Job.claim", code)
    assert defined("Submissions", code) and defined("take_over", code)
