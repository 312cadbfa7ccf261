#!/usr/bin/env python3
"""Check that this Python environment can run the course, offline.

Run it once at home before a workshop (inside the course's environment):

    .venv/bin/python tools/check_env.py      # or: make check-env

It imports every package and every mktme_lite module, draws a figure, builds a widget and
renders it to standalone HTML, starts a real Jupyter kernel (runs `1+1` and imports mktme_lite in
it), prints the versions, and ends with "environment OK". It exits 1 and says what failed otherwise.
Two things only warn (`warn` lines; the environment is still OK): no Chromium or Chrome (only
`make test` needs one), and a pending reinstall (pyproject.toml is newer than `make`'s install stamp,
so the next `make` target reinstalls and needs the network or `WHEELHOUSE=dir`).
"""
from __future__ import annotations

import importlib
import io
import os
import pkgutil
import sys
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {  # import name -> distribution shown in the report
    "Crypto": "pycryptodome", "numpy": "numpy", "matplotlib": "matplotlib",
    "ipywidgets": "ipywidgets", "IPython": "ipython", "jupyterlab": "jupyterlab",
    "ipykernel": "ipykernel", "nbformat": "nbformat",
}
MIN_PYTHON = (3, 11)
STAMP = ROOT / ".venv" / ".installed"  # the Makefile's $(STAMP)
KERNEL_CODE = "import sys, mktme_lite\nprint(1+1, mktme_lite.__version__, sys.executable)"


class Warn(Exception):
    """Worth saying, not a failure: the course still runs."""


def step(title, func, failures):
    try:
        detail = func()
        print(f"  ok    {title}" + (f": {detail}" if detail else ""))
    except Warn as exc:
        print(f"  warn  {title}: {exc}")
    except Exception as exc:  # report every failure, then exit 1
        failures.append(title)
        print(f"  FAIL  {title}: {type(exc).__name__}: {exc}")
        if os.environ.get("MKTME_DEBUG"):
            traceback.print_exc()


def check_python():
    if sys.version_info < MIN_PYTHON:
        raise RuntimeError(f"Python {'.'.join(map(str, MIN_PYTHON))}+ needed, "
                           f"this is {sys.version.split()[0]}")
    return f"{sys.version.split()[0]} at {sys.executable}"


def check_packages():
    from importlib.metadata import version

    found = []
    for module, dist in PACKAGES.items():
        importlib.import_module(module)
        found.append(f"{dist} {version(dist)}")
    return ", ".join(found)


def check_course_modules():
    import mktme_lite

    names = ["mktme_lite"]
    for info in pkgutil.walk_packages(mktme_lite.__path__, "mktme_lite."):
        importlib.import_module(info.name)
        names.append(info.name)
    return f"mktme_lite {mktme_lite.__version__}, {len(names)} modules import"


def check_figure():
    os.environ.setdefault("MPLBACKEND", "Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.subplots().bar([0, 1], [1, 2])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    if not buf.getvalue().startswith(b"\x89PNG"):
        raise RuntimeError("matplotlib did not produce a PNG")
    return f"{len(buf.getvalue())} bytes of PNG"


def check_widget():
    import ipywidgets as widgets
    from ipywidgets.embed import embed_minimal_html

    slider = widgets.IntSlider(value=46, min=36, max=52, description="Physical address bits")
    box = widgets.VBox([slider, widgets.Output()])
    box.add_class("mktme-widget")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "widget.html"
        embed_minimal_html(path, views=[box], title="check_env")
        html = path.read_text(encoding="utf-8")
    if "application/vnd.jupyter.widget-state+json" not in html:
        raise RuntimeError("the widget did not render to HTML")
    return f"a slider rendered to {len(html)} bytes of HTML"


def check_kernel():
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if "python3" not in specs:
        raise RuntimeError(f"no python3 Jupyter kernel (found {sorted(specs)})")
    return "python3 kernel available"


def run_in_kernel(code: str, timeout: float = 120) -> str:
    """Start the python3 kernel, run ``code``, return what it printed; raise if it raised."""
    from jupyter_client.manager import start_new_kernel

    log = tempfile.TemporaryFile(mode="w+")  # the kernel's stderr: shown only when it fails
    try:
        km, kc = start_new_kernel(kernel_name="python3", startup_timeout=timeout, stderr=log)
    except Exception as exc:
        log.seek(0)
        raise RuntimeError(f"the python3 kernel did not start ({exc}): {log.read()[-1500:]}") from None
    out: list[str] = []
    errors: list[str] = []

    def hook(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind == "error":
            errors.append(f"{content['ename']}: {content['evalue']}")

    try:
        reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        log.close()
    if errors or reply["content"]["status"] != "ok":
        raise RuntimeError(f"the kernel could not run {code!r}: {'; '.join(errors) or reply['content']}")
    return "".join(out)


def check_kernel_runs():
    printed = run_in_kernel(KERNEL_CODE).split()
    if not printed or printed[0] != "2":
        raise RuntimeError(f"the kernel printed {printed!r}, not 2")
    return f"1+1 = 2 and mktme_lite {printed[1]} imported in a kernel on {printed[2]}"


def check_chromium(environ=None):
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    try:
        from lab_driver import NO_CHROMIUM, find_chromium
    finally:
        sys.path.pop(0)
    found = find_chromium(environ)
    if not found:
        raise Warn(f"{NO_CHROMIUM}; the course runs without it, only `make test` needs one")
    return found


def pending_reinstall(root: Path = ROOT, stamp: Path = STAMP, prefix: str = sys.prefix) -> str | None:
    """Why the next `make` target will reinstall (and need the network or a wheelhouse), or None."""
    if Path(prefix).resolve() != stamp.parent.resolve():
        return None  # not `make`'s .venv (conda, Binder): no stamp to go stale
    if not stamp.exists():
        return f"{stamp} is missing: the next `make` target installs the course"
    if (root / "pyproject.toml").stat().st_mtime > stamp.stat().st_mtime:
        return "pyproject.toml is newer than the install (a `git pull`?)"
    return None


def check_install_stamp():
    why = pending_reinstall()
    if why:
        raise Warn(f"{why}; the reinstall needs the network, or `make install WHEELHOUSE=dir`: "
                   "run it now, while you are online")
    return "no reinstall pending" if Path(sys.prefix).resolve() == STAMP.parent.resolve() else \
        "not make's .venv (no install stamp to check)"


def check_course_files():
    missing = [p for p in ("lessons.toml", "notebooks/00_start_here.ipynb")
               if not (ROOT / p).exists()]
    if missing:
        raise RuntimeError(f"missing {missing}; run this from a checkout of the course")
    return str(ROOT)


def main() -> int:
    failures: list[str] = []
    print("Checking the MKTME, hands-on environment")
    for title, func in [("Python", check_python), ("packages", check_packages),
                        ("course package", check_course_modules), ("figure", check_figure),
                        ("widget", check_widget), ("Jupyter kernel", check_kernel),
                        ("kernel runs code", check_kernel_runs), ("Chromium (make test)", check_chromium),
                        ("install up to date", check_install_stamp), ("course files", check_course_files)]:
        step(title, func, failures)
    if failures:
        print(f"environment NOT OK: {', '.join(failures)} failed "
              "(run `make lab` once with network access; MKTME_DEBUG=1 shows tracebacks)")
        return 1
    print("environment OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
