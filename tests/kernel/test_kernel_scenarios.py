"""Each claim of the 4 Dec 2018 reply, computed by the engine: present as proposed, gone when fixed.

Nothing here checks a flag the kernel sets: every assertion compares bytes a process or the
kernel reads back with the bytes that were written, or bytes on the swap device. The kernel
only decides which alias an access uses and when it flushes; the corruption (or its absence)
comes out of the hardware model's caches, engines and DRAM.
"""

import inspect

import pytest

from mktme_lite import Machine
from mktme_lite.kernel import (
    EFAULT,
    ENOKEY,
    MADV_DONTNEED,
    PAGE_SIZE,
    PKEY_DISABLE_WRITE,
    PROT_READ,
    PROT_WRITE,
    Kernel,
    KernelPageFault,
    Policy,
    Process,
    SegmentationFault,
    SyscallError,
)

from mktme_lite.scenarios.pages import encrypt_pages as encrypted_page  # the RFC demo flow, shared

RW = PROT_READ | PROT_WRITE
AS_PROPOSED = Policy.as_proposed()
FIXED = Policy.fixed()
CPU_KEY = "type=cpu algorithm=aes-xts-128"


def boot(policy, **machine_kw):
    machine_kw.setdefault("dram_bytes", 256 * 1024)
    machine_kw.setdefault("seed", 7)
    m = Machine(**machine_kw)
    return m, Kernel(m, policy)


SECRET = (b"attack at dawn! " * 256)[:PAGE_SIZE]


# -- C1: encrypt_mprotect is an incomplete mprotect (no pkey) ---------------------------------------
def test_c1_encrypt_mprotect_has_no_pkey_argument():
    assert list(inspect.signature(Process.encrypt_mprotect).parameters) == ["self", "addr", "length", "prot", "serial"]
    assert "pkey" in inspect.signature(Process.pkey_mprotect).parameters


@pytest.mark.parametrize("policy", [AS_PROPOSED, FIXED], ids=lambda p: p.name)
def test_c1_pkeys_need_a_second_call_and_survive_encrypt_mprotect(policy):
    m, k = boot(policy)
    p = k.spawn("p")
    key = k.add_key("mktme", "k", CPU_KEY)
    va = p.mmap(2 * PAGE_SIZE, RW)
    pkey = p.pkey_alloc(0, PKEY_DISABLE_WRITE)
    assert p.pkey_mprotect(va, 2 * PAGE_SIZE, RW, pkey) == 0
    with pytest.raises(SegmentationFault) as e:
        p.write(va, b"x")
    assert e.value.code == "SEGV_PKUERR"
    with pytest.raises(TypeError):
        p.encrypt_mprotect(va, 2 * PAGE_SIZE, RW, key, pkey)  # there is no slot for a pkey
    p.encrypt_mprotect(va, 2 * PAGE_SIZE, RW, key)
    # do_mprotect_ext(..., pkey=NO_KEY, keyid): the pkey set earlier is left as it was
    assert {v["pkey"] for v in p.maps()} == {pkey} and {v["keyid"] for v in p.maps()} == {k.keys.keyid_of(key)}
    with pytest.raises(SegmentationFault):
        p.write(va, b"x")
    p.pkey_set(pkey, 0)
    p.write(va, b"now allowed")
    assert p.read(va, 11) == b"now allowed"


# -- C2: encrypt_mprotect on populated anonymous memory == MADV_DONTNEED -------------------------------
@pytest.mark.parametrize("policy", [AS_PROPOSED, FIXED], ids=lambda p: p.name)
def test_c2_encrypt_mprotect_discards_like_madv_dontneed(policy):
    m, k = boot(policy)
    p = k.spawn("p")
    key = k.add_key("mktme", "k", CPU_KEY)
    a = p.mmap(2 * PAGE_SIZE, RW)
    b = p.mmap(2 * PAGE_SIZE, RW)
    for va in (a, b):
        p.write(va, SECRET + SECRET)
    p.encrypt_mprotect(a, 2 * PAGE_SIZE, RW, key)
    p.madvise(b, 2 * PAGE_SIZE, MADV_DONTNEED)
    after_encrypt = p.read(a, 2 * PAGE_SIZE)
    after_dontneed = p.read(b, 2 * PAGE_SIZE)
    assert after_encrypt == after_dontneed == bytes(2 * PAGE_SIZE)
    # the pages really went: new frames were faulted in with the new KeyID
    assert p.pagemap(a)["keyid"] == k.keys.keyid_of(key) and p.pagemap(b)["keyid"] == 0


def test_c2_same_key_same_prot_is_a_no_op_but_a_prot_change_zaps():
    # mprotect_fixup returns early when flags and KeyID match; otherwise mprotect_set_encrypt zaps.
    m, k = boot(FIXED)
    p = k.spawn("p")
    key = k.add_key("mktme", "k", CPU_KEY)
    va, _ = encrypted_page(k, p, SECRET, key)
    p.encrypt_mprotect(va, PAGE_SIZE, RW, key)
    assert p.read(va, PAGE_SIZE) == SECRET
    p.encrypt_mprotect(va, PAGE_SIZE, PROT_READ, key)
    assert p.read(va, PAGE_SIZE) == bytes(PAGE_SIZE)


# -- C4: swap through the KeyID-0 alias corrupts; plaintext lands on the device ------------------------
@pytest.mark.parametrize("policy", [AS_PROPOSED, FIXED], ids=lambda p: p.name)
def test_c4_swap_round_trip_into_another_frame(policy):
    m, k = boot(policy)
    p, q = k.spawn("p"), k.spawn("q")
    va, _ = encrypted_page(k, p, SECRET)
    old_pa = p.pagemap(va)["pa"]
    k.swap_out(p, va)
    q.write(q.mmap(PAGE_SIZE, RW), b"q")  # q takes the frame that was just freed
    back = p.read(va, PAGE_SIZE)  # swap-in into another frame
    assert p.pagemap(va)["pa"] != old_pa
    if policy is AS_PROPOSED:
        assert back != SECRET
        assert sum(a == b for a, b in zip(back, SECRET)) < PAGE_SIZE // 16  # garbage, not a few flipped bytes
    else:
        assert back == SECRET


def test_c4_keyid0_pages_swap_fine_even_as_proposed():
    # the KeyID-0 alias IS the page's alias for plain memory: only encrypted pages break
    m, k = boot(AS_PROPOSED)
    p, q = k.spawn("p"), k.spawn("q")
    va = p.mmap(PAGE_SIZE, RW)
    p.write(va, SECRET)
    k.swap_out(p, va)
    q.write(q.mmap(PAGE_SIZE, RW), b"q")
    assert p.read(va, PAGE_SIZE) == SECRET


@pytest.mark.parametrize(
    "policy, plaintext_on_device, survives",
    [
        # KeyID-0 read of a KeyID-k page: the slot holds neither the secret nor anything usable.
        # (Whether the page survives a swap-in into the SAME frame depends on timing: the
        # process's own dirty lines may still be cached. See the other-frame test above.)
        (AS_PROPOSED, False, None),
        (FIXED, True, True),  # the page's own KeyID: correct, and plaintext on the disk
        (FIXED.replace(encrypted_swap=True), False, True),  # "recommended, not enforced"
    ],
    ids=["as_proposed", "fixed", "fixed+encrypted_swap"],
)
def test_c4_what_lands_on_the_swap_device(policy, plaintext_on_device, survives):
    m, k = boot(policy)
    p = k.spawn("p")
    va, _ = encrypted_page(k, p, SECRET)
    slot = k.swap_out(p, va)
    assert (SECRET in k.swap.slot_bytes(slot)) is plaintext_on_device
    assert k.swap.contains(b"attack at dawn!") is plaintext_on_device
    if survives is not None:
        assert (p.read(va, PAGE_SIZE) == SECRET) is survives


# -- C6: a frame handed from KeyID a to KeyID b without flushes: late dirty write-back --------------
@pytest.mark.parametrize("policy", [AS_PROPOSED, FIXED, AS_PROPOSED.replace(flush_old_alias=True)],
                         ids=lambda p: p.name)
def test_c6_late_dirty_writeback_of_the_old_alias(policy):
    m, k = boot(policy)
    a = k.spawn("a", package=1)
    b = k.spawn("b", package=0)
    va, _ = encrypted_page(k, a, b"A" * PAGE_SIZE)
    frame = a.pagemap(va)["pa"]
    a.munmap(va, PAGE_SIZE)  # A's dirty lines (frame, KeyID a) may still sit in package 1's cache
    vb, _ = encrypted_page(k, b, b"B" * PAGE_SIZE)
    assert b.pagemap(vb)["pa"] == frame  # the allocator handed the same frame to B, KeyID b
    m.wbinvd(0)  # time passes on package 0: B's data reaches DRAM
    m.wbinvd(1)  # later, package 1 evicts whatever it still holds
    corrupted = b.read(vb, PAGE_SIZE) != b"B" * PAGE_SIZE
    assert corrupted is (not policy.flush_old_alias)


# -- Andy, 5 Dec: the new alias may have been filled speculatively ------------------------------------
@pytest.mark.parametrize(
    "policy", [FIXED, Policy.core_series(), FIXED.replace(flush_new_alias=False)], ids=lambda p: p.name
)
@pytest.mark.parametrize("zero", [False, True], ids=["keep-contents", "zeroed"])
def test_speculative_fill_of_the_new_alias(policy, zero):
    m, k = boot(policy)
    p = k.spawn("p")
    clear = k.add_key("mktme", "tme-alike", "type=clear")  # decrypts like KeyID 0: contents can survive
    kc = k.keys.keyid_of(clear)
    va = p.mmap(PAGE_SIZE, RW)
    p.write(va, SECRET)  # dirty lines under (frame, KeyID 0)
    pa = p.pagemap(va)["pa"]
    for line in range(0, PAGE_SIZE, 64):  # the CPU prefetches the other alias: stale, clean lines
        m.speculative_fill(m.hpa(pa + line, kc), package=0)
    k.change_frame_keyid(pa, kc, zero=zero)  # flush old alias; flush new alias iff the policy says so
    got = p.read(va, PAGE_SIZE)
    if zero:
        # Dave Hansen, 6 Dec: writes through the new mapping overwrite the stale lines
        assert got == bytes(PAGE_SIZE)
    else:
        assert (got == SECRET) is policy.flush_new_alias


# -- C7: re-keying a live KeyID ------------------------------------------------------------------------
@pytest.mark.parametrize("policy", [AS_PROPOSED, FIXED, AS_PROPOSED.replace(never_rekey_live_keyid=True)],
                         ids=lambda p: p.name)
def test_c7_rekeying_a_keyid_that_is_still_in_use(policy):
    m, k = boot(policy, keyid_bits=1)  # one hardware KeyID: reuse is forced
    a = k.spawn("a", package=0)
    key_a = k.add_key("mktme", "a", CPU_KEY)
    va, _ = encrypted_page(k, a, SECRET, key_a)
    m.wbinvd()  # SECRET reaches DRAM encrypted with A's key
    a.write(va + 64, b"D" * 64)  # ... but this line is dirty in the cache when the key changes
    keyid = k.keys.keyid_of(key_a)
    k.keyctl_invalidate(key_a)
    if policy.never_rekey_live_keyid:
        with pytest.raises(SyscallError) as e:
            k.add_key("mktme", "b", CPU_KEY)  # refused: A still uses the only KeyID
        assert e.value.errno == ENOKEY
        assert a.read(va, PAGE_SIZE) == SECRET[:64] + b"D" * 64 + SECRET[128:]
        a.munmap(va, PAGE_SIZE)  # last user gone: flushed, CLEAR_KEY, released
        assert k.keys.keyid_of(k.add_key("mktme", "b", CPU_KEY)) == keyid
    else:
        key_b = k.add_key("mktme", "b", CPU_KEY)  # PCONFIG reprograms A's live KeyID
        assert k.keys.keyid_of(key_b) == keyid
        m.wbinvd()  # the dirty line is written back AFTER the PCONFIG: new key
        got = a.read(va, PAGE_SIZE)
        assert got[:64] != SECRET[:64]  # written back before the PCONFIG: old key, now garbage
        assert got[64:128] == b"D" * 64  # written back after: new key, read with the new key


# -- C8: gup/kmap through the direct map --------------------------------------------------------------
@pytest.mark.parametrize(
    "design, outcome",
    [("keyid0", "garbage"), ("per_keyid", "data"), ("rekey", "data"), ("xpfo", "data"), ("unmapped", "EFAULT")],
)
def test_c8_process_vm_readv_through_each_direct_map_design(design, outcome):
    m, k = boot(FIXED.replace(direct_map=design))
    p, reader = k.spawn("p"), k.spawn("debugger", package=1)
    va, _ = encrypted_page(k, p, SECRET)
    if outcome == "EFAULT":
        with pytest.raises(SyscallError) as e:
            reader.process_vm_readv(p, va, 64)
        assert e.value.errno == EFAULT
        return
    got = reader.process_vm_readv(p, va, PAGE_SIZE)
    assert (got == SECRET) is (outcome == "data")


@pytest.mark.parametrize("policy", [AS_PROPOSED, FIXED], ids=lambda p: p.name)
def test_c8_gup_paths_as_proposed_and_fixed(policy):
    m, k = boot(policy)
    p, other = k.spawn("p"), k.spawn("other")
    va, _ = encrypted_page(k, p, SECRET)
    plain = p.mmap(PAGE_SIZE, RW)
    p.write(plain, SECRET)
    ok = policy is FIXED
    assert (other.process_vm_readv(p, va, PAGE_SIZE) == SECRET) is ok
    assert other.process_vm_readv(p, plain, PAGE_SIZE) == SECRET  # KeyID 0: the alias is right
    assert (k.direct_io_write(p, va, PAGE_SIZE) == SECRET) is ok
    other.process_vm_writev(p, va + 100, b"patched")  # a write through the kernel's alias
    assert (p.read(va + 100, 7) == b"patched") is ok
    assert (k.copy_from_user(p, va, 16) == SECRET[:16])  # copy_*_user use the user's mapping


# -- C9 / ret2dir: what the direct map shows an attacker, and what XPFO costs ---------------------------
@pytest.mark.parametrize(
    "design, plain_page, encrypted_page_",
    [
        ("keyid0", "payload", "garbage"),  # ret2dir works on KeyID-0 pages; MKTME pages read as garbage
        ("per_keyid", "payload", "garbage"),  # the KeyID-0 map; the attacker would have to pivot
        ("rekey", "payload", "payload"),  # re-keying gives the direct map a decrypting view
        ("xpfo", "fault", "fault"),  # user frames are simply not there
        ("unmapped", "payload", "fault"),  # only encrypted frames are dropped
    ],
)
def test_ret2dir_read_primitive(design, plain_page, encrypted_page_):
    m, k = boot(FIXED.replace(direct_map=design))
    victim = k.spawn("victim")
    payload = b"\x90" * 64
    plain = victim.mmap(PAGE_SIZE, RW)
    victim.write(plain, payload)
    enc, _ = encrypted_page(k, victim, payload)
    for va, expected in ((plain, plain_page), (enc, encrypted_page_)):
        pa = victim.pagemap(va)["pa"]
        if expected == "fault":
            with pytest.raises(KernelPageFault):
                k.kernel_read_direct_map(pa, 64)
        else:
            assert (k.kernel_read_direct_map(pa, 64) == payload) is (expected == "payload")


def test_per_keyid_attacker_pivots_to_the_right_map():
    m, k = boot(FIXED)
    victim = k.spawn("victim")
    va, key = encrypted_page(k, victim, SECRET)
    pa = victim.pagemap(va)["pa"]
    assert k.kernel_read_direct_map(pa, 64, keyid=k.keys.keyid_of(key)) == SECRET[:64]


def test_c9_xpfo_pays_a_tlb_shootdown_per_user_frame():
    counts = {}
    for design in ("per_keyid", "xpfo"):
        m, k = boot(FIXED.replace(direct_map=design))
        p, q = k.spawn("p"), k.spawn("q")
        va = p.mmap(8 * PAGE_SIZE, RW)
        with k.measure() as c:
            p.write(va, bytes(8 * PAGE_SIZE))  # 8 demand-zero faults
            q.process_vm_readv(p, va, 2 * PAGE_SIZE)  # 2 kmap/kunmap pairs
        counts[design] = c
    assert counts["per_keyid"]["tlb_shootdown"] == 0
    assert counts["xpfo"]["tlb_shootdown"] == 8 + 2
    assert counts["xpfo"]["kmap"] == counts["xpfo"]["kunmap"] == 2
    assert counts["xpfo"]["direct_map_change"] == 8 + 2 * 2
    assert counts["xpfo"]["page_fault"] == counts["per_keyid"]["page_fault"] == 8


def test_xpfo_frame_returns_to_the_direct_map_on_free():
    m, k = boot(FIXED.replace(direct_map="xpfo"))
    p = k.spawn("p")
    va = p.mmap(PAGE_SIZE, RW)
    p.write(va, b"x")
    pa = p.pagemap(va)["pa"]
    with pytest.raises(KernelPageFault):
        k.kernel_read_direct_map(pa, 64)
    p.munmap(va, PAGE_SIZE)
    k.kernel_read_direct_map(pa, 64)  # mapped again once the kernel owns it


def test_rekey_design_counts_direct_map_changes():
    m, k = boot(FIXED.replace(direct_map="rekey"))
    p = k.spawn("p")
    with k.measure() as c:
        va, _ = encrypted_page(k, p, SECRET)
        p.munmap(va, PAGE_SIZE)
    assert c["direct_map_change"] == 2 and c["tlb_shootdown"] >= 2  # re-key on alloc and on free
