"""The shell contract, for every lesson widget at once.

Every function in ``mktme_lite/widgets/`` annotated ``-> LessonWidget`` is a widget a lesson
shows. Each one must carry the CSS classes the browser test looks for, label its controls,
redraw when its first control moves, draw every option a learner can pick (or refuse it with a
message), and have a static twin that shows something different at each telling value.
Lesson-specific behaviour stays in tests/test_widgets*.py.
"""
from __future__ import annotations

import html
import importlib
import inspect
import pkgutil

import matplotlib

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import pytest  # noqa: E402

import mktme_lite.widgets as widgets_pkg  # noqa: E402
from mktme_lite.widgets import LessonWidget  # noqa: E402


def _builders() -> dict:
    found = {}
    for info in pkgutil.iter_modules(widgets_pkg.__path__):
        module = importlib.import_module(f"{widgets_pkg.__name__}.{info.name}")
        for name, fn in vars(module).items():
            if (inspect.isfunction(fn) and fn.__module__ == module.__name__
                    and inspect.signature(fn).return_annotation in (LessonWidget, "LessonWidget")):
                found[f"{info.name}.{name}"] = fn
    return found


BUILDERS = _builders()


def test_every_lesson_widget_is_found():
    assert {"tme_basics.dram_probe", "start_here.claim_map", "multi_key.keyid_budget",
            "multi_key.pconfig_console", "aliasing.alias_explorer"} <= set(BUILDERS)


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def widget(request):
    return BUILDERS[request.param]()


def test_container_and_output_carry_the_css_classes(widget):
    assert "mktme-widget" in widget.container._dom_classes
    assert "mktme-widget-output" in widget.output_area._dom_classes
    assert widget.output_area in widget.container.children

    def inside(box):  # every widget the output area holds (a page panel nests stacks of outputs)
        yield box
        for child in getattr(box, "children", ()):
            yield from inside(child)
    assert any(w is widget.output for w in inside(widget.output_area))


def test_every_control_is_labelled(widget):
    for name, control in widget.controls.items():
        assert control.description.strip(), name


def test_first_control_is_one_the_browser_test_can_move(widget):
    first = next(iter(widget.controls.values()))
    assert isinstance(first, (W.SelectionSlider, W.Dropdown, W.ToggleButtons, W.Text))


def test_moving_the_first_control_redraws_the_output(widget):
    widget.update()
    before = widget.output.value
    control = next(iter(widget.controls.values()))
    values = [v for _, v in control.options]
    start = control.value
    control.value = values[(values.index(control.value) + 1) % len(values)]
    try:
        assert widget.last_status == "ok", widget.last_message
        assert widget.output.value != before
        assert widget.output.value.startswith('<div class="jp-RenderedHTMLCommon mktme-live">')
    finally:
        control.value = start


def test_a_live_figure_keeps_its_alt_text_and_travels_once(widget):
    """The live output is one <img> with the figure's alt text (or a card), never the PNG twice."""
    widget.update()
    value = widget.output.value
    picture = widget.render(**widget.params())
    if hasattr(picture, "mktme_alt"):
        assert value.count("data:image/png;base64,") == 1
        assert f'alt="{html.escape(picture.mktme_alt)}"' in value
    else:
        assert picture.html in value


def test_every_option_draws_or_is_refused_with_a_message(widget):
    """No option a learner can pick crashes the widget; refusals are messages, never bugs."""
    base = dict(widget.defaults)
    for name, control in widget.controls.items():
        for _, value in getattr(control, "options", ()):
            widget.draw({**base, name: value})
            assert widget.last_status in ("ok", "input-error"), (name, value, widget.last_message)


def test_static_twin_draws_default_and_telling_values(widget):
    assert 3 <= len(widget.telling) <= 4, "default + 2-3 telling values"
    assert dict(widget.telling[0].params) == {}, "the first telling view is the default"
    views = widget.static_views()
    assert len(views) == len(widget.telling)
    shown = set()
    for caption, (data, meta) in views:
        assert "Cannot draw" not in data.get("text/plain", ""), caption
        assert caption.startswith("**") and "Setting:" in caption
        if "image/png" in data:
            assert meta["image/png"]["alt"]
            shown.add(data["image/png"])
        else:
            shown.add(data["text/html"])
    assert len(shown) == len(views), "each telling value must show something different"
