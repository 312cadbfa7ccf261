"""Every exercise check keeps its promise (docs/CONVENTIONS.md, "Checks").

1. Unit part: every check registered with ``@check`` carries examples; its placeholder
   gives "not attempted", each wrong answer a hint containing the expected words, and the
   correct answer "passed". Nothing raises.
2. Notebook part: every solutions/*.ipynb and exercises/*.ipynb is executed with nbclient
   while MKTME_CHECK_LOG records each check call: in a solution every call passed, in an
   exercise every call is "not attempted", and each notebook made at least one call.
3. Layout part: the checks are a package, ``mktme_lite/checks/`` (machinery and the one
   missing-``return`` rule in ``__init__.py``, one module per lesson stem); every module
   registers checks, exports them in ``__all__``, and imports without ipywidgets or pyplot.

tests/fixtures/fixture_checks.py and fixture_solution.ipynb run through the same machinery,
so it is proven before any lesson has exercises.
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import make_exercises
from mktme_lite import checks
from mktme_lite.checks import passed
from mktme_lite.errors import ParameterError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

sys.path.insert(0, str(FIXTURES))
importlib.import_module("fixture_checks")  # registers the fixture checks
# The course's checks live in mktme_lite.checks, one module per lesson stem; importing a module
# registers its checks, so every module of the package is imported here.
LESSON_MODULES = [info.name for info in pkgutil.iter_modules(checks.__path__, "mktme_lite.checks.")]
for _name in LESSON_MODULES:
    importlib.import_module(_name)

NAMES = sorted(checks.REGISTRY)


def spec(name: str) -> checks.RegisteredCheck:
    return checks.REGISTRY[name]


# --------------------------------------------------------------------------- unit part

def test_fixture_checks_are_registered():
    assert {"fixture_keyid_address", "fixture_double"} <= set(NAMES)


def test_the_lessons_check_modules_are_found():
    stems = {name.rpartition(".")[2] for name in LESSON_MODULES}
    assert {"tme_basics", "multi_key", "aliasing"} <= stems, stems


@pytest.mark.parametrize("module", LESSON_MODULES)
def test_every_lesson_module_registers_checks(module):
    """Each module of mktme_lite.checks holds one lesson's checks, so the discovery above found
    real checks (not only the fixtures) and every lesson's are run below."""
    mine = [c for c in checks.REGISTRY.values() if c.func.__module__ == module]
    assert mine, f"{module} registers no check"


@pytest.mark.parametrize("name", NAMES)
def test_check_has_examples(name):
    ex = spec(name).examples
    assert ex is not None, f"check {name!r} has no examples=(placeholder, wrong, correct)"
    assert ex.wrong, f"check {name!r} needs at least one wrong answer with a hint substring"
    assert callable(ex.correct)


@pytest.mark.parametrize("name", NAMES)
def test_placeholder_is_not_attempted(name):
    result = spec(name).func(spec(name).examples.placeholder)
    assert result.status == "not_attempted", result
    assert repr(result).startswith("Not attempted yet")


@pytest.mark.parametrize("name", NAMES)
def test_wrong_answers_get_a_specific_hint(name):
    for answer, expected in spec(name).examples.wrong:
        result = spec(name).func(answer)
        assert result.status == "hint", f"{name}({answer!r}) gave {result.status}"
        assert expected in result.message, f"{name}({answer!r}): {result.message!r}"


@pytest.mark.parametrize("name", NAMES)
def test_correct_answer_passes(name):
    result = spec(name).func(spec(name).examples.correct())
    assert result.status == "passed", result.message
    assert result.message.startswith("These checks passed")


def test_results_show_their_message():
    result = checks.hint("flush the old alias first")
    assert repr(result) == result._repr_markdown_() == result.message
    assert "flush the old alias first" in result.message
    with pytest.raises(ValueError):
        checks.CheckResult("failed", "no such status")
    assert checks.is_placeholder(...) and checks.is_placeholder(None)
    assert not checks.is_placeholder(0) and not checks.is_placeholder("")


def test_the_missing_return_rule():
    """docs/CONVENTIONS.md, "Exercises": the stub's ``...`` is "not attempted", an edited body's
    None is the one "missing `return`?" hint, naming the function and what it must return."""
    @checks.check("fixture_lost_return", examples=None)
    def check_lost_return(answer):
        got = checks.returned(answer(1), "triple", "`return y`, three times x")
        return passed("ok") if got == 3 else checks.hint("not three")

    try:
        assert check_lost_return(lambda x: ...).status == "not_attempted"
        assert check_lost_return(lambda x: (..., ...)).status == "not_attempted"
        lost = check_lost_return(lambda x: None)
        assert lost.status == "hint"
        assert lost.message == ("Not yet. Hint: triple() returned None: missing `return`? "
                                "It must end with `return y`, three times x.")
        assert check_lost_return(lambda x: (3, ...)).status == "hint"  # half done is a try
        assert check_lost_return(lambda x: 3 * x).passed
    finally:
        del checks.REGISTRY["fixture_lost_return"]
    with pytest.raises(checks.MissingReturn, match=r"f\(\) returned None for bob's page: .* a `return` of"):
        checks.returned(None, "f", case="bob's page")
    for real in (0, "", [], (), (1, ...), False):
        assert checks.returned(real, "f") is real
    assert checks.is_stub_return(...) and checks.is_stub_return((..., ...))
    assert not checks.is_stub_return(()) and not checks.is_stub_return((..., 1))


@pytest.mark.parametrize("bad", [{"fname": ""}, {"fname": 3}, {"fname": "f", "must": ""},
                                 {"fname": "f", "case": 7}])
def test_returned_refuses_bad_arguments(bad):
    with pytest.raises(ParameterError):
        checks.returned(1, **bad)


def test_bad_statuses_and_names_are_parameter_errors():
    with pytest.raises(ParameterError, match="check status"):
        checks.CheckResult("failed", "no such status")
    with pytest.raises(ParameterError, match="check name"):
        checks.check("")
    with pytest.raises(ParameterError, match="two checks"):
        @checks.check("fixture_double")
        def check_other(answer):
            return passed()


@pytest.mark.parametrize("module", LESSON_MODULES)
def test_every_lesson_module_exports_its_checks(module):
    """``__all__`` is the module's synopsis in code: what a lesson imports, and nothing it does not."""
    mod = importlib.import_module(module)
    assert mod.__doc__ and f"from {module} import" in mod.__doc__, "the docstring shows how a lesson imports it"
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert not missing, missing
    registered = {c.func.__name__ for c in checks.REGISTRY.values() if c.func.__module__ == module}
    assert registered <= set(mod.__all__), registered - set(mod.__all__)


FRONT_ENDS = ("ipywidgets", "matplotlib.pyplot")
_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m in {front} or m.startswith("ipywidgets."))))
"""


def front_ends_imported_by(module: str) -> list[str]:
    """The front-end modules that importing ``module`` pulls in, seen by a fresh interpreter (this
    test process has long imported both, so its own sys.modules proves nothing)."""
    probe = _PROBE.format(front=set(FRONT_ENDS))
    out = subprocess.run([sys.executable, "-c", probe, module], capture_output=True, text=True, timeout=120,
                         check=True, env={**os.environ, "MPLBACKEND": "Agg"})
    return json.loads(out.stdout)


@pytest.mark.parametrize("module", ["mktme_lite.checks", *LESSON_MODULES])
def test_importing_checks_needs_no_front_end(module):
    """Checks take their set-up from the scenarios layer, so they run (and are tested) without
    ipywidgets or pyplot, and a check never drags a widget's state into a learner's kernel."""
    assert front_ends_imported_by(module) == []


def test_the_front_end_probe_can_see_an_import():
    """The probe above would notice: a widget module imports ipywidgets."""
    assert "ipywidgets" in front_ends_imported_by("mktme_lite.widgets.aliasing")


@pytest.mark.parametrize("module", LESSON_MODULES)
def test_no_lesson_module_words_the_missing_return_hint_itself(module):
    """The rule lives in mktme_lite.checks alone: a lesson module only calls returned()."""
    source = Path(importlib.import_module(module).__file__).read_text()
    for own in ("returned None", "is Ellipsis"):  # the hint's own words; the stub test
        assert own not in source, f"{module} spells {own!r}; use checks.returned()"


def test_a_check_that_returns_no_verdict_becomes_a_hint():
    @checks.check("fixture_no_verdict")
    def check_no_verdict(answer):
        return True

    try:
        assert check_no_verdict(1).status == "hint"
    finally:
        del checks.REGISTRY["fixture_no_verdict"]


def test_calls_are_logged_when_asked(tmp_path, monkeypatch):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("MKTME_CHECK_LOG", str(log))
    f = spec("fixture_double").func
    f(None), f(lambda x: x), f(lambda x: 2 * x)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [{"check": "fixture_double", "status": s}
                     for s in ("not_attempted", "hint", "passed")]


# --------------------------------------------------------------------------- notebook part

def run_logged(nb: nbformat.NotebookNode, cwd: Path, log: Path, monkeypatch) -> list[dict]:
    """Execute nb (cwd = its folder) and return the check calls it logged."""
    monkeypatch.setenv("MKTME_CHECK_LOG", str(log))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MKTME_STATIC", "1")
    log.write_text("")
    client = NotebookClient(nb, timeout=120, startup_timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def assert_all(calls: list[dict], status: str, what: str) -> None:
    assert calls, f"{what} made no check call"
    wrong = [c for c in calls if c["status"] != status]
    assert not wrong, f"{what}: expected every check to be {status}, got {wrong}"


def course_notebooks(folder: str):
    paths = sorted((ROOT / folder).glob("*.ipynb"))
    if not paths:  # nothing to run yet: one vacuous case instead of a skip
        return [pytest.param(None, id=f"no-{folder}-yet")]
    return [pytest.param(p, id=p.name) for p in paths]


@pytest.mark.parametrize("path", course_notebooks("solutions"))
def test_every_check_passes_in_the_solution(path, tmp_path, monkeypatch):
    if path is None:
        return
    calls = run_logged(nbformat.read(path, as_version=4), path.parent, tmp_path / "log",
                       monkeypatch)
    assert_all(calls, "passed", f"solutions/{path.name}")


@pytest.mark.parametrize("path", course_notebooks("exercises"))
def test_every_check_is_not_attempted_in_the_exercise(path, tmp_path, monkeypatch):
    if path is None:
        return
    calls = run_logged(nbformat.read(path, as_version=4), path.parent, tmp_path / "log",
                       monkeypatch)
    assert_all(calls, "not_attempted", f"exercises/{path.name}")


def test_fixture_solution_passes_and_its_exercise_is_not_attempted(tmp_path, monkeypatch):
    solution = nbformat.read(FIXTURES / "fixture_solution.ipynb", as_version=4)
    exercise = make_exercises.make_exercise(solution, "tests/fixtures/fixture_solution.ipynb")
    calls = run_logged(solution, FIXTURES, tmp_path / "solution.log", monkeypatch)
    assert_all(calls, "passed", "fixture_solution.ipynb")
    assert {c["check"] for c in calls} == {"fixture_keyid_address", "fixture_double"}
    calls = run_logged(exercise, FIXTURES, tmp_path / "exercise.log", monkeypatch)
    assert_all(calls, "not_attempted", "the exercise generated from fixture_solution.ipynb")
    assert len(calls) == 2
