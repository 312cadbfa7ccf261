"""Lesson 08's experiments: persistent memory across a reboot, and the TDX KeyID partition.

    from mktme_lite.scenarios import use_cases

    r = use_cases.pmem_run(key="user", flushed=True, move="none")   # -> PmemResult
    r.readback, r.intact, r.story
    use_cases.PMEM_CASES                                            # the lesson's telling settings
    p = use_cases.partition(keyid_bits=6, tdx_keyid_bits=2)          # -> Partition
    p.private, p.host_program, p.msr_0x87, p.addressable_gib
    use_cases.msr_rows(p)                                           # the MSR view, unmodelled fields named
    use_cases.coherence_run("late_writeback", coherent=True)        # -> CoherenceResult (SME_COHERENT idea)
    use_cases.option("cpu", "per_keyid")                            # -> Option: a key type x a kernel design
    use_cases.vm_table()                                            # VM hardening: a KeyID per guest vs XPO vs TDX
    use_cases.C11_USE_CASES, use_cases.requirements("pmem")          # the learner's C11 answer, as data

:func:`pmem_run` writes a record into persistent memory through a KeyID, power-cycles the
machine (:meth:`~mktme_lite.machine.Machine.reboot`: new TME key, empty key tables, pmem kept,
caches lost), programs the KeyID again the way the chosen key allows, optionally moves the
block the way a filesystem would, and reads the record back. Every outcome is what the engine
computes; nothing here decides whether a read "should" work.

:func:`partition` builds a machine with the BIOS split the learner picks and asks it: which
KeyIDs host PCONFIG accepts, which host accesses it refuses, what MSR 0x87 reads.

:func:`coherence_run` re-runs four of lessons 04-06's cache sequences on a Machine with and
without ``coherent_keyids`` (a model of the *idea* of AMD's SME_COHERENT, not of AMD's design) and
says which symptom each switch removes. :func:`option` runs one key type with one kernel design on
the kernel model (lesson 03's direct-map designs, plus the pmem namespace and the TDX module) and
returns what a stray kernel read, a deliberate kernel read, the ``get_user_pages()`` paths, a
reboot and a block move each give; :func:`vm_table` and the C11 requirements are built from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from ..address import (IA32_MKTME_KEYID_PARTITIONING, IA32_TME_ACTIVATE, AddressLayout, KeyIDPartition,
                       TMEActivate)
from ..errors import KeyIDError, ParameterError
from ..kernel import PAGE_SIZE, KernelPageFault, SyscallError
from ..keytable import PconfigCommand, PconfigStatus
from ..machine import LINE, Machine
from ..memory import line_tweak
from ..params import choose, flag, shown, whole
from ..xts import xts_decrypt
from . import aliasing
from .pages import OLD_LINE, RW, SEED, Page, boot, encrypt_pages

__all__ = ["KEYS", "MOVES", "PmemResult", "pmem_run", "PMEM_CASES", "Partition", "partition", "RECORD",
           "MSRRow", "msr_rows", "NOT_MODELLED",
           "COHERENCE_CASES", "CoherenceResult", "coherence_run", "coherence_table",
           "KEY_TYPES", "C11_DESIGNS", "Option", "option", "VM_OPTIONS", "vm_table",
           "C11_USE_CASES", "Requirement", "requirements", "meets", "finding", "MODEL_ANSWER", "VERDICTS"]

#: How the record's KeyID gets its key. "user": key material the owner keeps and supplies again
#: after the reboot (what pmem needs: Kai Huang, 7 Dec 2018); "cpu": KEYID_SET_KEY_RANDOM, a key
#: nobody can supply again; "tme": no KeyID of its own (KeyID 0, the TME key the CPU makes at boot).
KEYS = ("user", "cpu", "tme")
#: What happens to the block between writing and reading. "none"; "raw": a filesystem moves the
#: ciphertext to another block (defrag, CoW: with DAX the block IS the pmem page); "through_cpu":
#: the move goes through the CPU, reading with the KeyID at the old address and writing at the new.
MOVES = ("none", "raw", "through_cpu")
RECORD = b"pmem record: invoice 42, paid".ljust(LINE, b".")
_USER_KEY = (b"owner's data key", b"owner's tweakkey")
_KEYID = 3
_DRAM = 64 * 1024
_PMEM = 16 * 1024


@dataclass(frozen=True)
class PmemResult:
    key: str
    flushed: bool
    move: str
    rebooted: bool
    readback: bytes  # what the owner reads at the end
    intact: bool  # readback == RECORD
    dram_same: bool  # the record's ciphertext in DRAM survived the reboot unchanged
    read_pa: int  # where the record is read from (after a move: the new block)
    story: tuple[str, ...]  # what happened, step by step, in words


def _program(m: Machine, key: str, keyid: int) -> None:
    for p in range(m.packages):
        if key == "user":
            status = m.pconfig(p, keyid, PconfigCommand.KEYID_SET_KEY_DIRECT, *_USER_KEY)
        else:
            status = m.pconfig(p, keyid, PconfigCommand.KEYID_SET_KEY_RANDOM)
        assert status is PconfigStatus.PROG_SUCCESS


def pmem_run(key: str = "user", flushed: bool = True, move: str = "none", rebooted: bool = True,
             seed: int = 2018) -> PmemResult:
    """Write RECORD to pmem through a KeyID keyed by ``key``, reboot, re-key, maybe move, read back.

    Arguments are checked first, then the run is looked up in a cache (each setting runs once)."""
    key = choose(key, KEYS, "key (how the record's KeyID gets its key)")
    flushed = flag(flushed, "flushed (the record was written back before the power went)")
    move = choose(move, MOVES, "move (what happens to the block between writing and reading)")
    rebooted = flag(rebooted, "rebooted")
    seed = whole(seed, "seed", 0, 2**32)
    return _pmem_run(key, flushed, move, rebooted, seed)


@lru_cache(maxsize=64)
def _pmem_run(key: str, flushed: bool, move: str, rebooted: bool, seed: int) -> PmemResult:
    m = Machine(packages=2, keyid_bits=4, dram_bytes=_DRAM, pmem_bytes=_PMEM, seed=seed)
    keyid = 0 if key == "tme" else _KEYID
    pa = m.pmem.start
    story = []
    if keyid:
        _program(m, key, keyid)
        story.append(f"KeyID {keyid} programmed with {'the owner’s key' if key == 'user' else 'a random CPU key'}")
    else:
        story.append("KeyID 0: the TME key the CPU generated at boot")
    m.store(m.hpa(pa, keyid), RECORD)
    story.append(f"record stored at pa {pa:#x} through KeyID {keyid}")
    if flushed:
        m.clflush(m.hpa(pa, keyid))
        story.append("clflush: the record's line reached pmem")
    before = m.dram(pa, LINE)
    if rebooted:
        m = m.reboot()
        story.append("reboot: new TME key, key tables empty, caches lost, pmem kept")
        if keyid:
            _program(m, key, keyid)
            story.append("KeyID programmed again with " + ("the same owner’s key" if key == "user"
                                                           else "a fresh random key (the old one is gone)"))
    dram_same = m.dram(pa, LINE) == before
    read_pa = pa
    if move != "none":
        read_pa = pa + 4096
        if move == "raw":
            m.write_dram(read_pa, m.dram(pa, LINE))
            story.append(f"the filesystem copies the block's ciphertext to pa {read_pa:#x}")
        else:
            m.store(m.hpa(read_pa, keyid), m.load(m.hpa(pa, keyid), LINE))
            m.clflush(m.hpa(read_pa, keyid))
            story.append(f"the block is copied through the CPU: read via KeyID {keyid} at {pa:#x}, "
                         f"written via KeyID {keyid} at {read_pa:#x}")
    m.clflush(m.hpa(read_pa, keyid))  # read what DRAM holds, not a line cached before the re-key
    readback = m.load(m.hpa(read_pa, keyid), LINE)
    intact = readback == RECORD
    story.append("the owner reads the record back: " + ("intact" if intact else "garbage"))
    return PmemResult(key, flushed, move, rebooted, readback, intact, dram_same, read_pa, tuple(story))


#: The lesson's telling settings: (label, keyword arguments).
PMEM_CASES = (
    ("user key, written back", {"key": "user"}),
    ("user key, never written back", {"key": "user", "flushed": False}),
    ("CPU-generated key", {"key": "cpu"}),
    ("TME key (KeyID 0)", {"key": "tme"}),
    ("user key, block moved by the filesystem", {"key": "user", "move": "raw"}),
    ("user key, block moved through the CPU", {"key": "user", "move": "through_cpu"}),
)


@dataclass(frozen=True)
class Partition:
    keyid_bits: int
    tdx_keyid_bits: int
    phys_bits: int
    mktme: range  # KeyIDs the host may program and map (KeyID 0 not counted)
    private: range  # TDX private KeyIDs
    msr_0x87: int
    tme_activate: int
    host_program: tuple[tuple[int, str], ...]  # (KeyID, host PCONFIG status) for telling KeyIDs
    host_access: tuple[tuple[int, str], ...]  # (KeyID, "ok" or the refusal) for the same KeyIDs
    addressable_gib: float  # memory still addressable below the KeyID bits

    @property
    def description(self) -> str:
        return str(KeyIDPartition(len(self.mktme), len(self.private)))


def partition(keyid_bits: int = 6, tdx_keyid_bits: int = 2, phys_bits: int = 46) -> Partition:
    """Build a machine with this BIOS split and ask it what the host may do with each kind of KeyID."""
    keyid_bits = whole(keyid_bits, "keyid_bits (IA32_TME_ACTIVATE[35:32] is 4 bits)", 0, 15)
    tdx_keyid_bits = whole(tdx_keyid_bits, "tdx_keyid_bits (top KeyID bits kept for TDX, IA32_TME_ACTIVATE[39:36])",
                           0, 15)
    if tdx_keyid_bits > keyid_bits:
        raise ParameterError(
            f"tdx_keyid_bits={tdx_keyid_bits} asks for more TDX KeyID bits than the {keyid_bits} KeyID bit"
            f"{'s' if keyid_bits != 1 else ''} the BIOS activated: the TDX bits are the top ones of the activated "
            f"KeyID bits (IA32_TME_ACTIVATE[39:36] within [35:32]), so choose 0 to {keyid_bits}")
    phys_bits = whole(phys_bits, "phys_bits (x86-64 MAXPHYADDR)", 32, 52)
    return _partition(keyid_bits, tdx_keyid_bits, phys_bits)


@lru_cache(maxsize=256)
def _partition(keyid_bits: int, tdx_keyid_bits: int, phys_bits: int) -> Partition:
    layout = AddressLayout(phys_bits, keyid_bits)
    split = KeyIDPartition.split(layout.keyid_bits, tdx_keyid_bits)
    m = Machine(packages=1, keyid_bits=layout.keyid_bits, phys_bits=layout.phys_bits, dram_bytes=8192,
                tdx_keyid_bits=tdx_keyid_bits, trace=False)
    telling = sorted({k for k in (1, split.mktme_keyids, split.mktme_keyids + 1, layout.nr_keyids)
                      if 1 <= k <= layout.nr_keyids})
    program, access = [], []
    for k in telling:
        program.append((k, m.pconfig(0, k, PconfigCommand.KEYID_SET_KEY_RANDOM).name))
        try:
            m.store(m.hpa(0x40, k), b"host")
            access.append((k, "ok"))
        except KeyIDError:
            access.append((k, "refused: private KeyID, SEAM only"))
    return Partition(layout.keyid_bits, tdx_keyid_bits, layout.phys_bits, range(1, split.mktme_keyids + 1),
                     split.private_range, m.rdmsr(IA32_MKTME_KEYID_PARTITIONING), m.rdmsr(0x982),
                     tuple(program), tuple(access), layout.addressable_bytes / 2**30)


# ==========================================================================================
# The MSR view: what the BIOS split looks like in the registers, and what the model leaves out
# ==========================================================================================
#: Fields of the real registers the model does not implement, with where they are defined.
NOT_MODELLED: dict[str, tuple[str, str]] = {
    "integrity": ("AES-XTS with integrity (IA32_TME_CAPABILITY bits 1 and 3, IA32_TME_ACTIVATE bits 49 and 51; "
                  "TDX's MAC and TD-owner bit): the model's memory has no integrity, so a host write to a "
                  "private page is not detected",
                  "Intel SDM Vol. 4, architectural MSRs 0x981-0x982; Intel MKTME spec 336907 (TDX integrity details UNCONFIRMED)"),
    "exclusion": ("the TME exclusion range (IA32_TME_EXCLUDE_MASK 0x983, IA32_TME_EXCLUDE_BASE 0x984): a "
                  "BIOS range that KeyID 0 leaves unencrypted; the model encrypts all of KeyID 0",
                  "Intel SDM Vol. 4, architectural MSRs 0x983-0x984; Intel MKTME spec 336907"),
}


@dataclass(frozen=True)
class MSRRow:
    msr: int
    bits: str
    field: str
    value: str
    meaning: str
    modelled: bool = True
    source: str = ""


def msr_rows(p: Partition) -> tuple[MSRRow, ...]:
    """The fields of MSRs 0x87, 0x982 and 0x981 that carry the split, decoded from what the machine
    read, followed by the fields the model does not implement (:data:`NOT_MODELLED`)."""
    if not isinstance(p, Partition):
        raise ParameterError(f"msr_rows() needs a Partition from use_cases.partition(); got {shown(p)}")
    split = KeyIDPartition.decode(p.msr_0x87)
    act = TMEActivate.decode(p.tme_activate)
    r = split.private_range
    mktme = f"KeyIDs 1-{split.mktme_keyids}: the host may program and map them" if split.mktme_keyids else \
        "no KeyID the host may program"
    private = f"KeyIDs [{r.start}, {r.stop}): only the TDX module (SEAM) may use them" if split.tdx_keyids else \
        "none: every KeyID belongs to the host"
    rows = [
        MSRRow(IA32_MKTME_KEYID_PARTITIONING, "31:0", "MKTME KeyIDs", str(split.mktme_keyids), mktme),
        MSRRow(IA32_MKTME_KEYID_PARTITIONING, "63:32", "TDX private KeyIDs", str(split.tdx_keyids), private),
        MSRRow(IA32_TME_ACTIVATE, "35:32", "MK_TME_KEYID_BITS", str(act.keyid_bits),
               f"{act.keyid_bits} address bits carry a KeyID ({(1 << act.keyid_bits) - 1} KeyIDs besides KeyID 0)"),
        MSRRow(IA32_TME_ACTIVATE, "39:36", "TDX_RESERVED_KEYID_BITS", str(act.tdx_keyid_bits),
               f"the top {act.tdx_keyid_bits} KeyID bit(s) select a private KeyID" if act.tdx_keyid_bits
               else "no KeyID bit is kept for TDX"),
        MSRRow(IA32_TME_ACTIVATE, "63:48", "MK_TME_CRYPTO_ALGS", f"{act.crypto_algs:#06x}",
               "AES-XTS-128 only (bit 48), as on the 2018 parts"),
        MSRRow(0x981, "1, 3", "AES-XTS with integrity", "-", NOT_MODELLED["integrity"][0], False,
               NOT_MODELLED["integrity"][1]),
        MSRRow(0x983, "all", "IA32_TME_EXCLUDE_MASK / _BASE (0x983, 0x984)", "-", NOT_MODELLED["exclusion"][0],
               False, NOT_MODELLED["exclusion"][1]),
    ]
    return tuple(rows)


# ==========================================================================================
# SME_COHERENT: lessons 04-06's cache sequences with and without coherence across KeyIDs
# ==========================================================================================
#: case -> (what it runs, the lesson whose symptom it is)
COHERENCE_CASES: dict[str, tuple[str, str]] = {
    "read_other_keyid": ("write through KeyID 1, then read the same line through KeyID 2 at once (C5)", "04"),
    "late_writeback": ("the old owner's dirty KeyID-1 line is written back after the new owner's KeyID-2 write "
                       "(C6)", "04"),
    "speculative_stale": ("the new alias (KeyID 2) is filled speculatively before the old owner's last write; "
                          "the kernel flushes only the old alias", "04"),
    "dma_late_writeback": ("a device writes the freed frame through KeyID 0 while the CPU still holds a dirty "
                           "KeyID-1 line of it", "04, 05"),
    "rekey_dirty": ("PCONFIG gives KeyID 1 a new key while a KeyID-1 line is dirty; the write-back comes after it "
                    "(C7, on one package)", "06"),
}
_OLD = b"old owner, KeyID 1: settled".ljust(LINE, b".")
_LAST = b"old owner, KeyID 1: last write".ljust(LINE, b".")
_NEW = b"new owner, KeyID 2: fresh data".ljust(LINE, b".")
_DEV = b"device, through KeyID 0 (DMA)".ljust(LINE, b".")
_FRAME = 0x2000


@dataclass(frozen=True)
class CoherenceResult:
    case: str
    coherent: bool
    got: bytes  # what the last reader read
    expected: bytes  # what it reads when every alias is flushed at the right time (the flush protocol)
    symptom: bool  # got != expected
    invalidates: int  # lines the coherence switch wrote back and dropped on its own
    story: tuple[str, ...]


def _coherence_machine(coherent: bool) -> Machine:
    m = Machine(packages=1, keyid_bits=4, dram_bytes=_DRAM, seed=SEED, coherent_keyids=coherent)
    for keyid in (1, 2):
        assert m.pconfig(0, keyid, PconfigCommand.KEYID_SET_KEY_RANDOM) is PconfigStatus.PROG_SUCCESS
    return m


def coherence_run(case: str = "late_writeback", coherent: bool = False) -> CoherenceResult:
    """Run one of :data:`COHERENCE_CASES` on a machine with ``coherent_keyids=coherent``.

    ``expected`` is computed on the same machine state by the fix lesson 04 teaches (flush the
    other alias before the access), so ``symptom`` says whether the hardware alone gave the
    reader what the flush protocol would have."""
    case = choose(case, COHERENCE_CASES, "case (a cache sequence of lessons 04-06)")
    coherent = flag(coherent, "coherent (coherent_keyids, the SME_COHERENT idea)")
    return _coherence_run(case, coherent)


@lru_cache(maxsize=2 * len(COHERENCE_CASES))
def _coherence_run(case: str, coherent: bool) -> CoherenceResult:
    m = _coherence_machine(coherent)
    k1, k2, k0 = m.hpa(_FRAME, 1), m.hpa(_FRAME, 2), m.hpa(_FRAME, 0)
    m.store(k1, _OLD)
    m.wbinvd()
    story = ["the frame holds the old owner's line, written back, under KeyID 1"]
    start = m.counters["invalidate"]
    if case == "read_other_keyid":
        m.store(k1, _LAST)
        story.append("the old owner writes through KeyID 1 (the line stays dirty in the cache)")
        ref = m.clone()
        ref.clflush(k1)
        expected = ref.load(k2)
        got = m.load(k2)
        story.append("a reader loads the line through KeyID 2 at once")
    elif case == "late_writeback":
        m.store(k1, _LAST)
        story.append("the old owner writes through KeyID 1; the page is handed to KeyID 2 without a flush")
        m.store(k2, _NEW)
        story.append("the new owner writes a whole line through KeyID 2")
        m.evict(k2)
        m.evict(k1)
        story.append("evictions: the KeyID-2 line leaves first, the KeyID-1 line after it")
        expected = _NEW
        got = m.load(k2)
        story.append("the new owner reads its line back")
    elif case == "speculative_stale":
        m.speculative_fill(k2)
        story.append("a speculative fill brings the KeyID-2 alias into the cache, clean")
        m.store(k1, _LAST)
        m.clflush(k1)
        story.append("the old owner writes through KeyID 1; the kernel flushes the old alias (only)")
        expected = m.dram_as(k2)
        got = m.load(k2)
        story.append("the new owner reads through KeyID 2 without writing first")
    elif case == "rekey_dirty":
        m.store(k1, _LAST)
        story.append("the owner writes through KeyID 1 (the line stays dirty)")
        ref = m.clone()  # the same random key comes out of the cloned generator
        ref.clflush(k1)
        assert ref.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_RANDOM) is PconfigStatus.PROG_SUCCESS
        assert m.pconfig(0, 1, PconfigCommand.KEYID_SET_KEY_RANDOM) is PconfigStatus.PROG_SUCCESS
        m.clflush(k1)
        story.append("PCONFIG gives KeyID 1 a new key; only then is the dirty line written back")
        expected, got = ref.dram(_FRAME), m.dram(_FRAME)
        story.append("the line's ciphertext in DRAM is compared with a write-back before the PCONFIG")
    else:  # dma_late_writeback
        m.store(k1, _LAST)
        story.append("the guest writes through KeyID 1; the frame is freed without a flush")
        m.dma_write(k0, _DEV)
        story.append("a device writes the frame through KeyID 0 (its IOMMU mapping)")
        m.evict(k1)
        story.append("later, the KeyID-1 line is evicted and written back")
        expected = _DEV
        got = m.load(k0)
        story.append("the host reads the device's data through KeyID 0")
    invalidates = m.counters["invalidate"] - start
    symptom = got != expected
    story.append(("the reader got what the flush protocol gives" if not symptom else
                  "the reader did NOT get what the flush protocol gives"))
    return CoherenceResult(case, coherent, got, expected, symptom, invalidates, tuple(story))


def coherence_table() -> tuple[tuple[str, bool, bool], ...]:
    """(case, symptom without coherence, symptom with coherent_keyids) for every case."""
    return tuple((c, coherence_run(c, False).symptom, coherence_run(c, True).symptom) for c in COHERENCE_CASES)


# ==========================================================================================
# Key types x kernel designs: VM hardening and the C11 answer
# ==========================================================================================
#: How a use case's memory gets its key (C11's choice).
KEY_TYPES: dict[str, str] = {
    "tme": "KeyID 0: the TME key the CPU makes at every boot",
    "cpu": "a KeyID of its own, with a key the CPU generates (KEYID_SET_KEY_RANDOM)",
    "user": "a KeyID of its own, with a key the owner supplies (KEYID_SET_KEY_DIRECT)",
    "tdx": "a TDX private KeyID (only the TDX module, in SEAM, may use it)",
}
#: The kernel designs a use case may pick: lesson 03's direct-map designs and two more.
C11_DESIGNS: dict[str, str] = {
    **aliasing.DESIGNS,
    "namespace": "pmem: the whole namespace under one KeyID, below the filesystem (dm-crypt style)",
    "tdx_module": "TDX: the TDX module keys and maps guest memory; the host keeps no usable alias",
}
_USER_PAYLOAD = f"type=user algorithm=aes-xts-128 key={_USER_KEY[0].hex()} tweak={_USER_KEY[1].hex()}"


@dataclass(frozen=True)
class Option:
    """What the engine shows for one key type with one kernel design (``valid`` False: the pair makes
    no sense, ``why`` says why, and the other fields are empty)."""

    key: str
    design: str
    valid: bool
    why: str = ""
    stray_read: str = ""  # a kernel read of __va(pa): "PLAINTEXT", "garbage", "oops"
    kernel_read: str = ""  # the host kernel maps the frame with the page's own KeyID: "PLAINTEXT", "refused"
    gup: str = ""  # get_user_pages() paths (debugger, O_DIRECT): "right", "GARBAGE", "EFAULT", "refused"
    events: tuple[tuple[str, int], ...] = ()  # one page's life (fault, one process_vm_readv, free)
    direct_maps: int = 0
    survives_reboot: bool | None = None  # pmem_run: the data reads back after a power cycle
    survives_move: bool | None = None  # pmem_run, no reboot: the data reads back after its block moved
    #                                    (raw under a DAX design, through the CPU under "namespace")
    dump_decrypts: bool = False  # whoever holds the key software supplied decrypts a DRAM dump of the page

    @property
    def extra_events(self) -> int:
        """Events this option's page life costs beyond munmap's one TLB shootdown (``-1``: not modelled)."""
        if not self.events:
            return -1
        return sum(n for _, n in self.events) - 1


def _page(key: str, design: str) -> Page:
    """One page of alice's under ``design`` (core-series flushes), keyed the ``key`` way, settled in DRAM."""
    k, owner, debugger, serial = boot(aliasing.policy_for(design, "core_series"), SEED, trace=False)
    if key == "tme":
        va = owner.mmap(PAGE_SIZE, RW)
        owner.write(va, OLD_LINE)
    else:
        if key == "user":
            serial = owner.add_key("mktme", "alice-user-key", _USER_PAYLOAD)
        va, _ = encrypt_pages(k, owner, OLD_LINE, serial)
    k.machine.wbinvd()
    info = owner.pagemap(va)
    return Page(k, owner, debugger, va, info["pa"], info["keyid"], serial)


def _life(key: str, design: str) -> dict[str, int]:
    """Events of one page's life, as lesson 03's compare_designs() measures them."""
    k, owner, debugger, serial = boot(aliasing.policy_for(design, "core_series"), SEED, trace=False)
    if key == "user":
        serial = owner.add_key("mktme", "alice-user-key", _USER_PAYLOAD)
    with k.measure() as spent:
        va = owner.mmap(PAGE_SIZE, RW)
        if key != "tme":
            owner.encrypt_mprotect(va, PAGE_SIZE, RW, serial)
        owner.write(va, OLD_LINE)
        try:
            debugger.process_vm_readv(owner, va, len(OLD_LINE))
        except SyscallError:  # EFAULT under "unmapped"
            pass
        owner.munmap(va, PAGE_SIZE)
    return {kind: spent.get(kind, 0) for kind in aliasing.COST_KINDS}


def _tdx_option() -> Option:
    """A TD's page under a private KeyID: what the host gets, and what a power cycle leaves of it
    (computed on a Machine with the Linux example's split, the page in its persistent memory)."""
    m = Machine(packages=1, keyid_bits=6, dram_bytes=_DRAM, pmem_bytes=_PMEM, seed=SEED, tdx_keyid_bits=2,
                trace=False)
    # The TDX module keeps one private KeyID as its global KeyID; modelling choice: the first one, so the
    # guest takes the second.
    guest = m.partition.private_range.start + 1
    pa = m.pmem.start
    with m.seam():
        assert m.pconfig(0, guest, PconfigCommand.KEYID_SET_KEY_RANDOM) is PconfigStatus.PROG_SUCCESS
        m.store(m.hpa(pa, guest), OLD_LINE)
        m.clflush(m.hpa(pa, guest))
    stray = "PLAINTEXT" if m.load(m.hpa(pa, 0)) == OLD_LINE else "garbage"
    try:
        m.load(m.hpa(pa, guest))
        deliberate = "PLAINTEXT"
    except KeyIDError:
        deliberate = "refused"
    m = m.reboot()
    with m.seam():  # the TDX module keys the TD again: a fresh random key, nobody holds the old one
        assert m.pconfig(0, guest, PconfigCommand.KEYID_SET_KEY_RANDOM) is PconfigStatus.PROG_SUCCESS
        reboot = m.load(m.hpa(pa, guest)) == OLD_LINE
    return Option("tdx", "tdx_module", True, "", stray, deliberate, deliberate, (), 1, reboot, None)


def option(key: str = "cpu", design: str = "per_keyid") -> Option:
    """Run one key type with one kernel design and say what the engine shows (see :class:`Option`)."""
    key = choose(key, KEY_TYPES, "key (how the memory gets its key)")
    design = choose(design, C11_DESIGNS, "design (the kernel design)")
    return _option(key, design)


@lru_cache(maxsize=64)
def _option(key: str, design: str) -> Option:
    if (key == "tdx") != (design == "tdx_module"):
        why = ("a TDX private KeyID is used only by the TDX module, so it goes with the design tdx_module"
               if key == "tdx" else "the TDX module keys its guests with private KeyIDs: pick key 'tdx' with it")
        return Option(key, design, False, why)
    if key == "tdx":
        return _tdx_option()
    if design == "namespace":
        if key == "tme":
            return Option(key, design, False, "a namespace of its own needs a KeyID of its own, not KeyID 0")
        reboot = pmem_run(key=key).intact
        return Option(key, design, True, "", "", "", "", (), 1, reboot,
                      pmem_run(key=key, move="through_cpu", rebooted=False).intact)
    page = _page(key, design)
    try:
        got = page.kernel.kernel_read_direct_map(page.pa, LINE)
        stray = "PLAINTEXT" if got == OLD_LINE else "garbage"
    except KernelPageFault:
        stray = "oops"
    m = page.machine
    deliberate = "PLAINTEXT" if m.load(m.hpa(page.pa, page.keyid)) == OLD_LINE else "garbage"
    outcomes = [aliasing.run_path(page.clone(), name, OLD_LINE) for name in aliasing.TABLE_PATHS]
    gup = next((o for o in outcomes if o != "right"), "right")
    maps = m.nr_keyids + 1 if design == "per_keyid" else 1
    # Only a user key exists outside the CPU; try it on what a cold-boot dump of the frame holds.
    dump = key == "user" and xts_decrypt(*_USER_KEY, line_tweak(page.pa), m.dram(page.pa)) == OLD_LINE
    return Option(key, design, True, "", stray, deliberate, gup, tuple(_life(key, design).items()), maps,
                  pmem_run(key=key).intact, pmem_run(key=key, move="raw", rebooted=False).intact, dump)


#: VM hardening, the rows of lesson 08's table: (label, key, design). QEMU encrypt_mprotect()s guest
#: RAM with the guest's KeyID (Kai Huang's 2019 KVM patch put it in the EPT); the host reaches it as
#: lesson 03's designs allow; "XPO alone" is Andy's comparison; TDX is what Intel built later.
VM_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("guest KeyID, one KeyID-0 direct map (RFC v2 alone)", "cpu", "keyid0"),
    ("guest KeyID, a direct map per KeyID (2019 series)", "cpu", "per_keyid"),
    ("guest KeyID, re-keyed direct-map entry", "cpu", "rekey"),
    ("guest KeyID, dropped from the direct map", "cpu", "unmapped"),
    ("no KeyID, XPFO: Andy's XPO alone", "tme", "xpfo"),
    ("TDX private KeyID", "tdx", "tdx_module"),
)


def vm_table() -> tuple[tuple[str, Option], ...]:
    """Every :data:`VM_OPTIONS` row as ``(label, option)``."""
    return tuple((label, option(key, design)) for label, key, design in VM_OPTIONS)


# ==========================================================================================
# C11: the learner's answer, as data
# ==========================================================================================
#: The use cases the learner keys, in the order the lesson asks about them.
C11_USE_CASES: tuple[str, ...] = ("anonymous memory", "pmem", "a VM", "a container", "a secret in one process")


@dataclass(frozen=True)
class Requirement:
    """One thing a use case needs, tested on an :class:`Option`; ``why`` says where the course showed it."""

    name: str
    test: Callable[[Option], bool]
    why: str
    #: What the engine found for one option, in words (a check's hint names the learner's own choice with it).
    found: Callable[[Option], str] = lambda o: ""


def _gup(o: Option) -> bool:
    return o.gup == "right"


def _gup_found(o: Option) -> str:
    return f"get_user_pages() through its page gets {o.gup}"


def _events_found(o: Option) -> str:
    if o.extra_events < 0:
        return "its events are not modelled (the TDX module's work)"
    extra = dict(o.events)
    extra["tlb_shootdown"] -= 1  # munmap()'s own
    words = ", ".join(f"{n} {name}" for name, n in extra.items() if n)
    return f"one page's life costs {words or 'nothing'} beyond munmap()'s one TLB shootdown"


def _maps_found(o: Option) -> str:
    return f"it needs {o.direct_maps} direct map{'s' if o.direct_maps != 1 else ''}"


def _survives(what: str, ok) -> str:
    return f"the owner reads {'the record' if ok else 'garbage'} after {what}" if ok is not None else \
        f"what the owner reads after {what} is not modelled"


def _stray_found(o: Option) -> str:
    return f"a stray read of __va(pa) gets {o.stray_read}"


def _dump_found(o: Option) -> str:
    return ("software supplied the key, so whoever holds it decrypts a DRAM dump of the page" if o.dump_decrypts
            else "no key leaves the CPU")


_REQUIREMENTS: dict[str, tuple[Requirement, ...]] = {
    "anonymous memory": (
        Requirement("get_user_pages() paths right", _gup,
                    "lesson 03: direct I/O and debuggers reach anonymous memory through get_user_pages()", _gup_found),
        Requirement("no event beyond munmap()'s", lambda o: o.extra_events == 0,
                    "lessons 03-04 and 07: a KeyID of its own costs a page of clflushes each time a frame changes "
                    "KeyID, and taking pages out of the direct map costs TLB shootdowns", _events_found),
        Requirement("one direct map", lambda o: o.direct_maps == 1,
                    "lesson 03: a direct map per KeyID takes 64 copies of the direct-map region", _maps_found),
    ),
    "pmem": (
        Requirement("reads back after a reboot", lambda o: o.survives_reboot is True,
                    "pmem_run(): the TME key is new at every boot and a CPU key cannot be supplied again",
                    lambda o: _survives("a reboot", o.survives_reboot)),
        Requirement("reads back after the filesystem moves its block", lambda o: o.survives_move is True,
                    "pmem_run(move='raw'): the tweak is the physical address, so moved ciphertext is garbage",
                    lambda o: _survives("its block moved", o.survives_move)),
    ),
    "a VM": (
        Requirement("a stray host read does not see plaintext", lambda o: o.stray_read != "PLAINTEXT",
                    "lesson 03: a re-keyed or unencrypted direct map shows the host the guest's memory", _stray_found),
        Requirement("device assignment (get_user_pages()) does not return wrong data",
                    lambda o: o.gup in ("right", "refused"),
                    "lesson 03 and Dave Hansen, 4 Dec 2018: device assignment into VMs needs get_user_pages()",
                    _gup_found),
    ),
    "a container": (
        Requirement("get_user_pages() paths right", _gup,
                    "lesson 03: a container's processes use the same kernel paths as any process", _gup_found),
        Requirement("no event beyond munmap()'s", lambda o: o.extra_events == 0,
                    "the shared kernel reads any KeyID in plaintext (kernel_read), so a key per tenant buys "
                    "nothing against it and costs the flushes; pages out of the direct map cost TLB shootdowns",
                    _events_found),
        Requirement("one direct map", lambda o: o.direct_maps == 1,
                    "lesson 03: a direct map per KeyID takes 64 copies of the direct-map region", _maps_found),
    ),
    "a secret in one process": (
        Requirement("a stray kernel read does not see plaintext", lambda o: o.stray_read != "PLAINTEXT",
                    "lesson 03: the direct map is the alias a stray or ret2dir-style kernel read uses", _stray_found),
        Requirement("no copy of the key outside the CPU", lambda o: not o.dump_decrypts,
                    "option('user', ...): whoever holds a user key decrypts a cold-boot dump; Andy, 12 Dec 2018: "
                    "user keys are weaker than CPU keys", _dump_found),
    ),
}


def requirements(use_case: str) -> tuple[Requirement, ...]:
    """What :data:`C11_USE_CASES` entry ``use_case`` needs, each with the lesson that showed it."""
    return _REQUIREMENTS[choose(use_case, C11_USE_CASES, "use case")]


def meets(use_case: str, key: str, design: str) -> tuple[tuple[str, bool, str], ...]:
    """``(requirement, met, why)`` for one choice; an invalid pair fails a first row saying why."""
    o = option(key, design)
    if not o.valid:
        return (("a pair that makes sense", False, o.why),)
    if design == "namespace" and use_case != "pmem":
        return (("a design for this use case", False, "the namespace design is for persistent memory"),)
    if key == "tdx" and use_case != "a VM":
        return (("a key this use case can use", False, "TDX private KeyIDs key TD guests, and option('tdx', "
                 "'tdx_module') shows the host refused: a host process, container or filesystem could not touch "
                 "its own memory"),)
    return tuple((r.name, bool(r.test(o)), r.why) for r in requirements(use_case))


def finding(use_case: str, key: str, design: str, requirement: str) -> str:
    """What the engine found for this choice on one requirement of :func:`requirements`, in words
    ("" for a pair that makes no sense: :func:`meets` says why)."""
    reqs = {r.name: r for r in requirements(use_case)}
    r = reqs[choose(requirement, reqs, f"requirement of {use_case!r}")]
    o = option(key, design)
    return r.found(o) if o.valid else ""


#: The course's own answer, for the learner to compare a free-text argument with.
MODEL_ANSWER = (
    "Anonymous memory and containers: KeyID 0, the TME key. A key of their own adds a page of clflushes "
    "per KeyID change and direct-map repairs, and the shared kernel still reads every KeyID in plaintext, "
    "so it protects nothing the TME key does not (C3). pmem: a key the owner supplies again after the "
    "reboot, for the whole namespace below the filesystem, because a CPU key dies with the boot and the "
    "tweak binds ciphertext to its address (C10). A VM: under the thread's threat model (a trusted host), "
    "a guest KeyID with per-KeyID direct maps is no better than XPFO with no KeyID at all, as Andy said; "
    "TDX's private KeyIDs are the first choice that refuses the host itself. A secret in one process: take "
    "it out of the direct map (memfd_secret, XPFO's idea for one range); a KeyID only turns a stray read "
    "into garbage. So, to Andy's question: outside pmem, and TDX guests, nothing in this course needed a "
    "key other than the CPU's."
)


#: The verdict summary's last column, claim by claim (the claims themselves come from lessons.toml).
#: Sources: the mails and lessons each verdict names (the lessons quote them with message ids).
VERDICTS: dict[str, str] = {
    "C1": "True of the RFC: encrypt_mprotect() takes no pkey; Andy said it again in June 2019.",
    "C2": "True: a KeyID change drops the pages' contents; Dave Hansen agreed (\"functionally MADV_DONTNEED\").",
    "C3": "Not disputed: KeyID 0 already defeats the cold-boot attacker and costs no event; every other key "
          "type in lesson 08's C11 table pays flushes or direct-map repairs.",
    "C4": "True of the RFC v2 API alone; the core series answered with per-KeyID direct maps and KeyID-aware DMA.",
    "C5": "True; Dave Hansen confirmed the spec's rule (one writable alias, clflush before switching). Only "
          "coherence in hardware removes it, and not for DMA (lesson 08).",
    "C6": "True: the old alias's late write-back overwrites the new owner's line unless it is flushed first.",
    "C7": "True as a race; Intel's answer was never to reprogram a KeyID in use and to flush first.",
    "C8": "True for one KeyID-0 direct map; every repair has a price: 64 direct maps, plaintext in the "
          "direct map, EFAULT, or XPFO's shootdowns.",
    "C9": "XPFO was measured and never merged; memfd_secret (Linux 5.14) removes only opt-in secret memory.",
    "C10": "pmem needs a key that survives the reboot and a namespace-level design; it was never implemented. "
           "VM use was prototyped in 2019, never merged, and TDX replaced it.",
    "C11": "The learner's answer. The course's: outside pmem and TDX guests, nothing it computed needed a key "
           "other than the CPU's.",
}
