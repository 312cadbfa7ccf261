"""Write the race explorer's outcome tables as test vectors: tests/vectors/races/<scenario>-<scope>.json.

    python tools/make_race_vectors.py           # show what would change
    python tools/make_race_vectors.py --write   # write the files

The vectors pin lesson 06's outcome tables (every group of interleavings: its count, what
each read returned, what DRAM holds and why it is wrong) so that a change in the engine that
moves any of them fails ``tests/scenarios/test_races.py`` and is looked at, not absorbed. Run
with ``--write`` only after reading the difference and deciding the new outcome is right.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from mktme_lite.machine import KEYTABLE_SCOPES
from mktme_lite.scenarios import races

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "races"


def vector(name: str, scope: str) -> dict:
    scen = races.SCENARIOS[name]
    ex = races.explore(scen, scope)
    return {
        "scenario": name,
        "scope": scope,
        "title": scen.title,
        "source": "computed by mktme_lite.scenarios.races.explore; reviewed against Andy Lutomirski's "
                  "C7 (4 Dec 2018) and Dave Hansen's reply (5 Dec 2018), thread-xpfo-costs.md 1.2-1.3",
        "interleavings": ex.interleavings,
        "safe": ex.safe,
        "groups": sorted([g.count, [list(r) for r in g.reads], [list(d) for d in g.dram], list(g.problems)]
                         for g in ex.groups),
    }


def main(argv: list[str]) -> int:
    write = "--write" in argv
    OUT.mkdir(parents=True, exist_ok=True)
    changed = 0
    for name in races.SCENARIOS:
        for scope in KEYTABLE_SCOPES:
            path = OUT / f"{name}-{scope}.json"
            text = json.dumps(vector(name, scope), indent=1) + "\n"
            if path.exists() and path.read_text() == text:
                continue
            changed += 1
            print(("writing " if write else "would change ") + str(path.relative_to(OUT.parent.parent.parent)))
            if write:
                path.write_text(text)
    print(f"{changed} vector file(s) {'written' if write else 'differ (run with --write to write them)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
