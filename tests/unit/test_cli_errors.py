"""Whatever goes wrong, the command prints one line on stderr and exits 1 (2 for usage errors)
instead of a traceback: bad --api URLs, bad option values, and an API that misbehaves (cut off
mid-body, reset, silent, not JSON, HTML 502, 202 with ``{}``)."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner, Result

from tests.support.servers import free_port
from tests.support.stub_api import Exchange, stub_api
from video_jobs_cli import api as api_module
from video_jobs_cli import commands
from video_jobs_cli.commands import cli

JOB = "00000000-0000-4000-8000-000000000000"
RESULTS = {"job_id": JOB, "status": "completed", "progress": 1.0,
           "results": {"frames": [], "segments": {"objects": [], "text": []}}}  # fmt: skip


def run(*args: str, token: str | None = None) -> Result:
    env = {"VIDEO_JOBS_API": None, "VIDEO_JOBS_TOKEN": token}
    return CliRunner().invoke(cli, list(args), env=env)


def assert_one_line(result: Result, exit_code: int, *fragments: str) -> str:
    """The whole of stderr is one ``Error: ...`` line holding each fragment; returns it."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == exit_code, result.stderr
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    return result.stderr


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 10)
    return path


def commands_for(clip) -> dict[str, tuple[list[str], str | None]]:
    """Every command and every path through the API it takes: (arguments, token)."""
    return {
        "status": (["status", JOB], None),
        "wait": (["wait", JOB], None),
        "results": (["results", JOB], None),
        "results-csv": (["results", JOB, "--format", "csv"], None),
        "view": (["view", JOB], None),
        "view-link": (["view", JOB], "a-token"),  # the view link is a POST with the token
        "submit": (["submit", str(clip)], None),
        "submit-upload": (["submit", str(clip), "--direct-max-bytes", "0"], None),
    }


BAD_URLS = {
    "not-a-url": "is not an http:// or https:// URL",
    "ftp://files.example": "is not an http:// or https:// URL",
    "": "is not an http:// or https:// URL",
    "http://[::1": "is not a URL: Invalid IPv6 URL",
    "http://host:99999": "Port out of range",
    "http://host:port": "is not a URL",
    "http://host:0": "has port 0",
    "http://": "has no host",
    "http://exa mple.com": "contains invalid character",
    "http://host/api?stage=1": "has a query or fragment",
}


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_api_url_is_a_usage_error_before_any_request(url, clip):
    for args in (["status", JOB], ["results", JOB], ["view", JOB], ["submit", str(clip)]):
        result = run("--api", url, *args)
        assert_one_line(result, 2, "Invalid value for '--api'", BAD_URLS[url])
    from_env = CliRunner().invoke(cli, ["status", JOB], env={"VIDEO_JOBS_API": url or "x"})
    assert_one_line(from_env, 2, "Invalid value for '--api'")


def cut_mid_body(exchange: Exchange) -> None:
    exchange.send(200, b'{"job_id": "', declared=500)


def non_json(exchange: Exchange) -> None:
    exchange.send(200, b"hello, not JSON", "text/plain")


def html_502(exchange: Exchange) -> None:
    exchange.send(502, b"<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>", "text/html")


def wrong_types(exchange: Exchange) -> None:
    exchange.send(200, {"job_id": 7, "status": None, "progress": "x", "results": [],
                        "start_url": None, "url": 5, "upload": "x"})  # fmt: skip


def noisy_message(exchange: Exchange) -> None:
    message = "line one\nline two\x1b[31m red" + "x" * 5000
    exchange.send(400, {"code": "Boom", "message": message})


MISBEHAVIOURS = {
    "cut mid-body": (cut_mid_body, "closed the connection before its answer ended"),
    "chunk cut": (lambda e: e.chunks_then_cut(b'{"job_id": '), "closed the connection"),
    "reset": (Exchange.reset, "closed the connection before its answer ended"),
    "202 {}": (lambda e: e.send(202, {}), "incomplete answer from the API: no '"),
    "non-JSON": (non_json, "unexpected answer from the API: HTTP 200"),
    "HTML 502": (html_502, "unexpected answer from the API: HTTP 502"),
    "wrong types": (wrong_types, "unusable answer from the API: '"),
    "noisy message": (noisy_message, "Error: Boom: line one line two\\x1b[31m red"),
}


@pytest.mark.parametrize("misbehaviour", MISBEHAVIOURS)
def test_a_misbehaving_api_is_one_line_and_exit_1_for_every_command(misbehaviour, clip):
    respond, expected = MISBEHAVIOURS[misbehaviour]
    tried = 0
    with stub_api(respond) as api:
        for name, (args, token) in commands_for(clip).items():
            result = run("--api", api.url, *args, token=token)
            line = assert_one_line(result, 1, expected)
            assert len(line) < 600 and result.stdout == "", name
            tried += 1
    assert tried == 8 and len(api.requests) >= tried


def silent(exchange: Exchange) -> None:
    time.sleep(1.0)


def test_an_api_that_is_not_there_or_silent_or_slow_or_huge(monkeypatch):
    closed = f"http://127.0.0.1:{free_port()}"
    assert_one_line(run("--api", closed, "status", JOB), 1,
                    f"the API is not reachable at {closed} (is it running?)")  # fmt: skip

    monkeypatch.setattr(api_module, "TIMEOUT_S", 0.3)
    with stub_api(silent) as api:
        assert_one_line(run("--api", api.url, "status", JOB), 1, "did not answer in time")
    monkeypatch.setattr(api_module, "ANSWER_DEADLINE_S", 0.3)
    with stub_api(lambda e: e.trickle(1.0)) as api:  # a byte every 50 ms: no socket timeout
        assert_one_line(run("--api", api.url, "status", JOB), 1, "took longer than 0.3 s")

    monkeypatch.setattr(api_module, "MAX_ANSWER_BYTES", 1000)
    with stub_api(lambda e: e.send(200, {"job_id": JOB, "pad": "x" * 5000})) as api:
        assert_one_line(run("--api", api.url, "status", JOB), 1, "larger than 1000 bytes")


def test_results_pages_that_never_end_are_refused():
    page = {**RESULTS, "next_token": "1"}
    with stub_api(lambda e: e.send(200, page)) as api:
        assert_one_line(run("--api", api.url, "results", JOB), 1, "results pages do not end")
    assert len(api.requests) == 2  # the first page, then the one that repeats its token


def test_an_upload_cut_by_storage_is_one_line(clip):
    def respond(exchange: Exchange) -> None:
        if exchange.path.startswith("/put"):
            exchange.hang_up()
            return
        upload = {"url": f"{api.url}/put", "method": "PUT", "expires_at": "x",
                  "headers": {"Content-Type": "video/mp4"}, "max_bytes": 1000}  # fmt: skip
        start_url = f"/video/uploads/{JOB}/start"
        exchange.send(200, {"job_id": JOB, "status": "uploading", "start_url": start_url,
                            "upload": upload})  # fmt: skip

    with stub_api(respond) as api:
        result = run("--api", api.url, "submit", str(clip), "--direct-max-bytes", "0")
    assert_one_line(result, 1, "the upload failed: storage at 127.0.0.1:", "closed the connection")


BAD_VALUES = [
    ["status", ""],
    ["status"],
    ["status", JOB, "extra"],
    ["wait", JOB, "--timeout", "nan"],
    ["wait", JOB, "--timeout", "inf"],
    ["wait", JOB, "--timeout", "-1"],
    ["wait", JOB, "--timeout", "soon"],
    ["results", JOB, "--format", "xml"],
    ["submit", "{clip}", "--sample-fps", "nan"],
    ["submit", "{clip}", "--sample-fps", "0"],
    ["submit", "{clip}", "--direct-max-bytes", "-1"],
    ["submit", "{clip}", "--direct-max-bytes", "99999999999"],
    ["submit", "{clip}", "--option", "novalue"],
    ["submit", "{clip}", "--pipeline", ""],
    ["submit", "{clip}", "--black-max-pixel-threshold", "1.5"],
    ["submit", "{clip}", "--black-max-pixel-threshold", "-0.1"],
    ["submit", "{clip}", "--black-max-pixel-threshold", "nan"],
    ["submit", "{clip}", "--black-max-pixel-threshold", "dark"],
    ["submit", "{clip}", "--black-min-coverage-percentage", "101"],
    ["submit", "{clip}", "--black-min-coverage-percentage", "inf"],
    ["submit", "{clip}", "--black-min-coverage-percentage", ""],
    ["submit", "{clip}", "--wait", "--timeout", "nan"],
    ["submit"],
    ["no-such-command"],
]


@pytest.mark.parametrize("args", BAD_VALUES, ids=" ".join)
def test_bad_arguments_are_one_line_usage_errors(args, clip):
    with stub_api(lambda e: e.send(200, RESULTS)) as api:
        result = run("--api", api.url, *[a.replace("{clip}", str(clip)) for a in args])
    assert_one_line(result, 2, "--help')")
    assert api.requests == []  # refused before anything was sent


def test_a_bad_token_is_a_usage_error():
    for token in ("caf\u00e9", "a\nb"):
        assert_one_line(run("status", JOB, token=token), 2, "$VIDEO_JOBS_TOKEN has characters")


def test_a_results_file_that_cannot_be_written_is_one_line(tmp_path):
    with stub_api(lambda e: e.send(200, RESULTS)) as api:
        for output in ("/dev/full", str(tmp_path / "no-such-dir" / "out.json")):
            result = run("--api", api.url, "results", JOB, "-o", output)
            assert_one_line(result, 1, f"cannot write the results to '{output}'")
        written = tmp_path / "out.json"
        assert run("--api", api.url, "results", JOB, "-o", str(written)).exit_code == 0
    assert json.loads(written.read_text()) == RESULTS


def test_a_bug_is_not_hidden_behind_one_line(monkeypatch):
    """Only ``CliError`` and click's own errors become one line: a bug keeps its traceback."""

    def broken(results: dict) -> list[str]:
        raise ZeroDivisionError("a bug in the report")

    monkeypatch.setattr(commands, "summary_lines", broken)
    with stub_api(lambda e: e.send(200, RESULTS)) as api:
        result = run("--api", api.url, "wait", JOB)
    assert isinstance(result.exception, ZeroDivisionError)
