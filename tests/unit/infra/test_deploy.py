"""``make deploy`` / ``make rollback`` (infra/deploy.py): the scripts they run, checked by bash,
read line by line, refused inputs, and run against a stand-in ``aws`` command that records its
arguments (there is no AWS account here; the commands are what docs/deploy.md and
docs/rollback.md say)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.deploy import DeployError, deploy_script, main, rollback_script

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/video-jobs-analyzer:abc123"
OLD_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/video-jobs-analyzer@sha256:0ld"
CHANGE_SET = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/awscli-cfn-deploy-1/f00"
ROOT = Path(__file__).resolve().parents[3]
# The stand-in aws: records argv, answers what the scripts read back.
FAKE_AWS = f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["AWS_CALLS"], "a") as log:
    log.write(json.dumps(args) + "\\n")
joined = " ".join(args)
if args[:2] == ["s3api", "list-objects-v2"]:
    print("\\t".join(f"vj/releases/2026010{{n}}T000000Z/image.txt" for n in (3, 1, 2)))
elif args[:2] == ["s3", "cp"] and args[2].endswith("image.txt"):
    print("AnalyzerImageUri={OLD_IMAGE}")
elif args[:2] == ["cloudformation", "deploy"]:
    print("Waiting for changeset to be created..")
    print("Changeset created successfully. Run the following command to review changes:")
    print("aws cloudformation describe-change-set --change-set-name {CHANGE_SET}")
elif args[:2] == ["cloudformation", "describe-stacks"]:
    print("UPDATE_COMPLETE" if "StackStatus" in joined else "vj-JobsTable-1")
elif args[:2] == ["dynamodb", "create-backup"]:
    print("arn:aws:dynamodb:eu-west-1:123456789012:table/t/backup/1")
"""


def lines_of(script: str) -> list[str]:
    return script.splitlines()


def bash_accepts(script: str) -> bool:
    return subprocess.run(["bash", "-n", "-c", script], check=False).returncode == 0


def run_script(script: str, tmp_path: Path, answer: str = "") -> tuple[int, list[list[str]]]:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.jsonl"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "aws").write_text(FAKE_AWS)
    (bin_dir / "aws").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "AWS_CALLS": str(calls)}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, input=answer,
                          capture_output=True, text=True, check=False)  # fmt: skip
    recorded = (
        [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    )
    return done.returncode, recorded


def test_deploy_packages_lints_reviews_applies_records_and_prints_the_url():
    script = deploy_script(
        stack="vj", image=IMAGE, artifacts="vj-artifacts", region="eu-west-1",
        params=["AlarmEmail=ops@example.com", "FailureRateAlarmPercent=10"], yes=False,
        python="/venv/bin/python", now=1_780_000_000,
    )  # fmt: skip
    assert bash_accepts(script)
    steps = lines_of(script)
    order = [
        "/venv/bin/python -m infra.package --out build/package",
        "aws cloudformation package --template-file build/package/sam.json",
        "--no-execute-changeset",
        "aws cloudformation describe-change-set",
        "read -r -p",
        "aws cloudformation execute-change-set",
        'aws s3 cp build/package/packaged.yaml "s3://$ARTIFACTS/$RELEASE/packaged.yaml"',
        'echo "API: $(out EndpointURL)"',
        "-m infra.keys create --tenant",
    ]
    where = [next(i for i, line in enumerate(steps) if text in line) for text in order]
    assert where == sorted(where)
    assert 'RELEASE="$STACK/releases/20260528T202640Z"' in steps
    overrides = next(line for line in steps if "--parameter-overrides" in line)
    assert overrides.endswith(
        f"--parameter-overrides AnalyzerImageUri={IMAGE} AlarmEmail=ops@example.com "
        "FailureRateAlarmPercent=10)"
    )
    assert "export AWS_REGION=eu-west-1" in steps and "STACK=vj" in steps


def test_yes_skips_the_question_and_values_stay_words():
    script = deploy_script(stack="vj", image=IMAGE, artifacts="vj-artifacts", region=None,
                           params=["AlarmEmail=$(touch /tmp/pwned) x"], yes=True)  # fmt: skip
    assert bash_accepts(script) and "read -r -p" not in script
    assert "'AlarmEmail=$(touch /tmp/pwned) x'" in script


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"image": "docker.io/library/nginx:latest"}, "--image-uri"),
        ({"stack": "vj; rm -rf /"}, "--stack"),
        ({"stack": "v" * 60}, "--stack"),
        ({"artifacts": "Bad_Bucket"}, "--artifacts"),
        ({"region": "eu-west-1; ls"}, "--region"),
        ({"params": ["Nope=1"]}, "no such parameter"),
        ({"params": ["AlarmEmail"]}, "KEY=VALUE"),
        ({"params": [f"AnalyzerImageUri={IMAGE}"]}, "the image is --image-uri"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(change, words):
    given = {"stack": "vj", "image": IMAGE, "artifacts": "vj-artifacts", "region": None,
             "params": [], "yes": True, **change}  # fmt: skip
    with pytest.raises(DeployError, match=words.replace("(", r"\(")):
        deploy_script(**given)


def test_main_prints_the_script_on_dry_run_and_says_what_is_wrong(capsys):
    assert main(["deploy", "--stack", "vj", "--image-uri", IMAGE, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "ARTIFACTS=video-jobs-artifacts-vj" in printed and bash_accepts(printed)
    assert main(["deploy", "--stack", "vj", "--image-uri", "nginx", "--dry-run"]) == 2
    assert "deploy: --image-uri 'nginx' is not valid" in capsys.readouterr().err


def test_make_deploy_passes_its_variables_through():
    done = subprocess.run(
        ["make", "--no-print-directory", "deploy", "STACK=vj", f"IMAGE_URI={IMAGE}", "DRY_RUN=1",
         "PARAMS=AlarmEmail=a@b.c Tracing=PassThrough", "REGION=eu-west-1",
         f"BIN={Path(sys.executable).parent}", "STAMP="],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"AnalyzerImageUri={IMAGE} AlarmEmail=a@b.c Tracing=PassThrough)" in done.stdout
    assert "export AWS_REGION=eu-west-1" in done.stdout
    usage = subprocess.run(["make", "--no-print-directory", "rollback", "STAMP="], cwd=ROOT,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert usage.returncode == 2 and "usage: make rollback STACK=<name>" in usage.stderr


def test_rollback_backs_up_the_table_then_deploys_the_release_before_the_newest(tmp_path):
    script = rollback_script(stack="vj", artifacts="vj-artifacts", region=None, release=None,
                             yes=True)  # fmt: skip
    code, calls = run_script(script, tmp_path)
    assert code == 0
    commands = [" ".join(call[:2]) for call in calls]
    assert commands.index("dynamodb create-backup") < commands.index("cloudformation deploy")
    (deploy,) = [call for call in calls if call[:2] == ["cloudformation", "deploy"]]
    assert deploy[deploy.index("--parameter-overrides") + 1 :] == [f"AnalyzerImageUri={OLD_IMAGE}"]
    template = [call for call in calls if call[:2] == ["s3", "cp"]][0]
    assert template[2] == "s3://vj-artifacts/vj/releases/20260102T000000Z/packaged.yaml"
    assert ["cloudformation", "execute-change-set", "--change-set-name", CHANGE_SET] in calls


def test_a_declined_review_deletes_the_change_set_and_changes_nothing(tmp_path):
    script = rollback_script(stack="vj", artifacts="vj-artifacts", region=None,
                             release="vj/releases/20260101T000000Z/", yes=False)  # fmt: skip
    code, calls = run_script(script, tmp_path, answer="n\n")
    assert code == 1
    assert ["cloudformation", "delete-change-set", "--change-set-name", CHANGE_SET] in calls
    assert not any(call[:2] == ["cloudformation", "execute-change-set"] for call in calls)
    copied = [call[2] for call in calls if call[:2] == ["s3", "cp"]]
    assert copied[0] == "s3://vj-artifacts/vj/releases/20260101T000000Z/packaged.yaml"
