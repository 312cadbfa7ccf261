#!/usr/bin/env python3
"""Does every package the course resolves to admit the oldest Python the course claims?

    python tools/check_requires_python.py                 # the packages installed in this environment
    python tools/check_requires_python.py --wheelhouse DIR   # every wheel in a wheelhouse

The oldest Python is the lower bound of pyproject.toml's requires-python (``>=3.11`` means 3.11.0).
A package whose Requires-Python excludes it (soupsieve 3.0.2 and later need >=3.11.5; Debian 12 has
3.11.2) is fine only when pyproject.toml bounds it for those Pythons with an environment marker, e.g.
``soupsieve>=2.5,<3.0.2; python_full_version < '3.11.5'``; otherwise this says what to bound (or to
raise requires-python honestly) and exits 1. With --wheelhouse, every distribution in the folder must
have at least one wheel that admits the oldest Python. Exit 0 when all is well.
"""
from __future__ import annotations

import argparse
import sys
import tomllib
import zipfile
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def lowest_python(requires_python: str) -> Version:
    """The oldest release that requires-python admits: the largest `>=`/`>` bound, or 3.0.0."""
    lows = [Version(s.version) for s in SpecifierSet(requires_python) if s.operator in (">=", "~=", "==")]
    low = max(lows, default=Version("3.0"))
    return Version(".".join(str(p) for p in (low.release + (0, 0))[:3]))


def installed() -> list[tuple[str, str, str]]:
    return sorted({(canonicalize_name(d.metadata["Name"]), d.version, d.metadata.get("Requires-Python") or "")
                   for d in metadata.distributions()})


def in_wheelhouse(folder: Path) -> list[tuple[str, str, str]]:
    found = []
    for wheel in sorted(folder.glob("*.whl")):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        with zipfile.ZipFile(wheel) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            headers = HeaderParser().parsestr(zf.read(meta).decode("utf-8", "replace"))
        found.append((canonicalize_name(name), str(version), headers.get("Requires-Python") or ""))
    return found


def guards(pyproject: dict, python: Version) -> dict[str, SpecifierSet]:
    """pyproject.toml's marker-bound requirements that apply at ``python``: {name: specifier}."""
    project = pyproject["project"]
    texts = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        texts += extra
    env = {"python_full_version": str(python), "python_version": f"{python.major}.{python.minor}"}
    out: dict[str, SpecifierSet] = {}
    for text in texts:
        req = Requirement(text)
        if req.marker and req.marker.evaluate(env):
            out[canonicalize_name(req.name)] = req.specifier
    return out


def admits(requires_python: str, python: Version) -> bool:
    try:
        return not requires_python or python in SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True  # an unreadable Requires-Python is pip's problem, not a bound to add


def problems_installed(dists, pyproject: dict) -> list[str]:
    low = lowest_python(pyproject["project"]["requires-python"])
    bounded = guards(pyproject, low)
    out = []
    for name, version, rp in dists:
        if admits(rp, low):
            continue
        if name in bounded and Version(version) not in bounded[name]:
            continue  # pyproject.toml keeps this release away from the old Pythons
        out.append(f"{name} {version} requires Python {rp}, which excludes {low} (the oldest "
                   f"pyproject.toml's requires-python admits): add a bound such as "
                   f"\"{name}<{version}; python_full_version < '<its lower bound>'\" "
                   f"(find the first release that needs it), or raise requires-python")
    return out


def problems_wheelhouse(dists, pyproject: dict) -> list[str]:
    low = lowest_python(pyproject["project"]["requires-python"])
    by_name: dict[str, list[tuple[str, str]]] = {}
    for name, version, rp in dists:
        by_name.setdefault(name, []).append((version, rp))
    return [f"{name}: no wheel admits Python {low} ({', '.join(f'{v} needs {rp}' for v, rp in files)}); "
            f"build the wheelhouse with --pythons including {low.major}.{low.minor}, or bound {name}"
            for name, files in sorted(by_name.items()) if not any(admits(rp, low) for _, rp in files)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheelhouse", type=Path, help="check the wheels in this folder instead")
    ap.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    args = ap.parse_args(argv)
    pyproject = tomllib.loads(args.pyproject.read_text(encoding="utf-8"))
    low = lowest_python(pyproject["project"]["requires-python"])
    if args.wheelhouse:
        if not args.wheelhouse.is_dir() or not any(args.wheelhouse.glob("*.whl")):
            print(f"check_requires_python: {args.wheelhouse} is not a folder of wheels "
                  "(make wheelhouse writes one)", file=sys.stderr)
            return 2
        dists = in_wheelhouse(args.wheelhouse)
        problems = problems_wheelhouse(dists, pyproject)
    else:
        dists = installed()
        problems = problems_installed(dists, pyproject)
    for p in problems:
        print(f"  FAIL  {p}")
    print(f"{len(dists)} {'wheels' if args.wheelhouse else 'installed packages'} checked against Python {low}: "
          + ("all admit it or are bounded" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
