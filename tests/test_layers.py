"""The engine is layered: hardware -> kernel -> scenarios -> pictures/widgets -> lesson helpers.

A module may import from its own layer or below, never from above, so that the hardware model
can be read (and trusted) without knowing anything about the lessons built on it.
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "mktme_lite"

LAYERS = {
    "base": 0,
    "hardware": 1,
    "kernel": 2,
    "scenarios": 3,
    "pictures": 4,
    "lessons": 5,
}
#: What every layer may use: the error family, the argument checks, bytes as text, the course list.
BASE = {"errors", "params", "dump", "course"}
HARDWARE = {"xts", "address", "keytable", "memory", "cache", "machine"}
SCENARIOS = {"races", "costs", "scenarios"}
PICTURES = {"viz", "style", "widgets"}
LESSONS = {"checks", "quiz", "lesson"}


def layer_of(module: str) -> int:
    """Layer of a dotted module name inside mktme_lite (e.g. 'mktme_lite.kernel.swap')."""
    parts = module.split(".")
    assert parts[0] == "mktme_lite"
    if len(parts) == 1:
        return LAYERS["lessons"]  # the package root may re-export anything
    head = parts[1]
    if head in BASE:
        return LAYERS["base"]
    if head in HARDWARE:
        return LAYERS["hardware"]
    if head == "kernel":
        return LAYERS["kernel"]
    if head in SCENARIOS:
        return LAYERS["scenarios"]
    if head in PICTURES:
        return LAYERS["pictures"]
    if head in LESSONS or head.startswith("checks"):
        return LAYERS["lessons"]
    raise AssertionError(f"module {module} is not assigned to a layer; add it to tests/test_layers.py")


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("mktme_lite")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
                if node.module is None:
                    out += [f"{target}.{a.name}" for a in node.names]
                else:
                    out.append(target)
            elif node.module and node.module.startswith("mktme_lite"):
                out.append(node.module)
    return out


MODULES = sorted(p for p in PKG.rglob("*.py") if p.name != "__init__.py" or p.parent != PKG)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_imports_a_higher_layer(path):
    module = module_name(path)
    mine = layer_of(module)
    for imported in imports_of(path, module):
        if imported == "mktme_lite":
            continue
        assert layer_of(imported) <= mine, f"{module} (layer {mine}) imports {imported} (layer {layer_of(imported)})"


def test_layer_checker_catches_an_upward_import(tmp_path):
    fake = PKG / "machine.py"
    src = fake.read_text() + "\nfrom .viz import something\n"
    p = tmp_path / "machine.py"
    p.write_text(src)
    found = imports_of(p, "mktme_lite.machine")
    assert any(layer_of(i) > layer_of("mktme_lite.machine") for i in found)
