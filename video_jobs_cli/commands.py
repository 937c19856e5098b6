"""The ``video-jobs`` commands (click). Job ids go to stdout, progress bars to stderr.

Exit status 0 on success; otherwise one line on stderr that says what happened, and 1 (an
unknown job, a failed job and its reason, an API that is not reachable or that answers
something unusable) or 2: a usage error, anything wrong with the arguments themselves, found
before any request (a bad --api URL, an option value, a FILE that is not a regular file or is
over the API's size limit).
"""

from __future__ import annotations

import io
import json
import sys
import time
import webbrowser
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import click
from tqdm import tqdm

from video_jobs_cli.api import Answer, Api
from video_jobs_cli.errors import CliError, one_line_errors
from video_jobs_cli.library import hits_lines, jobs_lines
from video_jobs_cli.models import models
from video_jobs_cli.params import POSITIVE, TEXT, ApiUrl, Within
from video_jobs_cli.report import summary_lines, write_csv
from video_jobs_cli.stats import stats_lines
from video_jobs_cli.video_file import (
    API_MAX_DIRECT_UPLOAD_BYTES,
    BoundedFile,
    VideoPath,
    open_video,
)

# The CLI's own cut-over (the default of --direct-max-bytes): larger files go through a
# presigned upload. Under API Gateway's 4.4 MB limit for base64-encoded bodies on AWS (the
# local API takes 6 MB), so one default fits both.
PRESIGNED_ABOVE_BYTES = 4_000_000
POLL_INTERVAL_S = 1.0
# The API's detector_size values (it checks them too; this client imports nothing from the API).
DETECTOR_SIZES = ("416", "608")
# The API's job statuses (it checks them too), and those a job never leaves.
STATUSES = ("uploading", "pending", "running", "completed", "failed", "cancelled")
ENDED = ("completed", "failed", "cancelled")


class Group(click.Group):
    """Prints every error as one ``Error: ...`` line on stderr, through click's own handler:
    ``CliError`` (exit 1) and click's usage errors (exit 2). Any other exception is a bug and
    keeps its traceback."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with one_line_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with one_line_errors():
            return super().invoke(ctx)


@click.group(cls=Group)
@click.option("--api", envvar="VIDEO_JOBS_API", type=ApiUrl(),
              help="API base URL, http or https [default: $VIDEO_JOBS_API or "
              "http://127.0.0.1:8000]; the token comes from $VIDEO_JOBS_TOKEN.")  # fmt: skip
@click.pass_context
def cli(ctx: click.Context, api: str | None) -> None:
    """Submit videos to a video-jobs API, follow them, fetch and view their results."""
    try:
        ctx.obj = Api.from_env(api)
    except ValueError as error:  # $VIDEO_JOBS_TOKEN cannot be sent as a header
        raise click.UsageError(str(error), ctx) from None


def job_options(
    sample_fps: float | None,
    pipeline: str | None,
    extra: Iterable[str],
    detector_size: str | None = None,
    numbers: dict[str, float | None] | None = None,
) -> dict[str, str]:
    """Query parameters of a submit; ``numbers`` are options of their own (None: not given);
    ``--option key=value`` passes any other one through."""
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
    if detector_size is not None:
        options["detector_size"] = detector_size
    for name, number in (numbers or {}).items():
        if number is not None:
            options[name] = repr(number)  # every digit: 0.1234567 stays itself
    return options


@cli.command()
@click.argument("file", type=VideoPath())
@click.option("--wait", is_flag=True, help="Follow the job to its end and print a summary.")
@click.option("--sample-fps", type=POSITIVE, help="Frames analyzed per second of video.")
@click.option("--pipeline", type=TEXT,
              help="Pipeline id, e.g. yolo_ocr, yolo_ocr_fast or shots.")  # fmt: skip
@click.option("--black-max-pixel-threshold", type=Within(0, 1),
              help="Shots pipeline: a pixel is black at a luma of at most this share of the "
              "full range (0-1; the API's default 0.2).")  # fmt: skip
@click.option("--black-min-coverage-percentage", type=Within(0, 100),
              help="Shots pipeline: a frame is black when at least this percentage of its "
              "pixels are (0-100; the API's default 99).")  # fmt: skip
@click.option("--detector-size", type=click.Choice(DETECTOR_SIZES),
              help="Detector input in pixels a side: 416 (the API's default) or 608, which "
              "finds smaller objects for about twice the detector's time.")  # fmt: skip
@click.option("--model", type=TEXT, metavar="MODEL_ID",
              help="Run your own detector (models add) instead of the built-in one.")  # fmt: skip
@click.option("--option", "extra", type=TEXT, multiple=True, metavar="KEY=VALUE",
              help="Any other job option (query parameter); repeatable.")  # fmt: skip
@click.option("--direct-max-bytes", type=click.IntRange(0, API_MAX_DIRECT_UPLOAD_BYTES),
              default=PRESIGNED_ABOVE_BYTES, show_default=True,
              help="Larger files go through a presigned upload.")  # fmt: skip
@click.option("--timeout", type=POSITIVE, default=3600, show_default=True, help="With --wait.")
@click.pass_obj
def submit(
    api: Api,
    file: Path,
    wait: bool,
    sample_fps: float | None,
    pipeline: str | None,
    detector_size: str | None,
    black_max_pixel_threshold: float | None,
    black_min_coverage_percentage: float | None,
    model: str | None,
    extra: tuple[str, ...],
    direct_max_bytes: int,
    timeout: float,
) -> None:
    """Upload FILE (an MP4, a regular file) as a new job and print its id."""
    black = {"black_max_pixel_threshold": black_max_pixel_threshold,
             "black_min_coverage_percentage": black_min_coverage_percentage}  # fmt: skip
    options = job_options(sample_fps, pipeline, extra, detector_size, black)
    if model is not None:
        options["model_id"] = model
    handle, size = open_video(file)
    with handle:
        if size <= direct_max_bytes:
            job = api.submit(BoundedFile(handle, size, str(file)).read(), options)
        else:
            job = _presigned_upload(api, handle, size, str(file), options)
    click.echo(job["job_id"])
    if wait:
        _follow(api, job["job_id"], timeout)


def _presigned_upload(
    api: Api, handle: BinaryIO, size: int, label: str, options: dict[str, str]
) -> Answer:
    ticket = api.create_upload(options)
    limit = ticket["upload"]["max_bytes"]
    if size > limit:
        raise CliError(f"{label!r} is {size} bytes, above this API's {limit}-byte upload limit")
    with tqdm(total=size, desc="upload", unit="B", unit_scale=True, unit_divisor=1024,
              file=sys.stderr, disable=None) as bar:  # fmt: skip
        api.put_upload(ticket["upload"], BoundedFile(handle, size, label, bar.update))
    return api.start_upload(ticket)


@cli.command()
@click.argument("job_id", type=TEXT)
@click.pass_obj
def status(api: Api, job_id: str) -> None:
    """Print a job's status (exit 1 if it failed)."""
    job = api.status(job_id)
    _raise_if_failed(job)
    click.echo(f"{job['job_id']}  {job['status']}  {job['progress']:.0%}")


@cli.command()
@click.argument("job_id", type=TEXT)
@click.option("--timeout", type=POSITIVE, default=3600, show_default=True, help="Seconds.")
@click.pass_obj
def wait(api: Api, job_id: str, timeout: float) -> None:
    """Follow a job to its end, then print each label's time ranges and each text span (for
    the shots pipeline, a table of shots and one of technical cues)."""
    _follow(api, job_id, timeout)


def _raise_if_failed(job: dict) -> None:
    if job["status"] == "failed":
        raise CliError(f"job {job['job_id']} failed: {job.get('error_message')}")
    if job["status"] == "cancelled":
        raise CliError(f"job {job['job_id']} was cancelled (deleted by its owner)")


def _progress(job: dict) -> tuple[int, int]:
    """(done, total): frames when the API reports them, else percent."""
    if "frames_done" in job and job.get("frames_total"):
        return job["frames_done"], job["frames_total"]
    return round(100 * job["progress"]), 100


def _follow(api: Api, job_id: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    job = api.status(job_id)
    with tqdm(total=_progress(job)[1], desc=job["status"], file=sys.stderr, disable=None) as bar:
        while job["status"] not in ENDED:
            if time.monotonic() > deadline:
                raise CliError(f"job {job_id} is still {job['status']} after {timeout_s:g} s")
            time.sleep(POLL_INTERVAL_S)
            job = api.status(job_id)
            done, bar.total = _progress(job)
            bar.set_description(job["status"])
            bar.update(done - bar.n)
    _raise_if_failed(job)
    for line in summary_lines(api.results(job_id)["results"]):
        click.echo(line)


@cli.command()
@click.argument("job_id", type=TEXT)
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              default="-", help="Write to this file instead of stdout.")  # fmt: skip
@click.pass_obj
def results(api: Api, job_id: str, fmt: str, output: Path) -> None:
    """Print a completed job's results, every page of frames (JSON or CSV)."""
    body = api.results(job_id)
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(body["results"], buffer)
        rendered = buffer.getvalue()
    else:
        rendered = json.dumps(body, ensure_ascii=False, indent=1) + "\n"
    try:  # written after the API answered: a failed call leaves an existing file as it was
        if output == Path("-"):
            click.echo(rendered, nl=False)
        else:
            output.write_text(rendered, encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot write the results to {str(output)!r}: {error.strerror}") from None


@cli.command()
@click.argument("job_id", type=TEXT)
@click.option("--open", "open_browser", is_flag=True, help="Open it in a web browser.")
@click.pass_obj
def view(api: Api, job_id: str, open_browser: bool) -> None:
    """Print the URL of a job's viewer page (video with boxes and text drawn over it)."""
    job = api.status(job_id)  # an unknown job is an error here, not a 404 page
    url = api.view_url(job["job_id"])
    click.echo(url)
    if open_browser and not webbrowser.open(url):
        raise CliError(f"no web browser could be opened; open {url} yourself")


@cli.command()
@click.option("--open", "open_browser", is_flag=True, help="Open it in a web browser.")
@click.pass_obj
def library(api: Api, open_browser: bool) -> None:
    """Print the URL of your library page (your jobs with thumbnails, and a search box)."""
    url = api.library_url()
    click.echo(url)
    if open_browser and not webbrowser.open(url):
        raise CliError(f"no web browser could be opened; open {url} yourself")


@cli.command()
@click.option("--minutes", type=click.IntRange(1, 1440), default=60, show_default=True,
              help="The window: this many minutes up to now.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer as it is.")
@click.pass_obj
def stats(api: Api, minutes: int, as_json: bool) -> None:
    """The service's metrics over the last minutes (jobs, failures by code, analysis and queue
    times, webhook attempts, auth refusals): what the local stack measured."""
    answer = api.stats(minutes)
    if as_json:
        click.echo(json.dumps(answer, indent=1))
        return
    for line in stats_lines(answer):
        click.echo(line)


def echo_page(page: dict, as_json: bool, lines: Iterable[str], more: str) -> None:
    """One page of a list: the API's JSON as it is, or the lines, and on stderr how to get the
    next page (``more`` with its ``{}`` for the token)."""
    if as_json:
        click.echo(json.dumps(page, indent=1))
        return
    for line in lines:
        click.echo(line)
    if page.get("next_token"):
        click.echo(more.format(page["next_token"]), err=True)


@cli.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs with this status.")
@click.option("--pipeline", type=TEXT, help="Only jobs of this pipeline.")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True,
              help="Jobs on the page.")  # fmt: skip
@click.option("--next-token", type=TEXT, help="The page after the one that printed it.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer as it is.")
@click.pass_obj
def list_jobs(api: Api, status: str | None, pipeline: str | None, limit: int,
              next_token: str | None, as_json: bool) -> None:  # fmt: skip
    """Your jobs, newest first: id, status, progress, pipeline, creation time, file name,
    video duration, and a failed job's error (code: message)."""
    chosen = {"status": status, "pipeline_id": pipeline, "next_token": next_token}
    params = {"limit": str(limit), **{k: v for k, v in chosen.items() if v is not None}}
    page = api.jobs(params)
    echo_page(page, as_json, jobs_lines(page["jobs"]),
              "more: video-jobs list --next-token {} (same filters)")  # fmt: skip


@cli.command()
@click.argument("text", type=TEXT, required=False)
@click.option(
    "--label",
    "labels",
    type=TEXT,
    multiple=True,
    help="A label that must be seen too, e.g. car (repeat it for several).",
)
@click.option(
    "--min-confidence",
    type=Within(0, 1),
    help="Ranges seen with a lower best confidence (0 to 1) do not count.",
)
@click.option(
    "--within-ms",
    type=click.IntRange(0, 21_600_000),
    help="The text and labels must be seen at most this far apart (milliseconds).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 100),
    default=20,
    show_default=True,
    help="Videos on the page.",
)
@click.option("--next-token", type=TEXT, help="The page after the one that printed it.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer as it is.")
@click.pass_obj
def search(
    api: Api,
    text: str | None,
    labels: tuple[str, ...],
    min_confidence: float | None,
    within_ms: int | None,
    limit: int,
    next_token: str | None,
    as_json: bool,
) -> None:
    """Your completed videos that show TEXT (a word or phrase; any case, accents ignored)
    and every --label, best first, with the times they are seen."""  # fmt: skip
    if text is None and not labels:
        raise click.UsageError("say what to search for: TEXT, --label, or both")
    chosen = {"text": text, "min_confidence": min_confidence, "within_ms": within_ms,
              "next_token": next_token}  # fmt: skip
    params: dict[str, str | list[str]] = {
        "limit": str(limit), **{k: f"{v:g}" if isinstance(v, float) else str(v)
                                for k, v in chosen.items() if v is not None},
    }  # fmt: skip
    if labels:
        params["label"] = list(labels)
    page = api.search(params)
    echo_page(page, as_json, hits_lines(page["hits"]),
              "more: add --next-token {} (same text and labels)")  # fmt: skip


@cli.command()
@click.argument("job_id", type=TEXT)
@click.pass_obj
def delete(api: Api, job_id: str) -> None:
    """Cancel an unfinished job, or remove an ended one: its video, results and row."""
    answer = api.delete(job_id)
    if answer["deleted"]:
        click.echo(f"{answer['job_id']}  deleted (it was {answer['status']})")
    else:
        click.echo(f"{answer['job_id']}  {answer['status']} (delete it again to remove it)")


cli.add_command(models)


def main() -> None:
    cli(prog_name="video-jobs")
