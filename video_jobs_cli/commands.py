"""The ``video-jobs`` commands (click). Job ids go to stdout, progress bars to stderr.

Exit status 0 on success; otherwise 1 and one line on stderr that says what happened (an
unknown job, a failed job and its reason, an API that is not reachable); 2 for usage errors.
"""

from __future__ import annotations

import json
import sys
import time
import webbrowser
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import click
from tqdm import tqdm
from tqdm.utils import CallbackIOWrapper

from video_jobs_cli.api import Api, ApiError
from video_jobs_cli.report import summary_lines, write_csv

# Direct submits above this go through a presigned upload: under API Gateway's 4.4 MB limit
# for base64-encoded bodies on AWS (the local API takes 6 MB), so one default fits both.
DIRECT_MAX_BYTES = 4_000_000
POLL_INTERVAL_S = 1.0


class Group(click.Group):
    """Turns ``ApiError`` into click's one-line error and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApiError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=Group)
@click.option("--api", envvar="VIDEO_JOBS_API", help="API base URL [default: $VIDEO_JOBS_API "
              "or http://127.0.0.1:8000]; the token comes from $VIDEO_JOBS_TOKEN.")  # fmt: skip
@click.pass_context
def cli(ctx: click.Context, api: str | None) -> None:
    """Submit videos to a video-jobs API, follow them, fetch and view their results."""
    ctx.obj = Api.from_env(api)


def job_options(
    sample_fps: float | None, pipeline: str | None, extra: Iterable[str]
) -> dict[str, str]:
    """Query parameters of a submit; ``--option key=value`` passes any other one through."""
    options = {}
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        options[key] = value
    if sample_fps is not None:
        options["sample_fps"] = f"{sample_fps:g}"
    if pipeline is not None:
        options["pipeline_id"] = pipeline
    return options


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="Follow the job to its end and print a summary.")
@click.option("--sample-fps", type=float, help="Frames analyzed per second of video.")
@click.option("--pipeline", help="Pipeline id, e.g. yolo_ocr or yolo_ocr_fast.")
@click.option("--option", "extra", multiple=True, metavar="KEY=VALUE",
              help="Any other job option (query parameter); repeatable.")  # fmt: skip
@click.option("--direct-max-bytes", type=int, default=DIRECT_MAX_BYTES, show_default=True,
              help="Larger files go through a presigned upload.")  # fmt: skip
@click.option("--timeout", type=float, default=3600, show_default=True, help="With --wait.")
@click.pass_obj
def submit(
    api: Api,
    file: Path,
    wait: bool,
    sample_fps: float | None,
    pipeline: str | None,
    extra: tuple[str, ...],
    direct_max_bytes: int,
    timeout: float,
) -> None:
    """Upload FILE (an MP4) as a new job and print its id."""
    options = job_options(sample_fps, pipeline, extra)
    size = file.stat().st_size
    if size <= direct_max_bytes:
        job = api.submit(file.read_bytes(), options)
    else:
        job = _presigned_upload(api, file, size, options)
    click.echo(job["job_id"])
    if wait:
        _follow(api, job["job_id"], timeout)


def _presigned_upload(api: Api, file: Path, size: int, options: dict[str, str]) -> dict:
    ticket = api.create_upload(options)
    with (
        file.open("rb") as handle,
        tqdm(total=size, desc="upload", unit="B", unit_scale=True, unit_divisor=1024,
             file=sys.stderr, disable=None) as bar,
    ):  # fmt: skip
        api.put_upload(ticket["upload"], CallbackIOWrapper(bar.update, handle, "read"))
    return api.start_upload(ticket)


@cli.command()
@click.argument("job_id")
@click.pass_obj
def status(api: Api, job_id: str) -> None:
    """Print a job's status (exit 1 if it failed)."""
    job = api.status(job_id)
    _raise_if_failed(job)
    click.echo(f"{job['job_id']}  {job['status']}  {job['progress']:.0%}")


@cli.command()
@click.argument("job_id")
@click.option("--timeout", type=float, default=3600, show_default=True, help="Seconds.")
@click.pass_obj
def wait(api: Api, job_id: str, timeout: float) -> None:
    """Follow a job to its end, then print each label's time ranges and each text span."""
    _follow(api, job_id, timeout)


def _raise_if_failed(job: dict) -> None:
    if job["status"] == "failed":
        raise ApiError(f"job {job['job_id']} failed: {job.get('error_message')}")


def _progress(job: dict) -> tuple[int, int]:
    """(done, total): frames when the API reports them, else percent."""
    if "frames_done" in job and job.get("frames_total"):
        return job["frames_done"], job["frames_total"]
    return round(100 * job["progress"]), 100


def _follow(api: Api, job_id: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    job = api.status(job_id)
    with tqdm(total=_progress(job)[1], desc=job["status"], file=sys.stderr, disable=None) as bar:
        while job["status"] not in ("completed", "failed"):
            if time.monotonic() > deadline:
                raise ApiError(f"job {job_id} is still {job['status']} after {timeout_s:g} s")
            time.sleep(POLL_INTERVAL_S)
            job = api.status(job_id)
            done, bar.total = _progress(job)
            bar.set_description(job["status"])
            bar.update(done - bar.n)
    _raise_if_failed(job)
    for line in summary_lines(api.results(job_id)["results"]):
        click.echo(line)


@cli.command()
@click.argument("job_id")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)  # fmt: skip
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="Write to this file instead of stdout.")  # fmt: skip
@click.pass_obj
def results(api: Api, job_id: str, fmt: str, output: TextIO) -> None:
    """Print a completed job's results, every page of frames (JSON or CSV)."""
    body = api.results(job_id)
    if fmt == "csv":
        write_csv(body["results"], output)
    else:
        output.write(json.dumps(body, ensure_ascii=False, indent=1) + "\n")


@cli.command()
@click.argument("job_id")
@click.option("--open", "open_browser", is_flag=True, help="Open it in a web browser.")
@click.pass_obj
def view(api: Api, job_id: str, open_browser: bool) -> None:
    """Print the URL of a job's viewer page (video with boxes and text drawn over it)."""
    job = api.status(job_id)  # an unknown job is an error here, not a 404 page
    url = api.view_url(job["job_id"])
    click.echo(url)
    if open_browser and not webbrowser.open(url):
        raise ApiError(f"no web browser could be opened; open {url} yourself")


def main() -> None:
    cli(prog_name="video-jobs")
