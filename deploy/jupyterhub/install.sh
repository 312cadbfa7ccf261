#!/usr/bin/env bash
# Install the course read-only for every user of this host, with its own venv holding JupyterLab,
# the course and JupyterHub (the `hub` extra of pyproject.toml), plus configurable-http-proxy
# from npm. Run as root from the course's clone (or an unpacked copy):
#
#     sudo deploy/jupyterhub/install.sh [--prefix /opt/mktme-course]
#
# The clone may live where others cannot read (CI clones under /root): everything the hub and the
# learners' servers use is COPIED to PREFIX (default /opt/mktme-course), owned by root, readable
# by all, writable by none. Re-running it updates the copy; the venv is reinstalled only when
# pyproject.toml changed (stamp PREFIX/venv/.installed-hub). Learners' homes are never touched.
# PIP_INSTALL_ARGS (e.g. "--no-index --find-links DIR") and NPM_FLAGS are passed through.
set -euo pipefail

usage() { echo "usage: $0 [--prefix DIR]   (DIR: an absolute path, default /opt/mktme-course)" >&2; exit 2; }
PREFIX=/opt/mktme-course
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; PREFIX="$2"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$PREFIX" in
  /*) ;;
  *) echo "install.sh: --prefix must be an absolute path, got '$PREFIX'" >&2; usage ;;
esac
case "$PREFIX" in
  /|/usr|/opt|/srv|/home|/root|/tmp|/etc|/var) echo "install.sh: refusing --prefix $PREFIX: give a folder of its own, e.g. /opt/mktme-course" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "install.sh: must run as root (it installs under $PREFIX for all users, owned by root)" >&2
  exit 1
fi

SRC="$(cd "$(dirname "$0")/../.." && pwd)"
NPM_FLAGS="${NPM_FLAGS:---no-audit --no-fund}"
[ -f "$SRC/lessons.toml" ] && [ -f "$SRC/pyproject.toml" ] || {
  echo "install.sh: $SRC is not the course (no lessons.toml / pyproject.toml)" >&2; exit 1; }
umask 022

# The learners' servers run this venv's python, so the interpreter it links to must be readable by
# every user: a Python under /root (pyenv, as on CI) is not. PYTHON=/path picks one; by default
# the first of /usr/bin/python3 and `python3` that user nobody can run, if it is 3.11 or later.
runs_for_all() { runuser -u nobody -- "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
if [ -n "${PYTHON:-}" ]; then
  runs_for_all "$PYTHON" || { echo "install.sh: PYTHON=$PYTHON is not a Python >= 3.11 with venv that every user can run (tried as user nobody); give one outside /root, e.g. /usr/bin/python3" >&2; exit 1; }
else
  for cand in /usr/bin/python3 "$(command -v python3 || true)"; do
    if [ -n "$cand" ] && runs_for_all "$cand"; then PYTHON="$cand"; break; fi
  done
  [ -n "${PYTHON:-}" ] || { echo "install.sh: found no Python >= 3.11 (with venv) that every user can run; install one (Debian: apt-get install python3 python3-venv) or give PYTHON=/path" >&2; exit 1; }
fi

# 1. configurable-http-proxy, from the committed package-lock.json (the Makefile's hub-npm does the same)
if [ ! -x "$SRC/deploy/jupyterhub/node_modules/.bin/configurable-http-proxy" ]; then
  command -v npm >/dev/null || { echo "install.sh: needs npm (Debian: apt-get install npm) for configurable-http-proxy" >&2; exit 1; }
  # shellcheck disable=SC2086
  npm ci $NPM_FLAGS --prefix "$SRC/deploy/jupyterhub"
fi

# 2. the course, copied (never the learners' my-work/, never a venv or build debris)
mkdir -p "$PREFIX"
COURSE_ITEMS=(mktme_lite mktme_lite_lab tools/lab_settings.py notebooks solutions exercises quizzes lessons.toml glossary.toml GLOSSARY.md
              README.md pyproject.toml deploy/jupyterhub)
for item in "${COURSE_ITEMS[@]}"; do
  [ -e "$SRC/$item" ] || { echo "install.sh: $SRC/$item is missing" >&2; exit 1; }
done
staging="$(mktemp -d "$PREFIX/.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
tar -C "$SRC" --exclude=__pycache__ --exclude=.ipynb_checkpoints --exclude='*.egg-info' \
    -cf - "${COURSE_ITEMS[@]}" | tar -C "$staging" -xf -
for item in "${COURSE_ITEMS[@]}"; do
  mkdir -p "$PREFIX/$(dirname "$item")"
  rm -rf "${PREFIX:?}/$item"
  mv "$staging/$item" "$PREFIX/$item"
done

# 3. the venv: the course (editable from PREFIX, so lessons.toml and quizzes/ are found there), lab, hub
VENV="$PREFIX/venv"
STAMP="$VENV/.installed-hub"
want="$(sha256sum "$PREFIX/pyproject.toml" | cut -d' ' -f1) $PYTHON"
if [ -d "$VENV" ] && [ "$(cat "$STAMP" 2>/dev/null | cut -d' ' -f2-)" != "$PYTHON" ]; then
  rm -rf "$VENV"                 # made with another interpreter (or half made): start again
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q ${PIP_INSTALL_ARGS:-} -e "$PREFIX[lab,hub]"
  echo "$want" > "$STAMP"
else
  # the course code changed, its dependencies did not: refresh the editable install only
  "$VENV/bin/python" -m pip install -q --no-deps ${PIP_INSTALL_ARGS:-} -e "$PREFIX" >/dev/null
fi
# The course's lab set-up in the deployed venv: no news prompt, and the mktme_lite_lab server extension
# that the learners' single-user servers load (tools/lab_settings.py).
"$VENV/bin/python" "$PREFIX/tools/lab_settings.py" >/dev/null
# Learners cannot write __pycache__ here: compile once, as root.
"$VENV/bin/python" -m compileall -q "$PREFIX/mktme_lite" "$PREFIX/mktme_lite_lab" "$PREFIX/deploy/jupyterhub" >/dev/null

# 4. the lessons learners copy must start clean (a clone's lessons may carry outputs from `make lab`)
"$VENV/bin/python" - "$PREFIX" <<'EOF'
import sys
from pathlib import Path
import nbformat
root = Path(sys.argv[1])
for folder in ("notebooks", "exercises"):
    for path in sorted((root / folder).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        dirty = False
        for cell in nb.cells:
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count):
                cell.outputs, cell.execution_count, dirty = [], None, True
        if dirty:
            nbformat.write(nb, path)
EOF

# 5. read-only for all: root owns it, nobody else writes it
chown -R root:root "$PREFIX"
chmod -R u+rwX,go+rX,go-w "$PREFIX"
chmod 0755 "$PREFIX/deploy/jupyterhub/tools/"*.sh "$PREFIX/deploy/jupyterhub/"*.sh 2>/dev/null || true
runuser -u nobody -- "$VENV/bin/python" -c 'import mktme_lite, jupyterlab, jupyterhub, jupyterhub_idle_culler' || {
  echo "install.sh: the venv in $VENV does not work for other users (tried as user nobody)" >&2; exit 1; }
echo "install.sh: the course is installed in $PREFIX (venv: $VENV, JupyterHub $("$VENV/bin/jupyterhub" --version))"
