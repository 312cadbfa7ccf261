"""The engine is layered: hardware -> kernel -> scenarios -> pictures/widgets -> lesson helpers.

A module may import from its own layer or below, never from above, so that the hardware model
can be read (and trusted) without knowing anything about the lessons built on it.
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "mktme_lite"

LAYERS = {
    "base": 0,
    "hardware": 1,
    "kernel": 2,
    "scenarios": 3,
    "pictures": 4,
    "lessons": 5,
}
#: What every layer may use: the error family, the argument checks, bytes as text, the course list
#: and its glossary.
BASE = {"errors", "params", "dump", "course", "glossary"}
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


def imports_of(path: Path, module: str, *, runtime_only: bool = False) -> list[str]:
    """The mktme_lite modules (or names in them) that ``path`` imports. ``runtime_only`` leaves out
    imports under ``if TYPE_CHECKING:``, which exist for the type checker only."""
    tree = ast.parse(path.read_text())
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = [ast.Pass()]
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


# ----------------------------------------------------------------------------------------------
# What each layer may hold, beyond the direction of its imports
# ----------------------------------------------------------------------------------------------
DRAWING = ("matplotlib", "ipywidgets", "IPython")


def external_imports(path: Path) -> set[str]:
    """Top-level names of the packages outside mktme_lite that ``path`` imports (anywhere in it)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out - {"mktme_lite"}


SCENARIO_MODULES = sorted((PKG / "scenarios").glob("*.py"))
BASE_AND_HARDWARE = sorted(p for p in PKG.glob("*.py") if p.stem in BASE | HARDWARE)
# The shell machinery (__init__.py, private modules such as _panel.py) is not a lesson's widget module.
WIDGET_MODULES = sorted(p for p in (PKG / "widgets").glob("*.py") if not p.name.startswith("_"))


def test_the_scenarios_layer_holds_the_lessons_experiments():
    stems = {p.stem for p in SCENARIO_MODULES}
    assert {"pages", "tme_basics", "multi_key", "aliasing"} <= stems, stems


@pytest.mark.parametrize("path", SCENARIO_MODULES + BASE_AND_HARDWARE, ids=lambda p: str(p.relative_to(PKG)))
def test_scenarios_and_the_hardware_never_draw(path):
    """A scenario computes; drawing is the widgets' and viz's job. So every outcome a lesson states
    can be computed, tested and benchmarked with no front end installed."""
    drawing = external_imports(path) & set(DRAWING)
    assert not drawing, f"{path.relative_to(PKG)} imports {sorted(drawing)}"


_SHOWN_TYPES = {"LessonFigure", "HTMLCard", "LessonWidget"}


def widget_module_problems(path: Path) -> list[str]:
    """Why ``path`` is not a widget module: it defines classes, calls the kernel or the machine
    directly, or has a public function that returns something other than a picture or a widget."""
    tree = ast.parse(path.read_text())
    module = module_name(path) if path.is_relative_to(PKG) else f"mktme_lite.widgets.{path.stem}"
    problems = []
    for imported in imports_of(path, module):
        head = imported.split(".")[1] if imported.count(".") else ""
        if head in ("kernel", "machine", "memory", "cache"):
            problems.append(f"imports {imported}: experiments belong in mktme_lite/scenarios/")
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            problems.append(f"defines class {node.name}: result types belong in mktme_lite/scenarios/")
        elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            returns = ast.unparse(node.returns) if node.returns else "nothing annotated"
            if returns not in _SHOWN_TYPES:
                problems.append(f"public function {node.name}() returns {returns}; a widget module's public "
                                "functions return a LessonFigure, an HTMLCard or a LessonWidget")
    return problems


#: Widget modules still being cut, with the reason; empty once the layout work has landed.
PENDING: dict[str, str] = {}


@pytest.mark.parametrize("path", WIDGET_MODULES, ids=lambda p: p.name)
def test_widget_modules_hold_only_render_functions_and_shells(path):
    if path.name in PENDING:
        pytest.xfail(PENDING[path.name])
    assert widget_module_problems(path) == []


def test_widget_rule_catches_an_experiment_in_a_widget_module(tmp_path):
    p = tmp_path / "fake.py"
    p.write_text("from dataclasses import dataclass\nfrom ..kernel import Kernel\n\n"
                 "@dataclass(frozen=True)\nclass ProbeResult:\n    dram: bytes\n\n"
                 "def probe(message: bytes) -> ProbeResult:\n    ...\n\n"
                 "def render_probe() -> LessonFigure:\n    ...\n")
    problems = widget_module_problems(p)
    assert len(problems) == 3, problems  # the kernel import, the class, the experiment function


# ----------------------------------------------------------------------------------------------
# No import cycle at run time (imports under ``if TYPE_CHECKING:`` are for the type checker only)
# ----------------------------------------------------------------------------------------------
def runtime_imports(path: Path, module: str) -> set[str]:
    """The mktme_lite modules ``path`` imports when it runs (a name in a package counts as the package)."""
    known = {module_name(p) for p in PKG.rglob("*.py")}
    out = set()
    for name in imports_of(path, module, runtime_only=True):
        while name not in known and "." in name:  # "mktme_lite.widgets.LessonWidget" -> the package
            name = name.rsplit(".", 1)[0]
        if name in known and name != module:
            out.add(name)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_runtime_import_cycle():
    graph = {module_name(p): runtime_imports(p, module_name(p)) for p in PKG.rglob("*.py")}
    graph.pop("mktme_lite", None)  # the package root re-exports; nothing inside imports it by name
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
