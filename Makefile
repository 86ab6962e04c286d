# rnncomp: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
DATA ?= $(SHARED)/data
ANCHORS ?= $(SHARED)/anchors/kodak-rd
RESULTS ?= experiments/results
MODEL ?= rnncomp-default
E2E_MODEL ?= e2e-default
SRGAN_MODEL ?= srgan-x4
# oneDNN is off by default on this CPU and makes training 1.7-3.7x faster (ENVIRONMENT.md).
export TF_ENABLE_ONEDNN_OPTS ?= 1
export TF_CPP_MIN_LOG_LEVEL ?= 2

.DEFAULT_GOAL := help
CONFIG ?= experiments/default.json
PORT ?= 6006
PHONY_WEB = web web-install web-jpeg web-test web-vectors web-model web-screenshot web-bench
.PHONY: $(PHONY_WEB) sabr-results sabr-gain fit-entropy entropy-results help install run test test-fast test-all train tensorboard recipes scaling equal-budget bench-precision train-hyperprior ship-hyperprior evaluate-hyperprior bench-train baselines-kodak baselines-thumbs plot-kodak ship evaluate evaluate-thumbs train-e2e recipes-e2e train-srgan ship-e2e ship-srgan evaluate-e2e evaluate-srgan tune notebooks bench fuzz clean

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create $(VENV) and install rnncomp (editable) with test extras

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,export]"
	touch $@

run: install ## the main job on built-in defaults: the shipped codec vs JPEG on the bundled samples
	$(BIN)/rnncomp demo --out results/demo

test: install ## the default (fast) test suite, on 2 processes (pytest-xdist, a file per process at a time), then the web decoder's (node --test)
	$(BIN)/python -m pytest -m "not slow" -q -n 2 --dist loadfile --durations=15
	$(MAKE) --no-print-directory web-test

# --- the web decoder (web/: JavaScript, onnxruntime-web; docs/web.md) ---------------------------------------------

WEB_PORT ?= 8020
WEB_MODEL_DIR ?= web/model

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web-install: ## install the web decoder's npm packages (npm ci: onnxruntime-web; puppeteer-core for the browser test)
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory web/node_modules/.installed; \
	else echo "web-install: npm is not installed (apt-get install nodejs npm)"; exit 1; fi

web-test: ## the web decoder's tests under Node (codes, hostile files, network pixels; headless Chromium when installed)
	@if ! command -v node >/dev/null; then echo "web-test: SKIPPED: node is not installed (apt-get install nodejs npm)"; \
	else $(MAKE) --no-print-directory web-install web-jpeg && cd web && npm test; fi

web/vectors/jpeg/.written: web/vectors/model.json
	$(BIN)/python -m rnncomp.tools.webvectors --jpeg-only --out web/vectors
	touch $@

web-jpeg: install ## the demo page's JPEGs at the files' byte counts (web/vectors/jpeg: derived from model.json, not committed)
	@$(MAKE) --no-print-directory web/vectors/jpeg/.written

web: web-install web-jpeg ## the demo page on http://127.0.0.1:$(WEB_PORT)/demo/ (a local static server; Ctrl-C stops)
	cd web && node serve.mjs --port $(WEB_PORT)

web-vectors: install ## rewrite the test vectors in web/vectors (codes, hostile files, the default model's thumbnails)
	$(BIN)/python -m rnncomp.tools.webvectors --out web/vectors

web-model: install ## re-export the default model's decoder network for the page (ONNX, 32x32) into $(WEB_MODEL_DIR)
	$(BIN)/rnncomp export --model $(MODEL) --format onnx --decoder-only --out $(WEB_MODEL_DIR) --force
	rm -f $(WEB_MODEL_DIR)/decode_example.py

web-screenshot: web-install web-jpeg ## the demo page in headless Chromium -> docs/web-demo.png
	cd web && RNNCOMP_WEB_SCREENSHOT=../docs/web-demo.png node --test test/browser.test.js

web-bench: web-install web-jpeg ## decode time per 32x32 thumbnail at 2, 4, 8 iterations: Chromium (the page) and Python -> $(RESULTS)/web
	mkdir -p $(RESULTS)/web
	cd web && RNNCOMP_WEB_BENCH=../$(RESULTS)/web/browser.json node --test test/browser.test.js
	$(BIN)/python -m rnncomp.tools.webvectors --bench --out $(RESULTS)/web/python.json

FAST_TESTS = tests/test_imports.py tests/test_bitstream.py tests/test_entropy.py tests/test_families.py \
  tests/test_layers.py tests/test_metrics.py tests/test_rd.py tests/test_registry.py tests/test_images.py \
  tests/test_codec.py tests/test_prior.py tests/test_zoo.py tests/test_budget.py

test-fast: install ## the edit loop's subset (about a minute): format, coders, families, layers, metrics, codec
	$(BIN)/python -m pytest -m "not slow" -q $(FAST_TESTS)

test-all: install ## every test, slow ones included
	$(BIN)/python -m pytest -q

train: install ## train CONFIG (default experiments/default.json); resumes the run if it has checkpoints
	$(BIN)/rnncomp train --config $(CONFIG) $$(ls -d runs/$$(basename $(CONFIG) .json)/checkpoints/step-* >/dev/null 2>&1 && echo --resume)

recipes: install ## equal-wall-time comparison of experiments/recipes/*.json (MINUTES each, default 4)
	$(BIN)/rnncomp recipes experiments/recipes/*.json --minutes $(or $(MINUTES),4) --out $(RESULTS)/recipes

SCALING_RUNS ?= runs/scaling
scaling: install ## the scaling study: train experiments/scaling/*.json 30 min each (resumable), fit and extrapolate -> $(RESULTS)/scaling
	$(BIN)/rnncomp recipes experiments/scaling/*.json --minutes $(or $(MINUTES),30) --runs $(SCALING_RUNS) --out $(RESULTS)/scaling/recipes
	$(BIN)/rnncomp scaling $(SCALING_RUNS)/* --budget $(or $(BUDGET),10) --out $(RESULTS)/scaling

# runs/default's clock restarted at resumes (its validation.jsonl starts at step 4,500 with 329 s), so its two
# checkpoints are timed from their steps at 0.855 s/step (bench-train.txt: the same model and batch), as `make scaling`
# does; hyperprior-default-14800 and its forks (-20800, hyperprior-default) carry ~30 min at half the CPU (steps 8,000-11,201).
EB_CLOCK = recorded clock restarted at resumes (runs/default/validation.jsonl starts at step 4,500 at 329 s): timed from steps at 0.855 s/step (bench-train.txt)
EB_HALF_CPU = ~30 min of it at half the CPU (steps 8,000-11,201 of runs/hyperprior-default ran at 0.80 s/step against 0.40-0.53 before; training.json history of hyperprior-default-14800)
equal-budget: install ## recurrent vs hyperprior: real-file quality (Kodak, thumbnails) against training CPU-hours -> $(RESULTS)/equal-budget
	$(BIN)/rnncomp equal-budget --results $(RESULTS) --out $(RESULTS)/equal-budget \
	  --step-seconds rnncomp-default-8263=0.855 --step-seconds rnncomp-default-11575=0.855 \
	  --note "rnncomp-default-8263=$(EB_CLOCK)" --note "rnncomp-default-11575=$(EB_CLOCK)" \
	  --note "hyperprior-default-14800=$(EB_HALF_CPU)" --note "hyperprior-default-20800=forked from step 14,800: $(EB_HALF_CPU)" \
	  --note "hyperprior-default=forked from step 20,800: $(EB_HALF_CPU)"

bench-precision: install ## bfloat16 vs float32 training of CONFIG: s/step, validation at equal steps, oneDNN kernels
	$(BIN)/python -m rnncomp.tools.bench.precision $(or $(CONFIG_BENCH),experiments/scaling/lstm2-w25.json) --steps $(or $(STEPS),100) --out $(RESULTS)/precision

bench-train: install ## training-speed table: full/half/quarter width, 32/64 patches, batch 32, 8 iterations
	$(BIN)/python -m rnncomp.tools.bench.training --json $(RESULTS)/bench-train.json | tee $(RESULTS)/bench-train.txt

bench: install ## coding speed, peak memory (up to 48 MP) and FLOPs vs JPEG/WebP -> $(RESULTS)/bench (quiet machine; RUNS=N)
	$(BIN)/rnncomp bench --data $(DATA) --out $(RESULTS)/bench $(if $(RUNS),--runs $(RUNS))
	$(BIN)/rnncomp bench --seams --data $(DATA) --out $(RESULTS)/bench

fuzz: install ## valid-looking hostile .rnc files through every decoder (CASES=300, SEED=0): outcomes, largest peak memory
	$(BIN)/python -m rnncomp.tools.fuzz --cases $(or $(CASES),300) --seed $(or $(SEED),0)
	$(BIN)/python -m rnncomp.tools.fuzz --largest

tune: install ## Hyperband sweep SWEEP (default experiments/sweeps/e2e.json); resumes; MAX_TRIALS=N stops after N trials
	$(BIN)/rnncomp tune --config $(or $(SWEEP),experiments/sweeps/e2e.json) $(if $(MAX_TRIALS),--max-trials $(MAX_TRIALS))

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

ship: install ## ship CKPT (a checkpoint folder) as MODEL with its context model (fit-entropy), with its check on the bundled samples
	$(BIN)/rnncomp ship $(CKPT) --name $(MODEL)
	$(MAKE) fit-entropy MODEL=$(MODEL)
	$(BIN)/rnncomp evaluate --model $(MODEL) --iterations 1,2,4,8 --entropy context --quiet \
	  --out rnncomp/weights/$(MODEL)/samples-kodak.json

ENTROPY_CACHE ?= runs/fit-entropy/codes-$(MODEL).npz
fit-entropy: install ## fit MODEL's context model (the 'learned' coder) on its codes of training crops + thumbnails (codes cached in runs/)
	nice -n 19 $(BIN)/rnncomp fit-entropy --model $(MODEL) --data $(DATA)/train $(DATA)/thumbs32/cifar10_train_00.npz \
	  $(DATA)/thumbs32/cifar10_train_01.npz $(DATA)/thumbs32/cifar10_train_02.npz --crop 128 --cache $(ENTROPY_CACHE) \
	  --steps $(or $(STEPS),1500) --batch-bits 32768

entropy-results: install ## bytes per iteration of every coder on Kodak and the 1,000 hold-out thumbnails, decode times -> $(RESULTS)/entropy
	nice -n 19 $(BIN)/python -m rnncomp.tools.entropy_results --model $(MODEL) --kodak $(DATA)/kodak \
	  --thumbs $(DATA)/thumbs32/cifar10_train_09.npz --out $(RESULTS)/entropy

KODAK_REFS = $(RESULTS)/kodak/jpeg-pillow.json $(RESULTS)/kodak/jpeg.json $(RESULTS)/kodak/webp.json \
  $(RESULTS)/kodak/jpeg2000.json $(RESULTS)/kodak/heif.json $(RESULTS)/kodak/avif.json \
  $(ANCHORS)/tfc/MS-SSIM_sRGB_RGB/toderici-2017-cvpr.txt $(ANCHORS)/tfc/MS-SSIM_sRGB_RGB/johnston-2017-cvpr.txt

evaluate: install ## the shipped codec on the 24 Kodak images (every entropy coder) vs codecs and anchors
	$(BIN)/rnncomp evaluate --data $(DATA)/kodak --model $(MODEL) --entropy all --iterations 1-$(or $(ITERATIONS),10) \
	  --out $(RESULTS)/kodak/$(MODEL).json --compare $(KODAK_REFS) --plot $(RESULTS)/kodak/rd-$(MODEL).png --bpp-max 2
	$(BIN)/rnncomp report --ours $$(ls $(RESULTS)/kodak/$(MODEL)-{auto,raw,huffman,context,prior}.json 2>/dev/null) --against $(KODAK_REFS) \
	  --bpp-range 0.125,1.0 --out $(RESULTS)/kodak/bd-$(MODEL).md

SABR_NAME ?= $(notdir $(MODEL))-kodak$(or $(LIMIT),24)
SABR_PSNR ?= 24,26,28,30
SABR_SSIM ?= 0.6,0.7,0.8,0.88

sabr-results: install ## SABR (issue 16): MODEL's adaptive curves (per-tile PSNR targets SABR_PSNR, SSIM targets SABR_SSIM) beside its uniform one, real files, the first LIMIT Kodak images (default all) -> $(RESULTS)/sabr
	$(BIN)/rnncomp evaluate --data $(DATA)/kodak --model $(MODEL) $(if $(LIMIT),--limit $(LIMIT)) --target-psnr $(SABR_PSNR) \
	  --target-ssim $(SABR_SSIM) \
	  --out $(RESULTS)/sabr/$(SABR_NAME).json --plot $(RESULTS)/sabr/rd-$(SABR_NAME).png --compare $(RESULTS)/kodak/jpeg-pillow.json
	$(BIN)/rnncomp report --ours $(RESULTS)/sabr/$(SABR_NAME)-adaptive.json $(RESULTS)/sabr/$(SABR_NAME)-adaptive-ssim.json --against $(RESULTS)/sabr/$(SABR_NAME)-auto.json \
	  $(if $(LIMIT),,$(RESULTS)/kodak/jpeg-pillow.json $(RESULTS)/kodak/jpeg.json) --out $(RESULTS)/sabr/bd-$(SABR_NAME).md

GAIN_METRIC ?= mse-gain
GAIN_LAMBDAS ?= 40,12,4,1.5

sabr-gain: install ## SABR's greedy gain rule GAIN_METRIC at thresholds GAIN_LAMBDAS, MODEL, first LIMIT (4) Kodak images -> $(RESULTS)/sabr/SABR_NAME-GAIN_METRIC.jsonl
	$(BIN)/python experiments/sabr_gain.py $(MODEL) $(GAIN_METRIC) $(GAIN_LAMBDAS) $(or $(LIMIT),4) | tee $(RESULTS)/sabr/$(SABR_NAME)-$(GAIN_METRIC).jsonl

THUMBS_REFS = $(RESULTS)/thumbs32/jpeg-headerless.json $(RESULTS)/thumbs32/webp.json \
  $(RESULTS)/thumbs32/jpeg2000.json $(RESULTS)/thumbs32/jpeg.json

evaluate-thumbs: install ## the shipped codec on the 1,000 hold-out thumbnails vs header-less JPEG, WebP, JPEG 2000
	$(BIN)/rnncomp evaluate --data $(DATA)/thumbs32/cifar10_train_09.npz --model $(MODEL) --entropy all \
	  --iterations 1-$(or $(ITERATIONS),8) --no-per-image --headerless --batch 250 --out $(RESULTS)/thumbs32/$(MODEL).json \
	  --compare $(THUMBS_REFS) --plot $(RESULTS)/thumbs32/rd-$(MODEL).png
	$(BIN)/rnncomp report --ours $(RESULTS)/thumbs32/$(MODEL)-auto.json $(RESULTS)/thumbs32/$(MODEL)-auto-headerless.json \
	  --against $(THUMBS_REFS) --pixels 1024 --metric ssim-rgb=0.67,0.7,0.72,0.74,0.8 \
	  --metric ms-ssim-rgb=0.86,0.88,0.9,0.91,0.95 --out $(RESULTS)/thumbs32/equal-quality-$(MODEL).md

# --- the end-to-end CNN codec and its SRGAN upscaler -----------------------------------------------

train-e2e: ## train the default end-to-end CNN codec (experiments/e2e-default.json); resumes
	$(MAKE) train CONFIG=experiments/e2e-default.json

recipes-e2e: install ## end-to-end codec: ICM 3/5/10 layers, separable IRM (from scratch); low-variance 0/0.01/0.1 (fine-tuning e2e-default's run) (MINUTES each, default 4)
	$(BIN)/rnncomp recipes experiments/recipes-e2e/base.json experiments/recipes-e2e/icm5.json \
	  experiments/recipes-e2e/icm10.json experiments/recipes-e2e/separable.json experiments/recipes-e2e/lowvar0.json \
	  experiments/recipes-e2e/lowvar0.01.json experiments/recipes-e2e/lowvar0.1.json \
	  --minutes $(or $(MINUTES),4) --out $(RESULTS)/recipes-e2e

train-srgan: install ## train the SRGAN x4 upscaler (experiments/srgan-default.json; MINUTES limits it); resumes
	$(BIN)/rnncomp srgan-train --config experiments/srgan-default.json $(if $(MINUTES),--minutes $(MINUTES))

ship-e2e: install ## ship CKPT as E2E_MODEL, with its check on the bundled samples
	$(BIN)/rnncomp ship $(CKPT) --name $(E2E_MODEL)
	$(BIN)/rnncomp evaluate --model $(E2E_MODEL) --levels 16,64,256 --entropy predictive --quiet \
	  --out rnncomp/weights/$(E2E_MODEL)/samples-kodak.json

ship-srgan: install ## ship CKPT (an srgan-train checkpoint) as SRGAN_MODEL, with its check on the bundled samples
	$(BIN)/rnncomp ship $(CKPT) --name $(SRGAN_MODEL)
	$(BIN)/rnncomp srgan-eval --model $(SRGAN_MODEL) --out rnncomp/weights/$(SRGAN_MODEL)/samples-kodak.json

# --- the hyperprior codec (Balle et al. 2018) ------------------------------------------------------

HP_MODEL ?= hyperprior-default
HP_PREVIOUS ?= hyperprior-default-20800
HP_RUN ?= runs/hyperprior-default

train-hyperprior: ## train the hyperprior codec (experiments/hyperprior-default.json); resumes
	$(MAKE) train CONFIG=experiments/hyperprior-default.json

ship-hyperprior: install ## ship CKPT as HP_MODEL (float16 weights: float32 ones pass 20 MB), with its check on the bundled samples
	$(BIN)/rnncomp ship $(CKPT) --name $(HP_MODEL) --float16
	$(BIN)/rnncomp evaluate --model $(HP_MODEL) --quiet --out rnncomp/weights/$(HP_MODEL)/samples-kodak.json

evaluate-hyperprior: install ## HP_MODEL on Kodak and the 1,000 hold-out thumbnails (real files, every rate point) vs JPEG, WebP, rnncomp-default
	$(BIN)/rnncomp evaluate --data $(DATA)/kodak --model $(HP_MODEL) --out $(RESULTS)/kodak/$(HP_MODEL).json \
	  --compare $(KODAK_REFS) $(RESULTS)/kodak/$(MODEL)-auto.json $(wildcard $(RESULTS)/kodak/$(HP_PREVIOUS).json) \
	  --plot $(RESULTS)/kodak/rd-$(HP_MODEL).png --bpp-max 2
	$(BIN)/rnncomp report --ours $(RESULTS)/kodak/$(HP_MODEL).json --against $(KODAK_REFS) $(RESULTS)/kodak/$(MODEL)-auto.json \
	  $(wildcard $(RESULTS)/kodak/$(HP_PREVIOUS).json) \
	  --bpp-range 0.125,1.0 --out $(RESULTS)/kodak/bd-$(HP_MODEL).md
	$(BIN)/rnncomp evaluate --data $(DATA)/thumbs32/cifar10_train_09.npz --model $(HP_MODEL) --quality 0,4,8,12,16,20 --no-per-image --headerless \
	  --batch 250 --out $(RESULTS)/thumbs32/$(HP_MODEL).json --compare $(THUMBS_REFS) --plot $(RESULTS)/thumbs32/rd-$(HP_MODEL).png

evaluate-e2e: install ## the shipped end-to-end codec on Kodak: every coder, bicubic and SRGAN upscaling, vs JPEG and ours
	$(BIN)/rnncomp evaluate --data $(DATA)/kodak --model $(E2E_MODEL) --entropy all --upscaler both \
	  --levels 4,8,16,32,64,128,256 --out $(RESULTS)/kodak/$(E2E_MODEL).json \
	  --compare $(RESULTS)/kodak/jpeg-pillow.json $(RESULTS)/kodak/jpeg.json $(RESULTS)/kodak/webp.json \
	  $(RESULTS)/kodak/$(MODEL)-auto.json --plot $(RESULTS)/kodak/rd-$(E2E_MODEL).png --bpp-max 2
	$(BIN)/rnncomp report --ours $(RESULTS)/kodak/$(E2E_MODEL)-auto.json $(RESULTS)/kodak/$(E2E_MODEL)-auto-srgan.json \
	  --against $(RESULTS)/kodak/jpeg-pillow.json $(RESULTS)/kodak/jpeg.json $(RESULTS)/kodak/webp.json \
	  $(RESULTS)/kodak/$(MODEL)-auto.json --out $(RESULTS)/kodak/bd-$(E2E_MODEL).md

evaluate-srgan: install ## x4 upscaling on the 24 Kodak images: the shipped SRGAN generator vs bicubic
	$(BIN)/rnncomp srgan-eval --model $(SRGAN_MODEL) --data $(DATA)/kodak --out $(RESULTS)/srgan/kodak-x4-$(SRGAN_MODEL).json

notebooks: install ## run every notebook in its full setting
	RNNCOMP_NOTEBOOK_FAST=0 RNNCOMP_SHARED=$(abspath $(SHARED)) $(BIN)/python -m pytest tests/test_notebooks.py -q

clean: ## remove caches and local results (keeps $(VENV))
	rm -rf .pytest_cache results build *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
