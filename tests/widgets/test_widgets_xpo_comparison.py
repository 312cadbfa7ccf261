"""Lesson 07's cost/security explorer: its pictures say what the engine computed, its captions
agree with the engine, and typed prices are checked."""
from __future__ import annotations

import pytest

from mktme_lite.scenarios import costs, ret2dir
from mktme_lite.widgets import WidgetInputError
from mktme_lite.widgets import xpo_comparison as x


def test_the_explorer_s_alt_text_starts_with_the_design_s_estimate():
    fig = x.render_xpo_explorer()
    e = costs.estimate("xpfo", "kernel_build")
    assert fig.mktme_alt.startswith(f"xpfo: estimated x{e.slowdown:.3g} on this workload, most of it TLB shootdowns")
    assert "xpfo: ret2dir" in fig.mktme_alt and "FAILED (PLAINTEXT)" in fig.mktme_alt


def test_typed_prices_reach_the_estimate():
    fig = x.render_xpo_explorer(ipi_ns="2000", clflush_ns=" 68 ", fault_ns="1e3")
    e = costs.estimate("xpfo", "kernel_build", {"tlb_shootdown_ipi": 2000, "clflush_line": 68})
    assert f"x{e.slowdown:.3g}" in fig.mktme_alt


@pytest.mark.parametrize("params, words", [({"ipi_ns": "fast"}, "number of nanoseconds"),
                                           ({"clflush_ns": "-1"}, ">= 0"),
                                           ({"fault_ns": "inf"}, ">= 0"),
                                           ({"cpus": 5000}, "cpus"),
                                           ({"workload": "make"}, "workload")])
def test_bad_input_is_refused(params, words):
    with pytest.raises(WidgetInputError, match=words):
        x.render_xpo_explorer(**params)


def test_telling_captions_agree_with_the_engine():
    caps = [t.caption for t in x.xpo_explorer().telling]
    default = costs.estimate("xpfo", "kernel_build", cpus=96).slowdown
    system = costs.workload("kernel_build", user_share=0.0)
    assert "about x2.3" in caps[0] and round(default, 1) == 2.3
    assert "x13.8" in caps[0] and round(costs.estimate("xpfo", system, cpus=96).slowdown, 1) == 13.8
    assert "x26 measured system time" in caps[0] and not ret2dir.security_matrix().cell("xpfo", "kernel_gup").ok
    assert "about x1.1" in caps[1] and round(costs.estimate("xpfo", "kernel_build", cpus=4).slowdown, 1) == 1.1
    assert "kernel time x2.3" in caps[1] and round(costs.estimate("xpfo", system, cpus=4).slowdown, 1) == 2.3
    implied = costs.solve_price("xpfo", 26.37, "tlb_shootdown_ipi", system, cpus=96)
    assert "400 ns" in caps[2] and round(implied, -2) == 400
    assert "about x3.5" in caps[2] and round(costs.estimate("xpfo", "kernel_build", {"tlb_shootdown_ipi": 400})
                                             .slowdown, 1) == 3.5
    w = costs.WORKLOADS["alloc_heavy"]
    assert "4 secret pages" in caps[3] and w.secret_pages == 4
    assert costs.run_workload("memfd_secret", w).counts["tlb_shootdown_global"] == 4
    assert not ret2dir.security_matrix().cell("memfd_secret", "ret2dir").ok


def test_the_explorer_draws_only_elapsed_time_measurements_beside_its_elapsed_bars():
    refs = x._references(96)
    assert refs and all("MKTME" in label for label, _ in refs)
    assert x._references(4) == x._references(96)  # the MKTME figure's machine size is not known (cpus 0)


def test_the_price_table_shows_every_price_and_its_source():
    card = x.render_price_table()
    for p in costs.load_prices():
        assert p.name in card.text and p.source in card.text and p.status in card.text


def test_tables_show_the_engine_s_numbers():
    text = x.render_cost_table("gup_heavy").text
    assert "unmapped" in text and " 32 " in text  # 32 refused gup reads
    ref = x.render_reference_table().text
    assert "agrees within a factor of 3" in ref and "system time" in ref and "not modelled" in ref
    assert x.render_security_matrix("xpfo").mktme_alt.endswith("Row xpfo is framed.")
