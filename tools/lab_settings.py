#!/usr/bin/env python3
"""Turn off JupyterLab's news feed and update check in this environment (`make lab` runs it).

    python tools/lab_settings.py [--prefix PREFIX]    # default: this Python's sys.prefix

JupyterLab 4 asks on first start whether to fetch "official Jupyter news" and, when allowed, calls a
website; in a workshop that is a prompt about the network nobody has. This writes the settings
override ``PREFIX/share/jupyter/lab/settings/overrides.json`` (kept entries of other plugins stay),
after checking every value against the installed JupyterLab's own schema in
``PREFIX/share/jupyter/lab/schemas``: a JupyterLab that renamed a key fails here with the schema's
path, not silently at start.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PLUGIN = "@jupyterlab/apputils-extension:notification"
OVERRIDES = {PLUGIN: {"fetchNews": "false", "checkForUpdates": False}}


def schema_path(prefix: Path, plugin: str) -> Path:
    package, _, name = plugin.partition(":")
    return prefix / "share" / "jupyter" / "lab" / "schemas" / package / f"{name}.json"


def check_against_schema(prefix: Path, overrides: dict) -> None:
    """Raise ValueError unless every override names a key of its plugin's schema with a valid value."""
    import jsonschema

    for plugin, values in overrides.items():
        path = schema_path(prefix, plugin)
        if not path.exists():
            raise ValueError(f"no schema for {plugin} at {path}: is JupyterLab 4 installed in {prefix}?")
        schema = json.loads(path.read_text(encoding="utf-8"))
        props = schema.get("properties", {})
        unknown = sorted(set(values) - set(props))
        if unknown:
            raise ValueError(f"{path} has no setting {unknown}; it has {sorted(props)}")
        try:
            jsonschema.validate(values, {**schema, "required": []})
        except jsonschema.ValidationError as exc:
            raise ValueError(f"{plugin}: {exc.message} (schema {path})") from None


def write(prefix: Path, overrides: dict = OVERRIDES) -> Path:
    check_against_schema(prefix, overrides)
    target = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    current = {}
    if target.exists():
        try:
            current = json.loads(target.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{target} is not JSON ({exc}); fix or delete it") from None
    merged = dict(current)
    for plugin, values in overrides.items():
        merged[plugin] = {**current.get(plugin, {}), **values}
    if merged != current:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefix", type=Path, default=Path(sys.prefix))
    args = ap.parse_args(argv)
    try:
        target = write(args.prefix)
    except ValueError as exc:
        print(f"lab_settings: {exc}", file=sys.stderr)
        return 1
    print(f"JupyterLab news and update check off ({target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
