# MKTME, hands-on — the two commands a learner needs are `make lab` and `make test`.
#
# Everything runs in ./.venv, created on first use. The course is installed into it
# (pip install -e '.[lab,test]') only when pyproject.toml is newer than the stamp file,
# so a second `make test` or `make lab` starts straight away.

SHELL := /bin/bash
COMMA := ,
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAB_ARGS ?=
# Jupyter refuses to run as root without this flag (containers, CI).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# Lesson notebooks; solutions/ and exercises/ join in once they hold a notebook.
NB_DIRS := $(wildcard notebooks solutions exercises)
NB_ENV := MPLBACKEND=Agg PYTHONHASHSEED=0 MKTME_STATIC=1
ifeq ($(CI),true)
PYTEST_ARGS ?= -v -rs
else
PYTEST_ARGS ?= -q -rs
endif
RUN_PYTEST := $(PY) tools/run_pytest.py $(PYTEST_ARGS)
# A wheelhouse (`make wheelhouse`, tools/wheelhouse.py) installs with no index at all:
#   make lab WHEELHOUSE=/media/usb/wheelhouse
WHEELHOUSE ?=
WHEELHOUSE_PLATFORMS ?= linux-x86_64 linux-aarch64 macos-arm64 macos-x86_64 windows-amd64
WHEELHOUSE_PYTHONS ?= 3.11 3.12 3.13
WHEELHOUSE_EXTRAS ?= lab,test,book,slides
# Where a stale install looks first when no WHEELHOUSE is given: the folder `make wheelhouse` fills.
LOCAL_WHEELHOUSE := wheelhouse
PIP_FROM_WHEELHOUSE ?= $(PY) -m pip install --no-index --find-links
ifneq ($(strip $(WHEELHOUSE)),)
PIP_INSTALL ?= $(PIP_FROM_WHEELHOUSE) $(abspath $(WHEELHOUSE))
else
PIP_INSTALL ?= $(PY) -m pip install
endif

# Kernels started by nbval, nbclient and JupyterLab resolve `python` and `jupyter` here.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: lab my-work test chromium-check install test-unit test-notebooks test-stripped test-exercises test-sync \
        test-browser exercises sync bench check-env clean book test-book \
        slides test-slides hub-npm hub-install test-hub wheelhouse test-wheelhouse

# Your exercises live in my-work/ (git-ignored): `make lab` copies in every exercise you do not
# have yet and never overwrites one you have. No other target reads or writes my-work/.
lab: my-work
	@# Outputs JupyterLab saves into the course's own notebooks must not block a later `git pull`:
	@# nbstripout's git filter makes git see them without outputs (local .git/config only).
	@if git rev-parse --git-dir >/dev/null 2>&1; then $(VENV)/bin/nbstripout --install || true; fi
	@# No "fetch Jupyter news?" prompt, no update check (a settings override checked against the
	@# installed JupyterLab's schema), and the course's server extension (tools/lab_settings.py).
	@$(PY) tools/lab_settings.py || echo "(JupyterLab starts anyway; it may ask about news)"
	$(VENV)/bin/jupyter lab $(ALLOW_ROOT) --ServerApp.root_dir="$(CURDIR)" \
	  notebooks/00_start_here.ipynb $(LAB_ARGS)

install: $(STAMP)

my-work: $(STAMP)
	$(PY) tools/make_exercises.py --learner-copies

$(PY):
	$(PYTHON) -m venv $(VENV)

# (Re)install the course with the extras $(1) and touch the stamp $(2). With WHEELHOUSE=dir: from
# that folder only. Otherwise from ./wheelhouse when it exists, then from the index. When that fails
# (offline after a `git pull` touched pyproject.toml) and an install exists (the old stamp), warn
# and go on with it, leaving the stamp stale so the next run tries again.
define install_course
@ok=; if [ -n "$(strip $(WHEELHOUSE))" ]; then \
  echo "$(PIP_INSTALL) -e '.[$(1)]'"; $(PIP_INSTALL) -e '.[$(1)]' && ok=1; \
else \
  if [ -d "$(LOCAL_WHEELHOUSE)" ]; then \
    echo "installing from ./$(LOCAL_WHEELHOUSE)/ (no index): $(PIP_FROM_WHEELHOUSE) $(LOCAL_WHEELHOUSE) -e '.[$(1)]'"; \
    $(PIP_FROM_WHEELHOUSE) "$(CURDIR)/$(LOCAL_WHEELHOUSE)" -e '.[$(1)]' && ok=1 \
      || echo "./$(LOCAL_WHEELHOUSE)/ lacks something pyproject.toml needs; trying the package index"; \
  fi; \
  if [ -z "$$ok" ]; then echo "$(PIP_INSTALL) -e '.[$(1)]'"; $(PIP_INSTALL) -e '.[$(1)]' && ok=1; fi; \
fi; \
if [ -n "$$ok" ]; then touch $(2); \
elif [ -f $(2) ]; then \
  echo "warning: pyproject.toml changed; reinstall failed (offline?); starting with the installed environment;" \
       "run \`make install\` when online (or pass WHEELHOUSE=dir)" >&2; \
else \
  echo "error: could not install the course (.[$(1)]): no network? With a wheelhouse: make $(or $(MAKECMDGOALS),install) WHEELHOUSE=dir" >&2; \
  exit 1; \
fi
endef

$(STAMP): pyproject.toml | $(PY)
	$(call install_course,lab$(COMMA)test,$@)
	@# The course's JupyterLab set-up (no news prompt; the mktme_lite_lab server extension), so that
	@# `make test`'s browser stage gets the lab a learner gets.
	@$(PY) tools/lab_settings.py || echo "(the course works without them; JupyterLab may ask about news)"

# Cheap checks first, then the unit tests, the notebooks and the real browser.
test: chromium-check test-stripped test-exercises test-sync test-unit test-notebooks test-browser
	@echo "make test: every check passed"

# --- browser stage: find Chromium/Chrome once, early (tools/find_chromium.py, lab_driver.find_chromium) ---
# Without one, `make test` says so here, before the long stages, and test-browser is skipped;
# with CI=true a missing browser fails here. MKTME_CHROMIUM=/path picks the browser.
chromium-check: $(STAMP)
	@$(PY) tools/find_chromium.py >/dev/null || [ $$? -eq 1 ]

test-unit: $(STAMP)
	$(RUN_PYTEST) -p no:nbval tests/ --ignore=tests/browser --ignore=tests/delivery

test-notebooks: $(STAMP)
	$(NB_ENV) $(RUN_PYTEST) --nbval-lax --nbval-current-env \
	  --nbval-sanitize-with=tests/nbval-sanitize.cfg --nbval-cell-timeout=120 \
	  $(NB_DIRS)

# What git would commit must be stripped: the staged blob of every tracked notebook (`git show :path`),
# not the file on disk, where JupyterLab keeps a learner's outputs (nbstripout's git filter hides them).
test-stripped: $(STAMP)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	git ls-files -z '*.ipynb' | while IFS= read -r -d '' f; do \
	  mkdir -p "$$tmp/$$(dirname "$$f")" && git show ":$$f" > "$$tmp/$$f" || exit 1; done || exit 1; \
	find "$$tmp" -name '*.ipynb' -print0 | xargs -0 -r $(VENV)/bin/nbstripout --verify 2>&1 \
	  | sed "s|$$tmp/||g"; status=$${PIPESTATUS[1]}; \
	[ "$$status" = 0 ] || echo "test-stripped: the notebooks above are staged with outputs; run nbstripout on them and git add them"; \
	exit $$status

test-exercises: $(STAMP)
	$(PY) tools/make_exercises.py --check

test-sync: $(STAMP)
	$(PY) tools/sync_lessons.py --check
	$(PY) tools/make_instructor_guide.py --check

test-browser: $(STAMP)
	@if $(PY) tools/find_chromium.py >/dev/null 2>&1 || [ "$(CI)" = true ]; then \
	  $(RUN_PYTEST) -p no:nbval tests/browser; \
	else $(if $(filter test,$(MAKECMDGOALS)),true,echo "test-browser: skipped: no Chromium or Chrome (tools/find_chromium.py says where it looked)"); fi

# Regenerate exercises/ from solutions/ (authors only; a learner's copies in my-work/ stay as they are).
exercises: $(STAMP)
	$(PY) tools/make_exercises.py

# Regenerate lesson headers/footers and the README lesson map; exercises follow the solutions.
sync: $(STAMP)
	$(PY) tools/sync_lessons.py
	$(PY) tools/make_exercises.py
	$(PY) tools/make_instructor_guide.py

# The static book (Jupyter Book 1, Sphinx) of every lesson, exercise and worked solution, for
# readers without a kernel: executed with MKTME_STATIC=1 (every widget drawn at its telling
# settings), sanity checks run but hidden, nothing loaded from outside. tools/build_book.py says how.
BOOK_STAMP := $(VENV)/.installed-book
$(BOOK_STAMP): pyproject.toml | $(STAMP)
	$(call install_course,book,$@)

book: $(BOOK_STAMP)
	$(NB_ENV) $(PY) tools/build_book.py

# Build the book, then check it: no external resource, every link lands, Chromium shows it whole
# with the network blocked (screenshots in artifacts/book-screenshots/).
test-book: book
	$(RUN_PYTEST) -p no:nbval tests/delivery/test_book.py

# Every lesson as reveal.js slides (nbconvert, executed with MKTME_STATIC=1, speaker notes from
# slides/notes/) in artifacts/slides/, with the npm reveal.js 4 of slides/package-lock.json copied
# beside them: nothing loads from outside. The `slides` extra also brings jupyterlab-rise, for live
# slides in the lab. tools/build_slides.py says how; docs/authoring.md how the metadata is kept.
NPM_FLAGS ?= --no-audit --no-fund
SLIDES_STAMP := $(VENV)/.installed-slides
REVEAL_STAMP := slides/node_modules/.installed
$(SLIDES_STAMP): pyproject.toml | $(STAMP)
	$(call install_course,slides,$@)

# reveal.js from npm; from the wheelhouse's npm-cache (tools/wheelhouse.py fills it) with no
# registry at all when WHEELHOUSE is given or ./wheelhouse/npm-cache exists.
NPM_CACHE := $(firstword $(wildcard $(if $(strip $(WHEELHOUSE)),$(abspath $(WHEELHOUSE))/npm-cache,$(LOCAL_WHEELHOUSE)/npm-cache)))
$(REVEAL_STAMP): slides/package-lock.json slides/package.json
	npm ci $(NPM_FLAGS) $(if $(NPM_CACHE),--offline --cache "$(abspath $(NPM_CACHE))") --prefix slides
	touch $@

slides: $(SLIDES_STAMP) $(REVEAL_STAMP)
	$(NB_ENV) $(PY) tools/build_slides.py

# Build the slides, then check them: nothing from outside, every slide of every lesson fits the
# 960x700 box in Chromium with the network blocked (screenshots in artifacts/slides-screenshots/),
# the speaker view shows the notes, RISE is installed.
test-slides: slides
	$(RUN_PYTEST) -p no:nbval tests/delivery/test_slides.py

# A class on one host (deploy/jupyterhub/README.md). configurable-http-proxy from npm, then, as
# root, install.sh copies the course read-only to HUB_PREFIX with its own venv (the `hub` extra:
# the hub and the learners' jupyterhub-singleuser share it; stamp HUB_PREFIX/venv/.installed-hub).
HUB_PREFIX ?= /opt/mktme-course
HUB_NPM_STAMP := deploy/jupyterhub/node_modules/.package-lock.json
$(HUB_NPM_STAMP): deploy/jupyterhub/package-lock.json
	npm ci $(NPM_FLAGS) --prefix deploy/jupyterhub
	touch $@

hub-npm: $(HUB_NPM_STAMP)

hub-install: $(HUB_NPM_STAMP)
	NPM_FLAGS="$(NPM_FLAGS)" deploy/jupyterhub/install.sh --prefix "$(HUB_PREFIX)"

# Installs the course into HUB_TEST_PREFIX (root only: outside root the test skips, saying why;
# with CI=true it fails), starts the hub on 127.0.0.1 with three throw-away learners, and checks
# them (tests/delivery/test_hub.py says what).
HUB_TEST_PREFIX ?= /opt/mktme-hub-test
test-hub: $(STAMP) $(HUB_NPM_STAMP)
	NPM_FLAGS="$(NPM_FLAGS)" MKTME_HUB_TEST_PREFIX="$(HUB_TEST_PREFIX)" \
	  $(RUN_PYTEST) -p no:nbval tests/delivery/test_hub.py

bench: $(STAMP)
	@if [ -f benchmarks/run_all.py ]; then $(PY) benchmarks/run_all.py; \
	 else echo "no benchmarks/run_all.py"; fi

# The workshop kit: wheels of every dependency (lab, test, book extras) for the machines learners
# bring, the build tools and the course itself, into ./wheelhouse (git-ignored; MANIFEST.txt there
# gives sizes and times). Hand the folder out; learners run `make lab WHEELHOUSE=/path/to/wheelhouse`.
wheelhouse: | $(PY)
	$(PY) tools/wheelhouse.py "$(or $(WHEELHOUSE),$(LOCAL_WHEELHOUSE))" \
	  --platforms "$(WHEELHOUSE_PLATFORMS)" --pythons "$(WHEELHOUSE_PYTHONS)" --extras "$(WHEELHOUSE_EXTRAS)"

# A wheelhouse for this machine, then a fresh venv installed from it and two lessons run, all inside
# a network namespace with only loopback (needs root: unshare -n).
test-wheelhouse: $(STAMP)
	$(RUN_PYTEST) -p no:nbval tests/delivery/test_wheelhouse.py

check-env: $(STAMP)
	$(PY) tools/check_env.py

clean:
	rm -rf artifacts .pytest_cache .hypothesis benchmarks/results
