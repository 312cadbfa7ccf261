"""The experiments of the lessons: functions that run the engine and return frozen dataclasses.

    from mktme_lite.scenarios import aliasing
    from mktme_lite.scenarios.pages import encrypted_page

    page = encrypted_page("as_proposed")
    r = aliasing.alias_experiment(b"new: balance 250 EUR", writer="debugger")
    r.read("process").verdict

One module per lesson stem (``tme_basics``, ``multi_key``, ``aliasing``, ...), plus ``pages``,
the one set-up that lessons, exercise checks and tests share. A scenario computes; it never
draws: nothing here imports matplotlib or ipywidgets (tests/test_layers.py checks it), so every
outcome a lesson states can be tested, benchmarked and checked without a front end. The widgets
(:mod:`mktme_lite.widgets`) and pictures (:mod:`mktme_lite.viz`) draw what these return.
"""

__all__ = ["pages", "tme_basics", "multi_key", "aliasing", "swap"]
