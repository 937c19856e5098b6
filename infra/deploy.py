"""Deploy and roll back a stack in one command each: ``make deploy`` and ``make rollback``.

    python -m infra.deploy deploy --stack STACK --image-uri URI [--artifacts BUCKET]
        [--region REGION] [--param KEY=VALUE ...] [--yes] [--dry-run]
    python -m infra.deploy rollback --stack STACK [--release KEY] [--artifacts BUCKET]
        [--region REGION] [--yes] [--dry-run]

Each writes the steps of docs/deploy.md (or docs/rollback.md, A) as one bash script and runs it
(``--dry-run`` prints it instead): the commands are the ones an operator would type, so the
script reads as the runbook does. A deploy packages and lints the template (``infra.package``),
uploads the API's zip, creates a change set and prints it for review (``--yes`` skips the
question), executes it, waits, records the release (the packaged template and the image) under
``s3://ARTIFACTS/STACK/releases/``, and prints the API's URL and the first key command. A
rollback takes a backup of the job table, then deploys the release before the newest recorded
one (or ``--release``) through the same review, and checks what runs.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import time

from infra import cloud_alarms
from infra.cloud_template import IMAGE_URI, parameters

STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,50}")  # function names: <stack>-<id> <= 64
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
PARAM_NAME = re.compile(r"[A-Za-z0-9]+")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
OUT, RELEASES = "build/package", "releases"
CAPABILITIES = "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"


class DeployError(ValueError):
    """An argument the commands cannot take (said before anything runs)."""


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise DeployError(f"{what} {value[:80]!r} is not valid (it must match {pattern.pattern})")
    return value


def image_uri(value: str) -> str:
    """The template's own rule for AnalyzerImageUri: an ECR image by tag or digest."""
    return _check(re.compile(parameters()[IMAGE_URI]["AllowedPattern"]), value, "--image-uri")


def overrides(image: str, extra: list[str]) -> list[str]:
    """``KEY=VALUE`` parameter overrides: the image, then the template's parameters given."""
    known = set(parameters()) | set(cloud_alarms.parameters())
    found = [f"{IMAGE_URI}={image_uri(image)}"]
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not PARAM_NAME.fullmatch(key) or key == IMAGE_URI:
            raise DeployError(f"--param {item[:80]!r}: use KEY=VALUE (the image is --image-uri)")
        if key not in known:
            raise DeployError(f"--param {key}: the template has no such parameter")
        found.append(f"{key}={value}")
    return found


def _q(*words: str) -> str:
    return " ".join(shlex.quote(word) for word in words)


def _preamble(stack: str, artifacts: str, region: str | None) -> list[str]:
    lines = ["set -euo pipefail"]
    if region:
        lines.append(f"export AWS_REGION={_q(_check(REGION, region, '--region'))}")
    lines += [
        f"STACK={_q(_check(STACK_NAME, stack, '--stack'))}",
        f"ARTIFACTS={_q(_check(BUCKET_NAME, artifacts, '--artifacts'))}",
        'out() { aws cloudformation describe-stacks --stack-name "$STACK" '
        "--query \"Stacks[0].Outputs[?OutputKey=='$1'].OutputValue\" --output text; }",
    ]
    return lines


def _review_and_apply(template: str, params: str, yes: bool) -> list[str]:
    """Create a change set, print it, ask (unless ``yes``), execute it, wait for the end.
    ``params``: the parameter overrides, as shell words."""
    ask = (
        [] if yes else [
            'read -r -p "execute this change set on $STACK? [y/N] " answer',
            'if [ "$answer" != y ]; then',
            '  aws cloudformation delete-change-set --change-set-name "$CHANGE_SET"',
            '  echo "nothing changed"; exit 1',
            "fi",
        ]
    )  # fmt: skip
    return [
        f'CREATED=$(aws cloudformation deploy --template-file {_q(template)} --stack-name "$STACK" '
        f"--capabilities {CAPABILITIES} --no-execute-changeset --no-fail-on-empty-changeset "
        f"--parameter-overrides {params})",
        'echo "$CREATED"',
        "CHANGE_SET=$(printf '%s\\n' \"$CREATED\" | grep -o 'arn:aws[a-z-]*:cloudformation:[^ ]*"
        ":changeSet/[^ ]*' | tail -n 1 || true)",
        'if [ -z "$CHANGE_SET" ]; then echo "no changes to deploy"; exit 0; fi',
        'aws cloudformation describe-change-set --change-set-name "$CHANGE_SET" --output table '
        "--query 'Changes[].ResourceChange.{Action:Action,Resource:LogicalResourceId,"
        "Type:ResourceType,Replacement:Replacement}'",
        *ask,
        'aws cloudformation execute-change-set --change-set-name "$CHANGE_SET"',
        'while aws cloudformation describe-stacks --stack-name "$STACK" --query '
        "'Stacks[0].StackStatus' --output text | grep -q IN_PROGRESS; do sleep 10; done",
        'STATUS=$(aws cloudformation describe-stacks --stack-name "$STACK" --query '
        "'Stacks[0].StackStatus' --output text)",
        'case "$STATUS" in CREATE_COMPLETE|UPDATE_COMPLETE) ;; *) echo "stack $STACK is '
        '$STATUS: CloudFormation undid the change (docs/rollback.md)" >&2; exit 1;; esac',
    ]


def deploy_script(
    *, stack: str, image: str, artifacts: str, region: str | None, params: list[str],
    yes: bool, python: str = sys.executable, now: float | None = None,
) -> str:  # fmt: skip
    """docs/deploy.md steps 3 and 4, then the release record and the stack's outputs."""
    given = overrides(image, params)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    lines = _preamble(stack, artifacts, region) + [
        f'RELEASE="$STACK/{RELEASES}/{stamp}"',
        f"{_q(python)} -m infra.package --out {OUT}   # chalice package + cfn-lint",
        'aws s3api head-bucket --bucket "$ARTIFACTS" 2>/dev/null || aws s3 mb "s3://$ARTIFACTS"',
        f'aws cloudformation package --template-file {OUT}/sam.json --s3-bucket "$ARTIFACTS" '
        f'--s3-prefix "$RELEASE" --output-template-file {OUT}/packaged.yaml',
        *_review_and_apply(f"{OUT}/packaged.yaml", _q(*given), yes),
        f'aws s3 cp {OUT}/packaged.yaml "s3://$ARTIFACTS/$RELEASE/packaged.yaml"',
        # the release's image, as the parameter override a rollback passes again
        f'printf "%s\\n" {_q(given[0])} | aws s3 cp - "s3://$ARTIFACTS/$RELEASE/image.txt"',
        'echo "deployed $STACK: release s3://$ARTIFACTS/$RELEASE"',
        'echo "API: $(out EndpointURL)"',
        'echo "first key: VIDEO_JOBS_STAGE=prod VIDEO_JOBS_TABLE=$(out JobsTableName) '
        "VIDEO_JOBS_KEYS_KMS_KEY=$(out AccessKeysKmsKeyArn) "
        f'{_q(python)} -m infra.keys create --tenant <name>"',
        'echo "smoke: make smoke API=$(out EndpointURL) TOKEN=<its api_token>"',
    ]
    return "\n".join(lines) + "\n"


def rollback_script(
    *, stack: str, artifacts: str, region: str | None, release: str | None, yes: bool
) -> str:
    """docs/rollback.md, A: back up the table, deploy the previous release, check it runs."""
    records = (
        'aws s3api list-objects-v2 --bucket "$ARTIFACTS" --prefix "$STACK/releases/" '
        "--query \"Contents[?ends_with(Key, 'image.txt')].Key\" --output text | tr '\\t' '\\n' "
        "| sed 's#/image.txt$##' | sort"
    )
    if release:
        pick = [f"PREVIOUS={_q(release.rstrip('/'))}"]
    else:
        pick = [
            f"RECORDED=$({records})",
            'if [ "$(printf \'%s\\n\' "$RECORDED" | grep -c .)" -lt 2 ]; then echo "fewer than two '
            'releases of $STACK are recorded: nothing to roll back to (docs/rollback.md)" >&2; '
            "exit 1; fi",
            "PREVIOUS=$(printf '%s\\n' \"$RECORDED\" | tail -n 2 | head -n 1)",
        ]
    lines = _preamble(stack, artifacts, region) + [
        *pick,
        'echo "rolling $STACK back to $PREVIOUS"',
        "mkdir -p build/rollback",
        'aws s3 cp "s3://$ARTIFACTS/$PREVIOUS/packaged.yaml" build/rollback/packaged.yaml',
        'IMAGE=$(aws s3 cp "s3://$ARTIFACTS/$PREVIOUS/image.txt" -)',
        'aws dynamodb create-backup --table-name "$(out JobsTableName)" '
        '--backup-name "$STACK-rollback-$(date -u +%Y%m%dT%H%M%SZ)" '
        "--query BackupDetails.BackupArn --output text   # whatever happens next, this stays",
        *_review_and_apply("build/rollback/packaged.yaml", '"$IMAGE"', yes),
        'aws lambda get-function --function-name "$STACK-AnalyzeVideo" --query Code.ImageUri '
        "--output text   # the release's image",
        'echo "rolled back $STACK to $PREVIOUS; API: $(out EndpointURL)"',
        'echo "check: make smoke API=$(out EndpointURL) TOKEN=<an api_token>"',
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("deploy", "rollback"):
        command = sub.add_parser(name)
        command.add_argument("--stack", required=True)
        command.add_argument("--artifacts", help="bucket for the API's zip and the release "
                             "records [default: video-jobs-artifacts-<stack>]")  # fmt: skip
        command.add_argument("--region")
        command.add_argument("--yes", action="store_true", help="execute without asking")
        command.add_argument("--dry-run", action="store_true", help="print the script only")
        if name == "deploy":
            command.add_argument("--image-uri", required=True)
            command.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        else:
            command.add_argument("--release", help="s3 key prefix of the release to go back to")
    args = parser.parse_args(argv)
    artifacts = args.artifacts or f"video-jobs-artifacts-{args.stack.lower()}"
    try:
        if args.command == "deploy":
            script = deploy_script(
                stack=args.stack, image=args.image_uri, artifacts=artifacts, region=args.region,
                params=args.param, yes=args.yes,
            )  # fmt: skip
        else:
            script = rollback_script(
                stack=args.stack, artifacts=artifacts, region=args.region,
                release=args.release, yes=args.yes,
            )  # fmt: skip
    except DeployError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(script, end="")
        return 0
    return subprocess.run(["bash", "-c", script], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
