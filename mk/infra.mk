# Infrastructure checks: the Lambda package, checkov and the Terraform CLI config.
# Included by the Makefile (`-include mk/*.mk`), which defines PYTHON, VENV and PY.
#
# Variables (override on the command line: `make test TF_PLUGIN_MIRROR=/path`):
#   TF_PLUGIN_MIRROR  filesystem mirror of Terraform providers; when it exists, the CLI
#                     config installs hashicorp/* from it and never asks the registry.
#   CHECKOV_VERSION   checkov pinned in its own environment (CHECKOV_VENV): its
#                     bc-python-hcl2 would overwrite python-hcl2 in .venv.
#   LAMBDA_ZIP        the function package Terraform deploys (terraform/function.tf).
#   SIMULATOR_ZIP     the scheduled simulator's package (terraform/simulator.tf, when enabled).
#   TF_CLI_CONFIG     Terraform CLI config written by `tf-cli-config`; tests find it
#                     through TF_CLI_CONFIG_FILE, exported below.
#
# Targets:
#   lambda-zip    build $(LAMBDA_ZIP) from pipeline/, lambda/handler.py and tzdata, and
#                 $(SIMULATOR_ZIP) from lambda/simulator.py and what it imports (deterministic)
#   checkov-venv  create $(CHECKOV_VENV) with checkov==$(CHECKOV_VERSION) (once)
#   tf-cli-config write $(TF_CLI_CONFIG)
#   lake-schema   write terraform/lake_schema.tf (the lake's columns and view SQL) from pipeline/lake.py
#   test-infra    only the infrastructure tests (tests/infra)

TF_PLUGIN_MIRROR ?= /opt/tf-plugins
CHECKOV_VERSION ?= 3.3.30
CHECKOV_VENV ?= .venv-checkov
LAMBDA_ZIP ?= build/lambda.zip
SIMULATOR_ZIP ?= build/simulator.zip
TF_CLI_CONFIG ?= build/terraformrc

# Every file the package may hold (the packager drops caches), so a change to any rebuilds it.
LAMBDA_SOURCES := scripts/package_lambda.py lambda/handler.py \
  $(shell find pipeline -type f -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)
# The simulator's package holds part of pipeline/: any change there may change it too.
SIMULATOR_SOURCES := scripts/package_lambda.py lambda/simulator.py \
  $(shell find pipeline -type f -name '*.py' -not -path '*/__pycache__/*' 2>/dev/null)
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

# Terraform and the infra tests find the CLI config here (an absolute path: terraform
# runs in temporary copies of terraform/).
export TF_CLI_CONFIG_FILE := $(abspath $(TF_CLI_CONFIG))
export CHECKPOINT_DISABLE := 1

.PHONY: lambda-zip checkov-venv tf-cli-config test-infra lake-schema

## lambda-zip: build/lambda.zip and build/simulator.zip, the function packages (same sources -> same bytes)
lambda-zip: $(LAMBDA_ZIP) $(SIMULATOR_ZIP)

$(LAMBDA_ZIP): $(LAMBDA_SOURCES) $(VENV)/.runtime
	$(PY) scripts/package_lambda.py --output $@

$(SIMULATOR_ZIP): $(SIMULATOR_SOURCES) $(VENV)/.runtime
	$(PY) scripts/package_lambda.py --package simulator --output $@

## checkov-venv: checkov in its own virtual environment (it conflicts with python-hcl2)
checkov-venv: $(CHECKOV_STAMP)

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

## lake-schema: terraform/lake_schema.tf from pipeline/lake.py (tests/infra fails while it is stale)
lake-schema: $(VENV)/.runtime
	$(PY) scripts/lake_schema.py

## tf-cli-config: Terraform CLI config using the provider mirror, when there is one
tf-cli-config:
	@mkdir -p $(dir $(TF_CLI_CONFIG))
	@if [ -d "$(TF_PLUGIN_MIRROR)" ]; then \
	  printf '%s\n' \
	    'provider_installation {' \
	    '  filesystem_mirror {' \
	    '    path    = "$(TF_PLUGIN_MIRROR)"' \
	    '    include = ["registry.terraform.io/hashicorp/*"]' \
	    '  }' \
	    '  direct {' \
	    '    exclude = ["registry.terraform.io/hashicorp/*"]' \
	    '  }' \
	    '}' > $(TF_CLI_CONFIG); \
	else \
	  printf '%s\n' '# No provider mirror at $(TF_PLUGIN_MIRROR): providers come from the registry.' \
	    'provider_installation {' '  direct {}' '}' > $(TF_CLI_CONFIG); \
	fi

## test-infra: the infrastructure tests alone (HCL structure, checkov, terraform, Lambda zip)
test-infra: $(VENV)/.installed lambda-zip checkov-venv tf-cli-config
	$(PY) -m pytest tests/infra

test-prereqs: lambda-zip checkov-venv tf-cli-config
