#!/usr/bin/env python3
"""Download every wheel the course needs, for the machines learners bring, into one folder.

    python tools/wheelhouse.py DIR [--platforms "linux-x86_64 macos-arm64 ..."] [--pythons "3.11 3.12"]
                                   [--extras lab,test,book]
    make wheelhouse [WHEELHOUSE_PLATFORMS="..."] [WHEELHOUSE_PYTHONS="..."]   # writes wheelhouse/

For each platform and Python it runs ``pip download --only-binary=:all: --platform ...
--python-version ... --implementation cp`` for the course's dependencies and extras, then adds the
course itself as a wheel and the build tools ``pip install -e .`` needs (setuptools, wheel) and pip.
A learner then installs with no index at all: ``make lab WHEELHOUSE=DIR`` (the Makefile runs
``pip install --no-index --find-links DIR``). The platform ``host`` means this machine and this Python
(the wheelhouse test uses it). Last, for every platform and Python, ``pip download --no-index
--find-links DIR mktme-lite[extras]`` proves the folder alone resolves the course there.
DIR/MANIFEST.txt lists, per platform, the time pip took and the size
of the wheels that platform needs; the same lines are printed.

``--python-version 3.11`` makes pip pick releases whose Requires-Python admits 3.11.0, the oldest
Python the course claims; a 3.12 run may add newer releases of the same packages for newer Pythons.

With ``--npm`` (the default when npm is on PATH) it also fills ``DIR/npm-cache`` with the npm
packages of ``slides/package-lock.json`` (reveal.js 4), so ``make slides WHEELHOUSE=DIR`` runs
``npm ci --offline --cache DIR/npm-cache``. npm packages are the same on every platform.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Platform names -> the pip --platform tags (best first). pip does not widen manylinux_2_X tags by
#: itself, so every glibc level from 2.28 (Debian 10, Ubuntu 20.04) down to 2014 (2.17) is listed;
#: macOS tags are widened by pip to every older macOS.
PLATFORMS: dict[str, list[str]] = {
    "linux-x86_64": [f"manylinux_2_{n}_x86_64" for n in range(28, 16, -1)]
                    + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"],
    "linux-aarch64": [f"manylinux_2_{n}_aarch64" for n in range(28, 16, -1)] + ["manylinux2014_aarch64"],
    "macos-arm64": ["macosx_11_0_arm64"],
    # macOS 11 (2020) is the floor: greenlet (under playwright, the `test` extra) ships its Intel
    # wheels only as macosx_11_0_universal2, so macosx_10_13_x86_64 did not resolve.
    "macos-x86_64": ["macosx_11_0_x86_64"],
    "windows-amd64": ["win_amd64"],
    "host": [],  # this machine: pip's own tags for the running interpreter
}
DEFAULT_PLATFORMS = ["linux-x86_64", "linux-aarch64", "macos-arm64", "macos-x86_64", "windows-amd64"]
DEFAULT_PYTHONS = ["3.11", "3.12", "3.13"]
DEFAULT_EXTRAS = ["lab", "test", "book", "slides"]
#: What `pip install -e .` needs to build the course with no index (pyproject's build-system), and pip.
BUILD_TOOLS = ["pip", "setuptools>=68", "wheel"]


def requirements(extras: list[str]) -> list[str]:
    """The course's dependencies plus those of ``extras``, as pyproject.toml lists them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    known = project.get("optional-dependencies", {})
    unknown = [e for e in extras if e not in known]
    if unknown:
        raise SystemExit(f"wheelhouse: unknown extra {unknown}; pyproject.toml has {sorted(known)}")
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += known[extra]
    return reqs


def parse_list(text: str, allowed: list[str] | None, what: str) -> list[str]:
    items = text.replace(",", " ").split()
    if not items:
        raise SystemExit(f"wheelhouse: no {what} given")
    if allowed is not None:
        bad = [i for i in items if i not in allowed]
        if bad:
            raise SystemExit(f"wheelhouse: unknown {what} {bad}; allowed: {' '.join(allowed)}")
    return items


def pip_download(dest: Path, reqs: list[str], platform: str, python: str) -> set[str]:
    """Run pip download for one platform and Python; return the file names it needs."""
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(dest)]
    if platform != "host":
        cmd += ["--implementation", "cp", "--python-version", python]
        for tag in PLATFORMS[platform]:
            cmd += ["--platform", tag]
    proc = subprocess.run(cmd + reqs, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"wheelhouse: pip download failed for {platform}, Python {python} "
                         "(a dependency has no wheel for it? see pip's message above)")
    names = set()
    for line in proc.stdout.splitlines():
        m = re.match(r"\s*(?:Saved|File was already downloaded)\s+(\S+)", line)
        if m:
            names.add(Path(m.group(1)).name)
    return names


def verify(dest: Path, platform: str, python: str, extras: str) -> None:
    """Resolve the course with its extras from ``dest`` alone (``--no-index``), as a learner's pip on
    that platform and Python would; raise SystemExit when anything is missing.

    ``pip download`` rather than ``pip install --dry-run --platform``: the latter checks
    Requires-Python against the running interpreter in places, so it refuses a good 3.13 wheelhouse."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-index", "--find-links", str(dest),
           "--dest", str(dest), "--only-binary=:all:"]
    if platform != "host":
        cmd += ["--implementation", "cp", "--python-version", python]
        for tag in PLATFORMS[platform]:
            cmd += ["--platform", tag]
    proc = subprocess.run(cmd + [f"mktme-lite[{extras}]"], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"wheelhouse: the course does not resolve from {dest} alone for {platform}, "
                         f"Python {python} (see pip's message above)")


def build_course_wheel(dest: Path) -> str:
    for old in dest.glob("mktme_lite-*.whl"):
        old.unlink()
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dest),
                           str(ROOT)], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("wheelhouse: could not build the course's own wheel")
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    return next(dest.glob("mktme_lite-*.whl")).name


NPM_LOCKS = [ROOT / "slides"]


def npm_cache(dest: Path) -> str:
    """Fill dest/npm-cache with every package of the slides' lock file; return a MANIFEST line."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm-cache: npm not found, so none written (make slides offline needs it: install npm and rerun)"
    cache = dest / "npm-cache"
    start = time.monotonic()
    for folder in NPM_LOCKS:
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(folder / name, Path(tmp) / name)
            proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts",
                                   "--cache", str(cache), "--prefix", tmp], capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
                raise SystemExit(f"wheelhouse: npm ci for {folder.relative_to(ROOT)} failed (see above)")
    size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) / 2**20
    return (f"npm-cache: {', '.join(str(f.relative_to(ROOT)) for f in NPM_LOCKS)} "
            f"({size:.1f} MiB, npm ci {time.monotonic() - start:.0f} s)")


def mib(names, dest: Path) -> float:
    return sum((dest / n).stat().st_size for n in names if (dest / n).exists()) / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dest", type=Path)
    ap.add_argument("--platforms", default=" ".join(DEFAULT_PLATFORMS),
                    help=f"space-separated, from: {' '.join(PLATFORMS)}")
    ap.add_argument("--pythons", default=" ".join(DEFAULT_PYTHONS), help="e.g. '3.11 3.12 3.13'")
    ap.add_argument("--extras", default=",".join(DEFAULT_EXTRAS), help="extras of pyproject.toml")
    ap.add_argument("--npm", action=argparse.BooleanOptionalAction, default=None,
                    help="fill DIR/npm-cache for offline `make slides` (default: when npm is on PATH)")
    args = ap.parse_args(argv)
    platforms = parse_list(args.platforms, list(PLATFORMS), "platform")
    pythons = parse_list(args.pythons, None, "Python version")
    for p in pythons:
        if not re.fullmatch(r"3\.\d+", p):
            raise SystemExit(f"wheelhouse: Python version {p!r} must look like 3.12")
    reqs = requirements(parse_list(args.extras, None, "extra"))
    dest = args.dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)

    lines = []
    every: set[str] = set()
    for platform in platforms:
        names: set[str] = set()
        start = time.monotonic()
        for python in (pythons if platform != "host" else [f"{sys.version_info[0]}.{sys.version_info[1]}"]):
            names |= pip_download(dest, reqs, platform, python)
            print(f"wheelhouse: {platform} Python {python}: {len(names)} files so far", flush=True)
        took = time.monotonic() - start
        every |= names
        lines.append(f"{platform}: {len(names)} files, {mib(names, dest):.1f} MiB, pip download {took:.0f} s")
        print(lines[-1], flush=True)
    tools = set()
    for python in pythons[:1]:
        tools = pip_download(dest, BUILD_TOOLS, "host", python)
    course = build_course_wheel(dest)
    start = time.monotonic()
    checked = 0
    for platform in platforms:
        for python in (pythons if platform != "host" else [f"{sys.version_info[0]}.{sys.version_info[1]}"]):
            verify(dest, platform, python, args.extras)
            checked += 1
    lines.append(f"verified: the course and its extras resolve with no index for each of {checked} "
                 f"platform/Python pairs ({time.monotonic() - start:.0f} s)")
    print(lines[-1], flush=True)
    if args.npm or (args.npm is None and shutil.which("npm")):
        lines.append(npm_cache(dest))
        print(lines[-1], flush=True)
    every |= tools | {course}
    lines.append(f"build tools and the course: {', '.join(sorted(tools | {course}))}")
    shown = " ".join(pythons) if platforms != ["host"] else sys.version.split()[0]
    lines.append(f"total: {len(every)} files, {mib(every, dest):.1f} MiB "
                 f"(platforms {' '.join(platforms)}; Python {shown}; extras {args.extras})")
    print(lines[-1])
    (dest / "MANIFEST.txt").write_text(
        "# written by tools/wheelhouse.py; install with: make lab WHEELHOUSE=<this folder>\n"
        + "\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
