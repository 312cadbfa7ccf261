#!/usr/bin/env python3
"""Run pytest and treat "no tests collected" (exit code 5) as a failure.

pytest exits with 5 when nothing was collected. For this course that always means a
mistake (a wrong path, a notebook folder that vanished, a plugin that did not load), so
the Makefile runs every pytest invocation through this wrapper:

    python tools/run_pytest.py [pytest arguments ...]

The wrapper's exit code is pytest's, except that 5 becomes 1.
"""
from __future__ import annotations

import subprocess
import sys

NO_TESTS_COLLECTED = 5


def main(argv: list[str]) -> int:
    rc = subprocess.call([sys.executable, "-m", "pytest", *argv])
    if rc == NO_TESTS_COLLECTED:
        print(f"run_pytest: pytest collected no tests for {argv!r}; treating that as a failure",
              file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
