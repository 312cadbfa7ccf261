"""System-call semantics and errno values of the kernel model (Linux behaviour, policy-independent)."""

import pytest

from mktme_lite import Machine
from mktme_lite.errors import ConfigError, MKTMEError, ParameterError
from mktme_lite.kernel import (
    EFAULT,
    EINVAL,
    EKEYREVOKED,
    ENOKEY,
    ENOMEM,
    ENOSPC,
    MADV_DONTNEED,
    PAGE_SIZE,
    PKEY_DISABLE_ACCESS,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    Kernel,
    Policy,
    SegmentationFault,
    SyscallError,
)

RW = PROT_READ | PROT_WRITE
CPU_KEY = "type=cpu algorithm=aes-xts-128"


@pytest.fixture
def k():
    return Kernel(Machine(dram_bytes=256 * 1024, seed=3), Policy.fixed())


@pytest.fixture
def p(k):
    return k.spawn("p")


def errno_of(fn, *args, **kw):
    with pytest.raises(SyscallError) as e:
        fn(*args, **kw)
    assert e.value.name in str(e.value) and e.value.reason in str(e.value)
    return e.value.errno


# -- mmap / munmap ------------------------------------------------------------------------------------
def test_mmap_returns_page_aligned_disjoint_ranges(p):
    a = p.mmap(1, RW)
    b = p.mmap(3 * PAGE_SIZE + 1, PROT_READ)
    assert a % PAGE_SIZE == 0 and b % PAGE_SIZE == 0
    assert b >= a + PAGE_SIZE
    assert [v["end"] - v["start"] for v in p.maps()] == [PAGE_SIZE, 4 * PAGE_SIZE]


@pytest.mark.parametrize("length, prot", [(0, RW), (-1, RW), (PAGE_SIZE, 8), ("4096", RW)])
def test_mmap_einval(p, length, prot):
    assert errno_of(p.mmap, length, prot) == EINVAL


def test_munmap_errors_and_holes(p):
    a = p.mmap(2 * PAGE_SIZE, RW)
    assert errno_of(p.munmap, a + 1, PAGE_SIZE) == EINVAL
    assert errno_of(p.munmap, a, 0) == EINVAL
    assert p.munmap(a + 10 * PAGE_SIZE, PAGE_SIZE) == 0  # unmapping nothing is fine (Linux)
    p.write(a, b"x" * (2 * PAGE_SIZE))
    assert p.munmap(a + PAGE_SIZE, PAGE_SIZE) == 0  # splits the VMA
    assert len(p.maps()) == 1 and p.read(a, 1) == b"x"
    with pytest.raises(SegmentationFault) as e:
        p.read(a + PAGE_SIZE, 1)
    assert e.value.code == "SEGV_MAPERR"


# -- mprotect / pkeys -----------------------------------------------------------------------------------
def test_mprotect_errors(p):
    a = p.mmap(2 * PAGE_SIZE, RW)
    assert errno_of(p.mprotect, a + 8, PAGE_SIZE, PROT_READ) == EINVAL  # unaligned addr
    assert errno_of(p.mprotect, a, PAGE_SIZE, 0x10) == EINVAL  # bad prot
    assert errno_of(p.mprotect, a, 3 * PAGE_SIZE, PROT_READ) == ENOMEM  # runs past the mapping
    assert errno_of(p.mprotect, 0x7000_0000, PAGE_SIZE, PROT_READ) == ENOMEM  # unmapped range
    assert p.mprotect(a, 0, PROT_READ) == 0


def test_mprotect_splits_and_keeps_contents(p):
    a = p.mmap(3 * PAGE_SIZE, RW)
    p.write(a, b"abc" * PAGE_SIZE)
    p.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_READ)
    assert [v["prot"] for v in p.maps()] == ["rw-", "r--", "rw-"]
    assert p.read(a, 3 * PAGE_SIZE) == b"abc" * PAGE_SIZE
    with pytest.raises(SegmentationFault) as e:
        p.write(a + PAGE_SIZE + 5, b"!")
    assert e.value.code == "SEGV_ACCERR"
    p.mprotect(a, 3 * PAGE_SIZE, PROT_NONE)
    with pytest.raises(SegmentationFault):
        p.read(a, 1)
    p.mprotect(a, 3 * PAGE_SIZE, PROT_EXEC)  # x86: exec implies read
    assert p.read(a, 3) == b"abc"


def test_a_failing_access_changes_nothing(p):
    a = p.mmap(2 * PAGE_SIZE, RW)
    p.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_READ)
    with pytest.raises(SegmentationFault):
        p.write(a + PAGE_SIZE - 2, b"span")  # crosses into the read-only page
    assert p.read(a + PAGE_SIZE - 2, 4) == bytes(4)


def test_pkeys(p):
    a = p.mmap(PAGE_SIZE, RW)
    assert errno_of(p.pkey_alloc, 1, 0) == EINVAL
    assert errno_of(p.pkey_alloc, 0, 4) == EINVAL
    keys = [p.pkey_alloc() for _ in range(15)]
    assert keys == list(range(1, 16))
    assert errno_of(p.pkey_alloc) == ENOSPC
    assert errno_of(p.pkey_mprotect, a, PAGE_SIZE, RW, 99) == EINVAL
    p.pkey_free(15)
    assert errno_of(p.pkey_free, 15) == EINVAL
    p.pkey_mprotect(a, PAGE_SIZE, RW, 3)
    p.pkey_set(3, PKEY_DISABLE_ACCESS)
    with pytest.raises(SegmentationFault) as e:
        p.read(a, 1)
    assert e.value.code == "SEGV_PKUERR"
    p.mprotect(a, PAGE_SIZE, PROT_READ)  # plain mprotect keeps the pkey
    assert p.maps()[0]["pkey"] == 3


def test_pkeys_do_not_apply_to_foreign_access(k, p):
    a = p.mmap(PAGE_SIZE, RW)
    p.write(a, b"hidden")
    pkey = p.pkey_alloc(0, PKEY_DISABLE_ACCESS)
    p.pkey_mprotect(a, PAGE_SIZE, RW, pkey)
    assert k.spawn("dbg").process_vm_readv(p, a, 6) == b"hidden"  # gup ignores PKRU (foreign mm)
    with pytest.raises(SyscallError) as e:
        k.copy_from_user(p, a, 6)  # copy_from_user runs with the task's PKRU: EFAULT
    assert e.value.errno == EFAULT


# -- madvise ----------------------------------------------------------------------------------------------
def test_madvise(p):
    a = p.mmap(2 * PAGE_SIZE, RW)
    p.write(a, b"z" * (2 * PAGE_SIZE))
    assert errno_of(p.madvise, a + 1, PAGE_SIZE, MADV_DONTNEED) == EINVAL
    assert errno_of(p.madvise, a, PAGE_SIZE, 99) == EINVAL
    assert errno_of(p.madvise, a, 3 * PAGE_SIZE, MADV_DONTNEED) == ENOMEM
    p.madvise(a + PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED)
    assert p.read(a, 2 * PAGE_SIZE) == b"z" * PAGE_SIZE + bytes(PAGE_SIZE)
    assert p.pagemap(a + PAGE_SIZE)["present"]  # faulted in again by the read


def test_madvise_on_a_file_mapping_rereads_the_file(p):
    f = p.mmap(PAGE_SIZE, RW, file=b"file contents")
    p.write(f, b"FILE")
    p.madvise(f, PAGE_SIZE, MADV_DONTNEED)
    assert p.read(f, 13) == b"file contents"


# -- encrypt_mprotect ----------------------------------------------------------------------------------
def test_encrypt_mprotect_errors(k, p):
    key = k.add_key("mktme", "k", CPU_KEY)
    a = p.mmap(2 * PAGE_SIZE, RW)
    f = p.mmap(PAGE_SIZE, RW, file=b"not anonymous")
    assert errno_of(p.encrypt_mprotect, a, 100, RW, key) == EINVAL  # len not page aligned (MKTME)
    assert errno_of(p.encrypt_mprotect, a + 64, PAGE_SIZE, RW, key) == EINVAL  # addr not aligned
    assert errno_of(p.encrypt_mprotect, a, PAGE_SIZE, RW, 424242) == ENOKEY  # bad serial
    assert errno_of(p.encrypt_mprotect, a, PAGE_SIZE, RW, "key") == ENOKEY
    assert errno_of(p.encrypt_mprotect, a, PAGE_SIZE, 0x40, key) == EINVAL  # bad prot
    assert errno_of(p.encrypt_mprotect, a, 4 * PAGE_SIZE, RW, key) == ENOMEM  # partly unmapped
    assert errno_of(p.encrypt_mprotect, f, PAGE_SIZE, RW, key) == EINVAL  # file-backed VMA
    assert p.maps()[0]["keyid"] == 0  # nothing changed by the failures
    k.keyctl_revoke(key)
    assert errno_of(p.encrypt_mprotect, a, PAGE_SIZE, RW, key) == EKEYREVOKED
    k.keyctl_invalidate(key)
    assert errno_of(p.encrypt_mprotect, a, PAGE_SIZE, RW, key) == ENOKEY


def test_encrypt_mprotect_on_part_of_a_vma_splits_it(k, p):
    key = k.add_key("mktme", "k", CPU_KEY)
    a = p.mmap(3 * PAGE_SIZE, RW)
    p.write(a, b"q" * (3 * PAGE_SIZE))
    p.encrypt_mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_READ, key)
    kid = k.keys.keyid_of(key)
    assert [(v["prot"], v["keyid"]) for v in p.maps()] == [("rw-", 0), ("r--", kid), ("rw-", 0)]
    assert p.read(a, 3 * PAGE_SIZE) == b"q" * PAGE_SIZE + bytes(PAGE_SIZE) + b"q" * PAGE_SIZE
    assert k.keys.refs(kid) == {"vmas": 1, "pages": 1, "swapped": 0}


# -- kernel access ----------------------------------------------------------------------------------
def test_copy_to_user_and_gup_errors(k, p):
    a = p.mmap(PAGE_SIZE, PROT_READ)
    assert errno_of(k.copy_to_user, p, a, b"x") == EFAULT  # read-only
    assert errno_of(k.copy_to_user, p, 0x6000_0000, b"x") == EFAULT  # unmapped
    assert errno_of(k.get_user_pages, p, 0x6000_0000) == EFAULT
    assert errno_of(k.get_user_pages, p, a, write=True) == EFAULT
    b = p.mmap(PAGE_SIZE, RW)
    assert k.copy_to_user(p, b, b"from the kernel") == 15
    assert p.read(b, 15) == b"from the kernel"
    (pa,) = k.get_user_pages(p, b)
    assert pa == p.pagemap(b)["pa"]


def test_swap_errors_and_reclaim():
    k = Kernel(Machine(dram_bytes=64 * 1024, seed=1), Policy.fixed(), swap_slots=2)
    p = k.spawn("p")
    a = p.mmap(PAGE_SIZE, RW)
    assert errno_of(k.swap_out, p, a) == EINVAL  # never touched: nothing to swap
    p.write(a, b"1")
    # 16 frames - 4 reserved = 12 user frames; touching 14 pages needs 2 swap-outs
    b = p.mmap(13 * PAGE_SIZE, RW)
    for i in range(13):
        p.write(b + i * PAGE_SIZE, bytes([i + 2]))
    assert k.swap.nr_free == 0
    assert p.pagemap(a)["swap_slot"] is not None  # the least recently used page went first
    c = p.mmap(PAGE_SIZE, RW)
    assert errno_of(p.write, c, b"oom") == ENOMEM  # no frame, no slot
    assert p.read(a, 1) == b"1"  # swap-in frees its slot first, so reclaim can make room
    assert k.swap.nr_free == 0 and p.pagemap(a)["present"]


def test_exited_process_and_bad_package(k):
    p = k.spawn("p")
    p.exit()
    assert errno_of(p.mmap, PAGE_SIZE) == EINVAL
    with pytest.raises(MKTMEError):
        k.spawn("q", package=5)
    with pytest.raises(ParameterError, match="unknown policy preset 'nonsense'"):
        Kernel(Machine(dram_bytes=64 * 1024), "nonsense")
    with pytest.raises(ConfigError):
        Policy.fixed().replace(direct_map="nope")
    with pytest.raises(ConfigError):
        Policy.fixed().replace(flush_it=True)
