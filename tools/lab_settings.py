#!/usr/bin/env python3
"""The course's JupyterLab set-up in this environment (`make install` and `make lab` run it).

    python tools/lab_settings.py [--prefix PREFIX]    # default: this Python's sys.prefix

It does two things, each idempotent:

1. It turns off JupyterLab's news feed and update check. JupyterLab 4 asks on first start whether to fetch "official Jupyter news" and, when allowed, calls a
website; in a workshop that is a prompt about the network nobody has. This writes the settings
override ``PREFIX/share/jupyter/lab/settings/overrides.json`` (kept entries of other plugins stay),
after checking every value against the installed JupyterLab's own schema in
``PREFIX/share/jupyter/lab/schemas``: a JupyterLab that renamed a key fails here with the schema's
path, not silently at start.

2. It enables the course's Jupyter server extension, ``mktme_lite_lab`` (kernel websockets with
TCP_NODELAY: a widget move the kernel answers no longer waits for Nagle's algorithm and the
browser's delayed ACK; see that module), by writing
``PREFIX/etc/jupyter/jupyter_server_config.d/mktme_lite_lab.json``, where every Jupyter server of
this environment looks (``jupyter server extension list`` shows it). The course is installed in
editable mode, and setuptools' editable installs leave out data files, so the course's package
cannot carry this file itself.
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


#: The server extension this environment enables, and the file that enables it.
SERVER_EXTENSION = "mktme_lite_lab"


def server_config_path(prefix: Path) -> Path:
    return prefix / "etc" / "jupyter" / "jupyter_server_config.d" / f"{SERVER_EXTENSION}.json"


def enable_server_extension(prefix: Path) -> Path:
    """Write the file that enables :data:`SERVER_EXTENSION` for servers of ``prefix``; raise
    ValueError when this Python cannot import the extension (a server would log an error at start)."""
    import importlib.util

    if importlib.util.find_spec(SERVER_EXTENSION) is None:
        raise ValueError(f"cannot import {SERVER_EXTENSION}: install the course first (pip install -e .)")
    target = server_config_path(prefix)
    text = json.dumps({"ServerApp": {"jpserver_extensions": {SERVER_EXTENSION: True}}}, indent=2) + "\n"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefix", type=Path, default=Path(sys.prefix))
    args = ap.parse_args(argv)
    failed = 0
    for step, done in ((write, "JupyterLab news and update check off"),
                       (enable_server_extension, f"server extension {SERVER_EXTENSION} enabled")):
        try:
            target = step(args.prefix)
        except ValueError as exc:
            print(f"lab_settings: {exc}", file=sys.stderr)
            failed = 1
        else:
            print(f"{done} ({target})")
    return failed


if __name__ == "__main__":
    sys.exit(main())
