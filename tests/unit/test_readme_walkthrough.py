"""The README's walk-through blocks, as `.ci/run` finds and runs them
(scripts/readme_walkthrough.py): a README edit that loses a marker, or a block, fails here rather
than going silently unrun."""

from __future__ import annotations

import pytest

from scripts.readme_walkthrough import (
    README,
    README_API,
    Block,
    WalkthroughError,
    extract,
    field,
    newcomer_env,
)

BLOCKS = extract(README.read_text(encoding="utf-8"))
COMMANDS = [command for block in BLOCKS for command in block.commands()]


def test_the_readme_marks_the_cli_curl_and_key_blocks():
    assert len(BLOCKS) == 3
    cli, curl, key = (block.commands() for block in BLOCKS)
    assert cli[0].startswith(".venv/bin/video-jobs submit samples/dog_and_woman.mp4 --wait")
    assert curl[0].startswith("curl -s --data-binary @samples/dog_and_woman.mp4 ")
    assert curl[-1] == f"curl -s {README_API}/video/results/$JOB"  # ends with results
    assert key[0].startswith("make key TENANT=acme SOURCES=")
    assert [block.auth for block in BLOCKS] == [False, False, True]  # keys need a keyed stack
    assert key[-1].startswith(".venv/bin/video-jobs submit samples/letter_blocks.mp4 --wait")


def test_the_walkthrough_needs_only_what_a_clone_has():
    text = "\n".join(COMMANDS)
    assert "shared/videos" not in text and "AWS_" not in text
    for command in COMMANDS:
        for word in command.split():
            if word.lstrip("@").startswith("samples/"):
                assert (README.parent / word.lstrip("@")).is_file(), word


def test_commands_join_continuations_and_drop_comments():
    block = Block(1, "# a comment\ncurl -s \\\n     http://x/submit\n\n# -> 202\necho done  # why")
    assert block.commands() == ["curl -s \\\n     http://x/submit", "echo done  # why"]
    with pytest.raises(WalkthroughError, match="ends inside a command"):
        Block(7, "curl -s \\").commands()


@pytest.mark.parametrize(
    ("readme", "error"),
    [("<!-- walkthrough -->\nsome text\n```sh\nls\n```\n", "README.md:1: no ```sh block"),
     ("<!-- walkthrough -->\n```sh\nls\n", "README.md:2: the block is never closed")],
)  # fmt: skip
def test_a_broken_marker_is_an_error(readme, error):
    with pytest.raises(WalkthroughError, match=error):
        extract(readme)


def test_unmarked_blocks_are_not_run():
    readme = "```sh\nrm -rf /\n```\n<!-- walkthrough: x -->\n```sh\nls\n```\n"
    assert [block.commands() for block in extract(readme)] == [["ls"]]


def test_placeholders_come_from_the_previous_output():
    job = "3f0c1a2b-1c16-4c51-a323-e96b2ac8588e"
    assert field(f'{{"job_id": "{job}", "status": "pending"}}', "job_id") == job
    assert field(f"{job}\nobjects (2 labels):\n", "job_id") == job  # the CLI's first line
    assert field('{"tenant": "acme", "api_token": "tok-1"}', "api_token") == "tok-1"
    with pytest.raises(WalkthroughError, match="printed no api_token"):
        field("nothing", "api_token")


def test_the_environment_is_a_newcomers(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA...")
    env = newcomer_env(tmp_path / "home", tmp_path, "http://127.0.0.1:8411", "http://a:5411")
    assert not [name for name in env if name.startswith("AWS_")]
    assert env["HOME"] == str(tmp_path / "home") and env["VIDEO_JOBS_API"].endswith(":8411")
    assert (tmp_path / ".curlrc").read_text() == "fail-with-body\n"
