"""No widget can be driven into a crash: every public ``render_*`` function either draws, or
refuses the input with a WidgetInputError that says what is allowed.

The values below are what a learner (or a browser test) can produce by typing into a text box
or calling the function by hand: wrong types, empty and huge values, unhashable containers, a
lone surrogate. Each parameter is fuzzed alone, the others keep their defaults.
"""

import importlib
import inspect
import pkgutil

import matplotlib
import pytest

import mktme_lite.widgets as widgets_pkg
from mktme_lite.widgets import WidgetInputError

matplotlib.use("Agg")

ODD_VALUES = [None, [], {}, (), -1, 0, 2**70, 1.5, float("nan"), True, "", " ", "x" * 500, "\udc80",
              b"\x00", object()]


def _render_functions():
    found = []
    for info in pkgutil.iter_modules(widgets_pkg.__path__):
        module = importlib.import_module(f"{widgets_pkg.__name__}.{info.name}")
        for name, fn in vars(module).items():
            if name.startswith("render_") and inspect.isfunction(fn) and fn.__module__ == module.__name__:
                sig = inspect.signature(fn).parameters.values()
                named = [p for p in sig if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
                required = [p for p in named if p.default is inspect.Parameter.empty]
                # With one required input (e.g. rows of a table), fuzz that one; with none, fuzz each
                # optional parameter alone. Others cannot be called without a valid required value.
                targets = required if len(required) == 1 else [] if required else named
                for p in targets:
                    found.append(pytest.param(fn, p.name, id=f"{info.name}.{name}.{p.name}"))
    return found


CASES = _render_functions()


def test_there_are_render_functions_to_fuzz():
    assert len(CASES) >= 5


@pytest.mark.parametrize("fn, param", CASES)
def test_odd_values_are_drawn_or_refused_clearly(fn, param):
    import matplotlib.pyplot as plt

    for value in ODD_VALUES:
        try:
            out = fn(**{param: value})
        except WidgetInputError as exc:
            assert str(exc).strip(), f"{fn.__name__}({param}={value!r}) refused with an empty message"
            continue
        except Exception as exc:  # noqa: BLE001 - this is exactly what the test is looking for
            pytest.fail(f"{fn.__module__}.{fn.__name__}({param}={value!r}) raised {type(exc).__name__}: {exc}")
        if hasattr(out, "savefig"):
            plt.close(out)
