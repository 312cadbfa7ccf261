"""The shape of mktme_lite.viz: every name the lessons, tests and widgets use is still exported,
and the pictures import nothing above them (no widgets, checks, quiz or lesson helpers).

tests/test_layers.py puts viz and widgets in one layer; this file draws the finer line the
pictures keep: a figure can be drawn and tested without ipywidgets or a lesson in sight."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mktme_lite import viz

VIZ = Path(viz.__file__).resolve().parent
#: What a viz module may import inside mktme_lite: the base layer, the hardware, style, itself.
ALLOWED = {"errors", "params", "dump", "course", "style", "viz",
           "xts", "address", "keytable", "memory", "cache", "machine"}

#: Every name used as viz.X or imported from mktme_lite.viz by notebooks, solutions, tests and modules.
USED = ["LessonFigure", "HTMLCard", "is_static", "figure_png", "show", "to_bundle", "bytes_figure",
        "line_changes", "memory_map", "alias_map", "trace_timeline", "claim_matrix", "tme_boundary", "card",
        "hexdump", "printable", "describe_bytes", "differing_blocks", "changed_lines", "BLOCK", "LINE"]


@pytest.mark.parametrize("name", USED)
def test_every_used_name_is_exported(name):
    assert name in viz.__all__ and hasattr(viz, name), name


def test_all_names_resolve_and_modules_document_themselves():
    for name in viz.__all__:
        assert getattr(viz, name) is not None, name
    for path in sorted(VIZ.glob("*.py")):
        tree = ast.parse(path.read_text())
        doc = ast.get_docstring(tree)
        assert doc and "\n" in doc, f"{path.name}: needs a docstring with a synopsis"
        if path.name != "__init__.py":
            assert any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
                       for n in tree.body), f"{path.name}: needs __all__"


def _mktme_imports(source: str) -> list[str]:
    """The mktme_lite modules a viz module imports (first name below mktme_lite)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                out.append("viz")
            elif node.level == 2:
                out += [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
            elif node.module and node.module.startswith("mktme_lite."):
                out.append(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out += [a.name.split(".")[1] for a in node.names if a.name.startswith("mktme_lite.")]
    return out


@pytest.mark.parametrize("path", sorted(VIZ.glob("*.py")), ids=lambda p: p.name)
def test_pictures_never_import_widgets_checks_or_lessons(path):
    bad = set(_mktme_imports(path.read_text())) - ALLOWED
    assert not bad, f"viz/{path.name} imports {sorted(bad)}: pictures may use only {sorted(ALLOWED)}"


def test_the_import_check_can_fail():
    for line in ("from ..widgets import slider", "from .. import lesson", "import mktme_lite.checks_l01",
                 "from mktme_lite.quiz import Quiz"):
        assert set(_mktme_imports(line)) - ALLOWED, line
    assert not set(_mktme_imports("from ..dump import hexdump\nfrom .figure import show")) - ALLOWED
