"""Lesson 04's experiments: one frame, two KeyIDs, and the caches between them.

    from mktme_lite.scenarios import incoherence as inc

    lab = inc.lab()                          # alice's frame under KeyID 1, bob's key as KeyID 2
    r = inc.write_then_read()                # C5: write via KeyID a, read via KeyID b
    r = inc.handover(order="new_first")      # C6: the frame handed from a to b without a flush
    r = inc.speculative()                    # a stale clean line of the new alias
    steps = inc.protocol()                   # the flush protocol, one step at a time, with costs
    rows = inc.instruction_table()           # which instruction is enough for which step
    rows = inc.coherent_rerun()              # the symptoms again on Machine(coherent_keyids=True)
    points = inc.corruption_stats()          # fraction of seeded runs that lose data
    s = inc.stepper("c6")                    # op by op, with a snapshot (Machine.clone()) per step
    s.at(3).caches, s.machine_at(3)

Set-up: a kernel boots (alice and bob, one "mktme" key each, made by the CPU), alice maps and
encrypts one page with :func:`mktme_lite.scenarios.pages.encrypt_pages` and writes to it, and the
caches are emptied. From then on the experiments drive the machine directly at the frame's two
full addresses, ``(pa, KeyID a)`` and ``(pa, KeyID b)``: the kernel only made the frame and the
keys. Handing the frame from alice to bob (the "remap") changes page tables, not the machine, so
it is one trace event, ``keyid_change``, and nothing else.

Modelling choices the lesson names as such:

* Alice (the old owner) runs on package 1, bob (the new owner) on package 0, so the old owner's
  dirty lines sit in another package's cache, where no snoop of bob's KeyID ever finds them.
* "Time passes" is an explicit eviction order: :data:`ORDERS` says whose cache lines leave first.
  A real cache's order comes from its replacement policy and from all other traffic.
* :func:`corruption_stats` runs on a bare machine with tiny caches (its KeyIDs programmed by
  PCONFIG directly, TME bypass for the background traffic so the runs are fast) and lets random
  background loads on both packages decide the eviction order.

Nothing here decides an outcome: every "right", "stale" or "garbage" compares a load the machine
answered with what was written and with what a fresh fill would bring (:meth:`Machine.dram_as`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..dump import LINE
from ..errors import ParameterError
from ..kernel import PAGE_SIZE, Kernel
from ..keytable import PconfigCommand
from ..machine import Machine
from ..params import byteslike, choose, flag, shown, whole
from .pages import CPU_KEY, SEED, encrypt_pages

__all__ = [
    "KEY_PAIRS", "ORDERS", "OLD_PKG", "NEW_PKG", "LINES", "PRICES", "CATEGORIES", "STEPPER_SCENARIOS",
    "INSTRUCTIONS", "PROBES", "FREE_STEPS", "FLUSH_STEPS",
    "Lab", "Op", "LineView", "DramView", "ReadView", "Snapshot", "Stepper", "C5Result", "HandoverResult",
    "SpeculativeResult", "ProtocolStep", "InstructionRow", "CoherentRow", "StatPoint", "FreePathResult",
    "lab", "payload", "current", "apply", "time_passes", "classify", "write_then_read", "handover", "speculative",
    "protocol", "instruction_table", "coherent_rerun", "corruption_stats", "stepper", "run_free_path",
    "price_ns",
]

#: The two kinds of key pair a lab can have: distinct CPU keys (a wrong-key read is garbage), or two
#: no-encrypt KeyIDs (both read plaintext, so a stale line shows *old* data you can read).
KEY_PAIRS = {
    "cpu": "two CPU-generated keys (type=cpu): a read through the other key is garbage",
    "no-encrypt": "two no-encrypt KeyIDs (type=no-encrypt): both read DRAM as plaintext, so stale data is legible",
}
#: Whose lines leave the caches first when time passes.
ORDERS = {
    "new_first": "bob's package (0) is busy: its lines leave first, alice's package (1) later",
    "old_first": "alice's package (1) is busy: its lines leave first, bob's package (0) later",
}
OLD_PKG, NEW_PKG = 1, 0
#: The lines of the frame the lessons watch (the first four of its 64).
LINES = 4

#: Prices from the literature (each entry names its source), order-of-magnitude anchors on older
#: hardware: kind -> (nanoseconds, source sentence).
PRICES = {
    "clflush": (34.0, "about 34 ns per 64-byte line, derived from up to 2200 µs to clflush 1024 pages line by line "
                      "(John Ogness, commit 459fbe006934, Jan 2017)"),
    "wbinvd": (100_000.0, "WBINVD can stall the memory bus for over 100 µs (same commit); a lower bound, per "
                          "package"),
}

#: What a read can be, for predictions: the named payloads, then garbage.
CATEGORIES = ("alice's data", "alice's older data", "bob's data", "zeros", "garbage")


def payload(who: str, line: int, version: int = 1) -> bytes:
    """The 64 bytes ``who`` writes to ``line`` (version 1 or 2 for alice), legible in a hex dump.

    Every 16-byte block names the writer, the version and the line, so two versions differ in every
    AES block (XTS garbles block by block: versions that shared a block would share its garbage)."""
    choose(who, ("alice", "bob"), "writer")
    line = whole(line, "line (0 to 63)", 0, PAGE_SIZE // LINE - 1)
    version = whole(version, "version (1 or 2)", 1, 2)
    if who == "alice":
        blocks = [f"alice v{version} L{line} b{b}" for b in range(4)]
    else:
        blocks = [f"bob L{line} b{b} data" for b in range(4)]
    return b"".join(t.ljust(16, ".")[:16].encode() for t in blocks)


def current(m: Machine, h: int) -> bytes:
    """What a read of full address ``h`` should return (64 bytes of its line) once nothing stale is
    cached: the reader's own dirty copy if one is cached, else DRAM, decrypted with ``h``'s key, after
    every dirty copy of the line under any KeyID has been written back. Simulator-only: a probe on a
    clone; ``m`` is not changed."""
    if not isinstance(m, Machine):
        raise ParameterError(f"m must be a Machine; got {shown(m)}")
    h = whole(h, "h (a full physical address)", 0, hex_=True)
    m.dram_as(h, 1)  # refuses an address outside DRAM
    line_hpa = h - h % LINE
    for cache in m.caches:
        own = cache.lookup(line_hpa, touch=False)
        if own is not None and own.dirty:
            return bytes(own.data)
    pa = m.split(line_hpa)[0]
    dirty = [line.hpa for cache in m.caches for line in cache.set_of(line_hpa)
             if line.dirty and m.split(line.hpa)[0] == pa]
    if not dirty:
        return m.dram_as(line_hpa)
    probe = m.clone()
    for hpa in dirty:
        probe.clwb(hpa)
    return probe.dram_as(line_hpa)


# ---------------------------------------------------------------------------------------------------
# The lab: a frame, two KeyIDs
# ---------------------------------------------------------------------------------------------------
@dataclass
class Lab:
    """A kernel whose process alice owns one frame under KeyID ``old``; bob's key is KeyID ``new``."""

    kernel: Kernel
    pa: int
    old: int
    new: int
    keys: str

    @property
    def machine(self) -> Machine:
        return self.kernel.machine

    def keyid(self, role: str) -> int:
        return {"old": self.old, "new": self.new, "zero": 0}[role]

    def h(self, line: int, role: str) -> int:
        """Full address of ``line`` (0..63) of the frame under the KeyID of ``role`` (old/new/zero)."""
        return self.machine.hpa(self.pa + line * LINE, self.keyid(role))

    def clone(self) -> "Lab":
        return Lab(self.kernel.clone(), self.pa, self.old, self.new, self.keys)


def _payload_for(keys: str) -> tuple[str, str]:
    if keys == "cpu":
        return CPU_KEY, CPU_KEY
    return "type=no-encrypt", "type=no-encrypt"


@lru_cache(maxsize=8)
def _prepared(keys: str, coherent: bool, packages: int, seed: int) -> Lab:
    m = Machine(packages=packages, seed=seed, coherent_keyids=coherent)
    k = Kernel(m, "as_proposed")
    alice = k.spawn("alice", package=min(OLD_PKG, packages - 1))
    bob = k.spawn("bob", package=NEW_PKG)
    pa_key, pb_key = _payload_for(keys)
    serial_a = alice.add_key("mktme", "alice-key", pa_key)
    serial_b = bob.add_key("mktme", "bob-key", pb_key)
    data = b"".join(payload("alice", i) for i in range(PAGE_SIZE // LINE))
    va, _ = encrypt_pages(k, alice, data, serial_a)
    m.wbinvd()
    info = alice.pagemap(va)
    m.reset_trace()
    return Lab(k, info["pa"], info["keyid"], k.keys.keyid_of(serial_b), keys)


def lab(keys: str = "cpu", *, coherent: bool = False, packages: int = 2, seed: int = SEED) -> Lab:
    """A fresh lab (an independent copy): alice's frame holds :func:`payload` ("alice", i, 1) in every
    line, settled in DRAM under her KeyID; nothing is cached; the trace is empty."""
    choose(keys, KEY_PAIRS, "key pair")
    flag(coherent, "coherent")
    whole(packages, "packages", 1, 8)
    whole(seed, "seed", 0)
    return _prepared(keys, coherent, packages, seed).clone()


# ---------------------------------------------------------------------------------------------------
# Ops: what one step of an experiment does
# ---------------------------------------------------------------------------------------------------
OP_KINDS = ("store", "zero", "load", "clflush", "clflushopt", "clwb", "evict", "speculative_fill", "wbinvd",
            "wbnoinvd", "keyid_change", "dma_write", "time_passes")


@dataclass(frozen=True)
class Op:
    """One step. ``role`` picks the KeyID (``old``: alice's, ``new``: bob's); ``package`` the CPU;
    ``data`` what a store writes (b"" for loads and flushes); ``label`` the sentence the stepper shows."""

    kind: str
    role: str = "old"
    line: int = 0
    package: int = 0
    data: bytes = b""
    label: str = ""


def time_passes(m: Machine, pa: int, keyids, order: str, lines: int = PAGE_SIZE // LINE) -> list[str]:
    """Every cached line of the frame leaves the caches: the packages in ``order`` (one package after
    the other), inside a package least recently used first. Returns what left, in order."""
    if not isinstance(m, Machine):
        raise ParameterError(f"m must be a Machine; got {shown(m)}")
    choose(order, ORDERS, "eviction order")
    pa = whole(pa, "pa (the frame's physical address)", 0, m.dram_bytes - 1, hex_=True)
    if isinstance(keyids, (str, bytes)) or not isinstance(keyids, (tuple, list)) or not keyids:
        raise ParameterError(f"keyids must be a tuple of KeyIDs; got {shown(keyids)}")
    keyids = [m.layout.check_keyid(whole(k, "keyid")) for k in keyids]
    lines = whole(lines, "lines (of the frame)", 1, PAGE_SIZE // LINE)
    packages = [NEW_PKG, OLD_PKG] if order == "new_first" else [OLD_PKG, NEW_PKG]
    packages = [p for p in packages if p < m.packages] + [p for p in range(m.packages) if p not in (0, 1)]
    gone = []
    want = {m.hpa(pa + i * LINE, k) for i in range(lines) for k in keyids}
    for p in packages:
        for line in m.caches[p].lines():
            if line.hpa in want:
                lpa, keyid = m.split(line.hpa)
                gone.append(f"P{p} line {(lpa - pa) // LINE} K{keyid}{' dirty' if line.dirty else ''}")
                m.evict(line.hpa, p)
    return gone


def apply(lab_: Lab, op: Op) -> bytes | None:
    """Run ``op`` on ``lab_``'s machine; returns what a load read (None for every other kind)."""
    if not isinstance(lab_, Lab):
        raise ParameterError(f"lab_ must be a Lab (from incoherence.lab()); got {shown(lab_)}")
    if not isinstance(op, Op):
        raise ParameterError(f"op must be an incoherence.Op; got {shown(op)}")
    m = lab_.machine
    kind = choose(op.kind, OP_KINDS, "op kind")
    if kind in ("wbinvd", "wbnoinvd"):
        getattr(m, kind)(op.package)
        return None
    if kind == "keyid_change":
        m.emit("keyid_change", None, lab_.pa, lab_.keyid(op.role), op.label or "the frame changes KeyID")
        return None
    if kind == "time_passes":
        time_passes(m, lab_.pa, (lab_.old, lab_.new), "new_first" if op.role == "new" else "old_first")
        return None
    h = lab_.h(op.line, op.role)
    if kind == "store":
        m.store(h, op.data, op.package)
    elif kind == "zero":
        m.store(h, bytes(LINE), op.package)
    elif kind == "load":
        return m.load(h, LINE, op.package)
    elif kind == "evict":
        m.evict(h, op.package)
    elif kind == "speculative_fill":
        m.speculative_fill(h, op.package)
    elif kind == "dma_write":
        m.dma_write(h, op.data)
    else:
        getattr(m, kind)(h)
    return None


def classify(got: bytes, line: int, fresh: bytes) -> tuple[str, str]:
    """``(category, verdict)`` of a 64-byte read of ``line``: one of :data:`CATEGORIES`, and a
    sentence. ``fresh`` is what a fill would bring now (``Machine.dram_as``)."""
    got = byteslike(got, "got (the 64 bytes a load returned)", LINE, LINE)
    fresh = byteslike(fresh, "fresh (what the read should return)", LINE, LINE)
    line = whole(line, "line (0 to 63)", 0, PAGE_SIZE // LINE - 1)
    names = [("alice's data", payload("alice", line, 2), "alice's last write"),
             ("alice's older data", payload("alice", line, 1), "alice's first write, from before her last one"),
             ("bob's data", payload("bob", line), "bob's data"),
             ("zeros", bytes(LINE), "zeros")]
    stale = got != fresh
    for category, value, words in names:
        if got == value:
            return category, words + (" (from a stale line: it misses the frame's latest write)" if stale else "")
    if stale:
        return "garbage", "garbage from a stale line (it misses the frame's latest write)"
    return "garbage", "garbage: DRAM's ciphertext decrypted with this KeyID's key"


# ---------------------------------------------------------------------------------------------------
# The stepper: ops one by one, a snapshot per step
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineView:
    """One cache line as the stepper shows it."""

    package: int
    hpa: int
    pa: int
    keyid: int
    role: str  # "old", "new" or "other"
    line: int  # index within the frame (-1: not the frame)
    dirty: bool
    speculative: bool
    data: bytes


@dataclass(frozen=True)
class DramView:
    """One line of the frame in DRAM: its ciphertext and what each KeyID's fill would bring now."""

    line: int
    pa: int
    stored: bytes
    as_old: bytes
    as_new: bytes


@dataclass(frozen=True)
class ReadView:
    line: int
    keyid: int
    data: bytes
    category: str
    verdict: str


@dataclass(frozen=True)
class Snapshot:
    """The state after ``step`` ops (step 0: the start), and what the last op did."""

    step: int
    op: Op | None
    events: tuple[str, ...]  # every event the op emitted, as text
    event_kinds: tuple[str, ...]
    caches: tuple[tuple[LineView, ...], ...]  # per package
    dram: tuple[DramView, ...]
    read: ReadView | None
    old: int
    new: int
    pa: int
    coherent: bool


def _snapshot(lab_: Lab, step: int, op: Op | None, events, read: ReadView | None) -> Snapshot:
    m = lab_.machine
    caches = []
    for p in range(m.packages):
        views = []
        for line in m.caches[p].lines():
            pa, keyid = m.split(line.hpa)
            inside = lab_.pa <= pa < lab_.pa + PAGE_SIZE
            role = "old" if keyid == lab_.old else "new" if keyid == lab_.new else "other"
            views.append(LineView(p, line.hpa, pa, keyid, role if inside else "other",
                                  (pa - lab_.pa) // LINE if inside else -1, line.dirty, line.speculative,
                                  bytes(line.data)))
        caches.append(tuple(views))
    dram = tuple(DramView(i, lab_.pa + i * LINE, m.dram(lab_.pa + i * LINE), m.dram_as(lab_.h(i, "old")),
                          m.dram_as(lab_.h(i, "new"))) for i in range(LINES))
    return Snapshot(step, op, tuple(str(e) for e in events), tuple(e.kind for e in events), tuple(caches), dram,
                    read, lab_.old, lab_.new, lab_.pa, m.coherent_keyids)


class Stepper:
    """Ops run one by one; the machine after every step is kept (a ``Machine.clone()``), so any
    step can be shown again, forwards or backwards, exactly as it was."""

    def __init__(self, name: str, title: str, lab_: Lab, ops: tuple[Op, ...]):
        self.name, self.title, self.ops = name, title, tuple(ops)
        self.pa, self.old, self.new, self.keys = lab_.pa, lab_.old, lab_.new, lab_.keys
        work = lab_.clone()
        self._states = [work.machine.clone()]
        self._snapshots = [_snapshot(work, 0, None, (), None)]
        for i, op in enumerate(self.ops, start=1):
            before = len(work.machine.trace)
            got = apply(work, op)
            events = list(work.machine.trace)[before:]
            read = None
            if got is not None:
                fresh = current(work.machine, work.h(op.line, op.role))
                read = ReadView(op.line, work.keyid(op.role), got, *classify(got, op.line, fresh))
            self._states.append(work.machine.clone())
            self._snapshots.append(_snapshot(work, i, op, events, read))

    def __len__(self) -> int:
        """The number of ops (steps run 0..len)."""
        return len(self.ops)

    def _check(self, step) -> int:
        return whole(step, f"step (0 to {len(self)})", 0, len(self))

    def at(self, step: int) -> Snapshot:
        return self._snapshots[self._check(step)]

    def machine_at(self, step: int) -> Machine:
        """An independent copy of the machine as it was after ``step`` ops."""
        return self._states[self._check(step)].clone()

    def reads(self) -> list[tuple[int, ReadView]]:
        """``(step, read)`` for every load of the scenario."""
        return [(s.step, s.read) for s in self._snapshots if s.read is not None]


def _c5_ops() -> tuple[Op, ...]:
    return (
        Op("store", "old", 0, NEW_PKG, payload("alice", 0, 2), "alice writes line 0 through KeyID a (now dirty in P0)"),
        Op("load", "new", 0, NEW_PKG, label="bob reads line 0 through KeyID b, before any write-back"),
        Op("clflush", "old", 0, label="clflush line 0 through KeyID a: alice's write reaches DRAM"),
        Op("load", "new", 0, NEW_PKG, label="bob reads line 0 through KeyID b again"),
        Op("clflush", "new", 0, label="clflush line 0 through KeyID b: bob's stale copy goes"),
        Op("load", "new", 0, NEW_PKG, label="bob reads line 0 through KeyID b: a fresh fill"),
        Op("load", "old", 0, NEW_PKG, label="alice reads line 0 through KeyID a"),
    )


def _c6_ops(order: str) -> tuple[Op, ...]:
    return (
        Op("store", "old", 0, OLD_PKG, payload("alice", 0, 2), "alice (P1) writes line 0 through KeyID a"),
        Op("store", "old", 2, OLD_PKG, payload("alice", 2, 2), "alice (P1) writes line 2 through KeyID a"),
        Op("keyid_change", "new", label="the frame goes to bob under KeyID b: no flush"),
        *(Op("store", "new", i, NEW_PKG, payload("bob", i), f"bob (P0) writes line {i} through KeyID b")
          for i in range(LINES)),
        Op("time_passes", "new" if order == "new_first" else "old",
           label=("time passes: P0's lines leave first, then P1's" if order == "new_first"
                  else "time passes: P1's lines leave first, then P0's")),
        *(Op("load", "new", i, NEW_PKG, label=f"bob reads line {i}") for i in range(LINES)),
    )


def _speculative_ops() -> tuple[Op, ...]:
    return (
        Op("speculative_fill", "new", 0, NEW_PKG,
           label="a speculative load brings line 0 in through KeyID b, before the frame is bob's"),
        Op("store", "old", 0, OLD_PKG, payload("alice", 0, 2), "alice (P1) writes line 0 through KeyID a"),
        Op("clflush", "old", 0, label="clflush line 0 through KeyID a (the old alias is flushed)"),
        Op("keyid_change", "new", label="the frame goes to bob under KeyID b"),
        Op("load", "new", 0, NEW_PKG, label="bob reads line 0 through KeyID b"),
        Op("wbinvd", package=NEW_PKG, label="WBINVD on P0: is the stale line written back?"),
        Op("load", "new", 0, NEW_PKG, label="bob reads line 0 again: a fresh fill"),
    )


def _protocol_ops() -> tuple[Op, ...]:
    return (
        Op("speculative_fill", "new", 1, NEW_PKG, label="a speculative load brings line 1 in through KeyID b"),
        Op("store", "old", 0, OLD_PKG, payload("alice", 0, 2), "alice (P1) writes line 0 through KeyID a"),
        *(Op("clflush", "old", i, label=f"step 1: clflush line {i} through the old KeyID a") for i in range(LINES)),
        Op("keyid_change", "new", label="step 2: the frame changes to KeyID b"),
        *(Op("zero", "new", i, NEW_PKG, label=f"step 3: zero line {i} through the new KeyID b") for i in range(LINES)),
        Op("load", "new", 1, NEW_PKG, label="bob reads line 1 (it was filled speculatively)"),
        Op("store", "new", 0, NEW_PKG, payload("bob", 0), "bob writes line 0"),
        Op("time_passes", "new", label="time passes: P0's lines leave first, then P1's"),
        Op("load", "new", 0, NEW_PKG, label="bob reads line 0"),
        Op("load", "new", 1, NEW_PKG, label="bob reads line 1"),
    )


#: name -> (title, key pair, coherent, ops)
STEPPER_SCENARIOS = {
    "c5": ("C5: write through KeyID a, read through KeyID b", "cpu", False, _c5_ops()),
    "c6": ("C6: handed over without a flush; bob's package evicts first", "cpu", False, _c6_ops("new_first")),
    "c6_lucky": ("C6: the same, but alice's package evicts first", "cpu", False, _c6_ops("old_first")),
    "speculative": ("A speculative fill of the new alias (no-encrypt keys: stale data is legible)", "no-encrypt",
                    False, _speculative_ops()),
    "protocol": ("The flush protocol: flush old alias, change KeyID, zero through the new", "cpu", False,
                 _protocol_ops()),
    "c6_coherent": ("C6 on a machine with coherent_keyids=True (the SME_COHERENT idea)", "cpu", True,
                    _c6_ops("new_first")),
}


@lru_cache(maxsize=len(STEPPER_SCENARIOS))
def _stepper(name: str) -> Stepper:
    title, keys, coherent, ops = STEPPER_SCENARIOS[name]
    return Stepper(name, title, lab(keys, coherent=coherent), ops)


def stepper(name: str = "c5") -> Stepper:
    """The stepper of one of :data:`STEPPER_SCENARIOS` (built once, then shared: it never changes)."""
    return _stepper(choose(name, STEPPER_SCENARIOS, "stepper scenario"))


# ---------------------------------------------------------------------------------------------------
# C5: write via one KeyID, read via another
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class C5Result:
    keys: str
    written: bytes  # what alice wrote through KeyID a
    before: bytes  # what bob read through KeyID b before any write-back
    before_is_old: bool  # ... equal to DRAM's old ciphertext decrypted with b's key (the write is invisible)
    after: bytes  # what bob read through KeyID b after clflush of alice's alias (fresh fill)
    after_is_current: bool  # ... equal to alice's ciphertext decrypted with b's key
    alice_after: bytes  # alice reading her own line after the flush
    dram_changed_by_flush: bool


def write_then_read(keys: str = "cpu") -> C5Result:
    """Alice writes line 0 through KeyID a; bob reads it through KeyID b at once; then alice's alias
    is flushed and bob reads again, through a fresh fill."""
    base = lab(keys)
    m = base.machine
    old_view = m.dram_as(base.h(0, "new"))
    written = payload("alice", 0, 2)
    m.store(base.h(0, "old"), written, NEW_PKG)
    before = m.load(base.h(0, "new"), LINE, NEW_PKG)
    dram0 = m.dram(base.pa)
    m.clflush(base.h(0, "new"))  # bob's stale copy goes, so his next read is a fill
    m.clflush(base.h(0, "old"))
    after = m.load(base.h(0, "new"), LINE, NEW_PKG)
    return C5Result(keys, written, before, before == old_view, after, after == m.dram_as(base.h(0, "new")),
                    m.load(base.h(0, "old"), LINE, NEW_PKG), m.dram(base.pa) != dram0)


# ---------------------------------------------------------------------------------------------------
# C6: the late dirty write-back
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HandoverResult:
    order: str
    dirty_lines: tuple[int, ...]  # lines alice left dirty
    flushed_old: bool
    evictions: tuple[str, ...]  # what left the caches when time passed, in order
    lost: tuple[int, ...]  # bob's lines that no longer read back as his data
    reads: tuple[tuple[int, str], ...]  # (line, verdict) for bob's reads


def handover(order: str = "new_first", dirty: tuple[int, ...] = (0, 2), flush_old: bool = False,
             keys: str = "cpu", coherent: bool = False) -> HandoverResult:
    """Alice (package 1) leaves ``dirty`` lines dirty under KeyID a; the frame goes to bob (package 0)
    without (or with: ``flush_old``) a flush of alice's alias; bob writes his data to lines 0..3;
    time passes in ``order``; bob reads lines 0..3."""
    choose(order, ORDERS, "eviction order")
    flag(flush_old, "flush_old")
    flag(coherent, "coherent")
    if isinstance(dirty, int) or not isinstance(dirty, (tuple, list)) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < LINES for i in dirty):
        raise ParameterError(f"dirty must be a tuple of line numbers 0..{LINES - 1}; got {shown(dirty)}")
    base = lab(keys, coherent=coherent)
    m = base.machine
    for i in dirty:
        m.store(base.h(i, "old"), payload("alice", i, 2), OLD_PKG)
    if flush_old:
        m.flush_range(base.h(0, "old"), PAGE_SIZE)
    m.emit("keyid_change", None, base.pa, base.new, "to bob")
    for i in range(LINES):
        m.store(base.h(i, "new"), payload("bob", i), NEW_PKG)
    gone = time_passes(m, base.pa, (base.old, base.new), order)
    reads, lost = [], []
    for i in range(LINES):
        got = m.load(base.h(i, "new"), LINE, NEW_PKG)
        reads.append((i, classify(got, i, current(m, base.h(i, "new")))[1]))
        if got != payload("bob", i):
            lost.append(i)
    return HandoverResult(order, tuple(sorted(set(dirty))), flush_old, tuple(gone), tuple(lost), tuple(reads))


# ---------------------------------------------------------------------------------------------------
# Speculative fills
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpeculativeResult:
    keys: str
    flush_new: bool
    zero_new: bool
    bob_reads: bytes
    category: str
    stale: bool  # bob's read differs from what it should read (``current``)
    written_back: bool | None  # did the speculative line reach DRAM by itself? (None: bob zeroed it)
    partial_write_leaks: bool  # a 16-byte write by bob then carries the stale rest of the line to DRAM


def speculative(keys: str = "no-encrypt", flush_new: bool = False, zero_new: bool = False) -> SpeculativeResult:
    """A speculative fill of bob's alias (line 0, package 0) before the frame changes hands; alice
    writes and her alias is flushed (the old-alias rule is kept); the frame changes KeyID; then,
    optionally, bob's alias is flushed (``flush_new``) or zeroed (``zero_new``); bob reads line 0."""
    flag(flush_new, "flush_new")
    flag(zero_new, "zero_new")
    choose(keys, KEY_PAIRS, "key pair")
    base = lab(keys)
    m = base.machine
    hn = base.h(0, "new")
    m.speculative_fill(hn, NEW_PKG)
    m.store(base.h(0, "old"), payload("alice", 0, 2), OLD_PKG)
    m.clflush(base.h(0, "old"))
    if flush_new:
        m.clflush(hn)
    if zero_new:
        m.store(hn, bytes(LINE), NEW_PKG)
    probe = m.clone()
    got = m.load(hn, LINE, NEW_PKG)
    fresh = current(m, hn)
    category, _ = classify(got, 0, fresh)
    # Dave Hansen's point: the clean line is dropped, never written back.
    before = probe.dram(base.pa)
    leak = probe.clone()
    probe.wbinvd()
    written_back = None if zero_new else probe.dram(base.pa) != before
    # Andy's point, one step further: a partial write makes the stale line dirty, and then it is written back.
    leak.store(hn, b"bob's 16 bytes..", NEW_PKG)
    leak.wbinvd()
    rest = leak.dram_as(hn)[16:]
    partial_leaks = (not zero_new) and rest != m.dram_as(hn)[16:] and rest == got[16:]
    return SpeculativeResult(keys, flush_new, zero_new, got, category, got != fresh, written_back, partial_leaks)


# ---------------------------------------------------------------------------------------------------
# The flush protocol, built step by step
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProtocolStep:
    name: str
    label: str
    lost: tuple[int, ...]  # lines whose data bob lost (late write-back)
    stale_read: bool  # bob's first read of line 1 (speculatively filled) came from a stale line
    counts: dict  # events the protocol itself spent: clflush, wbinvd, writeback, store
    price_ns: float
    price_note: str


def price_ns(counts: dict) -> float:
    """What ``counts`` cost at :data:`PRICES` (clflush per line, WBINVD per package; nothing else priced)."""
    if not isinstance(counts, dict):
        raise ParameterError(f"counts must be a dict of event counts; got {shown(counts)}")
    for k in PRICES:
        whole(counts.get(k, 0), f"counts[{k!r}]", 0)
    return sum(counts.get(k, 0) * PRICES[k][0] for k in PRICES)


#: name -> (label, flush old alias, flush new alias, zero through new, wbinvd every package instead)
_PROTOCOL = {
    "none": ("as proposed: change the KeyID, nothing else", False, False, False, False),
    "flush_old": ("step 1: clflush the old alias (64 lines), then change the KeyID", True, False, False, False),
    "flush_both": ("step 3a: ... and clflush the new alias (64 lines)", True, True, False, False),
    "flush_old_zero_new": ("step 3b: ... and zero the page through the new alias instead (Andy, 6 Dec)", True, False,
                           True, False),
    "wbinvd": ("instead of the clflushes: WBINVD on every package", False, False, False, True),
}


def _protocol_run(flush_old: bool, flush_new: bool, zero_new: bool, use_wbinvd: bool, keys: str = "cpu"):
    base = lab(keys)
    m = base.machine
    m.speculative_fill(base.h(1, "new"), NEW_PKG)
    for i in (0, 1, 2):
        m.store(base.h(i, "old"), payload("alice", i, 2), OLD_PKG)
    before = dict(m.counters)
    if use_wbinvd:
        m.wbinvd()
    if flush_old:
        m.flush_range(base.h(0, "old"), PAGE_SIZE)
    m.emit("keyid_change", None, base.pa, base.new, "to bob")
    if flush_new:
        m.flush_range(base.h(0, "new"), PAGE_SIZE)
    if zero_new:
        m.store(base.h(0, "new"), bytes(PAGE_SIZE), NEW_PKG)
    counts = {k: m.counters.get(k, 0) - before.get(k, 0) for k in ("clflush", "wbinvd", "writeback", "store")}
    got1 = m.load(base.h(1, "new"), LINE, NEW_PKG)
    stale = got1 != current(m, base.h(1, "new"))
    for i in (0, 2, 3):
        m.store(base.h(i, "new"), payload("bob", i), NEW_PKG)
    time_passes(m, base.pa, (base.old, base.new), "new_first")
    lost = tuple(i for i in (0, 2, 3) if m.load(base.h(i, "new"), LINE, NEW_PKG) != payload("bob", i))
    return lost, stale, counts


def protocol(keys: str = "cpu") -> tuple[ProtocolStep, ...]:
    """Each protocol on the same probe: a speculative fill of bob's line 1, alice's dirty lines 0 and 2
    (package 1), the KeyID change, bob reads line 1 and writes lines 0, 2, 3, time passes (bob's
    package first)."""
    choose(keys, KEY_PAIRS, "key pair")
    steps = []
    for name, (label, fo, fn, zn, wb) in _PROTOCOL.items():
        lost, stale, counts = _protocol_run(fo, fn, zn, wb, keys)
        clf = counts["clflush"]
        note = (f"{clf} clflush × {PRICES['clflush'][0]:.0f} ns" if clf else "") + \
               (f"{' + ' if clf else ''}{counts['wbinvd']} WBINVD × over 100 µs" if counts["wbinvd"] else "")
        steps.append(ProtocolStep(name, label, lost, stale, counts, price_ns(counts), note or "nothing"))
    return tuple(steps)


# ---------------------------------------------------------------------------------------------------
# Which instruction is enough for which step
# ---------------------------------------------------------------------------------------------------
#: name -> what it does in the probes
INSTRUCTIONS = {
    "clflush": "CLFLUSH every line of the alias",
    "clflushopt": "CLFLUSHOPT every line of the alias",
    "clwb": "CLWB every line of the alias",
    "wbinvd_here": "WBINVD on bob's package only (the CPU doing the change)",
    "wbinvd_all": "WBINVD on every package",
    "wbnoinvd_all": "WBNOINVD on every package",
    "zero_new": "zero the page through the new alias (full-line stores)",
}
#: probe -> the question it answers
PROBES = {
    "old_dirty": "old alias: no late write-back over bob's data",
    "old_stale": "old alias: no stale line left (when the frame comes back to KeyID a)",
    "new_stale": "new alias: no stale speculative line read by bob",
}


def _do(m: Machine, lab_: Lab, instruction: str, role: str) -> None:
    if instruction in Machine.LINE_FLUSHES:
        m.flush_range(lab_.h(0, role), PAGE_SIZE, instruction)
    elif instruction == "wbinvd_here":
        m.wbinvd(NEW_PKG)
    elif instruction == "wbinvd_all":
        m.wbinvd()
    elif instruction == "wbnoinvd_all":
        m.wbnoinvd()
    else:
        m.store(lab_.h(0, "new"), bytes(PAGE_SIZE), NEW_PKG)


def _probe(instruction: str, probe: str) -> bool:
    base = lab("cpu")
    m = base.machine
    if probe == "old_dirty":
        m.store(base.h(0, "old"), payload("alice", 0, 2), OLD_PKG)
        _do(m, base, instruction, "old")
        m.store(base.h(0, "new"), payload("bob", 0), NEW_PKG)
        time_passes(m, base.pa, (base.old, base.new), "new_first")
        return m.load(base.h(0, "new"), LINE, NEW_PKG) == payload("bob", 0)
    if probe == "old_stale":
        m.load(base.h(0, "old"), LINE, OLD_PKG)  # alice's line 0 is cached, clean, in package 1
        m.store(base.h(0, "old"), payload("alice", 0, 2), OLD_PKG)
        _do(m, base, instruction, "old")
        m.store(base.h(0, "new"), payload("bob", 0), NEW_PKG)
        m.clflush(base.h(0, "new"))  # bob's data reaches DRAM properly
        want = m.dram_as(base.h(0, "old"))  # bob's data is the frame's latest; seen through KeyID a
        return m.load(base.h(0, "old"), LINE, OLD_PKG) == want  # the frame is back under KeyID a
    m.speculative_fill(base.h(0, "new"), NEW_PKG)
    m.store(base.h(0, "old"), payload("alice", 0, 2), OLD_PKG)
    m.flush_range(base.h(0, "old"), PAGE_SIZE)
    _do(m, base, instruction, "new")
    got = m.load(base.h(0, "new"), LINE, NEW_PKG)
    return got == current(m, base.h(0, "new"))


@dataclass(frozen=True)
class InstructionRow:
    instruction: str
    label: str
    enough: dict  # probe name -> bool


def instruction_table() -> tuple[InstructionRow, ...]:
    """For every instruction of :data:`INSTRUCTIONS` and every probe of :data:`PROBES`: does using it
    (on the probe's alias, or on the packages it names) remove the symptom? Computed, one lab each."""
    return tuple(InstructionRow(i, label, {p: _probe(i, p) for p in PROBES}) for i, label in INSTRUCTIONS.items())


# ---------------------------------------------------------------------------------------------------
# The same symptoms with coherent_keyids=True
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CoherentRow:
    symptom: str
    incoherent: bool  # the symptom shows on the MKTME-like machine
    coherent: bool  # ... and on Machine(coherent_keyids=True)
    with_flush: bool  # ... on the coherent machine, with the old alias flushed first


def _dma_lost(coherent: bool, flush_old: bool) -> bool:
    base = lab("cpu", coherent=coherent)
    m = base.machine
    m.store(base.h(0, "old"), payload("alice", 0, 2), OLD_PKG)
    if flush_old:
        m.clflush(base.h(0, "old"))
    m.dma_write(base.h(0, "new"), payload("bob", 0))  # a device fills bob's new page
    time_passes(m, base.pa, (base.old, base.new), "new_first")
    return m.load(base.h(0, "new"), LINE, NEW_PKG) != payload("bob", 0)


def _c5_stale(coherent: bool) -> bool:
    base = lab("cpu", coherent=coherent)
    m = base.machine
    m.load(base.h(0, "new"), LINE, NEW_PKG)  # bob has line 0 cached
    m.store(base.h(0, "old"), payload("alice", 0, 2), NEW_PKG)
    got = m.load(base.h(0, "new"), LINE, NEW_PKG)
    return got != current(m, base.h(0, "new"))


def coherent_rerun() -> tuple[CoherentRow, ...]:
    """Each symptom on the incoherent machine, on ``coherent_keyids=True``, and on the latter with the
    old alias flushed. ``True`` means the symptom shows."""
    rows = []
    rows.append(CoherentRow("C5: bob's read does not reflect alice's write (stale line)", _c5_stale(False),
                            _c5_stale(True), False))
    rows.append(CoherentRow("C6: alice's late dirty write-back hits bob's data",
                            bool(handover(coherent=False).lost), bool(handover(coherent=True).lost),
                            bool(handover(coherent=True, flush_old=True).lost)))
    spec = [_protocol_run(True, False, False, False)[1]]
    base = lab("cpu", coherent=True)
    m = base.machine
    m.speculative_fill(base.h(1, "new"), NEW_PKG)
    m.store(base.h(1, "old"), payload("alice", 1, 2), OLD_PKG)
    m.clflush(base.h(1, "old"))
    got = m.load(base.h(1, "new"), LINE, NEW_PKG)
    spec.append(got != current(m, base.h(1, "new")))
    rows.append(CoherentRow("a stale speculative line of the new alias read by bob", spec[0], spec[1], False))
    rows.append(CoherentRow("DMA: a device writes bob's page; alice's dirty line lands later", _dma_lost(False, False),
                            _dma_lost(True, False), _dma_lost(True, True)))
    return tuple(rows)


# ---------------------------------------------------------------------------------------------------
# Corruption in numbers
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatPoint:
    sets: int
    ways: int
    dirty: float  # fraction of the region's lines alice left dirty
    delay: int  # background steps between the remap and bob's writes
    runs: int
    lost_runs: int
    lost_lines: int  # summed over the runs
    region_lines: int
    seeds: tuple[int, int]  # first and last seed

    @property
    def cache_lines(self) -> int:
        return self.sets * self.ways

    @property
    def cache_bytes(self) -> int:
        return self.cache_lines * LINE

    @property
    def fraction(self) -> float:
        return self.lost_runs / self.runs


REGION = 8  # lines of the remapped region
_BG_FIRST, _BG_LINES = 0x2000 // LINE, 512  # background traffic: 512 lines of other frames


def _one_run(sets: int, ways: int, dirty: float, delay: int, seed: int) -> int:
    m = Machine(packages=2, keyid_bits=2, phys_bits=40, dram_bytes=64 * 1024, cache_sets=sets, cache_ways=ways,
                seed=seed, trace=False, tme_bypass=True)
    for p in range(2):
        for k in (1, 2):
            m.pconfig(p, k, PconfigCommand.KEYID_SET_KEY_RANDOM)
    rng = np.random.default_rng([seed, 404])
    bg = (rng.integers(0, _BG_LINES, size=(20_000, 2)) + _BG_FIRST) * LINE
    t = 0

    def tick():
        nonlocal t
        m.load(int(bg[t % len(bg), 0]), 8, 0)
        m.load(int(bg[t % len(bg), 1]), 8, 1)
        t += 1

    region = [i * LINE for i in range(REGION)]
    for _ in range(2 * sets * ways):  # warm both caches with background lines
        tick()
    for pa in region:
        if rng.random() < dirty:
            m.store(m.hpa(pa, 1), b"A" * LINE, OLD_PKG)
        else:
            m.load(m.hpa(pa, 1), LINE, OLD_PKG)
        tick()
    for _ in range(delay):
        tick()
    for pa in region:
        m.store(m.hpa(pa, 2), b"B" * LINE, NEW_PKG)
    watched = [m.hpa(pa, k) for pa in region for k in (1, 2)]
    for _ in range(40 * sets * ways):
        tick()
        if t % 8 == 0 and not any(m.cached(h) for h in watched):
            break
    m.wbinvd(NEW_PKG)  # rarely needed: whatever is left leaves, bob's package first
    m.wbinvd(OLD_PKG)
    return sum(m.load(m.hpa(pa, 2), LINE, NEW_PKG) != b"B" * LINE for pa in region)


def corruption_stats(sets=(2, 4, 8, 16, 32), ways: int = 2, dirty=(0.25, 0.5, 1.0), delays=(0, 8, 32, 128),
                     runs: int = 20, *, base_sets: int = 8, base_dirty: float = 0.5, base_delay: int = 0,
                     seed: int = 0) -> tuple[StatPoint, ...]:
    """Fraction of seeded runs that lose data, along three sweeps from one base point: cache size
    (``sets`` x ``ways``), the fraction of the region alice left dirty, and the delay between the
    remap and bob's writes. Every run: alice (package 1) touches an 8-line region through KeyID 1,
    each line dirty with probability ``dirty``; the region goes to bob (package 0, KeyID 2) with no
    flush; after ``delay`` background steps bob writes all 8 lines; background traffic (one random
    load per package per step) runs until no line of the region is cached; bob reads the region."""
    def values(v, what, lo, hi, kind=int):
        v = (v,) if not isinstance(v, (tuple, list)) else tuple(v)
        if not v or len(v) > 12:
            raise ParameterError(f"{what} must be 1 to 12 values; got {shown(v)}")
        if kind is int:
            return tuple(whole(x, what, lo, hi) for x in v)
        out = []
        for x in v:
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not lo <= x <= hi:
                raise ParameterError(f"{what} must be numbers from {lo} to {hi}; got {shown(x)}")
            out.append(float(x))
        return tuple(out)

    sets = values(sets, "sets", 1, 64)
    for s in sets + (whole(base_sets, "base_sets", 1, 64),):
        if s & (s - 1):
            raise ParameterError(f"sets must be powers of two; got {s}")
    ways = whole(ways, "ways", 1, 8)
    dirty = values(dirty, "dirty", 0.0, 1.0, float)
    delays = values(delays, "delays", 0, 2048)
    runs = whole(runs, "runs", 1, 500)
    base_dirty = values(base_dirty, "base_dirty", 0.0, 1.0, float)[0]
    base_delay = whole(base_delay, "base_delay", 0, 2048)
    seed = whole(seed, "seed", 0)
    points = []
    grid = [(s, base_dirty, base_delay) for s in sets] + [(base_sets, d, base_delay) for d in dirty] + \
           [(base_sets, base_dirty, dl) for dl in delays]
    for s, d, dl in dict.fromkeys(grid):
        seeds = range(seed, seed + runs)
        losses = [_one_run(s, ways, d, dl, sd) for sd in seeds]
        points.append(StatPoint(s, ways, d, dl, runs, sum(1 for x in losses if x), sum(losses), REGION,
                                (seed, seed + runs - 1)))
    return tuple(points)


# ---------------------------------------------------------------------------------------------------
# Exercise 2's free path
# ---------------------------------------------------------------------------------------------------
#: The free path of an encrypted page (Kirill Shutemov's free_encrypted_page without its flush).
FREE_STEPS = {
    "unmap": "remove the page from alice's page tables",
    "tlb_shootdown": "shoot down alice's TLB entries on every CPU",
    "reset_keyid": "page_ext->keyid = 0: the frame's KeyID is 0 again",
    "free_list": "put the frame on the free list (anyone may allocate it now)",
}
#: The flushes one may insert.
FLUSH_STEPS = {
    "flush_keyid_k": "clflush the page through its own KeyID k (page_keyid(page) before the reset)",
    "flush_keyid_0": "clflush the page through KeyID 0 (the direct map)",
}


@dataclass(frozen=True)
class FreePathResult:
    """What :func:`run_free_path` found; the fields after ``why`` describe the first schedule that lost
    data, each read off the machine (all -1 or "" when nothing was lost)."""

    path: tuple[str, ...]
    lost: bool  # the next owner lost data in at least one schedule
    schedule: str  # the first schedule that lost data ("" if none)
    why: str
    line: int = -1  # the first of bob's lines (0 or 1) that did not read back as his data
    keyid: int = -1  # the KeyID of the line written back over it (from the trace's last write-back)
    package: int = -1  # the package whose cache held that line
    bob_at: int = -1  # bob's frame was filled by a device before step bob_at + 1 (after step bob_at)
    stray_at: int = -1  # alice's other thread stored to line 1 before step stray_at + 1 (-1: it never did)
    when: str = ""  # "step N (<name>)" of the path when the harmful write-back happened, or "time passing"


def run_free_path(path) -> FreePathResult:
    """Run a free path (names from :data:`FREE_STEPS` and :data:`FLUSH_STEPS`) under every schedule:
    alice's other thread may still store through KeyID k until the TLB shootdown is done; once the
    frame is on the free list bob may get it (KeyID 0) and a device writes his data into it (DMA,
    straight to DRAM); time passes, bob's package first."""
    if isinstance(path, str) or not isinstance(path, (list, tuple)):
        raise ParameterError(f"path must be a list of step names; got {shown(path)}")
    for step in path:
        if step not in FREE_STEPS and step not in FLUSH_STEPS:
            raise ParameterError(f"unknown step {shown(step)}; steps are {', '.join([*FREE_STEPS, *FLUSH_STEPS])}")
    path = tuple(path)
    for i in range(len(path) + 1):  # bob's allocation may come at any point after free_list
        for write_at in range(len(path) + 1):  # alice's stray store may come at any point while mapped
            base = lab("cpu")
            m = base.machine
            m.store(base.h(0, "old"), payload("alice", 0, 2), OLD_PKG)  # alice's last write, dirty
            mapped, freed, bob_done, stray_done = True, False, False, False
            marks = [0] * len(path)  # the trace's sequence number when each step of the path began
            for j in range(len(path) + 1):
                if j == write_at and mapped and not stray_done:
                    m.store(base.h(1, "old"), payload("alice", 1, 2), OLD_PKG)
                    stray_done = True
                if j == i and freed and not bob_done:
                    # bob's new page is filled by a device (read() from a file): straight to DRAM
                    m.dma_write(base.h(0, "zero"), payload("bob", 0) + payload("bob", 1))
                    bob_done = True
                if j == len(path):
                    break
                marks[j] = m._seq
                step = path[j]
                if step == "tlb_shootdown":
                    mapped = False
                elif step == "free_list":
                    freed = True
                elif step == "flush_keyid_k":
                    m.flush_range(base.h(0, "old"), PAGE_SIZE)
                elif step == "flush_keyid_0":
                    m.flush_range(base.h(0, "zero"), PAGE_SIZE)
            if not bob_done:
                continue
            passing = m._seq
            time_passes(m, base.pa, (base.old, 0), "new_first")
            for line in (0, 1):
                if m.load(base.h(line, "zero"), LINE, NEW_PKG) != payload("bob", line):
                    pa = base.pa + line * LINE
                    last = next(e for e in reversed(m.trace) if e.kind == "writeback" and e.pa == pa)
                    when = ("time passing" if last.seq >= passing else
                            next(f"step {j + 1} ({path[j]})" for j in range(len(path) - 1, -1, -1)
                                 if marks[j] <= last.seq))
                    stray = ((f"alice's other thread stored to line 1 after step {write_at}" if write_at
                              else "alice's other thread stored to line 1 before step 1") if stray_done else "")
                    sched = (f"bob got the frame after step {i} and a device wrote his data into it"
                             + (f"; {stray}" if stray else ""))
                    return FreePathResult(path, True, sched,
                                          f"bob's line {line} was overwritten by a late write-back of alice's line {line} "
                                          f"under KeyID {last.keyid} (package {last.package}, during {when})",
                                          line, last.keyid, last.package, i, write_at if stray_done else -1, when)
    return FreePathResult(path, False, "", "")
