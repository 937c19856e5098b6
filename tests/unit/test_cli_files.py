"""``video-jobs submit`` sends only a regular file within the API's size limit (not, say,
``/dev/zero``), and never reads it past its checked size.

The refusals run the command as a process with its address space capped and a timeout, so
that a regression fails the test (MemoryError, a hang on a FIFO) instead of the machine."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import video_jobs_cli
from chalicelib.config import MAX_PRESIGNED_PUT_BYTES, load_settings
from tests.support.stub_api import Exchange, stub_api
from video_jobs_cli import commands, video_file
from video_jobs_cli.commands import cli
from video_jobs_cli.errors import CliError
from video_jobs_cli.video_file import API_MAX_DIRECT_UPLOAD_BYTES, MAX_VIDEO_BYTES, BoundedFile

JOB = "00000000-0000-4000-8000-000000000000"
PACKAGE_ROOT = Path(video_jobs_cli.__file__).parent.parent  # the package under test
MEMORY_CAP = 512 * 1024 * 1024


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def video_jobs(api_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEO_JOBS_")}
    return subprocess.run(
        [sys.executable, "-m", "video_jobs_cli", "--api", api_url, *args],
        cwd=PACKAGE_ROOT, env=env, capture_output=True, text=True, timeout=30,
        preexec_fn=_cap_memory,
    )  # fmt: skip


def answer_submit(exchange: Exchange) -> None:
    exchange.send(202, {"job_id": JOB, "status": "pending"})


@pytest.fixture
def not_regular(tmp_path):
    """Each kind of path that is not a regular file, and what the refusal calls it."""
    fifo = tmp_path / "fifo.mp4"
    os.mkfifo(fifo)
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(tmp_path / "socket.mp4"))
    (tmp_path / "zero.mp4").symlink_to("/dev/zero")
    yield {
        "/dev/zero": "is a character device, not a regular file",
        str(tmp_path / "zero.mp4"): "is a character device, not a regular file",
        str(fifo): "is a FIFO (named pipe), not a regular file",
        str(tmp_path): "is a directory, not a regular file",
        str(tmp_path / "socket.mp4"): "is a socket, not a regular file",
    }
    listening.close()


def test_what_is_not_a_regular_file_is_refused_before_reading(not_regular):
    with stub_api(answer_submit) as api:
        for path, kind in not_regular.items():
            for way in ([], ["--direct-max-bytes", "0"]):  # direct, and a presigned upload
                done = video_jobs(api.url, "submit", path, *way)
                assert done.returncode == 2, done.stderr[-300:]
                assert done.stderr == (f"Error: Invalid value for 'FILE': {path!r} {kind} "
                                       "(see 'video-jobs submit --help')\n")  # fmt: skip
    assert api.requests == []


def test_a_file_over_the_api_size_limit_is_refused_unread(tmp_path):
    sparse = tmp_path / "huge.mp4"
    with sparse.open("wb") as handle:
        handle.truncate(MAX_VIDEO_BYTES + 1)  # 5 GiB + 1 byte, no blocks written
    with stub_api(answer_submit) as api:
        done = video_jobs(api.url, "submit", str(sparse))
    assert done.returncode == 2
    assert done.stderr == (
        f"Error: Invalid value for 'FILE': {str(sparse)!r} is {MAX_VIDEO_BYTES + 1} bytes, above "
        f"the API's {MAX_VIDEO_BYTES}-byte (5 GiB) limit for an upload "
        "(see 'video-jobs submit --help')\n"
    )
    assert api.requests == []


def test_the_size_limit_is_the_apis(monkeypatch):
    monkeypatch.delenv("VIDEO_JOBS_MAX_DIRECT_UPLOAD_BYTES", raising=False)
    assert MAX_PRESIGNED_PUT_BYTES == MAX_VIDEO_BYTES  # one S3 PUT, the most an upload takes
    # Lambda's payload limit, the most a direct submit takes
    assert load_settings().max_direct_upload_bytes == API_MAX_DIRECT_UPLOAD_BYTES


def run(api_url: str, *args: str):
    return CliRunner().invoke(cli, ["--api", api_url, *args], env={"VIDEO_JOBS_TOKEN": None})


def test_the_limit_holds_to_the_byte(monkeypatch, tmp_path):
    monkeypatch.setattr(video_file, "MAX_VIDEO_BYTES", 100)
    clip = tmp_path / "clip.mp4"
    with stub_api(answer_submit) as api:
        clip.write_bytes(b"\x00" * 101)
        over = run(api.url, "submit", str(clip))
        assert over.exit_code == 2 and "above the API's 100-byte" in over.stderr
        assert over.stderr.count("\n") == 1 and api.requests == []
        clip.write_bytes(b"\x00" * 100)
        assert run(api.url, "submit", str(clip)).stdout == f"{JOB}\n"
    assert api.requests == [("POST", "/video/submit", 100)]


def upload_ticket(max_bytes: int):
    def respond(exchange: Exchange) -> None:
        if exchange.method == "POST" and exchange.path.split("?")[0] == "/video/uploads":
            port = exchange.handler.server.server_address[1]
            exchange.send(201, {
                "job_id": JOB, "status": "uploading", "start_url": f"/video/uploads/{JOB}/start",
                "upload": {"url": f"http://127.0.0.1:{port}/put", "method": "PUT",
                           "headers": {"Content-Type": "video/mp4"}, "expires_at": "x",
                           "max_bytes": max_bytes}})  # fmt: skip
        elif exchange.method == "PUT":
            exchange.send(200, b"", "text/plain")
        else:
            answer_submit(exchange)

    return respond


def test_the_deployed_apis_smaller_limit_is_kept_too(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 10)
    with stub_api(upload_ticket(max_bytes=9)) as api:
        done = run(api.url, "submit", str(clip), "--direct-max-bytes", "0")
    assert done.exit_code == 1
    assert done.stderr == (f"Error: {str(clip)!r} is 10 bytes, above this API's 9-byte upload "
                           "limit\n")  # fmt: skip
    assert [method for method, _, _ in api.requests] == ["POST"]  # the ticket, no PUT


@pytest.mark.parametrize("way", [[], ["--direct-max-bytes", "0"]], ids=["direct", "upload"])
def test_a_file_that_grows_is_not_read_past_its_checked_size(monkeypatch, tmp_path, way):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 1000)
    opened = []

    def open_then_grow(path: Path):
        handle, size = real_open(path)
        with path.open("ab") as more:
            more.write(b"\x01" * 10_000_000)  # still being written, 10 MB more
        opened.append(handle)
        return handle, size

    real_open = video_file.open_video
    monkeypatch.setattr(commands, "open_video", open_then_grow)
    with stub_api(upload_ticket(max_bytes=10**9)) as api:
        done = run(api.url, "submit", str(clip), *way)
    assert done.exit_code == 1
    assert done.stderr == (f"Error: {str(clip)!r} changed size while it was read (1000 bytes when "
                           "checked): submit it once it is complete\n")  # fmt: skip
    assert opened[0].closed
    assert not any(path.endswith("/start") for _, path, _ in api.requests)  # never started
    assert all(size <= 1000 for _, _, size in api.requests)


def test_a_bounded_file_reads_at_most_one_byte_past_its_size(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 100)
    with path.open("rb") as handle:
        bounded, seen = BoundedFile(handle, 10, "clip.mp4", on_read=lambda n: None), []
        assert len(bounded) == 10
        with pytest.raises(CliError, match="changed size"):
            while chunk := bounded.read(4):
                seen.append(chunk)
        assert sum(map(len, seen)) == 8 and handle.tell() == 11  # 10 asked for, 1 to look
    path.write_bytes(b"\x00" * 5)
    with path.open("rb") as handle, pytest.raises(CliError, match="changed size"):
        BoundedFile(handle, 10, "clip.mp4").read()  # shrank: not a short Content-Length body
