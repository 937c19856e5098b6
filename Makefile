# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install model run test test-fast bench lint format clean package image-context image size-report

install: $(STAMP)

# rapidocr-onnxruntime goes in with --no-deps: its GUI opencv-python would overwrite headless cv2/.
$(STAMP): requirements.txt requirements-dev.txt layers/analyzer/requirements.txt layers/analyzer/requirements-nodeps.txt
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 12), "video-jobs needs Python 3.11 or 3.12 (rapidocr-onnxruntime); set PYTHON=python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r layers/analyzer/requirements-nodeps.txt
	touch $(STAMP)

model: $(STAMP)
	$(BIN)/python -m layers.model.build_yolov3_tiny

run: model
	$(BIN)/python -m infra.local_stack

# Governance checks first (seconds), then every test with the coverage floor.
test: model
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
