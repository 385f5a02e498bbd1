# VisionaryAI: `make run` starts the app, `make test` runs every test. Both install what they need.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3000
BUN_VERSION := 1.4.5
BUN := $(CURDIR)/.tools/bun/node_modules/@oven/bun-linux-x64/bin/bun
AZURITE_VERSION := 3.37.0
AZURITE := $(CURDIR)/.tools/azurite/node_modules/.bin/azurite-blob
# Installed once per version: moving the pin installs the new one over the old.
AZURITE_STAMP := $(CURDIR)/.tools/azurite/.installed-$(AZURITE_VERSION)
AZURITE_PORT ?= 10000
AXE_VERSION := 4.14.1
AXE := $(CURDIR)/.tools/axe/node_modules/axe-core/axe.min.js
LIGHTHOUSE_VERSION := 12.2.3
LIGHTHOUSE := $(CURDIR)/.tools/lighthouse/node_modules/.bin/lighthouse
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Reflex must never reach for the internet: bun comes from the npm registry, no telemetry.
export REFLEX_BUN_PATH := $(BUN)
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export NPM_CONFIG_REGISTRY ?= $(shell npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)

.PHONY: run dev test bench lint format migrate sync azurite screenshot install install-dev install-azurite chromium caddy clean

run: install migrate  ## Start the app (production build) at http://localhost:$(PORT)
	$(BIN)/reflex run --env prod --frontend-port $(PORT)

dev: install migrate  ## Start with hot reload (frontend :3000, backend :8000)
	$(BIN)/reflex run

test: install-dev chromium caddy $(AZURITE_STAMP) $(AXE)  ## Lint, then run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

bench: install install-azurite chromium caddy $(LIGHTHOUSE)  ## Run one benchmark: make bench ARGS="gallery --images 100000"
	$(BIN)/python -m benchmarks $(ARGS)

screenshot: install-dev chromium $(AZURITE_STAMP)  ## Retake docs/gallery.png, docs/editor.png and docs/phone.png with the test browser
	VISIONARY_UPDATE_SCREENSHOT=1 $(BIN)/pytest tests/e2e/test_first_screen.py tests/e2e/test_creative_loop.py tests/e2e/test_phone.py -k "local and (first_screen or paint_a_mask or phone)"

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install  ## Bring the image index to the latest migration
	$(BIN)/python -m visionary_app migrate

sync: install  ## Reconcile the index with the blob store (DRY_RUN=1 only prints, FORCE=1 allows mass removal)
	$(BIN)/python -m visionary_app sync $(if $(DRY_RUN),--dry-run) $(if $(FORCE),--force)

azurite: $(AZURITE_STAMP)  ## Run Azurite (Azure Storage emulator) on 127.0.0.1:$(AZURITE_PORT), data in data/azurite
	$(AZURITE) --blobHost 127.0.0.1 --blobPort $(AZURITE_PORT) --location data/azurite \
		--disableTelemetry --skipApiVersionCheck

install: $(VENV)/.installed $(BUN)

install-dev: install $(VENV)/.dev-installed

install-azurite: $(AZURITE_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

$(BUN):
	npm install --no-save --no-package-lock --ignore-scripts --prefix .tools/bun @oven/bun-linux-x64@$(BUN_VERSION)
	test -x $(BUN)

$(AXE):
	npm install --no-save --no-package-lock --ignore-scripts --prefix .tools/axe axe-core@$(AXE_VERSION)
	test -f $(AXE)

$(LIGHTHOUSE):
	npm install --no-save --no-package-lock --ignore-scripts --prefix .tools/lighthouse lighthouse@$(LIGHTHOUSE_VERSION)
	test -x $(LIGHTHOUSE)

$(AZURITE_STAMP):
	npm install --no-save --no-package-lock --ignore-scripts --prefix .tools/azurite azurite@$(AZURITE_VERSION)
	test -x $(AZURITE)
	touch $@

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

caddy:  ## Debian's Caddy: the load balancer of the production layout (deploy/Caddyfile)
	@command -v caddy >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq caddy; }

clean:  ## Remove build output (keeps data/ and the virtualenv)
	rm -rf .web .states reflex.lock
