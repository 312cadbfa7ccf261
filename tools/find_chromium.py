"""Is there a Chromium or Chrome for the browser stage of `make test`?  (tests/browser/lab_driver.py decides.)

    python tools/find_chromium.py     # prints the path, exit 0; none: prints why, exit 1 (CI=true: exit 2)

`make test` runs it once, before the long stages, so a learner without a browser hears it at the
start and the browser stage is skipped; in CI (``CI=true``) a missing browser fails instead.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
from lab_driver import NO_CHROMIUM, find_chromium, in_ci  # noqa: E402


def main() -> int:
    found = find_chromium()
    if found:
        print(found)
        return 0
    if in_ci():
        print(f"error: CI=true and {NO_CHROMIUM}", file=sys.stderr)
        return 2
    print(f"note: {NO_CHROMIUM}. The browser stage of `make test` is skipped.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
