# The two commands of the README:
#   make demo   — install, build a demo workspace with a year of submissions, process it end to end
#   make test   — install what the tests need (Debian packages included), lint (ruff, rules in
#                 pyproject.toml), check the layering (lint-imports, contracts in pyproject.toml) and
#                 run the whole suite
#   make test-fast — the edit loop: every test not marked slow (no demo builds, LibreOffice, browser, …)

VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_DIR ?= demo-workspace
# LibreOffice renders reports to PDF in the tests and re-saves demo files; Noto CJK gives charts
# and PDFs their Chinese glyphs; poppler turns PDFs into page images; Chromium and its driver open
# the 总览 page in the browser test; openssl makes the test certificates of the mail tests;
# dovecot-imapd is the real IMAP server the 报送 mailbox tests start (unprivileged, on 127.0.0.1).
DEBIAN_PACKAGES := libreoffice-calc libreoffice-writer fonts-noto-cjk fontconfig poppler-utils chromium \
	chromium-driver openssl dovecot-imapd

.PHONY: demo test test-fast system-packages install lock

demo: install system-packages
	$(PY) -m processor demo $(DEMO_DIR)

test: install system-packages
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo
	$(PY) -m pytest -n 2 --dist loadfile --durations=25

test-fast: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo
	$(PY) -m pytest -n 2 -m "not slow"

install: $(VENV)/.installed

# Exact versions of every package, direct or not, from the lock file: two installs a month apart are
# identical. pyproject.toml holds the ranges the product works with; `make lock` resolves them again.
$(VENV)/.installed: pyproject.toml requirements/test.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/test.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m compileall -q processor schemas  # bytecode as a packaged install has it, even under PYTHONDONTWRITEBYTECODE
	touch $@

lock: install
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 --quiet -o requirements/run.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --python-version 3.11 --quiet -o requirements/test.lock

system-packages:
	@if ! dpkg -s $(DEBIAN_PACKAGES) >/dev/null 2>&1; then \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEBIAN_PACKAGES); \
	fi
