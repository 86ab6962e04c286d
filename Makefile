# rnncomp: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
DATA ?= $(SHARED)/data
ANCHORS ?= $(SHARED)/anchors/kodak-rd
RESULTS ?= experiments/results
# oneDNN is off by default on this CPU and makes training 1.7-3.7x faster (ENVIRONMENT.md).
export TF_ENABLE_ONEDNN_OPTS ?= 1
export TF_CPP_MIN_LOG_LEVEL ?= 2

.DEFAULT_GOAL := help
CONFIG ?= experiments/default.json
PORT ?= 6006
.PHONY: help install run test test-all train tensorboard bench-train baselines-kodak baselines-thumbs plot-kodak clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create $(VENV) and install rnncomp (editable) with test extras

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

run: install ## the main job on built-in defaults: baselines on the bundled sample images
	$(BIN)/rnncomp baselines --out results/samples

test: install ## the default (fast) test suite
	$(BIN)/python -m pytest -m "not slow" -q

test-all: install ## every test, slow ones included
	$(BIN)/python -m pytest -q

train: install ## train CONFIG (default experiments/default.json); resumes the run if it has checkpoints
	$(BIN)/rnncomp train --config $(CONFIG) $$(ls -d runs/$$(basename $(CONFIG) .json)/checkpoints/step-* >/dev/null 2>&1 && echo --resume)

bench-train: install ## training-speed table: full/half/quarter width, 32/64 patches, batch 32, 8 iterations
	$(BIN)/python -m rnncomp.bench_train --json $(RESULTS)/bench-train.json | tee $(RESULTS)/bench-train.txt

tensorboard: install ## TensorBoard on runs/ (loopback only, PORT=6006)
	$(BIN)/tensorboard --logdir runs --host 127.0.0.1 --port $(PORT)

baselines-kodak: install ## classical codecs on the 24 Kodak images -> $(RESULTS)/kodak
	$(BIN)/rnncomp baselines --data $(DATA)/kodak --out $(RESULTS)/kodak \
	  --codecs jpeg,jpeg444,jpeg-pillow,jpeg2000,webp,webp-pillow,heif,avif
	$(MAKE) plot-kodak

plot-kodak: install ## our Kodak curves beside the published anchors
	$(BIN)/rnncomp plot $(RESULTS)/kodak/*.json $(ANCHORS)/compressai/jpeg.json \
	  $(ANCHORS)/compressai/webp.json $(ANCHORS)/tfc/PSNR_sRGB_RGB/toderici-2017-cvpr.txt \
	  --bpp-max 2 --title "Kodak (24 images)" -o $(RESULTS)/kodak/rd-with-anchors.png

baselines-thumbs: install ## classical codecs on the 1,000 hold-out 32x32 thumbnails -> $(RESULTS)/thumbs32
	$(BIN)/rnncomp baselines --data $(DATA)/thumbs32/cifar10_train_09.npz --no-per-image \
	  --codecs jpeg,jpeg-headerless,jpeg2000,webp,heif,avif --out $(RESULTS)/thumbs32

clean: ## remove caches and local results (keeps $(VENV))
	rm -rf .pytest_cache results build *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
