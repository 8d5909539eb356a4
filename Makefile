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

.PHONY: book test unit nbval book-strict notebooks reproduce bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --keep-going

test: unit nbval book-strict
	$(PY) -m pytest -q tests/test_rendered_book.py

unit: $(STAMP)
	$(PY) -m pytest -q tests --ignore=tests/test_rendered_book.py

nbval: $(STAMP)
ifneq ($(CHAPTERS),)
	CBAM_PROFILE=smoke MPLBACKEND=agg $(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(CHAPTERS)
endif

book-strict: $(STAMP)
	$(VENV)/bin/jupyter-book build . -n -W --keep-going

notebooks: $(STAMP)
	for nb in $(CHAPTERS); do $(if $(PROFILE),CBAM_PROFILE=$(PROFILE)) MPLBACKEND=module://matplotlib_inline.backend_inline $(VENV)/bin/jupyter-execute --inplace --timeout=-1 $$nb || exit 1; done

reproduce: $(STAMP)
	$(PY) -m cbam_helpers reproduce $(if $(PROFILE),--profile $(PROFILE)) --seeds 0

bench: $(STAMP)
	$(PY) -m cbam_helpers bench

clean:
	rm -rf _build
