# The verbs of the project. CI, the workflows and a laptop all run these same targets.
# Every target bootstraps the environment from uv.lock first, so a fresh clone needs
# nothing but python3 (>= 3.11) and make.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
ENVIRONMENT := $(VENV)/.synced
UV_VERSION := $(shell sed -n 's/.*"uv==\([^"]*\)".*/\1/p' pyproject.toml)

export PATH := $(CURDIR)/$(BIN):$(PATH)
export UV_PYTHON_DOWNLOADS := never
# Precompiled bytecode: each DVC stage is a fresh process, and compiling scikit-learn's
# and pandas' sources on every start would cost seconds per stage.
export UV_COMPILE_BYTECODE := 1
# Nothing here phones home: BentoML's usage statistics are off (DVC's are off in .dvc/config).
export BENTOML_DO_NOT_TRACK := true

# Set to move the DVC remote elsewhere: a directory (`make run DVC_REMOTE_URL=/srv/dvc-store`) or an
# S3-compatible store (`DVC_REMOTE_URL=s3://<bucket>/dvc`, with the endpoint and credentials in the
# standard AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables; docs/storage.md).
DVC_REMOTE_URL ?=
# The git ref a pull request is compared with; empty means params.yaml `report.baseline`.
BASELINE ?=
BASELINE_FLAG := $(if $(BASELINE),--baseline $(BASELINE))
# The service's bento name and the port `make serve` listens on.
SERVICE := churn_service
PORT ?= 3000
URL ?= http://127.0.0.1:$(PORT)
# A bento is versioned by its commit; a build from uncommitted changes says so.
BENTO_VERSION = $(shell git describe --always --dirty=-dirty --abbrev=12)
# The image: GHCR under the repository's name (GitHub sets GITHUB_REPOSITORY; GHCR wants lower case),
# tagged with the full commit SHA, plus the moving tag `latest`.
IMAGE_REPO ?= ghcr.io/$(shell echo "$${GITHUB_REPOSITORY:-local/mlloop}" | tr '[:upper:]' '[:lower:]')
IMAGE_TAG ?= $(shell git rev-parse HEAD)
# The inference-log shipper next to the service (bento/k8s/base/deployment.yaml).
LOG_SHIPPER_IMAGE ?= amazon/aws-cli:2.27.0
# The Kubernetes environment `make deploy` and `make rollback` act on: bento/k8s/overlays/DEPLOY_ENV.
DEPLOY_ENV ?= staging
DEPLOYMENT = deployment/churn-service --namespace mlloop-$(DEPLOY_ENV)
# The deploy workflow passes the cluster's kubeconfig, base64-encoded, as KUBECONFIG_DATA.
ifneq ($(KUBECONFIG_DATA),)
export KUBECONFIG := $(CURDIR)/build/kubeconfig
$(shell mkdir -p build && umask 077 && printenv KUBECONFIG_DATA | base64 -d > build/kubeconfig)
endif

.PHONY: help install run repro pull push check-remote remote metrics report gate comment summary bento serve deploy-local smoke \
	drift drift-publish drift-summary drift-issue fold-in retrain-pr \
	dispatch-retrain dispatch-pr simulate containerize register release manifests cluster-check deploy rollback test test-fast test-workflows lint format bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(ENVIRONMENT): pyproject.toml uv.lock
	@test -x $(BIN)/uv || { python3 -m venv $(VENV) && $(BIN)/pip install --quiet uv==$(UV_VERSION); }
	$(BIN)/uv sync --frozen
	@touch $@

install: $(ENVIRONMENT) ## create .venv from uv.lock

run: remote ## pull what the remote has, reproduce the rest, push, print the metrics
	-mlloop pull
	dvc repro
	mlloop push
	dvc metrics show

repro: $(ENVIRONMENT) ## reproduce the pipeline (only stages whose inputs changed)
	dvc repro

pull: remote ## fetch data and models from the DVC remote (a failure names the remote, the cause and what to check)
	mlloop pull

push: remote ## send data and models to the DVC remote (a failure names the remote, the cause and what to check)
	mlloop push

check-remote: remote ## check that the DVC remote holds every object the checked-out commit references
	mlloop check-remote

remote: $(ENVIRONMENT) ## point the default DVC remote at DVC_REMOTE_URL, when it is set
ifneq ($(DVC_REMOTE_URL),)
	dvc remote modify --local local url $(DVC_REMOTE_URL)
endif

metrics: $(ENVIRONMENT) ## print the metrics table
	dvc metrics show

report: $(ENVIRONMENT) ## write the PR report comparing the workspace with BASELINE (default: main)
	mlloop report $(BASELINE_FLAG)

gate: $(ENVIRONMENT) ## the quality gate against BASELINE; exits 5 listing every broken rule
	mlloop gate $(BASELINE_FLAG)

comment: $(ENVIRONMENT) ## post or update the one sticky PR comment with the report (CML, in GitHub Actions)
	cml comment update --target=pr --watermark-title="mlloop model report" "$$(mlloop path report)"

summary: $(ENVIRONMENT) ## append the report to the GitHub Actions job summary
	cat "$$(mlloop path report)" >> "$${GITHUB_STEP_SUMMARY:?is set by GitHub Actions}"

bento: $(ENVIRONMENT) ## import models/model.joblib into the BentoML store and build the bento, versioned by commit
	@mkdir -p build
	uv export --frozen --no-dev --no-emit-project --no-hashes --quiet --output-file build/requirements.txt
	mlloop import-model
	-bentoml delete --yes $(SERVICE):$(BENTO_VERSION) 2>/dev/null
	bentoml build --bentofile bento/bentofile.yaml --version $(BENTO_VERSION) .

serve: $(ENVIRONMENT) ## serve the latest built bento on 127.0.0.1:PORT (default 3000)
	MLLOOP_INFERENCE_LOG_DIR="$$(realpath --canonicalize-missing "$$(mlloop path inference-log)")" bentoml serve $(SERVICE):latest --host 127.0.0.1 --port $(PORT)

deploy-local: bento serve ## the local environment: build the bento from this workspace's model and serve it

smoke: $(ENVIRONMENT) ## smoke-test the service at URL (default: the local one on PORT)
	mlloop smoke --url $(URL)

drift: $(ENVIRONMENT) ## the drift check: the log's latest window (INFERENCE_LOG_URL, WINDOW_DAYS) against the training split
	mlloop drift $(if $(INFERENCE_LOG_URL),--current $(INFERENCE_LOG_URL)) $(if $(WINDOW_DAYS),--window-days $(WINDOW_DAYS))

fold-in: $(ENVIRONMENT) ## fold the log window's labelled rows into a new DVC-tracked training source, and point params at it
	dvc add --quiet "$$(mlloop fold-in $(if $(INFERENCE_LOG_URL),--current $(INFERENCE_LOG_URL)))"

retrain-pr: $(ENVIRONMENT) ## commit the new data version and model on a branch, push it and open a pull request (gh)
	branch="retrain/$$(date -u +%Y-%m-%d-%H%M)"; git switch --create "$$branch"; \
	git add params.yaml dvc.lock "$$(mlloop path sources)" metrics.json reports; \
	git commit --quiet --message "Retrain on production data folded in $$(date -u +%Y-%m-%d)"; \
	git push --quiet origin "$$branch"; \
	gh pr create --head "$$branch" --title "Retrain on recent production data" \
		--body "The labelled production rows of the inference log's latest window, folded into the training data (make fold-in)."

dispatch-retrain: $(ENVIRONMENT) ## start retrain.yml when the last drift check found drift (gh; the drift workflow's opt-in)
	if [ "$$(mlloop drift-status)" = drift ]; then gh workflow run retrain.yml --ref main; \
	else echo "no drift: no retraining"; fi

dispatch-pr: ## run pr.yml on the current branch: the PR loop for a pull request opened with GITHUB_TOKEN (gh)
	gh workflow run pr.yml --ref "$$(git branch --show-current)"

drift-publish: $(ENVIRONMENT) ## copy the drift report to DRIFT_REPORT_URL/<today>/ in the object store
	mlloop publish-drift --to "$${DRIFT_REPORT_URL:?is where drift reports are kept, e.g. s3://<bucket>/drift}"

drift-summary: $(ENVIRONMENT) ## append the drift report to the GitHub Actions job summary
	cat "$$(mlloop path drift-report)" >> "$${GITHUB_STEP_SUMMARY:?is set by GitHub Actions}"

drift-issue: $(ENVIRONMENT) ## open, update or close the GitHub issue labelled drift to match the last check (gh)
	mlloop drift-issue

simulate: $(ENVIRONMENT) ## append simulated days of traffic to the inference log (SCENARIO, DAYS: default params.yaml)
	mlloop simulate $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(DAYS),--days $(DAYS))

containerize: $(ENVIRONMENT) ## build the bento's image with buildx, labelled, and push IMAGE_REPO:IMAGE_TAG and :latest
	bentoml containerize $(SERVICE):latest --backend buildx --image-tag $(IMAGE_REPO):$(IMAGE_TAG) \
		--image-tag $(IMAGE_REPO):latest $(addprefix --opt label=,$(shell mlloop image-labels)) --opt push

register: $(ENVIRONMENT) ## give the model a version (GTO tag churn@vX.Y.Z) if it changed, and push the tag
	mlloop register --push

release: $(ENVIRONMENT) ## a GitHub release with the model card for the version tag on HEAD, if any
	tag="$$(git tag --points-at HEAD --list 'churn@v*' | head -n 1)"; \
	if [ -n "$$tag" ]; then gh release create "$$tag" --title "$$tag" --notes-file "$$(mlloop path model-card)"; \
	else echo "no model version on HEAD: nothing to release"; fi

manifests: ## render bento/k8s/overlays/DEPLOY_ENV with the image into build/deploy/DEPLOY_ENV
	@mkdir -p build/deploy/$(DEPLOY_ENV)
	printf '%s\n' 'resources: [../../../bento/k8s/overlays/$(DEPLOY_ENV)]' 'images:' \
		'  - {name: churn-service, newName: "$(IMAGE_REPO)", newTag: "$(IMAGE_TAG)"}' \
		'  - {name: log-shipper, newName: "$(firstword $(subst :, ,$(LOG_SHIPPER_IMAGE)))", newTag: "$(lastword $(subst :, ,$(LOG_SHIPPER_IMAGE)))"}' \
		> build/deploy/$(DEPLOY_ENV)/kustomization.yaml
	kubectl kustomize build/deploy/$(DEPLOY_ENV) > build/deploy/$(DEPLOY_ENV)/manifests.yaml

cluster-check: ## for the deploy workflow: a visible notice when no cluster is configured (KUBECONFIG_DATA)
	@if [ -z "$${KUBECONFIG_DATA:-}" ]; then echo "::notice title=Deploy to $(DEPLOY_ENV) skipped::no KUBECONFIG_DATA secret; the image was built and pushed, nothing was deployed"; fi

deploy: manifests ## apply the DEPLOY_ENV manifests and wait for the rollout (5 min at most)
	kubectl apply -f build/deploy/$(DEPLOY_ENV)/manifests.yaml
	kubectl rollout status $(DEPLOYMENT) --timeout=5m

rollback: ## undo the last rollout in DEPLOY_ENV and wait for it
	kubectl rollout undo $(DEPLOYMENT)
	kubectl rollout status $(DEPLOYMENT) --timeout=5m

test: $(ENVIRONMENT) ## lint and format check, then the whole test suite, failing under the coverage floor
	ruff check .
	ruff format --check .
	pytest --cov

test-fast: $(ENVIRONMENT) ## the unit tier (code, data and model behaviour; no servers, no workflows), for the inner loop
	pytest tests/unit tests/data tests/model

test-workflows: $(ENVIRONMENT) ## run the real .github/workflows under act against loopback stand-ins of GitHub (part of make test)
	pytest tests/workflows

lint: $(ENVIRONMENT) ## ruff and mypy
	ruff check .
	ruff format --check .
	mypy

format: $(ENVIRONMENT) ## apply ruff's fixes and formatting
	ruff check --fix .
	ruff format .

bench: $(ENVIRONMENT) ## run the pipeline, PR-loop and service benchmarks (slow; needs wrk for the service; results in bench/README.md)
	python bench/pipeline.py
	python bench/pr_loop.py
	python bench/serving.py
