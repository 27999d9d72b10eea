# airlock.incident: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help venv demo test sanity units types lint molecule integration lab-tests awx lab-up lab-down bench changelog lab-k8s lab-k8s-down test-k8s

help: ## Show the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

venv: ## Create .venv with the pinned toolchain and link the collection
	@hack/bootstrap.sh

demo: venv ## Start the lab, inject an outage, run playbooks/outage-p0.yml, show the results, stop the lab
	@hack/demo.sh

test: venv ## Everything CI runs: sanity, units, types (mypy), lint, lab tests, awx, molecule, integration, Kubernetes (k8s)
	@hack/test.sh

sanity: venv ## ansible-test sanity (offline-safe, no ignore entries)
	@hack/test.sh sanity

units: venv ## ansible-test units
	@hack/test.sh units

types: venv ## mypy: plugins/ (module_utils fully annotated)
	@hack/test.sh types

lint: venv ## ansible-lint, production profile
	@hack/test.sh lint

lab-tests: venv ## The lab Airlock's own test suite
	@hack/test.sh lab

awx: venv ## AWX/EDA: the workflow under ansible-runner, the rulebook under ansible-rulebook, the EE (tests/awx)
	@hack/test.sh awx

molecule: venv ## Role scenarios against the lab
	@hack/test.sh molecule

integration: venv ## ansible-test integration targets against the lab
	@hack/test.sh integration

lab-up: venv ## Start the lab Airlock (PROFILE=release|documented)
	@.venv/bin/python lab/bin/airlock-lab --dir .lab/host start --profile $${PROFILE:-release}

lab-down: ## Stop the lab Airlock
	@[ ! -x .venv/bin/python ] || .venv/bin/python lab/bin/airlock-lab --dir .lab/host stop

bench: venv ## Benchmarks (1M-event audit DB, 1 GiB log); prints figures beside their references
	@hack/bench.sh

lab-k8s: venv ## Build (once, cached in ~/.cache/airlock-lab) and start the Kubernetes lab, install the airlock release
	@lab/k8s/build.sh && lab/k8s/up.sh && lab/k8s/install-airlock.sh

lab-k8s-down: ## Stop the Kubernetes lab
	@lab/k8s/down.sh

test-k8s: venv ## Only the Kubernetes suite: a fresh lab control plane and every k8s_* target (builds it once: ~50 min cold)
	@hack/test.sh k8s

changelog: venv ## Lint the changelog fragments
	@.venv/bin/antsibull-changelog lint
