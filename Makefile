# keras_resnet — common tasks. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

MODEL ?= resnet20
DATASET ?=
EPOCHS ?=
BATCH ?=
WORKDIR ?= runs/$(MODEL)$(if $(DATASET),-$(DATASET),)
ARGS ?=
TABLE ?= digits_degradation
IMAGE ?=
EXPORT_DIR ?= models/$(MODEL)

.PHONY: help install test test-all lint format models train eval export serve predict demo bench bench-profile bench-serving experiment deploy clean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/' | column -t -s $$'\t'

BIN := $(VENV)/bin

# requirements.txt pins the tested version of every runtime package (the lock); pyproject.toml
# declares the ranges the package accepts. Installing the package with its extras under the
# lock as constraints checks that the two agree, and `pip check` that nothing conflicts. The dev
# lock constrains it too: it pins torch and torchvision, which the `torch` extra names (unpinned,
# pip would upgrade torch to whatever the newest torchvision needs).
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.txt -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet -c requirements.txt -c requirements-dev.txt -e ".[all]"
	$(BIN)/pip check
	touch $@

install: $(VENV)/.installed  ## Create .venv: the package (editable, console scripts) and the pinned requirements.

test: install  ## Run the default test suite (slow tests excluded).
	$(PY) -m pytest -q

test-all: install  ## Run every test, the slow ones included.
	$(PY) -m pytest -q -m "slow or not slow"

lint: install  ## Ruff lint and format check, and the import-layering contracts (pyproject.toml).
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install  ## Apply ruff's fixes and formatting.
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

models: install  ## Print the table of registered models.
	$(BIN)/keras-resnet-models

train: install  ## Train MODEL with the paper's recipe (DATASET=, EPOCHS=, BATCH=, WORKDIR=, ARGS=).
	$(BIN)/keras-resnet-train --model=$(MODEL) --workdir=$(WORKDIR) \
		$(if $(strip $(DATASET)),--config.dataset=$(strip $(DATASET))) \
		$(if $(strip $(EPOCHS)),--config.num_epochs=$(strip $(EPOCHS))) \
		$(if $(strip $(BATCH)),--config.batch_size=$(strip $(BATCH))) $(ARGS)

eval: install  ## Evaluate a trained WORKDIR (ARGS="--mode=10crop").
	$(BIN)/keras-resnet-eval --workdir=$(WORKDIR) $(ARGS)

export: install  ## Export WORKDIR as a versioned SavedModel under EXPORT_DIR.
	$(BIN)/keras-resnet-export $(WORKDIR) --export_dir=$(EXPORT_DIR) $(ARGS)

serve: install  ## Serve EXPORT_DIR: tensorflow_model_server, else Docker, else the embedded server.
	$(PY) -m keras_resnet.serving.tools.launch --model_name=$(MODEL) --model_base_path=$(abspath $(EXPORT_DIR)) \
		--enable_batching --batching_parameters_file=$(abspath $(EXPORT_DIR))/batching_parameters.txt \
		--monitoring_config_file=$(abspath $(EXPORT_DIR))/monitoring.config $(ARGS)

predict: install  ## Predict IMAGE=... against a running server (ARGS="--grpc=localhost:8500").
	$(PY) -m keras_resnet.serving.tools.client $(IMAGE) --model=$(MODEL) $(ARGS)

demo: install  ## Offline end to end: train on digits, export, serve, predict over REST and gRPC.
	$(PY) -m keras_resnet.serving.tools.demo $(ARGS)

bench: install  ## Throughput benchmark against peers and the machine's peak (ARGS="--quick").
	$(BIN)/keras-resnet-bench $(ARGS)

bench-profile: install  ## Op-level profiles of the served model and its peers (bench/profile-<host>.md).
	$(PY) -m keras_resnet.bench.profile $(ARGS)

bench-serving: install  ## Serving benchmark: in-process vs REST vs gRPC.
	$(PY) -m keras_resnet.serving.tools.serving_bench $(ARGS)

experiment: install  ## Run a paper table (TABLE=table6, ARGS="--config.scale=0.01").
	$(PY) -m experiments.run $(TABLE) $(ARGS)

deploy: install  ## Regenerate deploy/ (manifests, Vertex job, Dockerfile) from deploy/*.py.
	$(PY) -m deploy.generate

clean:  ## Remove caches (keeps .venv, runs/ and models/).
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
