# Quick start:  make book   (venv + pinned deps + HTML book)   then   make test
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Jupyter Book flags: warnings and broken references fail the build.
JB_FLAGS := -W -n --keep-going

.PHONY: help venv book book-instructor serve test lock clean pdf

help:
	@echo "make venv             create .venv: the pinned dependencies and the l2course command"
	@echo "make book             build the learner edition into _build/html (Japanese: _build/html/ja)"
	@echo "make book CHAPTERS=\"01 03 04\"  build only those chapters (with their exercises) into _build/html"
	@echo "make book-instructor  build the instructor edition (with solutions) into _build/instructor"
	@echo "make serve            serve _build/html on http://127.0.0.1:8000"
	@echo "make pdf              print the learner edition to _build/pdf/book.pdf (Chromium)"
	@echo "make pdf EDITION=ja   ... the Japanese edition to _build/pdf/book-ja.pdf (also book-instructor)"
	@echo "make test             run the whole test suite"
	@echo "make lock             regenerate requirements.lock from requirements.in"

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

# A selection of chapters (make book CHAPTERS="01 03 04"): toc and config are generated into
# $(SELECTION) by _ext/select_chapters.py, built there from scratch, then copied to _build/html.
CHAPTERS ?=
SELECTION := _build/.selection

# Translated editions: one per folder under locales/ (today: ja), each built from the English
# build's executed notebooks (its jupyter-cache: nothing executes twice) into _build/html/<lang>/.
# _ext/edition_config.py writes the edition's config (language, search language, cache, baseurl).
TRANSLATIONS := $(notdir $(wildcard locales/*))
# book-instructor / pdf: EDITION=ja builds the Japanese edition (not LANG: the shell sets it).
EDITION ?= en
# $(call translate,LANG,BASE_CONFIG,TOC_FLAG,OUT,HTML_DEST): build one translated edition.
define translate
	$(BIN)/python _ext/edition_config.py $(1) $(4) --base $(2)
	$(BIN)/jupyter-book build . $(JB_FLAGS) --builder html --config $(4)/_config.yml $(3) --path-output $(4)
	rm -rf $(5) && cp -al $(4)/_build/html $(5)
endef

book: $(STAMP)
ifeq ($(strip $(CHAPTERS)),)
	rm -rf $(addprefix _build/html/,$(TRANSLATIONS))
	$(BIN)/jupyter-book build . $(JB_FLAGS) --builder html
	$(foreach lang,$(TRANSLATIONS),$(call translate,$(lang),_config.yml,,_build/.$(lang),_build/html/$(lang)))
else
	rm -rf $(SELECTION) $(addprefix $(SELECTION)-,$(TRANSLATIONS))
	$(BIN)/python _ext/select_chapters.py $(SELECTION) $(CHAPTERS)
	$(BIN)/jupyter-book build . $(JB_FLAGS) --builder html --config $(SELECTION)/_config.yml --toc $(SELECTION)/_toc.yml --path-output $(SELECTION)
	rm -rf _build/html && mkdir -p _build && cp -r $(SELECTION)/_build/html _build/html
	$(foreach lang,$(TRANSLATIONS),$(call translate,$(lang),$(SELECTION)/_config.yml,--toc $(SELECTION)/_toc.yml,$(SELECTION)-$(lang),_build/html/$(lang)))
endif
	@echo
	@echo "The book is in $(CURDIR)/_build/html/index.html (Japanese: _build/html/ja/index.html)"
	@echo "Open that file in a browser, or run 'make serve' and visit http://127.0.0.1:8000"

# Instructor edition: the same book plus the solutions (executed, answer and test cells
# collapsed). Config and toc are generated into _build/.instructor; the HTML ends in _build/instructor.
book-instructor: $(STAMP)
	$(BIN)/python _instructor/build_config.py _build/.instructor
ifeq ($(EDITION),en)
	$(BIN)/jupyter-book build . $(JB_FLAGS) --builder html --config _build/.instructor/_config.yml --toc _build/.instructor/_toc.yml --path-output _build/.instructor
	rm -rf _build/instructor.new && cp -r _build/.instructor/_build/html _build/instructor.new
	$(foreach lang,$(TRANSLATIONS),test ! -d _build/instructor/$(lang) || mv _build/instructor/$(lang) _build/instructor.new/$(lang);)
	rm -rf _build/instructor && mv _build/instructor.new _build/instructor
	@echo
	@echo "The instructor edition is in $(CURDIR)/_build/instructor/index.html"
else
	mkdir -p _build/instructor
	$(call translate,$(EDITION),_build/.instructor/_config.yml,--toc _build/.instructor/_toc.yml,_build/.instructor-$(EDITION),_build/instructor/$(EDITION))
	@echo
	@echo "The instructor edition ($(EDITION)) is in $(CURDIR)/_build/instructor/$(EDITION)/index.html"
endif

# Jupyter Book's own pdfhtml builder needs Playwright's downloaded Chromium; this is the same
# (singlehtml, then print) with Debian's /usr/bin/chromium, offline.
pdf: $(STAMP)
ifeq ($(EDITION),en)
	$(BIN)/jupyter-book build . $(JB_FLAGS) --builder singlehtml
	$(BIN)/python _ext/print_pdf.py _build/singlehtml _build/pdf/book.pdf
else
	$(BIN)/python _ext/edition_config.py $(EDITION) _build/.$(EDITION)-pdf
	$(BIN)/jupyter-book build . $(JB_FLAGS) --builder singlehtml --config _build/.$(EDITION)-pdf/_config.yml --path-output _build/.$(EDITION)-pdf
	$(BIN)/python _ext/print_pdf.py _build/.$(EDITION)-pdf/_build/singlehtml _build/pdf/book-$(EDITION).pdf
endif

serve:
	@test -f _build/html/index.html || { echo "No book yet: run 'make book' first."; exit 1; }
	$(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory _build/html

test: $(STAMP)
	@command -v bwrap >/dev/null || { echo "error: bubblewrap (bwrap) is missing: the grader's tests sandbox student code with it."; echo "Install it with: sudo apt-get install bubblewrap"; exit 1; }
	$(BIN)/python -m pytest -n auto --dist loadscope --durations=25

lock:
	rm -rf /tmp/l2course-lock-venv
	$(PYTHON) -m venv /tmp/l2course-lock-venv
	/tmp/l2course-lock-venv/bin/pip install --quiet -r requirements.in
	{ echo "# Exact versions the course is tested with (Python 3.11, CPU). Generated by 'make lock' from requirements.in."; \
	  echo "# torch is pinned without the local '+cpu' tag; pip takes the CPU wheel found via find-links, or the PyPI wheel."; \
	  /tmp/l2course-lock-venv/bin/pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > requirements.lock

clean:
	rm -rf _build
