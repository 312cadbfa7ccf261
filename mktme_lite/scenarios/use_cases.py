"""Lesson 08's experiments: persistent memory across a reboot, and the TDX KeyID partition.

    from mktme_lite.scenarios import use_cases

    r = use_cases.pmem_run(key="user", flushed=True, move="none")   # -> PmemResult
    r.readback, r.intact, r.story
    use_cases.PMEM_CASES                                            # the lesson's telling settings
    p = use_cases.partition(keyid_bits=6, tdx_keyid_bits=2)          # -> Partition
    p.private, p.host_program, p.msr_0x87, p.addressable_gib

:func:`pmem_run` writes a record into persistent memory through a KeyID, power-cycles the
machine (:meth:`~mktme_lite.machine.Machine.reboot`: new TME key, empty key tables, pmem kept,
caches lost), programs the KeyID again the way the chosen key allows, optionally moves the
block the way a filesystem would, and reads the record back. Every outcome is what the engine
computes; nothing here decides whether a read "should" work.

:func:`partition` builds a machine with the BIOS split the learner picks and asks it: which
KeyIDs host PCONFIG accepts, which host accesses it refuses, what MSR 0x87 reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..address import IA32_MKTME_KEYID_PARTITIONING, AddressLayout, KeyIDPartition
from ..errors import KeyIDError
from ..keytable import PconfigCommand, PconfigStatus
from ..machine import LINE, Machine
from ..params import choose, flag, whole

__all__ = ["KEYS", "MOVES", "PmemResult", "pmem_run", "PMEM_CASES", "Partition", "partition", "RECORD"]

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


@lru_cache(maxsize=64)
def pmem_run(key: str = "user", flushed: bool = True, move: str = "none", rebooted: bool = True,
             seed: int = 2018) -> PmemResult:
    """Write RECORD to pmem through a KeyID keyed by ``key``, reboot, re-key, maybe move, read back."""
    key = choose(key, KEYS, "key (how the record's KeyID gets its key)")
    flushed = flag(flushed, "flushed (the record was written back before the power went)")
    move = choose(move, MOVES, "move (what happens to the block between writing and reading)")
    rebooted = flag(rebooted, "rebooted")
    seed = whole(seed, "seed", 0, 2**32)
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


@lru_cache(maxsize=256)
def partition(keyid_bits: int = 6, tdx_keyid_bits: int = 2, phys_bits: int = 46) -> Partition:
    """Build a machine with this BIOS split and ask it what the host may do with each kind of KeyID."""
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
