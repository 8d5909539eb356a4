# Two commands on a fresh machine: `make book` and `make test`. Each sets up .venv when needed.
VENV ?= .venv
# the interpreter that builds $(VENV); .ci/run also runs the unit tests under Debian's own /usr/bin/python3
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# empty: each chapter shows its own profile (experiments.shown_profile); `make notebooks PROFILE=cpu` forces one
PROFILE ?=
# The offline CIFAR-10 copy beside the repository, when there is one; otherwise torchvision downloads.
SHARED_DATA := $(wildcard ../shared/data/cifar10-jpeg.tar.gz)
ifneq ($(SHARED_DATA),)
export CBAM_DATA ?= $(abspath ../shared/data)
endif
CHAPTERS := $(sort $(wildcard book/*.ipynb))
# the Chinese edition's twins (book/zh/edition.py builds them from CHAPTERS and book/zh/translations/)
ZH_CHAPTERS := $(sort $(wildcard book/zh/*.ipynb))

.PHONY: book zh-book system test unit nbval book-strict notebooks zh-notebooks reproduce bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# English at the root of _build/html, the Chinese edition under _build/html/zh/
book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --keep-going
	$(MAKE) zh-book JB_FLAGS=--keep-going
	@echo "The book: open _build/html/book/intro.html (English) or _build/html/zh/intro.html (中文)."

zh-book: $(STAMP)
	$(VENV)/bin/jupyter-book build book/zh --path-output _build/zh $(JB_FLAGS)
	rm -rf _build/html/zh && mkdir -p _build/html && cp -r _build/zh/_build/html _build/html/zh

# What the checks need beyond Python: venv (Debian splits it off) and Chromium for the rendered-book checks; the
# Chinese glyphs come from the environment's Noto Sans CJK (mplfonts), not the system's fonts. Installed here as
# root on Debian, else named with the command that installs them, before anything slow runs.
system:
	@missing=""; \
	$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || test -x $(PY) || missing="$$missing python3-venv"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's$$missing for make test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "make test needs$$missing: sudo apt-get install$$missing (Debian, Ubuntu)"; exit 1; \
	  fi; \
	fi

test: system unit nbval book-strict
	$(PY) -m pytest -q tests/test_rendered_book.py

unit: $(STAMP)
	$(PY) -m pytest -q tests --ignore=tests/test_rendered_book.py

nbval: $(STAMP)
ifneq ($(CHAPTERS),)
	CBAM_PROFILE=smoke MPLBACKEND=agg $(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(CHAPTERS) $(ZH_CHAPTERS)
endif

# --all: every page of both editions is rebuilt and checked, not only those changed since the last build
book-strict: $(STAMP)
	$(VENV)/bin/jupyter-book build . --all -n -W --keep-going
	$(MAKE) zh-book JB_FLAGS="--all -n -W --keep-going"

notebooks: $(STAMP)
	for nb in $(CHAPTERS); do $(if $(PROFILE),CBAM_PROFILE=$(PROFILE)) MPLBACKEND=module://matplotlib_inline.backend_inline $(VENV)/bin/jupyter-execute --inplace --timeout=-1 $$nb || exit 1; done

# the Chinese twins: rebuilt from the English chapters and the translations; executed where their code changed
zh-notebooks: $(STAMP)
	for nb in $$($(PY) book/zh/edition.py build | sed -n 's/^execute //p'); do MPLBACKEND=module://matplotlib_inline.backend_inline $(VENV)/bin/jupyter-execute --inplace --timeout=-1 $$nb || exit 1; done

reproduce: $(STAMP)
	$(PY) -m cbam_helpers reproduce $(if $(PROFILE),--profile $(PROFILE)) --seeds 0

bench: $(STAMP)
	$(PY) -m cbam_helpers bench

clean:
	rm -rf _build
