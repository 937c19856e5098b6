# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install model run key clean-state test test-fast bench lint format clean package image-context image size-report browser deploy rollback smoke

install: $(STAMP)

# rapidocr-onnxruntime goes in with --no-deps: its GUI opencv-python would overwrite headless cv2/.
$(STAMP): requirements.txt requirements-dev.txt layers/analyzer/requirements.txt layers/analyzer/requirements-nodeps.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 12), "video-jobs needs Python 3.11 or 3.12 (rapidocr-onnxruntime); set PYTHON=python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r layers/analyzer/requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps -e .  # the video-jobs command (its deps are above)
	touch $(STAMP)

model: $(STAMP)
	$(BIN)/python -m layers.model.build_yolov3_tiny
	$(BIN)/python -m layers.model.ocr_models

# WORKERS=N: analyses at once, one process each, with CPUs / N threads (THREADS=T to choose);
# default one per 2 CPUs (README, "Throughput and cost").
run: model
	$(BIN)/python -m infra.local_stack $(if $(WORKERS),--workers "$(WORKERS)") $(if $(THREADS),--threads "$(THREADS)")

# A tenant's access key (API token + SigV4 key pair), printed once as one JSON line; the local
# stack (make run) must be up. SOURCES: the S3 locations its Rekognition Start* requests may
# analyze; TOPICS: the SNS topics its NotificationChannel may name (space-separated; none: none).
# `python -m infra.keys list` / `revoke --access-key-id ID` too.
key: $(STAMP)
	@test -n "$(TENANT)" || (echo "usage: make key TENANT=<name> [SOURCES=\"s3://bucket/prefix/ ...\"] [TOPICS=\"arn:aws:sns:... ...\"]" >&2; exit 2)
	@$(BIN)/python -m infra.keys create --tenant "$(TENANT)" $(foreach s,$(SOURCES),--source "$(s)") $(foreach t,$(TOPICS),--topic "$(t)")

# The viewer's browser test needs Chromium: Debian's package, installed here when no Chromium or
# Chrome is on PATH (needs root or sudo). Without one that test skips, except under CI (CI=true).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || command -v google-chrome >/dev/null || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium) || \
		echo "could not install chromium: run 'apt-get install -y chromium' as root"
# Forget every job, video and result the local stack has kept (VIDEO_JOBS_STATE_DIR).
clean-state: $(STAMP)
	$(BIN)/python -m infra.emulator --wipe

# Governance checks first (seconds), then every test with the coverage floor.
test: model browser
	$(BIN)/python -m scripts.check_vocabulary
	$(BIN)/python -m scripts.check_pipelines
	$(BIN)/python -m pytest --cov=app --cov=chalicelib --cov-report=term:skip-covered \
		--cov-fail-under=80 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: model
	$(BIN)/python -m scripts.bench

# Deployable CloudFormation template (chalice package + our resources), validated by cfn-lint.
package: $(STAMP)
	$(BIN)/python -m infra.package --out build/package

# The analyzer's container image: stage the build context (code + model), then build it.
image-context: model
	$(BIN)/python -m functions.analyzer.build_context --out build/analyzer-image

image: image-context  # needs a Docker daemon
	docker build --platform linux/amd64 --provenance=false -t video-jobs-analyzer build/analyzer-image

# One command each (docs/deploy.md, docs/rollback.md): infra/deploy.py writes the steps as one
# script and runs it; DRY_RUN=1 prints it instead, YES=1 executes the change set without asking.
DEPLOY_FLAGS = $(if $(ARTIFACTS),--artifacts "$(ARTIFACTS)") $(if $(REGION),--region "$(REGION)") \
	$(if $(YES),--yes) $(if $(DRY_RUN),--dry-run)
deploy: $(STAMP)
	@test -n "$(STACK)" -a -n "$(IMAGE_URI)" || (echo "usage: make deploy STACK=<name> IMAGE_URI=<ecr image> [PARAMS=\"Key=Value ...\"] [ARTIFACTS=<bucket>] [REGION=<region>] [YES=1] [DRY_RUN=1]" >&2; exit 2)
	@$(BIN)/python -m infra.deploy deploy --stack "$(STACK)" --image-uri "$(IMAGE_URI)" $(foreach p,$(PARAMS),--param "$(p)") $(DEPLOY_FLAGS)

rollback: $(STAMP)
	@test -n "$(STACK)" || (echo "usage: make rollback STACK=<name> [RELEASE=<stack>/releases/<time>] [ARTIFACTS=<bucket>] [REGION=<region>] [YES=1] [DRY_RUN=1]" >&2; exit 2)
	@$(BIN)/python -m infra.deploy rollback --stack "$(STACK)" $(if $(RELEASE),--release "$(RELEASE)") $(DEPLOY_FLAGS)

# The smoke test against any stack (a deployed one needs VIDEO_JOBS_TOKEN, a tenant's API token).
smoke: $(STAMP)
	@test -n "$(API)" || (echo "usage: make smoke API=https://<api>/api/ (VIDEO_JOBS_TOKEN=<api_token> in the environment)" >&2; exit 2)
	$(BIN)/python -m scripts.smoke_test --url "$(API)" --timeout $(or $(TIMEOUT),300)

size-report: $(STAMP)
	$(BIN)/python -m layers.analyzer.size_report

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov build
