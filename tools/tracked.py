"""Copy the files git tracks in the course to another folder: a fresh clone without the clone.

Tests that run make targets in a copy (the stale-stamp test, the offline wheelhouse test) start from
what a learner's clone holds, never from this checkout's .venv, artifacts or my-work/.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def copy_tracked(dest: Path, root: Path = ROOT) -> list[str]:
    """Copy every tracked file of ``root`` (as ``git ls-files`` lists it) under ``dest``; return the names."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    names = [n for n in listing.decode().split("\0") if n and (root / n).is_file()]
    for name in names:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, dest / name)
    return names
