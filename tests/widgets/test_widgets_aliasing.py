"""Lesson 03: the alias explorer, the kernel paths and the design table, all computed by the engine."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mktme_lite import viz  # noqa: E402
from mktme_lite.kernel import PAGE_SIZE, KernelPageFault, Policy, SyscallError  # noqa: E402
from mktme_lite.widgets import WidgetInputError  # noqa: E402
from mktme_lite.scenarios import aliasing as al  # noqa: E402
from mktme_lite.scenarios import pages as pg  # noqa: E402
from mktme_lite.widgets import aliasing as aw  # noqa: E402

MSG = b"new: balance 250 EUR"


@pytest.fixture(scope="module")
def widget():
    return aw.alias_explorer()


# ----------------------- the static twin (the shell contract for every widget: test_widget_shells.py)

def test_static_twin_shows_four_different_pictures(widget):
    assert dict(widget.telling[0].params) == {}
    views = widget.static_views()
    assert len(views) == len(widget.telling) == 4
    assert widget.last_status == "ok"
    assert len({data["image/png"] for _, (data, _) in views}) == 4
    for _, (data, meta) in views:
        assert meta["image/png"]["alt"]


def test_telling_captions_say_what_the_engine_shows(widget):
    """Each caption's claim, checked against the experiment it draws."""
    results = [al.alias_experiment(MSG, **{**_exp_defaults(widget), **dict(t.params)}) for t in widget.telling]
    default, debugger_writes, per_keyid, unmapped = results
    assert default.read("process").verdict == "right"
    assert default.read("debugger").verdict.startswith("GARBAGE")
    assert debugger_writes.read("process").verdict == "GARBAGE in blocks 0, 1"  # only the blocks written
    assert {r.verdict for r in per_keyid.reads if r.name != "direct_map"} == {"right"}
    assert unmapped.write_error.startswith("EFAULT") and unmapped.read("debugger").error.startswith("EFAULT")
    assert unmapped.read("direct_map").error.startswith("oops") and unmapped.read("process").verdict == "right"


def _exp_defaults(widget):
    d = dict(widget.defaults)
    d.pop("message")
    return d


# ------------------------------------------------------------------------ the experiment

def test_as_proposed_kernel_reads_garbage_through_the_direct_map():
    r = al.alias_experiment(MSG, "process", "keyid0")
    assert r.read("process").data == r.expected
    for name in ("debugger", "direct_map"):
        assert r.read(name).keyid == 0
        assert viz.differing_blocks(r.read(name).data, r.expected) == [0, 1, 2, 3]


def test_a_write_through_the_direct_map_garbles_exactly_the_blocks_it_touches():
    late = al.alias_experiment(MSG, "debugger", "keyid0", written_back=True)
    assert viz.differing_blocks(late.read("process").data, late.expected) == [0, 1]
    assert late.read("process").data[32:] == pg.OLD_LINE[32:]  # XTS round-trips the untouched blocks
    assert late.read("debugger").data.startswith(MSG) and late.read("debugger").verdict.startswith("its own write")
    early = al.alias_experiment(MSG, "debugger", "keyid0", written_back=False)
    assert early.read("process").data == pg.OLD_LINE  # the write sits in a KeyID-0 line the process never sees
    assert early.dram == al._prepared("keyid0").machine.dram(early.pa)  # nothing reached DRAM yet


@pytest.mark.parametrize("design", ["per_keyid", "rekey", "xpfo"])
@pytest.mark.parametrize("writer", list(al.WRITERS))
def test_repairs_that_keep_gup_working_agree_everywhere(design, writer):
    for written_back in (True, False):
        r = al.alias_experiment(MSG, writer, design, written_back)
        assert r.read("process").data == r.expected and r.read("debugger").data == r.expected
        stray = r.read("direct_map")
        if design == "per_keyid":
            assert stray.keyid == 0 and stray.verdict.startswith("GARBAGE")  # the KeyID-0 copy is still there
        elif design == "rekey":
            assert stray.keyid == r.keyid and stray.data == r.expected  # the entry carries the page's KeyID
        else:
            assert stray.data is None and stray.error.startswith("oops")


def test_dropping_the_alias_makes_gup_fail_and_the_kernel_oops():
    r = al.alias_experiment(MSG, "debugger", "unmapped")
    assert r.write_error.startswith("EFAULT") and r.expected == pg.OLD_LINE
    assert r.read("process").data == pg.OLD_LINE
    assert r.read("debugger").data is None and r.read("direct_map").data is None
    ok = al.alias_experiment(MSG, "copy_to_user", "unmapped")
    assert ok.write_error is None and ok.read("process").data == ok.expected


@pytest.mark.parametrize("design", list(al.DESIGNS))
def test_copy_to_user_is_right_in_every_design(design):
    r = al.alias_experiment(MSG, "copy_to_user", design)
    assert r.read("process").verdict == "right"


def test_experiments_leave_the_prepared_kernels_untouched():
    page = al._prepared("keyid0")
    dram = bytes(page.machine.memory.cells)
    al.alias_experiment(b"x" * 64, "debugger", "keyid0")
    assert bytes(page.machine.memory.cells) == dram and not page.machine.cache_view(0)
    probe = page.clone()
    assert probe.owner.read(probe.va, 64) == pg.OLD_LINE


@pytest.mark.parametrize("params, expected", [
    ({"message": ""}, "type a message"),
    ({"message": "x" * 65}, "shorten it by 1 byte"),
    ({"design": "nope"}, "unknown direct-map design"),
    ({"writer": "nope"}, "unknown writer"),
    ({"message": 3}, "must be text"),
    ({"writer": [], "design": []}, "unknown writer"),
    ({"design": []}, "unknown direct-map design"),
    ({"design": {"a": 1}}, "unknown direct-map design"),
    ({"writer": None}, "unknown writer"),
    ({"written_back": "yes"}, "written_back must be True or False"),
    ({"written_back": []}, "written_back must be True or False"),
    ({"message": ["x"]}, "must be text"),
    ({"message": "new: \udc80"}, "lone surrogate"),
])
def test_bad_input_is_explained(params, expected):
    with pytest.raises(WidgetInputError, match=expected):
        aw.render_alias_explorer(**params)


@pytest.mark.parametrize("call, expected", [
    (lambda: al.alias_experiment(b"x", writer=[]), "unknown writer"),
    (lambda: al.alias_experiment(b"x", design=[]), "unknown direct-map design"),
    (lambda: al.alias_experiment(b"x", written_back=None), "written_back"),
    (lambda: al.policy_for([]), "unknown direct-map design"),
    (lambda: al.policy_for("rekey", base=3), "base must be a Policy"),
    (lambda: al.run_path(pg.encrypted_page(), [], b"x"), "unknown kernel path"),
    (lambda: al.run_path(pg.encrypted_page(), "nope", b"x"), "unknown kernel path"),
    (lambda: aw.alias_picture(None, b"x"), "aliasing.Page"),
    (lambda: aw.alias_picture(pg.encrypted_page(), ""), "bytes the page holds"),
    (lambda: al.compare_designs(["nope"]), "unknown direct-map design"),
])
def test_helpers_explain_bad_input_instead_of_crashing(call, expected):
    with pytest.raises(WidgetInputError, match=expected):
        call()


_ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.binary(max_size=4),
                      st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(),
                                                                           max_size=1))


@settings(max_examples=60, deadline=None)
@given(writer=st.one_of(st.sampled_from(list(al.WRITERS)), _ANYTHING),
       design=st.one_of(st.sampled_from(list(al.DESIGNS)), _ANYTHING),
       written_back=st.one_of(st.booleans(), _ANYTHING), message=st.one_of(st.text(max_size=8), _ANYTHING))
def test_render_never_fails_with_anything_but_an_explanation(writer, design, written_back, message):
    try:
        fig = aw.render_alias_explorer(writer=writer, design=design, written_back=written_back, message=message)
    except WidgetInputError:
        return
    import matplotlib.pyplot as plt
    assert fig.mktme_alt
    plt.close(fig)


@settings(max_examples=25, deadline=None)
@given(message=st.text(max_size=70), writer=st.sampled_from(list(al.WRITERS)),
       design=st.sampled_from(list(al.DESIGNS)), written_back=st.booleans())
def test_widget_never_crashes(message, writer, design, written_back):
    w = _shared()
    w.draw({"message": message, "writer": writer, "design": design, "written_back": written_back})
    assert w.last_status in ("ok", "input-error"), w.last_message


_W = []


def _shared():
    if not _W:
        _W.append(aw.alias_explorer())
    return _W[0]


def test_alt_text_states_the_verdict():
    alt = aw.render_alias_explorer(writer="debugger").mktme_alt
    assert alt.startswith("The process reads: GARBAGE in blocks 0, 1.")
    assert "written back" in alt and "ciphertext in DRAM changed" in alt
    at_once = aw.render_alias_explorer(writer="debugger", written_back=False).mktme_alt
    assert "ciphertext in DRAM is unchanged" in at_once


def test_the_figure_says_in_words_what_its_markers_mean():
    """Four grids, no fifth grid of ciphertext; every label and marker is a word, not only a glyph."""
    fig = aw.render_alias_explorer(writer="debugger", design="unmapped")
    assert "4 byte grid(s)" in fig.mktme_alt
    assert "->" not in fig.mktme_alt and "no data (EFAULT: get_user_pages() refused)" in fig.mktme_alt
    assert "no data (oops: frame not in the direct map)" in fig.mktme_alt
    assert all(ord(ch) < 128 for ch in fig.mktme_alt)


def test_dram_changes_only_when_a_write_reaches_it():
    assert al.alias_experiment(MSG, "process", "keyid0", True).dram_changed
    assert not al.alias_experiment(MSG, "process", "keyid0", False).dram_changed
    assert not al.alias_experiment(MSG, "debugger", "unmapped", True).dram_changed  # the write was refused


def test_verdict_words():
    old, new = b"o" * 64, b"n" * 64
    assert al.verdict(new, new) == "right"
    assert al.verdict(old, new, old) == "the OLD bytes (the write is not visible here)"
    assert al.verdict(b"n" * 4 + b"?" * 60, new, old, b"nnnn") == "its own write, GARBAGE after it"
    assert al.verdict(b"?" * 16 + new[16:], new) == "GARBAGE in block 0"
    assert al.verdict(b"?" * 64, new) == "GARBAGE (every block)"
    assert al.verdict(None, new, error="EFAULT") == "EFAULT"


# ------------------------------------------------------------------------ paths, table, picture

def test_kernel_paths_as_proposed_and_fixed():
    data = pg.OLD_LINE
    start = pg.encrypted_page("as_proposed", data)
    got = {name: al.run_path(start.clone(), name, data) for name in al.KERNEL_PATHS}
    assert got == {"copy_from_user": "right", "process_vm_readv": "GARBAGE", "write(O_DIRECT)": "GARBAGE",
                   "process_vm_writev": "GARBAGE", "swap out + in": "GARBAGE"}
    fixed = pg.encrypted_page("fixed", data)
    assert {al.run_path(fixed.clone(), name, data) for name in al.KERNEL_PATHS} == {"right"}


def test_encrypted_page_settles_its_data_in_dram():
    page = pg.encrypted_page("as_proposed", b"hello")
    assert page.keyid == 1 and page.kernel.frame_info(page.pa)["direct_map"] == "mapped at KeyID 0"
    assert not page.machine.cache_view(0)
    assert page.owner.read(page.va, 5) == b"hello"
    with pytest.raises(WidgetInputError):
        pg.encrypted_page("as_proposed", b"")


def test_a_plain_page_is_right_on_every_path_even_as_proposed():
    page = pg.plain_page("as_proposed", pg.OLD_LINE)
    assert page.keyid == 0
    assert {al.run_path(page.clone(), name, pg.OLD_LINE) for name in al.TABLE_PATHS} == {"right"}
    assert page.kernel.kernel_read_direct_map(page.pa, 64) == pg.OLD_LINE


def test_compare_designs_fills_the_table_from_the_engine():
    rows = {r.design: r for r in al.compare_designs()}
    assert {r.base for r in rows.values()} == {"core_series"}  # one flush policy for every row
    assert rows["keyid0"].outcomes == {"process_vm_readv": "GARBAGE", "process_vm_writev": "GARBAGE",
                                       "write(O_DIRECT)": "GARBAGE", "copy_from_user": "right"}
    for d in ("per_keyid", "rekey", "xpfo"):
        assert set(rows[d].outcomes.values()) == {"right"}, d
    assert rows["unmapped"].outcomes == {"process_vm_readv": "EFAULT", "process_vm_writev": "EFAULT",
                                         "write(O_DIRECT)": "EFAULT", "copy_from_user": "right"}
    assert {d: r.stray_read for d, r in rows.items()} == {
        "keyid0": "garbage", "per_keyid": "garbage", "rekey": "PLAINTEXT", "unmapped": "oops", "xpfo": "oops"}
    assert rows["per_keyid"].direct_maps == 64 and rows["per_keyid"].max_ram_bytes == 1 << 40
    lines_per_page = PAGE_SIZE // 64
    # Kirill's prep_encrypted_page/free_encrypted_page flush on alloc and on free, in every design.
    assert {r.costs["clflush"] for r in rows.values()} == {2 * lines_per_page}
    assert rows["rekey"].costs["direct_map_change"] == 2
    assert rows["keyid0"].costs == rows["per_keyid"].costs == {"clflush": 2 * lines_per_page, "tlb_shootdown": 1,
                                                               "direct_map_change": 0, "kmap": 0}
    assert rows["xpfo"].costs["kmap"] == 1


def test_the_flush_policy_moves_every_row_alike_and_changes_no_outcome():
    """On as_proposed (no flushes) only rekey flushes, because re-keying the entry flushes the old alias itself:
    that is the skew a fair table avoids. What each design adds beyond flushes does not depend on the base."""
    fair = {r.design: r for r in al.compare_designs(base="core_series")}
    skewed = {r.design: r for r in al.compare_designs(base="as_proposed")}
    assert {d: r.costs["clflush"] for d, r in skewed.items()} == {"keyid0": 0, "per_keyid": 0, "rekey": 128,
                                                                   "unmapped": 0, "xpfo": 0}
    for design in al.DESIGNS:
        assert fair[design].outcomes == skewed[design].outcomes, design
        assert fair[design].stray_read == skewed[design].stray_read, design
        for kind in ("tlb_shootdown", "direct_map_change", "kmap"):
            assert fair[design].costs[kind] == skewed[design].costs[kind], (design, kind)
    fixed = al.compare_designs(base=Policy.fixed())
    assert len({r.costs["clflush"] for r in fixed}) == 1 and {r.base for r in fixed} == {"fixed"}


def test_design_table_views():
    rows = al.compare_designs(("keyid0", "rekey"))
    paths = aw.render_design_table(rows)
    assert "<table" in paths.html and "<strong>GARBAGE</strong>" in paths.html
    assert paths.text.splitlines()[0] == "Every row: Policy.core_series() with only direct_map changed."
    assert "<caption" in paths.html and "Policy.core_series()" in paths.html
    assert paths.text.splitlines()[2].split()[:2] == ["keyid0", "GARBAGE"]
    costs = aw.render_design_table(rows, "costs")
    assert "<strong>PLAINTEXT</strong>" in costs.html and "64 TiB" in costs.text
    assert "fault it in, one process_vm_readv(), munmap()" in costs.text
    with pytest.raises(WidgetInputError, match="choose one of paths, costs"):
        aw.render_design_table(rows, "colours")


def test_design_table_says_when_rows_come_from_different_bases():
    rows = al.compare_designs(("keyid0",)) + al.compare_designs(("rekey",), base="as_proposed")
    assert "different base policies (as_proposed, core_series)" in aw.render_design_table(rows, "costs").text


@pytest.mark.parametrize("rows", [None, 1, "46", b"x", [], (), [1, 2], {"keyid0": 1}])
def test_design_table_refuses_what_is_not_a_list_of_rows(rows):
    with pytest.raises(WidgetInputError, match="non-empty list of design rows"):
        aw.render_design_table(rows)


@pytest.mark.parametrize("view", [None, [], {}, 3, "PATHS"])
def test_design_table_refuses_unknown_views(view):
    rows = al.compare_designs(("keyid0",))
    with pytest.raises(WidgetInputError, match="unknown view"):
        aw.render_design_table(rows, view)


@pytest.mark.parametrize("design, names", [("keyid0", 2), ("per_keyid", 3), ("rekey", 2), ("unmapped", 1)])
def test_alias_picture_draws_every_name_with_what_it_reads(design, names):
    page = pg.encrypted_page(al.policy_for(design))
    fig = aw.alias_picture(page, pg.OLD_LINE, title="t")
    assert f"{names} alias(es)" in fig.mktme_alt and "\n" not in fig.mktme_alt
    assert fig.mktme_alt.count("reads the data") == (1 if design in ("keyid0", "unmapped") else 2)
    assert page.machine.cache_view(0) == []  # drawn on a clone


def test_gup_keyid_per_design():
    assert al.gup_keyid(pg.encrypted_page("as_proposed")) == 0
    assert al.gup_keyid(pg.encrypted_page(al.policy_for("per_keyid"))) == 1
    assert al.gup_keyid(pg.encrypted_page(al.policy_for("rekey"))) == 1
    assert al.gup_keyid(pg.encrypted_page(al.policy_for("unmapped"))) is None
    with pytest.raises(WidgetInputError):
        al.policy_for("nope")


def test_the_direct_map_really_faults_under_unmapped():
    page = pg.encrypted_page(al.policy_for("unmapped"))
    with pytest.raises(KernelPageFault):
        page.kernel.kernel_read_direct_map(page.pa, 64)
    with pytest.raises(SyscallError):
        page.debugger.process_vm_readv(page.owner, page.va, 64)


# ------------------------------------------------------------------------ shared change in viz

def test_alias_map_alt_text_is_one_line():
    fig = viz.alias_map([{"label": "two\nlines", "keyid": 1, "frame": 0x4000}])
    assert "two lines with K1 reaches frame 0x4000" in fig.mktme_alt and "\n" not in fig.mktme_alt


def test_bytes_figure_marks_only_the_panels_asked_for():
    a, b = bytes(64), b"\x01" + bytes(63)
    fig = viz.bytes_figure([("a", a), ("b", b), ("c", b)], mark_changed=[1])
    assert "b: all zero" not in fig.mktme_alt
    assert fig.mktme_alt.count("differs from the first panel") == 1
    both = viz.bytes_figure([("a", a), ("b", b), ("c", b)], mark_changed=True)
    assert both.mktme_alt.count("differs from the first panel in block 0 only") == 2
    none = viz.bytes_figure([("a", a), ("b", b)], mark_changed=())
    assert "differs" not in none.mktme_alt


def test_the_design_dropdown_shows_its_longest_label_whole(widget):
    """At the course's font a closed dropdown shows about 4 characters per 3em (30em cut labels at 40)."""
    width_em = float(widget.controls["design"].layout.width.removesuffix("em"))
    assert width_em >= 0.75 * max(len(label) for label in al.DESIGNS.values()) + 2  # + the arrow


@pytest.mark.parametrize("written_back", [True, False])
@pytest.mark.parametrize("writer", list(al.WRITERS))
def test_no_text_of_the_explorer_runs_off_its_figure(writer, written_back, past_the_edge):
    """Every setting the controls reach, with the default and the longest message: no label, title or
    summary line is cut at the figure's edge (the summary under "read at once" was)."""
    for design in al.DESIGNS:
        for message in ("new: balance 250 EUR", "x" * 64):
            fig = aw.render_alias_explorer(writer, design, written_back, message)
            assert past_the_edge(fig) == [], (writer, design, written_back, message)


def test_a_shortened_summary_keeps_its_words_in_the_alt_text():
    fig = aw.render_alias_explorer("debugger", "keyid0", False)
    assert "the OLD bytes (the write is not visible here)" in fig.mktme_alt  # the alt text keeps every word
    assert aw._fitting("a", "b", "c") == "a"
    assert aw._fitting("x" * 400, "right (as it should)", "right") == \
        "The process reads: right. The debugger's process_vm_readv gets: right."
