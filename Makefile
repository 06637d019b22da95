# quietnode.baseline: the README names these targets. `make test` and `make demo`
# do all their own set-up on a fresh Debian 12 machine.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

VENV     ?= .venv
BIN      := $(VENV)/bin
PY       ?= python3
DISTROS  ?= debian12 debian13
# Container scenarios run once per distro; the VM scenario (incident, which also runs the vm
# scenario's kernel tests) boots its own Debian 12.
# Longest first: three workers take them from one queue (much of a scenario waits on timers and
# downloads, so a third worker shortens the run on two cores). Scenarios without a fixed subnet
# (default, blocklist, evidence) queue each distro on its own, after the others, to fill the tails.
SCENARIOS    ?= access firewall recorders ssh_lockdown default blocklist evidence
VM_SCENARIOS ?= incident
MOLECULE_JOBS ?= 3
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup docker images chromium lint sanity unit molecule molecule-vm molecule-all test demo demo-clean bench clean

help:
	@echo "make test    lint, sanity, unit tests and Molecule on Debian 12 and 13"
	@echo "make demo    converge a local 'fresh VPS' container over SSH with playbooks/site.yml"
	@echo "make lint | sanity | unit | molecule | molecule-vm | bench | clean"

$(BIN)/activate: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

collections/ansible_collections/quietnode/baseline:
	mkdir -p collections/ansible_collections/quietnode
	ln -sfn ../../.. $@

setup: $(BIN)/activate collections/ansible_collections/quietnode/baseline

docker:
	@bash tests/scripts/ensure-docker.sh

images: docker
	@bash tests/images/build.sh

lint: setup
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production --offline
	$(BIN)/antsibull-changelog lint
	$(BIN)/python tests/scripts/check_family.py

sanity: setup
	@bash tests/scripts/sanity.sh

chromium:
	@bash tests/scripts/ensure-chromium.sh

# The report test opens report.html in headless Chromium; QN_REQUIRE_CHROMIUM makes a missing browser a failure.
unit: setup chromium
	QN_REQUIRE_CHROMIUM=1 $(BIN)/pytest -q tests/unit

molecule: setup images
	@QN_MOLECULE_JOBS=$(MOLECULE_JOBS) bash tests/scripts/molecule.sh "$(SCENARIOS)" "$(DISTROS)"

molecule-vm: setup
	@bash tests/scripts/molecule.sh "$(VM_SCENARIOS)" vm

# The VM and the container scenarios share one queue, so the VM's boots and
# reboots overlap with container work.
molecule-all: setup images
	@QN_MOLECULE_JOBS=$(MOLECULE_JOBS) bash tests/scripts/molecule.sh "$(VM_SCENARIOS) $(SCENARIOS)" "$(DISTROS)"

# Everything a lane needs (venv, images, Chromium) first: apt and pip must not run twice at once.
test: setup images chromium
	@bash tests/scripts/test.sh
	@echo "make test: all gates passed"

demo: setup images
	@bash tests/scripts/demo.sh

demo-clean:
	-docker rm -f quietnode-demo
	rm -rf .demo

bench: setup images
	@bash tests/bench/run.sh

clean: demo-clean
	rm -rf collections tests/output .pytest_cache
