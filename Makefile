# The two commands of the README:
#   make demo   — install, build a demo workspace with a year of submissions, process it end to end
#   make test   — install what the tests need (Debian packages included) and run the whole suite

VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_DIR ?= demo-workspace
# LibreOffice renders reports to PDF in the tests and re-saves demo files; Noto CJK gives charts
# and PDFs their Chinese glyphs; poppler turns PDFs into page images; Chromium and its driver open
# the 总览 page in the browser test.
DEBIAN_PACKAGES := libreoffice-calc libreoffice-writer fonts-noto-cjk poppler-utils chromium chromium-driver

.PHONY: demo test system-packages install

demo: install system-packages
	$(PY) -m processor demo $(DEMO_DIR)

test: install system-packages
	$(PY) -m pytest -n 2 --dist loadfile

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

system-packages:
	@if ! command -v soffice >/dev/null || ! fc-list | grep -q "Noto Serif CJK" || ! command -v pdftoppm >/dev/null \
			|| ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEBIAN_PACKAGES); \
	fi
