"""The shared set-up (scenarios/pages.py) and the lesson experiments, without any front end."""

import subprocess
import sys

import pytest

from mktme_lite import ParameterError
from mktme_lite.kernel import PAGE_SIZE, Kernel, Policy
from mktme_lite.machine import Machine
from mktme_lite.scenarios import aliasing, multi_key, pages, tme_basics


def test_encrypted_page_settles_in_dram_under_its_own_keyid():
    page = pages.encrypted_page()
    assert page.keyid != 0
    assert not any(page.machine.cache_view(p) for p in range(page.machine.packages))  # written back
    assert page.owner.read(page.va, len(pages.OLD_LINE)) == pages.OLD_LINE
    assert page.machine.dram(page.pa, 64) != pages.OLD_LINE  # ciphertext in DRAM


def test_plain_page_stays_at_keyid_0():
    page = pages.plain_page()
    assert page.keyid == 0
    assert page.kernel.kernel_read_direct_map(page.pa, 64) == pages.OLD_LINE


def test_a_clone_is_independent():
    page = pages.encrypted_page()
    other = page.clone()
    other.owner.write(other.va, b"changed")
    assert page.owner.read(page.va, 7) != b"changed"
    assert other.owner.read(other.va, 7) == b"changed"


def test_encrypt_pages_is_the_rfc_demo_flow_on_an_existing_kernel():
    k = Kernel(Machine(seed=5), Policy.as_proposed())
    p = k.spawn("alice")
    va, serial = pages.encrypt_pages(k, p, b"x" * (2 * PAGE_SIZE), pages=2)
    assert p.pagemap(va)["keyid"] == p.pagemap(va + PAGE_SIZE)["keyid"] != 0
    va2, serial2 = pages.encrypt_pages(k, p, b"y", serial)
    assert serial2 == serial and p.pagemap(va2)["keyid"] == p.pagemap(va)["keyid"]


@pytest.mark.parametrize("call, fragment", [
    (lambda: pages.encrypted_page(data="text"), "data must be bytes"),
    (lambda: pages.encrypted_page(data=b""), "empty"),
    (lambda: pages.encrypted_page(data=b"x" * (PAGE_SIZE + 1)), "at most 4096"),
    (lambda: pages.encrypted_page(seed=-1), "seed"),
    (lambda: pages.encrypted_page(trace="False"), "trace must be True or False"),
    (lambda: pages.boot(packages=True), "packages must be a whole number"),
])
def test_bad_set_up_arguments_are_parameter_errors(call, fragment):
    with pytest.raises(ParameterError, match=fragment):
        call()


def test_alias_names_reads_on_a_clone():
    page = pages.encrypted_page(aliasing.policy_for("per_keyid"))
    before = page.machine.counters.copy()
    names = aliasing.alias_names(page, pages.OLD_LINE)
    assert [n.reads_data for n in names] == [True, False, True]  # own mapping, KeyID-0 map, KeyID-k copy
    assert page.machine.counters == before


def test_scenario_results_are_frozen():
    r = tme_basics.probe(b"attack at dawn")
    with pytest.raises(AttributeError):
        r.dram = b""  # type: ignore[misc]
    assert multi_key.budget().nr_keyids == 63


def test_scenarios_import_no_front_end():
    code = ("import sys, mktme_lite.scenarios.aliasing, mktme_lite.scenarios.multi_key, "
            "mktme_lite.scenarios.tme_basics, mktme_lite.scenarios.pages\n"
            "bad = [m for m in ('ipywidgets', 'matplotlib', 'IPython') if m in sys.modules]\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing the scenarios loaded {out}"
