"""The scenarios' public functions refuse odd arguments by name (issue 10): a None page, a
design list that is not a list, bytes that are text, an input format that is an array."""

import pytest

from mktme_lite.errors import ParameterError
from mktme_lite.kernel import Kernel
from mktme_lite.machine import Machine
from mktme_lite.scenarios import aliasing, tme_basics
from mktme_lite.scenarios.pages import OLD_LINE, boot, encrypt_pages, encrypted_page


@pytest.mark.parametrize("call, words", [
    (lambda: aliasing.gup_keyid(None), r"page \(an aliasing.Page\) must be a Page, e.g. encrypted_page\(\); got None"),
    (lambda: aliasing.direct_map_keyid("page"), r"page \(an aliasing.Page\) must be a Page"),
    (lambda: aliasing.run_path(None, "process_vm_readv", OLD_LINE), r"page .*must be a Page"),
    (lambda: aliasing.run_path(encrypted_page(), "process_vm_readv", "old"), r"data .*must be bytes"),
    (lambda: aliasing.verdict("abc", b"abc"), r"got \(what the read returned, or None\) must be bytes"),
    (lambda: aliasing.verdict(b"abc", b"abc", error=3), r"error .*must be text"),
    (lambda: aliasing.compare_designs(None), r"designs must be a design name or a list of them"),
    (lambda: aliasing.compare_designs(["keyid0", "nope"]), r"unknown direct-map design 'nope'"),
    (lambda: aliasing.compare_designs(("keyid0",), seed=-1), r"seed must be 0 to"),
    (lambda: aliasing.compare_designs(("keyid0",), base=Kernel), r"base .*must be a Policy"),
    (lambda: tme_basics.parse_message("41", fmt=[1, 2]), r"unknown input format \[1, 2\] \(a list\)"),
])
def test_scenarios_refuse_by_name(call, words):
    with pytest.raises(ParameterError, match=words):
        call()


def test_encrypt_pages_needs_a_kernel_and_a_process():
    k, owner, _, serial = boot()
    with pytest.raises(ParameterError, match=r"proc \(a process of that kernel\) must be a Process"):
        encrypt_pages(k, None, b"x", serial)
    with pytest.raises(ParameterError, match=r"kernel must be a Kernel object; got the class Kernel itself"):
        encrypt_pages(Kernel, owner, b"x", serial)
    with pytest.raises(ParameterError, match=r"kernel must be a Kernel"):
        encrypt_pages(Machine(), owner, b"x", serial)
