"""``video-jobs models``: a tenant's own detectors (POST/GET/DELETE /video/models)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from video_jobs_cli.api import Api
from video_jobs_cli.errors import CliError
from video_jobs_cli.params import TEXT
from video_jobs_cli.video_file import BoundedFile

POLL_S = 1.0


@click.group()
def models() -> None:
    """Your own YOLO detectors (ONNX exports), to run with `submit --model ID`."""


@models.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", type=TEXT, required=True, help="What results call the model.")
@click.option("--classes", type=TEXT,
              help="Class names in the model's order, comma-separated (default: the file's "
              "'names' metadata, as Ultralytics writes it).")  # fmt: skip
@click.option("--input-size", type=click.IntRange(32, 1280), help="Input side in pixels.")
@click.option("--layout", type=click.Choice(["v5", "v8"]), help="Only if the shape cannot tell.")
@click.option("--no-wait", is_flag=True, help="Print the id without waiting for validation.")
@click.option("--timeout", type=click.FloatRange(min=1), default=300, show_default=True)
@click.pass_obj
def add(api: Api, file: Path, name: str, classes: str | None, input_size: int | None,
        layout: str | None, no_wait: bool, timeout: float) -> None:  # fmt: skip
    """Register FILE (.onnx), upload it, and wait until it is ready (or say why it failed)."""
    fields: dict[str, object] = {"name": name}
    if classes is not None:
        fields["class_names"] = class_list(classes)
    if input_size is not None:
        fields["input_size"] = input_size
    if layout is not None:
        fields["layout"] = layout
    ticket = api.register_model(fields)
    size = file.stat().st_size
    if size > ticket["upload"]["max_bytes"]:
        raise CliError(
            f"{str(file)!r} is {size} bytes, above the {ticket['upload']['max_bytes']}-byte limit"
        )
    with file.open("rb") as handle:
        api.put_upload(ticket["upload"], BoundedFile(handle, size, str(file)))
    model = api.start_model(ticket)
    deadline = time.monotonic() + timeout
    while not no_wait and model["status"] == "validating" and time.monotonic() < deadline:
        time.sleep(POLL_S)
        model = api.model(model["model_id"])
    if model["status"] == "failed":
        raise CliError(f"model {model['model_id']} failed: {model['error']['message']}")
    click.echo(f"{model['model_id']}  {model['status']}")


def class_list(classes: str) -> list[str]:
    """``--classes`` as the API takes it; a blank name is refused here, before any upload."""
    names = [part.strip() for part in classes.split(",")]
    if not all(names):
        raise click.BadParameter(
            f"{classes!r} has an empty class name: give the names in the model's class order, "
            "comma-separated, e.g. --classes helmet,head (or leave --classes out to use the "
            "file's 'names' metadata)",
            param_hint="--classes",
        )
    return names


@models.command("list")
@click.pass_obj
def list_models(api: Api) -> None:
    """Your models, newest first: id, status, version, name, classes."""
    for model in api.models()["models"]:
        classes = ",".join(model.get("class_names") or [])
        version = model.get("version") or "-"
        click.echo(f"{model['model_id']}  {model['status']:<10}  {version:<12}  "
                   f"{model['name']}  {classes}")  # fmt: skip


@models.command("delete")
@click.argument("model_id", type=TEXT)
@click.pass_obj
def delete_model(api: Api, model_id: str) -> None:
    """Delete a model and its file (jobs still queued with it fail)."""
    click.echo(f"{api.delete_model(model_id)['model_id']}  deleted")
