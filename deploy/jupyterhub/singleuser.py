"""Start a learner's server: fill their own course folder, then exec ``jupyterhub-singleuser``.

The hub (jupyterhub_config.py) runs this as the learner (LocalProcessSpawner has already switched
to their uid and home), with the course's venv python. In ``~/mktme-hands-on/`` it copies every
lesson (``notebooks/``) and every exercise (``my-work/``) the learner does not have yet, and
never overwrites one they have: their outputs and answers survive restarts, the idle culler and
course updates (a new lesson appears on the next start). The rest of the course is linked,
read-only, from the installed copy (``solutions/``, ``exercises/``, ``quizzes/``, the glossary).
Everything it creates is private to the learner (umask 077).

    python singleuser.py [jupyterhub-singleuser arguments...]
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

PREFIX = Path(__file__).resolve().parent.parent.parent
FOLDER = "mktme-hands-on"
#: own, writable copies: folder in the learner's course folder <- folder of the installed course
COPIES = {"notebooks": "notebooks", "my-work": "exercises"}
#: read-only links into the installed course
LINKS = ("solutions", "exercises", "quizzes", "GLOSSARY.md", "README.md", "lessons.toml",
         "glossary.toml")


def fill(home: Path, prefix: Path = PREFIX) -> list[Path]:
    """Copy what ``home/mktme-hands-on`` lacks; return the files copied. Never overwrites."""
    course = home / FOLDER
    course.mkdir(mode=0o700, exist_ok=True)
    copied = []
    for mine, source in COPIES.items():
        target = course / mine
        target.mkdir(mode=0o700, exist_ok=True)
        for nb in sorted((prefix / source).glob("*.ipynb")):
            dest = target / nb.name
            if dest.exists() or dest.is_symlink():
                continue
            shutil.copyfile(nb, dest)       # content only: the learner owns the copy
            copied.append(dest)
    for name in LINKS:
        link = course / name
        if not (link.exists() or link.is_symlink()) and (prefix / name).exists():
            link.symlink_to(prefix / name)
    return copied


def main(argv: list[str]) -> None:
    if os.getuid() == 0:
        raise SystemExit("singleuser.py: refusing to run as root; the hub starts it as the learner "
                         "(LocalProcessSpawner)")
    os.umask(0o077)
    home = Path(os.environ.get("HOME") or os.path.expanduser("~"))
    copied = fill(home)
    if copied:
        print(f"singleuser.py: copied {len(copied)} notebooks into {home / FOLDER}", file=sys.stderr)
    exe = Path(sys.executable).parent / "jupyterhub-singleuser"
    os.execv(str(exe), [str(exe), *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
