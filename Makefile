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

.PHONY: help install test test-all lint format models train eval export serve predict demo bench bench-serving experiment clean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed  ## Create .venv and install the pinned requirements (TensorFlow 2.21, Keras 3).

test: install  ## Run the default test suite (slow tests excluded).
	$(PY) -m pytest -q

test-all: install  ## Run every test, the slow ones included.
	$(PY) -m pytest -q -m "slow or not slow"

lint: install  ## Ruff lint and format check.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install  ## Apply ruff's fixes and formatting.
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

models: install  ## Print the table of registered models.
	$(PY) -m keras_resnet.models

train: install  ## Train MODEL (DATASET=, EPOCHS=, BATCH=, WORKDIR=, ARGS=).
	$(PY) -m keras_resnet.launch --model=$(MODEL) --dataset="$(DATASET)" --epochs="$(EPOCHS)" \
		--batch_size="$(BATCH)" --workdir=$(WORKDIR) -- $(ARGS)

eval: install  ## Evaluate a trained WORKDIR (ARGS="--mode=10crop").
	$(PY) -m keras_resnet.evaluate --workdir=$(WORKDIR) $(ARGS)

export: install  ## Export WORKDIR as a versioned SavedModel under EXPORT_DIR.
	$(PY) -m keras_resnet.export $(WORKDIR) --export_dir=$(EXPORT_DIR) $(ARGS)

serve: install  ## Serve EXPORT_DIR: tensorflow_model_server, else Docker, else the embedded server.
	$(PY) -m serving.launch --model_name=$(MODEL) --model_base_path=$(abspath $(EXPORT_DIR)) \
		--enable_batching --batching_parameters_file=$(abspath $(EXPORT_DIR))/batching_parameters.txt \
		--monitoring_config_file=$(abspath $(EXPORT_DIR))/monitoring.config $(ARGS)

predict: install  ## Predict IMAGE=... against a running server (ARGS="--grpc=localhost:8500").
	$(PY) -m serving.client $(IMAGE) --model=$(MODEL) $(ARGS)

demo: install  ## Offline end to end: train on digits, export, serve, predict over REST and gRPC.
	$(PY) -m serving.demo $(ARGS)

bench: install  ## Throughput benchmark against peers and the machine's peak (ARGS="--quick").
	$(PY) -m keras_resnet.benchmark $(ARGS)

bench-serving: install  ## Serving benchmark: in-process vs REST vs gRPC.
	$(PY) -m serving.benchmark $(ARGS)

experiment: install  ## Run a paper table (TABLE=table6, ARGS="--scale=0.01").
	$(PY) -m experiments.run $(TABLE) $(ARGS)

clean:  ## Remove caches (keeps .venv, runs/ and models/).
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
