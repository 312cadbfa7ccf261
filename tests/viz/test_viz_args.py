"""The pictures and text helpers refuse odd input by name and bound what they draw (issue 10).

Before: ``bytes_figure`` of 64 KiB took 3.7-4 s and 260-415 MB; ``hexdump(None)``,
``trace_timeline(None)``, ``table(True, ...)`` and ``card("t", None)`` raised TypeError;
``alias_map(..., title=True)`` and ``describe_bytes(None)`` were accepted silently.
"""

import pytest

from mktme_lite import Machine, viz
from mktme_lite.dump import MAX_DUMP_BYTES
from mktme_lite.errors import ParameterError
from mktme_lite.viz.bytes import MAX_FIGURE_BYTES
from mktme_lite.viz.maps import MAX_FRAMES
from mktme_lite.viz.timeline import MAX_EVENTS

ALIASES = [{"label": "alice", "keyid": 1, "frame": 0x5000}]


@pytest.mark.parametrize("call, words", [
    (lambda: viz.bytes_figure([("big", bytes(64 * 1024))]),
     rf"bytes_figure draws at most {MAX_FIGURE_BYTES} bytes in all; the panels hold 65536. Show a slice"),
    (lambda: viz.bytes_figure([("a", b"x")], base=None), r"base .*must be a whole number; got None"),
    (lambda: viz.bytes_figure([("a", b"x")], mark_changed="yes"), r"mark_changed .*must be a list"),
    (lambda: viz.bytes_figure([("a", b"x")], mark_changed=[7]), r"a panel index in mark_changed must be 0 to 0"),
    (lambda: viz.bytes_figure([("a", b"x")], hex_labels="False"), r"hex_labels must be True or False"),
    (lambda: viz.bytes_figure([(3, b"x")]), r"a panel's label must be text"),
    (lambda: viz.bytes_figure([("a", b"x")], title=True), r"title must be text"),
    (lambda: viz.hexdump(None), r"data .*must be bytes; got None"),
    (lambda: viz.hexdump(b"x", width=float("inf")), r"width \(bytes per row\) must be a whole number"),
    (lambda: viz.hexdump(b"x", width=2**64), r"width \(bytes per row\) must be 1 to 64"),
    (lambda: viz.hexdump(bytes(MAX_DUMP_BYTES + 1)), rf"at most {MAX_DUMP_BYTES} bytes"),
    (lambda: viz.describe_bytes(None), r"data must be bytes; got None"),
    (lambda: viz.printable("text"), r"data must be bytes, e.g. b'...'"),
    (lambda: viz.differing_blocks(None, b""), r"a \(the first bytes\) must be bytes"),
    (lambda: viz.changed_lines(bytes(64), bytes(64), base="0"), r"base .*whole number"),
    (lambda: viz.trace_timeline(None), r"trace must be a machine's trace"),
    (lambda: viz.trace_timeline([1, 2]), r"every event of the trace must be an Event"),
    (lambda: viz.trace_timeline(Machine().trace, hide="hit"), r"hide .*must be a list"),
    (lambda: viz.memory_map(None, 4), r"frames must be a dict"),
    (lambda: viz.memory_map({}, MAX_FRAMES + 1), rf"n_frames must be 1 to {MAX_FRAMES}"),
    (lambda: viz.memory_map({0: "K1"}, 4), r"the KeyID of frame 0 must be a whole number"),
    (lambda: viz.alias_map(ALIASES, title=True), r"title must be text"),
    (lambda: viz.alias_map([{"label": 1, "keyid": 1, "frame": 0}]), r"an alias's label must be text"),
    (lambda: viz.claim_matrix(None, [], {}), r"claims must be a list"),
    (lambda: viz.tme_boundary(title=5), r"title must be text"),
    (lambda: viz.table(True, [["a"]]), r"columns .*must be a list"),
    (lambda: viz.table(None, [["a"]], caption=None), r"caption must be text"),
    (lambda: viz.table(None, [["a"]], ruled="yes"), r"ruled must be True or False"),
    (lambda: viz.card("t", None), r"rows \(label, value pairs\) must be a list"),
    (lambda: viz.card("t", [("a", 1)]), r"a card row is a pair of texts"),
    (lambda: viz.text_columns(None), r"rows \(a list of rows\) must be a list"),
    (lambda: viz.text_columns([[1, 2]]), r"every cell of text_columns must be a str"),
])
def test_pictures_refuse_by_name(call, words):
    with pytest.raises(ParameterError, match=words):
        call()


def test_the_largest_figures_are_still_drawn():
    # Not timed: the ceilings are what keep each picture near a second at most.
    fig = viz.bytes_figure([("a", bytes(MAX_FIGURE_BYTES // 2)), ("b", bytes(MAX_FIGURE_BYTES // 2))])
    assert "2 byte grid(s)" in fig.mktme_alt
    m = Machine(packages=1, trace_cap=None)
    for i in range(MAX_EVENTS):
        m.emit("store", 0, 64 * i, 0)
    assert f"Timeline of {MAX_EVENTS} events" in viz.trace_timeline(m.trace).mktme_alt
    with pytest.raises(ParameterError, match=rf"at most {MAX_EVENTS} events; {MAX_EVENTS + 1} are left"):
        m.emit("load", 0, 0, 0)
        viz.trace_timeline(m.trace)
    assert "events" in viz.trace_timeline(m.trace, last=MAX_EVENTS).mktme_alt


def test_lone_surrogates_and_classes_are_refused_before_drawing():
    # Found by tests/course/test_entry_points.py: matplotlib's FT2Font raised TypeError on '\ud800',
    # and table(text=int) called the class int on a row.
    with pytest.raises(ParameterError, match=r"character 3 of the title \('\\ud800'\) cannot be stored as UTF-8"):
        viz.bytes_figure([("a", b"x")], title="ab\ud800")
    with pytest.raises(ParameterError, match=r"unknown text layout"):
        viz.table(None, [["a"]], text=int)
    with pytest.raises(ParameterError, match=r"the text layout function must return a list of lines"):
        viz.table(None, [["a"]], text=lambda cells: 42)
