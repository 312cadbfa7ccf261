"""The workshop kit works offline: a wheelhouse installs the course with no network and the lessons run.

`make test-wheelhouse`. Online, it builds a wheelhouse for this machine only (tools/wheelhouse.py
--platforms host, extras lab, test, book and slides, and the npm-cache for reveal.js) into
artifacts/wheelhouse-host/. Then, inside a network
namespace with only loopback (`unshare -n`; needs root, which CI has), it
  1. proves the network is gone: a connection to the package index fails, and so does a
     `pip download` that may use the index (pip's configuration ignored, so no local mirror helps);
  2. runs the learner's command in a fresh copy of the course, `make install WHEELHOUSE=dir`
     (a fresh .venv, `pip install --no-index --find-links dir -e .[lab,test]`, so the wheelhouse must
     hold setuptools and wheel for the build backend too), with pip's configuration ignored;
  3. imports every mktme_lite module and installs the course's own wheel from the wheelhouse;
  4. runs the README's commands for learners without make (Windows, conda) in a Linux shell;
  5. executes lessons 00 and 01 with nbclient (MKTME_STATIC=1) in that environment's kernel;
  6. `make lab WHEELHOUSE=dir`: JupyterLab answers on 127.0.0.1 and the news prompt is off;
  7. `make book WHEELHOUSE=dir` and `make slides WHEELHOUSE=dir` build every page and every lesson's
     slides (the book and slides extras from the wheelhouse, reveal.js by `npm ci --offline`). What
     they write is checked for outside URLs and in Chromium by test_book.py and test_slides.py.
Times go to artifacts/wheelhouse-test.txt and the terminal. Outside root the test skips and says
why; with CI=true it fails instead.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tracked import copy_tracked

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
WHEELHOUSE = ARTIFACTS / "wheelhouse-host"
LESSONS = ["notebooks/00_start_here.ipynb", "notebooks/01_tme_basics.ipynb"]
IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def namespace_problem() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare and ip (util-linux, iproute2) for a network namespace"
    if os.geteuid() != 0:
        return "needs root for `unshare -n` (a network namespace with only loopback); CI runs as root"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`unshare -n` is not allowed here: {probe.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def offline_ok():
    why = namespace_problem()
    if why:
        if IN_CI:
            pytest.fail(f"CI=true: {why}")
        pytest.skip(why)


def offline_env(tmp: Path) -> dict[str, str]:
    """The environment inside the namespace: pip's configuration files and PIP_* variables ignored."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "MAKE", "MFLAGS", "VIRTUAL_ENV", "PYTHON"))}
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(PIP_CONFIG_FILE=os.devnull, HOME=str(tmp / "home"), PIP_NO_CACHE_DIR="1",
               MKTME_STATIC="1", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    return env


OFFLINE_SCRIPT = r"""
set -u
ip link set lo up
cd "$COURSE"
step() { echo "== $1"; date +%s.%N > "$TIMES/$2.start"; }
done_() { date +%s.%N > "$TIMES/$1.end"; }

step "offline: a connection to the package index must fail" network
if "$HOSTPY" -c 'import socket; socket.create_connection(("pypi.org", 443), timeout=10)' 2>/dev/null; then
  echo "NETWORK REACHABLE"; exit 3; fi
if "$HOSTPY" -m pip download --isolated --no-deps --dest "$TMPD/probe" six >/dev/null 2>&1; then
  echo "PIP REACHED AN INDEX"; exit 3; fi
echo "offline: no network, pip without --no-index fails"; done_ network

step "make install WHEELHOUSE=$WHEELHOUSE (fresh .venv, no index)" install
make --no-print-directory install PYTHON="$HOSTPY" WHEELHOUSE="$WHEELHOUSE" || exit 4
done_ install

step "every mktme_lite module imports; the course wheel installs from the wheelhouse" imports
.venv/bin/python -c '
import importlib, pkgutil, mktme_lite
names = [m.name for m in pkgutil.walk_packages(mktme_lite.__path__, "mktme_lite.")]
for n in names: importlib.import_module(n)
print(len(names) + 1, "modules import from", mktme_lite.__file__)' || exit 5
.venv/bin/python -m pip install --no-index --find-links "$WHEELHOUSE" --no-deps --target "$TMPD/wheel" mktme-lite \
  >/dev/null || exit 5
test -f "$TMPD/wheel/mktme_lite/data/costs.toml" || { echo "course wheel lacks its data"; exit 5; }
done_ imports

step "the README's commands without make (Windows, conda), as a Linux shell runs them" nomake
bash -euc "$NO_MAKE" || exit 7
ls my-work/*.ipynb >/dev/null || { echo "no learner copies in my-work/"; exit 7; }
done_ nomake

step "lessons run offline (nbclient, MKTME_STATIC=1)" lessons
PATH="$COURSE/.venv/bin:$PATH" .venv/bin/python - "$@" <<'EOF' || exit 6
import sys, time, nbformat
from nbclient import NotebookClient
for path in sys.argv[1:]:
    start = time.monotonic()
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": "notebooks"}}).execute()
    print(f"{path}: {len(nb.cells)} cells ran in {time.monotonic() - start:.0f} s")
EOF
done_ lessons

step "make lab WHEELHOUSE=... starts JupyterLab offline (news prompt off)" lab
setsid make --no-print-directory lab WHEELHOUSE="$WHEELHOUSE" \
  LAB_ARGS="--no-browser --port=$LAB_PORT --ServerApp.token=$LAB_TOKEN" > "$TMPD/lab.log" 2>&1 &
LAB=$!
up=
for i in $(seq 1 180); do
  if "$HOSTPY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$LAB_PORT/api/status?token=$LAB_TOKEN', timeout=2)" 2>/dev/null; then
    up=1; break; fi
  kill -0 $LAB 2>/dev/null || break
  sleep 1
done
kill -TERM -- -$LAB 2>/dev/null; sleep 2; kill -KILL -- -$LAB 2>/dev/null
cat "$TMPD/lab.log"
[ -n "$up" ] || { echo "JupyterLab did not answer on 127.0.0.1:$LAB_PORT"; exit 8; }
grep -rq '"fetchNews"' .venv/share/jupyter/lab/settings/overrides.json || { echo "news prompt not turned off"; exit 8; }
echo "make lab: JupyterLab answered offline"
done_ lab

step "make book WHEELHOUSE=... offline" book
make --no-print-directory book WHEELHOUSE="$WHEELHOUSE" > "$TMPD/book.log" 2>&1 || { tail -40 "$TMPD/book.log"; exit 9; }
test -f artifacts/book/index.html || { echo "no artifacts/book/index.html"; exit 9; }
echo "make book: $(find artifacts/book -name '*.html' | wc -l) pages"
done_ book

step "make slides WHEELHOUSE=... offline (reveal.js from the wheelhouse's npm-cache)" slides
make --no-print-directory slides WHEELHOUSE="$WHEELHOUSE" > "$TMPD/slides.log" 2>&1 || { tail -40 "$TMPD/slides.log"; exit 10; }
test -f slides/node_modules/reveal.js/dist/reveal.js || { echo "reveal.js not installed"; exit 10; }
echo "make slides: $(ls artifacts/slides/*.slides.html | wc -l) lessons"
done_ slides
"""


def no_make_commands(readme: str) -> list[str]:
    """The README's commands for a learner without make, as this test runs them in a Linux shell.

    Each line of the block between <!-- no-make:start --> and <!-- no-make:end --> must be one this
    knows; the Windows activate becomes the Linux one, pip installs from the wheelhouse (the form the
    README's comment gives), and `jupyter lab <notebook>` becomes `jupyter lab --version` plus a check
    that the notebook exists (the test does not start a server)."""
    block = readme.split("<!-- no-make:start -->", 1)[1].split("<!-- no-make:end -->", 1)[0]
    lines = [ln.split("#", 1)[0].strip() for ln in block.splitlines()]
    out = []
    for line in filter(None, lines):
        if line.startswith("```"):
            continue
        if line == "python -m venv .venv":
            out.append('"$HOSTPY" -m venv .venv')
        elif line == r".venv\Scripts\activate":
            out.append("source .venv/bin/activate")
        elif line == 'pip install -e ".[lab]"':
            out.append('pip install --no-index --find-links "$WHEELHOUSE" -e ".[lab]" >/dev/null')
        elif line.startswith("python tools/"):
            out.append(line)
        elif line.startswith("jupyter lab "):
            out += ["jupyter lab --version", f"test -f {line.split()[-1]}"]
        else:
            raise AssertionError(f"README's no-make block has a line this test does not know: {line!r}")
    return out


def test_the_readme_no_make_block_is_what_the_offline_test_runs():
    cmds = no_make_commands((ROOT / "README.md").read_text())
    assert cmds[:3] == ['"$HOSTPY" -m venv .venv', "source .venv/bin/activate",
                        'pip install --no-index --find-links "$WHEELHOUSE" -e ".[lab]" >/dev/null']
    assert "python tools/make_exercises.py --learner-copies" in cmds
    assert "python tools/lab_settings.py" in cmds and "jupyter lab --version" in cmds
    with pytest.raises(AssertionError, match="does not know"):
        no_make_commands("<!-- no-make:start -->\nconda install foo\n<!-- no-make:end -->")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seconds(times: Path, name: str) -> float:
    return float((times / f"{name}.end").read_text()) - float((times / f"{name}.start").read_text())


def test_the_course_installs_from_a_wheelhouse_and_runs_offline(offline_ok, tmp_path):
    report = []
    start = time.monotonic()
    build = subprocess.run([sys.executable, str(ROOT / "tools" / "wheelhouse.py"), str(WHEELHOUSE),
                            "--platforms", "host", "--extras", "lab,test,book,slides", "--npm"],
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    manifest = (WHEELHOUSE / "MANIFEST.txt").read_text()
    report.append(f"wheelhouse for this machine built in {time.monotonic() - start:.0f} s: "
                  + manifest.splitlines()[-1])
    for needed in ("setuptools-", "wheel-", "pip-", "mktme_lite-", "jupyter_book-", "nbconvert-"):
        assert any(p.name.startswith(needed) for p in WHEELHOUSE.glob("*.whl")), f"no {needed}* wheel"
    assert (WHEELHOUSE / "npm-cache").is_dir(), "no npm-cache for reveal.js: " + manifest

    course, times = tmp_path / "course", tmp_path / "times"
    copy_tracked(course)
    times.mkdir()
    (tmp_path / "home").mkdir()
    env = offline_env(tmp_path)
    env.update(COURSE=str(course), TIMES=str(times), TMPD=str(tmp_path), WHEELHOUSE=str(WHEELHOUSE),
               HOSTPY=getattr(sys, "_base_executable", sys.executable),
               LAB_PORT=str(free_port()), LAB_TOKEN="wheelhouse-test",
               NO_MAKE="\n".join(no_make_commands((ROOT / "README.md").read_text())))
    proc = subprocess.run(["unshare", "-n", "bash", "-c", textwrap.dedent(OFFLINE_SCRIPT), "offline", *LESSONS],
                          env=env, capture_output=True, text=True, timeout=3600)
    out = proc.stdout + proc.stderr
    assert "NETWORK REACHABLE" not in out and "PIP REACHED AN INDEX" not in out, out[-3000:]
    assert proc.returncode == 0, out[-6000:]
    assert "offline: no network, pip without --no-index fails" in out
    assert "Looking in indexes" not in out, "pip used an index"
    for lesson in LESSONS:
        assert f"{lesson}: " in out and " cells ran in " in out
    for said in ("make lab: JupyterLab answered offline", "make book: ", "make slides: 9 lessons"):
        assert said in out, said + " missing:\n" + out[-3000:]
    report += [f"offline install (make install WHEELHOUSE=..., fresh .venv): {seconds(times, 'install'):.0f} s",
               f"imports and the course wheel: {seconds(times, 'imports'):.0f} s",
               f"the README's no-make commands (pip install -e again, learner copies, lab settings): "
               f"{seconds(times, 'nomake'):.0f} s",
               f"lessons 00 and 01 executed offline: {seconds(times, 'lessons'):.0f} s",
               f"make lab up offline: {seconds(times, 'lab'):.0f} s",
               f"make book offline (installs the book extra, builds every page): {seconds(times, 'book'):.0f} s",
               f"make slides offline (slides extra, reveal.js from npm-cache, 9 lessons): "
               f"{seconds(times, 'slides'):.0f} s"]
    report += [line for line in out.splitlines() if line.startswith(("make book: ", "make slides: "))]
    report += [line for line in out.splitlines() if " cells ran in " in line or "modules import" in line]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "wheelhouse-test.txt").write_text("\n".join(report) + "\n")
    print("\n" + "\n".join(report))


def test_the_namespace_probe_says_why_it_cannot_run(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "needs root" in (namespace_problem() or "")
