"""Run the README's walk-through, as written, against a running stack, as a newcomer would.

    python -m scripts.readme_walkthrough [--api http://127.0.0.1:8000] [--aws http://127.0.0.1:5010]
    python -m scripts.readme_walkthrough --list      # print the commands, run nothing

The blocks run are the README's code blocks right after a ``<!-- walkthrough ... -->`` comment,
in order, one command at a time with bash, so the README cannot drift from what works. Only two
things are changed: the README's API address (``http://127.0.0.1:8000``) becomes ``--api``, and
a placeholder assignment such as ``JOB=<job_id>`` takes that field from the previous command's
output (for ``job_id``, the first job id it printed). The environment is a newcomer's: no
``AWS_*`` variables and an empty ``HOME`` (no ``~/.aws``). Every command must exit 0; curl is
told (through its own config file, not the command) to fail on an HTTP error. Last, the final
job the walk-through printed must be completed, with results. Prints one line at the end,
``walkthrough: OK ...`` or ``walkthrough: FAILED ...``, and exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from chalicelib.config import DEFAULT_LOCAL_ENDPOINT
from scripts.smoke_test import SmokeFailure, wait_for_api

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_API = "http://127.0.0.1:8000"
MARKER = re.compile(r"^<!-- walkthrough(?P<auth> auth=required)?\b.*-->\s*$")
FENCE = re.compile(r"^```(sh|bash)\s*$")
PLACEHOLDER = re.compile(r"^(?:export\s+)?([A-Za-z_]\w*)=<(\w+)>(?:\s+#.*)?$")
JOB_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b")
COMMAND_TIMEOUT_S = 300
API_START_TIMEOUT_S = 120  # .ci/run may call this while the stack is still starting


class WalkthroughError(Exception):
    """What went wrong, in one line."""


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence in README.md
    text: str
    auth: bool = False  # marked ``auth=required``: runs against the stack that requires keys

    def commands(self) -> list[str]:
        """Its commands: backslash continuations joined, comment and blank lines dropped."""
        found, pending = [], ""
        for raw in self.text.splitlines():
            if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
                continue
            pending += raw
            if raw.endswith("\\"):
                pending += "\n"
            else:
                found.append(pending)
                pending = ""
        if pending:
            raise WalkthroughError(f"README.md:{self.line}: the block ends inside a command")
        return found


def extract(readme: str) -> list[Block]:
    """Every marked block, in order; a marker not followed by a sh/bash block is an error."""
    lines, blocks = readme.splitlines(), []
    for index, line in enumerate(lines):
        marker = MARKER.match(line)
        if not marker:
            continue
        start = index + 1
        if start >= len(lines) or not FENCE.match(lines[start]):
            raise WalkthroughError(f"README.md:{index + 1}: no ```sh block right after the marker")
        end = next((i for i in range(start + 1, len(lines)) if lines[i] == "```"), None)
        if end is None:
            raise WalkthroughError(f"README.md:{start + 1}: the block is never closed")
        blocks.append(Block(start + 1, "\n".join(lines[start + 1 : end]), bool(marker["auth"])))
    return blocks


def field(output: str, name: str) -> str:
    """A placeholder's value: the JSON field ``name`` in ``output``, or for ``job_id`` the first
    job id printed (the CLI prints it alone on a line)."""
    quoted = re.search(rf'"{name}":\s*"([^"]*)"', output)
    if quoted:
        return quoted.group(1)
    if name == "job_id" and (job := JOB_ID.search(output)):
        return job.group(0)
    raise WalkthroughError(f"<{name}>: the previous command printed no {name}")


def abridged(output: str, lines: int = 12, width: int = 160) -> str:
    """A command's output for the log: its first lines, each cut short, indented."""
    shown = [line if len(line) <= width else line[:width] + " ..." for line in output.splitlines()]
    more = [f"... ({len(shown) - lines} more lines)"] if len(shown) > lines else []
    return "".join(f"  {line}\n" for line in shown[:lines] + more)


def newcomer_env(home: Path, curl_home: Path, api: str, aws: str) -> dict[str, str]:
    """This process's environment without any AWS_* variable, with an empty HOME; the stack's
    addresses; curl failing on HTTP errors; a no-op browser for ``view --open``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    (curl_home / ".curlrc").write_text("fail-with-body\n")
    env.update(HOME=str(home), CURL_HOME=str(curl_home), BROWSER="true",
               VIDEO_JOBS_API=api, VIDEO_JOBS_AWS_ENDPOINT=aws)  # fmt: skip
    env.pop("VIDEO_JOBS_TOKEN", None)
    return env


def workdir(base: Path) -> Path:
    """The repository seen through symlinks, so files the walk-through writes (results.json)
    land in a temporary folder, not in the checkout."""
    (tree := base / "repo").mkdir()
    for entry in ROOT.iterdir():
        (tree / entry.name).symlink_to(entry)
    return tree


@dataclass(frozen=True)
class Stack:
    api: str
    aws: str


class Walk:
    """Runs commands one by one, carrying shell variables and the last output between them."""

    def __init__(self, env: dict[str, str], cwd: Path, stack: Stack) -> None:
        self.env, self.cwd = env, cwd
        self.output = ""  # the last command's stdout, for placeholders
        self.job_ids: list[tuple[str, str]] = []  # every job id printed, with its API, in order
        self.count = 0
        self.on(stack)

    def on(self, stack: Stack) -> None:
        """The stack the next commands talk to."""
        self.api = stack.api
        self.env.update(VIDEO_JOBS_API=stack.api, VIDEO_JOBS_AWS_ENDPOINT=stack.aws)

    def run(self, command: str) -> None:
        command = command.replace(README_API, self.api)
        print(f"$ {command}", flush=True)
        self.count += 1
        if placeholder := PLACEHOLDER.match(command):
            name, value = placeholder.group(1), field(self.output, placeholder.group(2))
            self.env[name] = value
            print(f"  ({name}={value})")
            return
        assignment = re.match(r"^(?:export\s+)?([A-Za-z_]\w*)=", command)
        if assignment:  # keep the variable for the commands that follow
            command += f'\nprintf %s "${{{assignment.group(1)}}}"'
        started = time.monotonic()
        done = self.bash(command)
        took = f"  [{time.monotonic() - started:.1f} s]\n"
        if assignment:
            self.env[assignment.group(1)] = done.stdout
            return
        self.output = done.stdout
        self.job_ids += [(self.api, job_id) for job_id in JOB_ID.findall(done.stdout)]
        print(abridged(done.stdout) + took, end="", flush=True)

    def bash(self, command: str) -> subprocess.CompletedProcess:
        try:
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", command], cwd=self.cwd, env=self.env,
                stdout=subprocess.PIPE, text=True, timeout=COMMAND_TIMEOUT_S,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise WalkthroughError(f"over {COMMAND_TIMEOUT_S} s: {command}") from None
        if done.returncode != 0:
            print(done.stdout, end="")
            raise WalkthroughError(f"exit {done.returncode}: {command}")
        return done


def check_last_job(job_ids: list[tuple[str, str]], env: dict[str, str]) -> str:
    """The walk-through ends with a completed job's results: fetch them for its last job."""
    if not job_ids:
        raise WalkthroughError("the walk-through printed no job id")
    api, job_id = job_ids[-1]
    token = env.get("VIDEO_JOBS_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = requests.get(f"{api}/video/results/{job_id}", headers=headers, timeout=30)
    if answer.status_code != 200:
        raise WalkthroughError(f"job {job_id}: results answer {answer.status_code}")
    results = answer.json()["results"]
    labels = ",".join(sorted(results["summary"]["objects"]))
    return f"job {job_id} completed, {len(results['frames'])} frames, objects {labels}"


def walk(blocks: list[Block], open_stack: Stack, keyed: Stack | None = None) -> str:
    """Run ``blocks`` in order: those marked ``auth=required`` on ``keyed`` (a stack started
    with VIDEO_JOBS_AUTH=required), the others on ``open_stack``."""
    if keyed is None and any(block.auth for block in blocks):
        raise WalkthroughError("the README has auth=required blocks: give --auth-api/--auth-aws")
    for stack in filter(None, (open_stack, keyed)):
        try:
            wait_for_api(requests.Session(), stack.api, time.monotonic() + API_START_TIMEOUT_S)
        except SmokeFailure as failure:
            raise WalkthroughError(str(failure)) from None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="walkthrough-") as temp:
        base = Path(temp)
        (base / "home").mkdir()
        (base / "curl").mkdir()
        env = newcomer_env(base / "home", base / "curl", open_stack.api, open_stack.aws)
        walker = Walk(env, workdir(base), open_stack)
        for block in blocks:
            print(f"# README.md:{block.line}{' (auth required)' if block.auth else ''}")
            walker.on(keyed if block.auth and keyed else open_stack)
            for command in block.commands():
                walker.run(command)
        last = check_last_job(walker.job_ids, walker.env)
    took = time.monotonic() - started
    return f"{len(blocks)} README blocks, {walker.count} commands, all exit 0, {took:.0f} s; {last}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default=README_API, help="the API's base URL")
    parser.add_argument("--aws", default=DEFAULT_LOCAL_ENDPOINT, help="the emulator's URL")
    parser.add_argument("--auth-api", help="the API of a stack with VIDEO_JOBS_AUTH=required")
    parser.add_argument("--auth-aws", help="that stack's emulator URL")
    parser.add_argument("--list", action="store_true", help="print the commands; run nothing")
    args = parser.parse_args(argv)
    try:
        blocks = extract(README.read_text(encoding="utf-8"))
        if not blocks:
            raise WalkthroughError("README.md marks no walk-through block")
        if args.list:
            for block in blocks:
                print("\n".join(block.commands()))
            return 0
        keyed = None
        if args.auth_api and args.auth_aws:
            keyed = Stack(args.auth_api.rstrip("/"), args.auth_aws.rstrip("/"))
        summary = walk(blocks, Stack(args.api.rstrip("/"), args.aws.rstrip("/")), keyed)
    except (WalkthroughError, requests.RequestException) as error:
        print(f"walkthrough: FAILED {error}")
        return 1
    print(f"walkthrough: OK {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
