"""memfd_secret() in the kernel model (Linux 5.14, mm/secretmem.c): out of the direct map at fault
time with one all-CPU TLB flush per page, refused by get_user_pages(), never swapped, back in the
direct map when freed."""
from __future__ import annotations

import pytest

from mktme_lite.kernel import PAGE_SIZE, KernelPageFault, SyscallError
from mktme_lite.kernel.constants import EFAULT, EINVAL
from mktme_lite.scenarios.pages import boot


@pytest.fixture
def secret():
    k, alice, gdb, _ = boot("core_series")
    va = alice.memfd_secret(2 * PAGE_SIZE)
    return k, alice, gdb, va


def test_a_fault_takes_the_frame_out_of_the_direct_map_with_one_shootdown(secret):
    k, alice, _, va = secret
    with k.measure() as spent:
        alice.write(va, b"private key")
    assert spent["direct_map_change"] == 1 and spent["tlb_shootdown"] == 1 and spent["page_fault"] == 1
    pa = alice.pagemap(va)["pa"]
    assert k.frame_info(pa)["direct_map"] == "unmapped"
    assert alice.read(va, 11) == b"private key"  # the owner's own mapping still works
    with pytest.raises(KernelPageFault):
        k.kernel_read_direct_map(pa, 16)


def test_untouched_pages_cost_nothing(secret):
    k, alice, _, va = secret
    with k.measure() as spent:
        alice.write(va + PAGE_SIZE, b"x")  # only the second page
    assert spent["direct_map_change"] == 1


def test_gup_refuses_secret_memory_but_not_ordinary_memory(secret):
    k, alice, gdb, va = secret
    alice.write(va, b"private key")
    with pytest.raises(SyscallError) as err:
        gdb.process_vm_readv(alice, va, 8)
    assert err.value.errno == EFAULT and "memfd_secret" in str(err.value)
    plain = alice.mmap(PAGE_SIZE)
    alice.write(plain, b"ordinary")
    assert gdb.process_vm_readv(alice, plain, 8) == b"ordinary"


def test_secret_pages_are_never_swapped(secret):
    k, alice, _, va = secret
    alice.write(va, b"private key")
    with pytest.raises(SyscallError) as err:
        k.swap_out(alice, va)
    assert err.value.errno == EINVAL
    plain = alice.mmap(PAGE_SIZE)
    alice.write(plain, b"ordinary")
    went = k.reclaim(8)
    assert (alice.pid, plain) in went and all(v != va for _, v in went)


def test_free_puts_the_frame_back_and_a_split_vma_stays_secret(secret):
    k, alice, _, va = secret
    alice.write(va + PAGE_SIZE, b"x")
    pa = alice.pagemap(va + PAGE_SIZE)["pa"]
    alice.munmap(va, PAGE_SIZE)  # splits the VMA; the upper half is still secret memory
    assert alice.find_vma(va + PAGE_SIZE).secret
    alice.munmap(va + PAGE_SIZE, PAGE_SIZE)
    assert k.frame_info(pa)["direct_map"] == "mapped at KeyID 0"
    assert k.frame_info(pa)["state"] == "free"


def test_ordinary_mappings_are_untouched_by_the_change():
    k, alice, _, _ = boot("core_series")
    va = alice.mmap(PAGE_SIZE)
    with k.measure() as spent:
        alice.write(va, b"x")
    assert spent["direct_map_change"] == 0 and not alice.find_vma(va).secret
    assert k.kernel_read_direct_map(alice.pagemap(va)["pa"], 1) == b"x"
