# The README's commands. Python 3.11+ on the PATH as python3 (or PYTHON=...).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: dev test bench cluster-test translations clean cjk-font wrk

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

# Code images need a CJK font: FONT_PATH, one found on the system, or Debian's fonts-wqy-microhei.
APT_FONT = DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q fonts-wqy-microhei fonts-dejavu-core >/dev/null
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)
cjk-font: $(VENV)/.runtime
	@$(PY) -c 'import os; from bot.infra.images.code_image import find_font, find_latin_font as latin; \
	cjk = find_font(os.environ.get("FONT_PATH")); assert latin(os.environ.get("LATIN_FONT_PATH"), cjk) != cjk' 2>/dev/null \
	|| { echo "installing fonts-wqy-microhei and fonts-dejavu-core (CJK and Latin fonts for code images)"; \
	     ($(APT_FONT) || ($(SUDO) apt-get update -q >/dev/null && $(APT_FONT))) \
	     || echo "warning: no CJK font could be installed; set FONT_PATH, or code images answer 503"; }

# make bench's load generator: Debian's wrk, installed when missing (the webhook figures need it).
wrk:
	@command -v wrk >/dev/null || { echo "installing wrk (the webhook benchmark's load generator)"; \
	  (DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q wrk >/dev/null \
	   || ($(SUDO) apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q wrk >/dev/null)) \
	  || echo "warning: wrk could not be installed; the webhook benchmark is skipped"; }

dev: $(VENV)/.runtime cjk-font
	$(PY) -m bot.devtools.dev

test: $(VENV)/.dev cjk-font
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev cjk-font wrk
	$(PY) -m bench

# Several nodes as real processes, parts killed under load (bench/cluster.py): needs Debian
# redis-server, haproxy and wrk, and PostgreSQL (CLUSTER_PG_URL, default the local server).
cluster-test: $(VENV)/.dev cjk-font wrk
	timeout 600 $(PY) -m bench.cluster

# The chat's sentences extracted from the templates (babel.cfg) and merged into each catalog;
# tests/test_i18n.py then names any sentence still without its English form.
translations: $(VENV)/.dev
	$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-output -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete -w 100

clean:
	rm -rf $(VENV) var .pytest_cache
