# The two commands: `make run` (set up, run the hub with demo data) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# Machines of this kind set PYTHONDONTWRITEBYTECODE: every Python process (each hub process the suite
# starts, each test worker) would compile the hub's 240 modules again: `import bootstrap` takes
# 2.9 s of a core without the cache, 1.75 s with it.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test bench setup debs python coqui web lint clean

run: setup
	HUB_DEMO=1 $(BIN)/python server.py

test: setup coqui
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/acd.py
	$(BIN)/python bench/chat.py
	$(BIN)/python bench/email_ingest.py
	$(BIN)/python bench/asr.py
	$(BIN)/python bench/tts.py
	$(BIN)/python bench/kb_banking77.py
	$(BIN)/python bench/kb_latency.py
	$(BIN)/python bench/assist_bot.py
	$(BIN)/python bench/timers.py
	$(BIN)/python bench/calls.py
	$(BIN)/python bench/calls_transcribe.py
	$(BIN)/python bench/sms.py

setup: debs python web

debs:
	./scripts/install-debs.sh

python: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: an unpinned torch pulled in by sentence-transformers is a CUDA build of GBs
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test,email,sms,fax,voice,workflows,speech,kb]'
	touch $@

# coqui-tts (optional TTS engine) imports torchaudio, last released (2.11) for torch 2.11, while the
# hub keeps torch 2.13 CPU: the coqui engine is tested in its own environment (tests/voice/tts/).
COQUI_VENV := .venv-coqui
coqui: $(COQUI_VENV)/.installed

$(COQUI_VENV)/.installed: Makefile
	test -x $(COQUI_VENV)/bin/python || $(PYTHON) -m venv $(COQUI_VENV)
	$(COQUI_VENV)/bin/python -m pip install -q torch==2.11.0 torchaudio==2.11.0 torchcodec==0.11.1 coqui-tts==0.28.0 six
	touch $@

web: web/dist/index.html

PY_SOURCES := bootstrap.py server.py $(shell find hub channels voice kb assist workflows -name '*.py' 2>/dev/null)

# The hub's OpenAPI document, built by this venv's Python without a server (`server.py --openapi`):
# the web UI's API types (web/src/api/schema.d.ts) are generated from it by `npm run build`. It is
# rewritten only when it changes, so a Python change that leaves the API as it was does not
# rebuild the UI.
web/.openapi.json: $(VENV)/.installed $(PY_SOURCES)
	$(BIN)/python server.py --openapi $@.new
	if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

web/dist/index.html: web/.openapi.json web/package.json web/package-lock.json web/scripts/gen-api.mjs \
		$(shell find web/src web/public -type f ! -name schema.d.ts 2>/dev/null) web/index.html web/widget.html \
		web/vite.config.ts web/scripts/check-i18n.mjs web/scripts/i18n-allowlist.txt
	cd web && npm ci --no-audit --no-fund --loglevel=error && HUB_OPENAPI=$(abspath web/.openapi.json) npm run build
	touch $@

lint: python
	$(BIN)/ruff check hub channels voice kb assist workflows bootstrap.py server.py bench tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(COQUI_VENV) web/node_modules web/dist web/.openapi.json web/src/api/schema.d.ts data bench/results
