"""Odd arguments to the kernel model get a sentence from the MKTMEError family, never a Python
TypeError, a silent wrong answer or a wait of many seconds.

The cases come from an independent probe (issue 10): a pid where a Process was expected, string
addresses, ``Kernel(Machine, "fixed")``, ``pkey_free([1])``, ``Policy.preset([])``,
``p.write(buf, 42)`` doing a load, ``mmap(1 << 36)`` + ``read`` swapping for 19 s before ENOMEM,
and ``swap_slots=10**8`` taking 819 MB.
"""

import numpy as np
import pytest

from mktme_lite import Machine
from mktme_lite.errors import MKTMEError, ParameterError
from mktme_lite.kernel import ENOMEM, PAGE_SIZE, PROT_READ, PROT_WRITE, Kernel, Policy, SyscallError
from mktme_lite.kernel.constants import MAX_SWAP_SLOTS
from mktme_lite.scenarios.pages import encrypted_page

RW = PROT_READ | PROT_WRITE


@pytest.fixture
def page():
    return encrypted_page("as_proposed", b"secret data")


def test_the_class_instead_of_a_machine_is_named():
    with pytest.raises(ParameterError, match=r"machine .*got the class Machine itself: call it to make one, Machine\(\)"):
        Kernel(Machine, "fixed")
    with pytest.raises(ParameterError, match=r"policy .*got the class Policy itself"):
        Kernel(Machine(dram_bytes=65536), Policy)


@pytest.mark.parametrize("kwargs, words", [
    (dict(swap_slots=10**8), rf"swap_slots .*must be 0 to {MAX_SWAP_SLOTS}; got 100000000"),
    (dict(swap_slots=True), r"swap_slots .*must be a whole number; got True"),
    (dict(swap_slots=2.0), r"swap_slots .*whole number"),
    (dict(reserved_frames="4"), r"reserved_frames .*whole number"),
    (dict(frame_order=["lifo"]), r"unknown frame_order \['lifo'\]"),
])
def test_kernel_sizes_are_bounded_and_typed(kwargs, words):
    with pytest.raises(ParameterError, match=words):
        Kernel(Machine(dram_bytes=65536), "fixed", **kwargs)


def test_numpy_integers_work_in_the_kernel():
    k = Kernel(Machine(dram_bytes=65536), "fixed", swap_slots=np.int64(4), reserved_frames=np.uint8(2))
    p = k.spawn("p", package=np.int64(0))
    a = p.mmap(np.int64(PAGE_SIZE), np.int32(RW))
    p.write(np.uint64(a), b"np")
    assert p.read(np.int64(a), np.int64(2)) == b"np"


def test_policy_preset_refuses_a_list_by_name():
    with pytest.raises(ParameterError, match=r"unknown policy preset \[\] \(a list\); choose one of as_proposed"):
        Policy.preset([])


def test_process_vm_readv_takes_a_pid_like_the_real_syscall(page):
    by_pid = page.debugger.process_vm_readv(page.owner.pid, page.va, 16)
    assert by_pid == page.debugger.process_vm_readv(page.owner, page.va, 16)
    with pytest.raises(SyscallError, match="ESRCH .*no process with pid 99"):
        page.debugger.process_vm_readv(99, page.va, 16)
    with pytest.raises(ParameterError, match=r"target \(a Process, or its pid\) must be a Process.*got 'alice'"):
        page.debugger.process_vm_readv("alice", page.va, 16)


@pytest.mark.parametrize("call", [
    lambda pg: pg.kernel.process_vm_readv(pg.owner, str(pg.va), 16),
    lambda pg: pg.kernel.direct_io_write(pg.owner, str(pg.va), 16),
    lambda pg: pg.kernel.get_user_pages(pg.owner, str(pg.va)),
    lambda pg: pg.kernel.swap_out(pg.owner, str(pg.va)),
    lambda pg: pg.owner.pagemap(str(pg.va)),
    lambda pg: pg.owner.read(str(pg.va), 4),
])
def test_string_addresses_are_refused_by_name(page, call):
    with pytest.raises(ParameterError, match=r"vaddr \(a virtual address\) must be a whole number; got '0x|vaddr .*got '\d+'"):
        call(page)


def test_frame_info_and_the_direct_map_speak_hex(page):
    with pytest.raises(ParameterError, match=r"pa .*must be a whole number; got '0x4000'"):
        page.kernel.frame_info("0x4000")
    with pytest.raises(MKTMEError, match=r"kernel_read_direct_map\(0x4000, 1000000\) runs past the end of DRAM at 0x40000"):
        page.kernel.kernel_read_direct_map(0x4000, 10**6)
    with pytest.raises(ParameterError, match=r"pa .*0x0 to 0x3ffff; got 0x100000"):
        page.kernel.frame_info(0x100000)


def test_pkey_free_of_a_list_is_einval(page):
    with pytest.raises(SyscallError, match=r"EINVAL .*pkey must be a key number from pkey_alloc\(\); got \[1\]"):
        page.owner.pkey_free([1])


def test_write_of_a_number_is_not_a_read(page):
    with pytest.raises(ParameterError, match=r"data \(what write\(\) stores\) must be bytes; got 42"):
        page.owner.write(page.va, 42)
    with pytest.raises(ParameterError, match=r"data .*must be bytes; got True"):
        page.owner.write(page.va, True)
    with pytest.raises(SyscallError, match=r"read\(vaddr, n\) takes a byte count n; got b'x'"):
        page.owner.read(page.va, b"x")


def test_a_read_larger_than_memory_fails_at_once():
    # Before: mmap(1 << 36) succeeded and read(buf, 1 << 36) swapped the machine empty for 19-60 s
    # before ENOMEM. Now mmap refuses (heuristic overcommit), and so does an access that spans
    # more pages than frames + swap slots could ever hold. Not timed: both refuse before a fault.
    k = Kernel(Machine(), "as_proposed")
    p = k.spawn("p")
    with pytest.raises(SyscallError, match=r"mmap: ENOMEM .*more than RAM \+ swap"):
        p.mmap(1 << 36)
    a = p.mmap(32 * PAGE_SIZE, RW)
    before = k.costs()["page_fault"]
    with pytest.raises(SyscallError, match=r"ENOMEM .*the access spans 16777216 pages"):
        p.read(a, 1 << 36)
    assert k.costs()["page_fault"] == before  # nothing was faulted in on the way


def test_swap_device_checks_its_slots(page):
    swap = page.kernel.swap
    with pytest.raises(ParameterError, match=r"slot .*must be 0 to 63; got 64"):
        swap.slot_bytes(64)
    with pytest.raises(ParameterError, match=r"needle .*must be bytes, e.g. b'...'"):
        swap.contains("secret")


def test_spawn_and_get_user_pages_refuse_odd_flags(page):
    with pytest.raises(ParameterError, match="privileged must be True or False; got 'False'"):
        page.kernel.spawn("bob", privileged="False")
    with pytest.raises(ParameterError, match="write must be True or False; got 1"):
        page.kernel.get_user_pages(page.owner, page.va, write=1)
    with pytest.raises(ParameterError, match=r"name \(of the process\) must be text"):
        page.kernel.spawn(b"bob")


def test_numpy_scalars_that_would_overflow_are_refused_not_crashed(page):
    # Found by tests/course/test_entry_points.py: numpy arithmetic overflowed inside the checks.
    p = page.owner
    with pytest.raises(SyscallError, match="EINVAL"):
        p.encrypt_mprotect(page.va, np.int8(-1), RW, page.serial)
    with pytest.raises(SyscallError, match="EINVAL .*access_rights"):
        p.pkey_alloc(0, np.uint64(2**63))
    with pytest.raises(SyscallError, match="EINVAL .*access_rights"):
        p.pkey_set(1, np.uint64(2**63))
    with pytest.raises(MKTMEError, match="Policy.direct_map"):
        Policy(direct_map=np.array([1, 2]))


def test_policy_replace_checks_before_it_compares():
    # Before: replace(flush_old_alias=np.array([1, 2])) raised numpy's "truth value ... is ambiguous".
    with pytest.raises(MKTMEError, match="Policy.flush_old_alias must be True or False"):
        Policy.fixed().replace(flush_old_alias=np.array([1, 2]))
    assert Policy.as_proposed().replace(flush_old_alias=True).name == "as_proposed+flush_old_alias"
