"""The Machine: packages with caches, key tables and encryption engines over one DRAM.

This is the facade every lesson drives. It is deliberately small and explicit:

* ``store`` / ``load`` go through the issuing package's cache (write-back, write-allocate).
  A miss fills the line from DRAM; a dirty line leaving a cache is written back to DRAM.
  Both pass through an encryption engine, which uses the key its table holds for that KeyID
  *now*. Which table that is, is a switch (``keytable_scope``, below); by default it is the
  memory controller that owns the address (its *home* package). Memory is split evenly
  between packages, like NUMA nodes (``home_package``).
* The same full address stays coherent across packages (a simple MSI protocol): a store
  invalidates other packages' copies, and a dirty copy elsewhere is first written back by its
  own package's engine. Different KeyIDs of one frame are different addresses to the caches,
  so nothing keeps *them* coherent. That is the hardware rule the 2018 thread was about.
* ``clflush`` (every package), ``wbinvd`` (one package), ``evict`` and ``speculative_fill``
  let a lesson step through time by hand. The other cache-maintenance instructions a kernel
  could use are there too, each with its own trace event: ``clflushopt`` (the same effect as
  ``clflush`` here, since the model runs one operation at a time), ``clwb`` (write back, keep the
  line clean) and ``wbnoinvd`` (one package: write back every dirty line, keep every line).
* ``dma_write`` / ``dma_read`` are a device reaching memory through one full address: snooped
  against the CPU caches for that address only.
* ``Machine(coherent_keyids=True)`` switches on a model of the *idea* of AMD's SME_COHERENT
  (CPUID 0x8000001F EAX[10]): a CPU fill of one KeyID of a frame's line first writes back and
  drops that line's copies under every other KeyID. It is not a model of how AMD builds it.
* Every operation bumps ``counters`` (one count per event kind, kept for the machine's whole
  life) and appends an :class:`Event` to ``trace``, a ring buffer that keeps the most recent
  ``trace_cap`` events (``DEFAULT_TRACE_CAP``, 50 000: under 10 MB; ``trace_cap=None`` keeps
  every event, ``trace=False`` none). The cap keeps a long session's memory, its run time (the
  garbage collector walks every live event) and ``clone()`` bounded; the counters never drop
  anything, so costs measured over a long session stay exact.
* All randomness (the TME key, random PCONFIG keys, DRAM's power-on noise) comes from one
  generator seeded by ``seed``: the same seed gives the same run.
* ``clone()`` copies the whole state cheaply so a scenario can be replayed many times.

Which key table encrypts a fill or a write-back is not published for MKTME, and the sources
frame it three ways; ``keytable_scope`` makes it a visible modelling choice (``KEYTABLE_SCOPES``):

* ``"home"`` (default): the table of the package whose memory controller owns the line. The
  MKTME engines sit in the memory controllers (Documentation/x86/mktme/mktme_overview.rst in the kas/linux.git tree), and the spec calls PCONFIG
  package-scoped, to be run on every package (2.5).
* ``"writer"``: the table of the package doing the fill or the write-back, as Andy Lutomirski
  wrote it on 4 Dec 2018 ("whether the writeback happens before or after the package doing
  the writeback notices the PCONFIG").
* ``"platform"``: one table for the whole machine, as today's SDM words it ("shared by all
  logical processors in a platform"); PCONFIG on any package programs it for every package.

Claim C7 takes a different form under each (lesson 06).
"""

from __future__ import annotations

from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .address import (
    ALG_AES_XTS_128,
    ALG_AES_XTS_256,
    ALG_KEY_BYTES,
    ALG_NAMES,
    IA32_TME_ACTIVATE,
    IA32_MKTME_KEYID_PARTITIONING,
    IA32_TME_CAPABILITY,
    AddressLayout,
    KeyIDPartition,
    TMEActivate,
    TMECapability,
)
from .cache import Cache, CacheLine
from .errors import AddressError, ConfigError, KeyIDError, KeyMaterialError, MKTMEError, PackageError, ParameterError
from .keytable import (
    KeyEntry,
    KeyMode,
    KeyTable,
    PconfigCommand,
    PconfigStatus,
    make_key_entry,
)
from .memory import DRAM, LINE, EncryptionEngine
from .params import byteslike, choose, flag, whole
from .xts import XTSCipher

__all__ = ["Machine", "Event", "Trace", "KEYTABLE_SCOPES", "DEFAULT_TRACE_CAP", "MAX_DRAM_BYTES", "MAX_INJECTED", "LINE", "PconfigCommand", "PconfigStatus",
           "KeyMode"]

#: Events a trace keeps by default. An event costs 130-200 bytes, so 50 000 of them hold under
#: 10 MB, and copying them for ``clone()`` takes about a millisecond. Every lesson's trace
#: is a few hundred events, far below it.
DEFAULT_TRACE_CAP = 50_000
#: Most DRAM a Machine models: building it draws that many noise bytes (twice in memory for a
#: moment), so 32 MiB takes about 0.15 s and 70 MB; the lessons use 256 KiB.
MAX_DRAM_BYTES = 32 * 1024 * 1024
#: Most transient PCONFIG failures one ``inject_pconfig_status`` call queues. Linux's key service
#: gives up after 10 rounds; a queue of millions would only fill memory.
MAX_INJECTED = 10_000
#: Which key table encrypts a line on its way to or from DRAM (module docstring): the home
#: memory controller's, the table of the package doing the fill or write-back, or one shared table.
KEYTABLE_SCOPES = ("home", "writer", "platform")


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. ``pa``/``keyid`` are None for events without an address."""

    seq: int
    kind: str
    package: int | None = None
    pa: int | None = None
    keyid: int | None = None
    detail: str = ""
    engine: int | None = None  # for fills and write-backs: the package whose engine did the crypto

    def __str__(self) -> str:
        where = "   " if self.package is None else f"P{self.package} "
        addr = "" if self.pa is None else f"pa={self.pa:#x} keyid={self.keyid} "
        return f"#{self.seq:<4} {where}{self.kind:<16} {addr}{self.detail}".rstrip()


class Trace(deque):
    """The machine's event trace: a ``collections.deque`` with a ``maxlen`` (the cap), so the
    oldest events fall off the front once it is full.

    It also answers like the list it used to be: ``trace[-5:]`` gives a list of the last five
    events and ``trace == []`` compares the events in order.
    """

    __slots__ = ()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self)[index]
        return super().__getitem__(index)

    def __eq__(self, other):
        if isinstance(other, list):
            return list(self) == other
        return super().__eq__(other)

    __hash__ = None


class Machine:
    """A TME/MKTME machine: ``packages`` sockets sharing one DRAM.

    Parameters mirror what the BIOS and the hardware fix: ``phys_bits`` (MAXPHYADDR),
    ``keyid_bits`` (activated in IA32_TME_ACTIVATE), ``dram_bytes`` (installed memory),
    cache geometry, ``tme_bypass`` (KeyID 0 unencrypted) and ``crypto_algs`` (algorithms
    allowed for KeyIDs >= 1; the 2018 parts offered AES-XTS-128 only). ``trace`` turns the
    event trace on or off; ``trace_cap`` is how many recent events it keeps (None: all).
    ``keytable_scope`` picks which key table encrypts a fill or write-back (one of
    ``KEYTABLE_SCOPES``; a modelling choice, see the module docstring).

    ``coherent_keyids`` (default False, as on every MKTME part: the spec's restrictions on cache management, Intel 336907) is a model of the
    idea behind AMD's SME_COHERENT, not of AMD's implementation: when True, every CPU fill of a
    line (a load or store miss, a speculative fill) first writes back (if dirty) and drops the
    copies of the same frame's line under every other KeyID, in every package. Device accesses
    (``dma_write``/``dma_read``) are not CPU fills and stay coherent with their own full address
    only, which is why KVM still flushes pages for DMA on SME_COHERENT parts
    (``sev_flush_encrypted_page`` in arch/x86/kvm/svm/sev.c).
    """

    def __init__(
        self,
        packages: int = 2,
        keyid_bits: int = 6,
        phys_bits: int = 46,
        dram_bytes: int = 256 * 1024,
        cache_sets: int = 64,
        cache_ways: int = 8,
        seed: int = 0,
        tme_bypass: bool = False,
        crypto_algs: int = ALG_AES_XTS_128,
        max_keyid_bits: int | None = None,
        trace: bool = True,
        trace_cap: int | None = DEFAULT_TRACE_CAP,
        keytable_scope: str = "home",
        coherent_keyids: bool = False,
        tdx_keyid_bits: int = 0,
        pmem_bytes: int = 0,
    ):
        # Every argument through the shared checks (mktme_lite.params): a string is never a flag,
        # True never a number, and every size has a ceiling that keeps construction under a second.
        packages = whole(packages, "packages", 1, 8)
        tme_bypass = flag(tme_bypass, "tme_bypass")
        self._coherent_keyids = flag(
            coherent_keyids, "coherent_keyids (a model of the idea of AMD's SME_COHERENT)")
        self.layout = AddressLayout(phys_bits, keyid_bits)
        keyid_bits, phys_bits = self.layout.keyid_bits, self.layout.phys_bits
        if max_keyid_bits is None:
            max_keyid_bits = max(keyid_bits, 6)
        max_keyid_bits = whole(max_keyid_bits, f"max_keyid_bits (IA32_TME_CAPABILITY[35:32]; keyid_bits={keyid_bits})",
                               keyid_bits, 15)
        dram_bytes = whole(dram_bytes, "dram_bytes", 1, MAX_DRAM_BYTES)
        if dram_bytes % 4096:
            raise ConfigError(f"dram_bytes must be a positive multiple of 4096 (whole pages); got {dram_bytes!r}")
        if dram_bytes > self.layout.addressable_bytes:
            raise ConfigError(
                f"dram_bytes={dram_bytes:#x} is more than {phys_bits - keyid_bits} address bits can reach"
            )
        crypto_algs = whole(crypto_algs, "crypto_algs", 0, 0xFFFF, hex_=True)
        if crypto_algs not in (ALG_AES_XTS_128, ALG_AES_XTS_256, ALG_AES_XTS_128 | ALG_AES_XTS_256):
            raise ConfigError("crypto_algs must be ALG_AES_XTS_128, ALG_AES_XTS_256 or both (bitwise or)")
        self.partition = KeyIDPartition.split(keyid_bits, tdx_keyid_bits)
        tdx_keyid_bits = int(tdx_keyid_bits)  # checked by KeyIDPartition.split
        self._private_first = self.partition.private_range.start if self.partition.tdx_keyids else None
        self._in_seam = False
        pmem_bytes = whole(pmem_bytes, f"pmem_bytes (persistent memory at the top of DRAM; dram_bytes={dram_bytes:#x})",
                           0, dram_bytes)
        if pmem_bytes % 4096:
            raise ConfigError(f"pmem_bytes must be a multiple of 4096 (whole pages); got {pmem_bytes:#x}")
        self.pmem = range(dram_bytes - pmem_bytes, dram_bytes)
        # numpy seeds its generators with non-negative integers only; 64 bits is plenty of seed.
        seed = whole(seed, "seed", 0, (1 << 64) - 1)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.capability = TMECapability(
            max_keyid_bits=max_keyid_bits, max_keys=(1 << max_keyid_bits) - 1
        )
        self.activate = TMEActivate(bypass=tme_bypass, keyid_bits=keyid_bits, crypto_algs=crypto_algs,
                                    tdx_keyid_bits=tdx_keyid_bits)
        # What reboot() needs to build the same machine again.
        self._config = dict(packages=packages, keyid_bits=keyid_bits, phys_bits=phys_bits, dram_bytes=dram_bytes,
                            cache_sets=cache_sets, cache_ways=cache_ways, tme_bypass=tme_bypass,
                            crypto_algs=crypto_algs, max_keyid_bits=max_keyid_bits, trace=trace, trace_cap=trace_cap,
                            keytable_scope=keytable_scope, coherent_keyids=coherent_keyids,
                            tdx_keyid_bits=tdx_keyid_bits, pmem_bytes=pmem_bytes)
        # The TME key: made by the CPU's RNG at boot, never visible to software.
        self._tme_cipher = XTSCipher(self.rng.bytes(16), self.rng.bytes(16))
        self.memory = DRAM(dram_bytes, self.rng)
        self.keytable_scope = choose(keytable_scope, KEYTABLE_SCOPES,
                                     "keytable_scope (which key table encrypts a fill or write-back)")
        if self.keytable_scope == "platform":
            shared = KeyTable(0, self.layout.nr_keyids)
            self.tables = [shared] * packages  # one table: PCONFIG on any package programs it
        else:
            self.tables = [KeyTable(p, self.layout.nr_keyids) for p in range(packages)]
        self.engines = [EncryptionEngine(t, self._tme_cipher, tme_bypass) for t in self.tables]
        self.caches = [Cache(p, cache_sets, cache_ways) for p in range(packages)]
        trace = flag(trace, "trace")
        if trace_cap is not None:
            trace_cap = whole(trace_cap, "trace_cap (how many recent events the trace keeps; None keeps all)", 1,
                              1 << 31)
        self.trace: Trace = Trace(maxlen=trace_cap)
        self.counters: Counter[str] = Counter()
        self.trace_enabled = trace
        self._seq = 0
        self._traced = 0  # events appended to the trace since the last reset_trace()
        self._injected: list[deque[PconfigStatus]] = [deque() for _ in range(packages)]

    # -- basic facts ---------------------------------------------------------------------------
    @property
    def packages(self) -> int:
        return len(self.caches)

    @property
    def keyid_bits(self) -> int:
        return self.layout.keyid_bits

    @property
    def phys_bits(self) -> int:
        return self.layout.phys_bits

    @property
    def nr_keyids(self) -> int:
        return self.layout.nr_keyids

    @property
    def dram_bytes(self) -> int:
        return self.memory.size

    @property
    def tme_bypass(self) -> bool:
        return self.activate.bypass

    @property
    def coherent_keyids(self) -> bool:
        """Whether fills keep one frame's KeyID aliases coherent (a model of the SME_COHERENT idea).

        Fixed when the machine is built, as a CPUID feature is."""
        return self._coherent_keyids

    def hpa(self, pa: int, keyid: int = 0) -> int:
        """Full physical address of ``pa`` under ``keyid`` (KeyID in the top bits)."""
        return self.layout.hpa(pa, keyid)

    def split(self, hpa: int) -> tuple[int, int]:
        """``(pa, keyid)`` of a full physical address."""
        return self.layout.split(hpa)

    def rdmsr(self, msr: int) -> int:
        """Read a modelled MSR: IA32_MKTME_KEYID_PARTITIONING (0x87), IA32_TME_CAPABILITY (0x981) or IA32_TME_ACTIVATE (0x982)."""
        msr = whole(msr, "msr (an MSR number, an int such as 0x981)", 0, 0xFFFFFFFF, hex_=True)
        if msr == IA32_TME_CAPABILITY:
            return self.capability.value
        if msr == IA32_MKTME_KEYID_PARTITIONING:
            # Modelling choice: on a machine that keeps no KeyID bits for TDX it reads as "every
            # KeyID is an MKTME KeyID"; on real parts without TDX the MSR does not exist.
            return self.partition.value
        if msr == IA32_TME_ACTIVATE:
            return self.activate.value
        raise MKTMEError(
            f"MSR {msr:#x} is not modelled; rdmsr knows IA32_MKTME_KEYID_PARTITIONING (0x87), IA32_TME_CAPABILITY (0x981) and IA32_TME_ACTIVATE (0x982)"
        )

    # -- trace -------------------------------------------------------------------------------------
    @property
    def trace_cap(self) -> int | None:
        """How many recent events the trace keeps (None: every event)."""
        return self.trace.maxlen

    @property
    def trace_dropped(self) -> int:
        """Events recorded since the last :meth:`reset_trace` that fell off the front of the trace."""
        return self._traced - len(self.trace)

    def emit(self, kind: str, package: int | None = None, pa: int | None = None,
             keyid: int | None = None, detail: str = "", engine: int | None = None) -> None:
        """Record an event (the kernel model uses this for TLB shootdowns, faults, ...).

        The counter is bumped for every event, traced or not, so ``counters`` (and the kernel's
        ``costs()``/``measure()`` built on it) never depend on the trace or its cap."""
        self.counters[kind] += 1
        if self.trace_enabled:
            self.trace.append(Event(self._seq, kind, package, pa, keyid, detail, engine))
            self._traced += 1
        self._seq += 1

    def reset_trace(self) -> None:
        """Forget the recorded events, so the trace starts afresh (event numbers keep counting).

        The counters are left alone: they are the machine's running totals, and a
        ``kernel.measure()`` around a block that resets the trace must still see every event.
        Zero them explicitly with ``m.counters.clear()``."""
        self.trace.clear()
        self._traced = 0

    # -- argument checks ------------------------------------------------------------------------------
    def _check_package(self, package) -> int:
        if type(package) is not int:
            package = whole(package, "package")
        if not 0 <= package < self.packages:
            raise PackageError(
                f"package {package!r} does not exist; this machine has {self.packages} "
                f"package(s), numbered 0..{self.packages - 1}"
            )
        return package

    def _check_range(self, hpa: int, n: int) -> tuple[int, int, int, int]:
        """``(hpa, pa, keyid, n)`` as ints, once ``n`` bytes from ``hpa`` are known to be in DRAM."""
        if type(hpa) is not int:
            hpa = whole(hpa, "hpa (a full physical address)")
        pa, keyid = self.split(hpa)
        pa, n = self.memory.check(pa, n)
        if self._private_first is not None and keyid >= self._private_first and not self._in_seam:
            self._refuse_private(keyid, "an access through")
        return hpa, pa, keyid, n

    def _refuse_private(self, keyid: int, what: str) -> None:
        r = self.partition.private_range
        raise KeyIDError(
            f"{what} KeyID {keyid} refused: it is a TDX private KeyID (private range [{r.start}, {r.stop}), "
            f"IA32_MKTME_KEYID_PARTITIONING = {self.partition.value:#x}). Only software in SEAM mode (the TDX "
            f"module) may use it: private KeyIDs are \"only accessible within the SEAM mode\" "
            f"(Documentation/arch/x86/tdx.rst). Modelling choice: the model refuses the access with this error; "
            f"what hardware does with such an access outside SEAM is not in the course's sources. "
            f"The host may use KeyIDs 0-{self.partition.mktme_keyids}; `with m.seam():` plays the TDX module")

    def is_private(self, keyid: int) -> bool:
        """Whether ``keyid`` is a TDX private KeyID on this machine (see ``tdx_keyid_bits``)."""
        return self.partition.is_private(self.layout.check_keyid(keyid))

    @contextmanager
    def seam(self):
        """``with m.seam(): ...`` runs the block as the TDX module would: in SEAM mode, where TDX
        private KeyIDs may be programmed and used. Everything else refuses them."""
        was, self._in_seam = self._in_seam, True
        try:
            yield self
        finally:
            self._in_seam = was

    # -- the cache/engine core -------------------------------------------------------------------------
    def home_package(self, pa: int) -> int:
        """The package whose memory controller (and encryption engine) owns ``pa``.

        Modelling choice: DRAM is split into equal contiguous parts, one per package. Real
        platforms interleave in firmware-defined ways, but the rule that matters holds: a given
        address is always encrypted and decrypted by the same controller. Linux's key service
        relied on it: it ran KEYID_SET_KEY_RANDOM once per package, which gives every package
        a *different* random key for the same KeyID.
        """
        pa = self._check_dram_pa(pa, "home_package")
        pa, _ = self.memory.check(pa, 1)
        return pa * self.packages // self.memory.size

    def _engine(self, pa: int, package: int | None = None) -> tuple[int, EncryptionEngine]:
        """The package whose key table encrypts a line of ``pa`` that ``package`` fills or
        writes back, and its engine (``keytable_scope``; under "platform" every engine reads the
        one shared table, so the home engine stands for all). A device access (DMA) has no
        package: the home memory controller's engine serves it under every scope."""
        if self.keytable_scope == "writer" and package is not None:
            return package, self.engines[package]
        home = pa * self.packages // self.memory.size
        return home, self.engines[home]

    def _writeback(self, package: int, line: CacheLine) -> None:
        pa, keyid = self.split(line.hpa)
        home, engine = self._engine(pa, package)
        self.memory.write_line(pa, engine.encrypt_line(pa, keyid, line.data))
        line.dirty = False
        self.emit("writeback", package, pa, keyid, f"engine P{home}" if self.packages > 1 else "", engine=home)

    def _evict_line(self, package: int, line: CacheLine, why: str) -> None:
        if line.dirty:
            self._writeback(package, line)
        self.caches[package].remove(line.hpa)
        pa, keyid = self.split(line.hpa)
        self.emit("evict", package, pa, keyid, why)

    def _snoop(self, package: int, line_hpa: int, invalidate: bool) -> None:
        """Other packages' copies of the same full address: write back if dirty; drop if asked."""
        for q, cache in enumerate(self.caches):
            if q == package:
                continue
            other = cache.lookup(line_hpa, touch=False)
            if other is None:
                continue
            if other.dirty:
                self._writeback(q, other)
            if invalidate:
                cache.remove(line_hpa)
                pa, keyid = self.split(line_hpa)
                self.emit("invalidate", q, pa, keyid, f"snooped by P{package}")

    def _drop_other_keyids(self, package: int, line_hpa: int) -> None:
        """``coherent_keyids``: before ``package`` fills ``line_hpa``, write back and drop the same
        frame line's copies under every other KeyID, in every package (the SME_COHERENT idea)."""
        pa, keyid = self.split(line_hpa)
        for q, cache in enumerate(self.caches):
            for other in cache.set_of(line_hpa):
                if other.hpa == line_hpa:
                    continue
                opa, okeyid = self.split(other.hpa)
                if opa != pa:
                    continue
                if other.dirty:
                    self._writeback(q, other)
                cache.remove(other.hpa)
                self.emit("invalidate", q, opa, okeyid, f"coherent_keyids: P{package} fills KeyID {keyid}")

    def _fill(self, package: int, line_hpa: int, speculative: bool = False) -> CacheLine:
        cache = self.caches[package]
        self._snoop(package, line_hpa, invalidate=False)
        if self._coherent_keyids:
            self._drop_other_keyids(package, line_hpa)
        victim = cache.victim(line_hpa)
        if victim is not None:
            self._evict_line(package, victim, "replaced")
        pa, keyid = self.split(line_hpa)
        home, engine = self._engine(pa, package)
        data = engine.decrypt_line(pa, keyid, self.memory.read_line(pa))
        line = CacheLine(line_hpa, bytearray(data), False, speculative)
        cache.insert(line)
        self.emit("fill", package, pa, keyid, "speculative" if speculative else "", engine=home)
        return line

    # -- loads and stores -------------------------------------------------------------------------------
    def load(self, hpa: int, n: int = LINE, package: int = 0) -> bytes:
        """Read ``n`` bytes at ``hpa`` as the CPU sees them (through ``package``'s cache)."""
        package = self._check_package(package)
        hpa, pa, keyid, n = self._check_range(hpa, n)
        self.emit("load", package, pa, keyid, f"{n} B")
        cache = self.caches[package]
        out = bytearray()
        first = hpa - hpa % LINE
        for line_hpa in range(first, hpa + n, LINE):
            line = cache.lookup(line_hpa)
            lpa = line_hpa - (hpa - pa)
            if line is None:
                self.emit("miss", package, lpa, keyid)
                line = self._fill(package, line_hpa)
            else:
                self.emit("hit", package, lpa, keyid)
            lo = max(hpa, line_hpa) - line_hpa
            hi = min(hpa + n, line_hpa + LINE) - line_hpa
            out += line.data[lo:hi]
        return bytes(out)

    def store(self, hpa: int, data: bytes, package: int = 0) -> None:
        """Write ``data`` at ``hpa`` through ``package``'s cache (write-allocate, write-back)."""
        package = self._check_package(package)
        data = byteslike(data, "data (what store() writes)")
        hpa, pa, keyid, _ = self._check_range(hpa, len(data))
        self.emit("store", package, pa, keyid, f"{len(data)} B")
        cache = self.caches[package]
        first = hpa - hpa % LINE
        for line_hpa in range(first, hpa + len(data), LINE):
            lpa = line_hpa - (hpa - pa)
            line = cache.lookup(line_hpa)
            if line is None:
                self.emit("miss", package, lpa, keyid)
                line = self._fill(package, line_hpa)  # read for ownership
            else:
                self.emit("hit", package, lpa, keyid)
            self._snoop(package, line_hpa, invalidate=True)
            lo = max(hpa, line_hpa) - line_hpa
            hi = min(hpa + len(data), line_hpa + LINE) - line_hpa
            src = max(hpa, line_hpa) - hpa
            line.data[lo:hi] = data[src : src + hi - lo]
            line.dirty = True
            line.speculative = False
        return None

    # -- cache maintenance --------------------------------------------------------------------------------
    def _flush_line(self, hpa: int, kind: str, invalidate: bool) -> None:
        """The line holding ``hpa`` (this full address only) in every package: write back if dirty,
        then drop it (``invalidate``) or keep it clean."""
        hpa, pa, keyid, _ = self._check_range(hpa, 1)
        line_hpa = hpa - hpa % LINE
        self.emit(kind, None, pa - pa % LINE, keyid)
        for p, cache in enumerate(self.caches):
            line = cache.lookup(line_hpa, touch=False)
            if line is not None:
                if line.dirty:
                    self._writeback(p, line)
                if invalidate:
                    cache.remove(line_hpa)
                    self.emit("flush", p, pa - pa % LINE, keyid)

    def clflush(self, hpa: int) -> None:
        """CLFLUSH: write back (if dirty) and invalidate the line holding ``hpa`` in every package.

        It acts on the line of the full address it is given, KeyID included: flushing one alias
        of a frame leaves the frame's lines under other KeyIDs where they are. Modelling choice:
        no SDM sentence saying so was found (UNVERIFIED); what supports it is that the TDX
        module's TDH.PHYMEM.PAGE.WBINVD flushes a page through the alias of the KeyID it wants
        written back (it takes the HKID from the PA, maps the page with it, CLFLUSHOPTs every
        line, then MFENCE: intel/tdx-module, tdh_phymem_page_wbinvd.c). That instruction writes back one page
        under one KeyID; retiring a KeyID needs every package's caches written back
        (TDH.PHYMEM.CACHE.WB on one CPU per package, section 06), since WBINVD reaches one
        package only (the SDM's WBINVD reference)."""
        self._flush_line(hpa, "clflush", invalidate=True)

    def clflushopt(self, hpa: int) -> None:
        """CLFLUSHOPT: the same effect on the line as :meth:`clflush` (write back if dirty,
        invalidate, every package), traced as its own event ``clflushopt``.

        On real hardware the difference is ordering, not effect: CLFLUSH instructions execute in
        order with each other, while CLFLUSHOPTs to different lines are weakly ordered and can be
        in flight together, so a batch of them is faster and software ends it with a fence
        (SFENCE/MFENCE) before relying on it; the spec's EvictPage lists "CLFLUSHOPT+fence"
        (Intel 336907), and the TDX module CLFLUSHOPTs a page and then MFENCEs. This model
        runs one operation at a time and each completes before the next starts, so there is
        nothing to reorder and no fence to model: a modelling choice."""
        self._flush_line(hpa, "clflushopt", invalidate=True)

    def clwb(self, hpa: int) -> None:
        """CLWB: write the line holding ``hpa`` back if it is dirty, in every package, and keep it.

        Modelling choice: the line stays cached, clean. The architecture lets CLWB keep the line
        (that is its point: the data is still there for the next read) but does not promise it,
        and some parts drop it; the model always keeps it. So CLWB ends a late dirty write-back
        (nothing is dirty any more) but removes no stale clean line."""
        self._flush_line(hpa, "clwb", invalidate=False)

    #: The instructions :meth:`flush_range` can use on each line.
    LINE_FLUSHES = ("clflush", "clflushopt", "clwb")

    def flush_range(self, hpa: int, n: int, instruction: str = "clflush") -> int:
        """``instruction`` (clflush, clflushopt or clwb) on every line of ``[hpa, hpa+n)``
        (Linux's ``clflush_cache_range``); returns the line count."""
        instruction = choose(instruction, self.LINE_FLUSHES, "cache-line flush instruction")
        hpa, _, _, n = self._check_range(hpa, n)
        first = hpa - hpa % LINE
        op = getattr(self, instruction)
        count = 0
        for line_hpa in range(first, hpa + n, LINE):
            op(line_hpa)
            count += 1
        return count

    def wbinvd(self, package: int | None = None) -> None:
        """WBINVD on one package (or on every package when ``package`` is None)."""
        targets = range(self.packages) if package is None else [self._check_package(package)]
        for p in targets:
            self.emit("wbinvd", p)
            for line in self.caches[p].lines():
                self._evict_line(p, line, "wbinvd")

    def wbnoinvd(self, package: int | None = None) -> None:
        """WBNOINVD on one package (or on every package when ``package`` is None): write every
        dirty line of that package's cache back and keep every line, clean.

        Like WBINVD it acts on one package's caches only; unlike it, it leaves stale clean lines
        (a speculatively filled alias, say) where they are. AMD's KVM uses it because it ends
        every late dirty write-back (Kevin Loughlin's KVM SEV patches, Feb 2025)."""
        targets = range(self.packages) if package is None else [self._check_package(package)]
        for p in targets:
            self.emit("wbnoinvd", p)
            for line in self.caches[p].lines():
                if line.dirty:
                    self._writeback(p, line)

    def evict(self, hpa: int, package: int | None = None) -> bool:
        """Let time pass for one line: push it out of ``package``'s cache (every package if None),
        writing it back if dirty. Returns whether any copy was there."""
        hpa, _, _, _ = self._check_range(hpa, 1)
        line_hpa = hpa - hpa % LINE
        targets = range(self.packages) if package is None else [self._check_package(package)]
        found = False
        for p in targets:
            line = self.caches[p].lookup(line_hpa, touch=False)
            if line is not None:
                self._evict_line(p, line, "evict")
                found = True
        return found

    def speculative_fill(self, hpa: int, package: int = 0) -> bool:
        """A load the program never asked for (prefetch, speculation) brings the line in, clean.
        Returns False when the line was already cached."""
        package = self._check_package(package)
        hpa, pa, keyid, _ = self._check_range(hpa, 1)
        line_hpa = hpa - hpa % LINE
        self.emit("speculative_fill", package, pa - pa % LINE, keyid)
        if self.caches[package].lookup(line_hpa, touch=False) is not None:
            return False
        self._fill(package, line_hpa, speculative=True)
        return True

    # -- devices -------------------------------------------------------------------------------------------
    def _dma_snoop(self, line_hpa: int, invalidate: bool) -> None:
        """A device access to ``line_hpa``: CPU copies of that full address are written back if
        dirty (and dropped for a device write). Other KeyIDs of the frame are not looked at."""
        pa, keyid = self.split(line_hpa)
        for p, cache in enumerate(self.caches):
            line = cache.lookup(line_hpa, touch=False)
            if line is None:
                continue
            if line.dirty:
                self._writeback(p, line)
            if invalidate:
                cache.remove(line_hpa)
                self.emit("invalidate", p, pa, keyid, "snooped by a device (DMA)")

    def dma_write(self, hpa: int, data: bytes) -> None:
        """A device writes ``data`` at ``hpa`` (the KeyID is the one its IOMMU mapping carries).

        The memory controller encrypts it with the key of ``hpa``'s KeyID. Modelling choice: the
        device is coherent with the CPU caches for that full address only (a dirty CPU copy is
        written back first and every copy is dropped); lines of the frame under other KeyIDs stay
        cached, whatever ``coherent_keyids`` says, because no CPU fill happens. That is the
        reason KVM still clflushes on SME_COHERENT parts "to work properly with DMA devices"
        (``sev_flush_encrypted_page`` in arch/x86/kvm/svm/sev.c)."""
        data = byteslike(data, "data (what dma_write() writes)", 1)
        hpa, pa, keyid, _ = self._check_range(hpa, len(data))
        self.emit("dma_write", None, pa, keyid, f"{len(data)} B")
        first = hpa - hpa % LINE
        for line_hpa in range(first, hpa + len(data), LINE):
            self._dma_snoop(line_hpa, invalidate=True)
            lpa = line_hpa - (hpa - pa)
            _, engine = self._engine(lpa)
            plain = bytearray(engine.decrypt_line(lpa, keyid, self.memory.read_line(lpa)))
            lo = max(hpa, line_hpa) - line_hpa
            hi = min(hpa + len(data), line_hpa + LINE) - line_hpa
            src = max(hpa, line_hpa) - hpa
            plain[lo:hi] = data[src : src + hi - lo]
            self.memory.write_line(lpa, engine.encrypt_line(lpa, keyid, bytes(plain)))

    def dma_read(self, hpa: int, n: int = LINE) -> bytes:
        """A device reads ``n`` bytes at ``hpa``: dirty CPU copies of that full address are written
        back first (and stay cached, clean), then the controller decrypts DRAM with ``hpa``'s key.
        Lines of the frame under other KeyIDs are not looked at (see :meth:`dma_write`)."""
        hpa, pa, keyid, n = self._check_range(hpa, n)
        self.emit("dma_read", None, pa, keyid, f"{n} B")
        out = bytearray()
        first = hpa - hpa % LINE
        for line_hpa in range(first, hpa + n, LINE):
            self._dma_snoop(line_hpa, invalidate=False)
            lpa = line_hpa - (hpa - pa)
            _, engine = self._engine(lpa)
            plain = engine.decrypt_line(lpa, keyid, self.memory.read_line(lpa))
            lo = max(hpa, line_hpa) - line_hpa
            hi = min(hpa + n, line_hpa + LINE) - line_hpa
            out += plain[lo:hi]
        return bytes(out)

    # -- raw DRAM: what a physical attacker sees and does ------------------------------------------------
    def _check_dram_pa(self, pa, what: str) -> int:
        """``pa`` as an int. DRAM is indexed without KeyID bits; catch the common slip of passing an hpa."""
        pa = whole(pa, "physical address")
        if pa >= self.layout.addressable_bytes:
            try:
                plain, keyid = self.split(pa)
            except MKTMEError:
                return pa
            raise AddressError(
                f"{what}({pa:#x}) got an address with KeyID bits (KeyID {keyid}); DRAM never sees a KeyID, "
                f"so pass the physical address without them: {plain:#x} (m.split(hpa)[0])"
            )
        return pa

    def dram(self, pa: int, n: int = LINE) -> bytes:
        """The bytes physically stored at ``pa`` (no KeyID: the DIMM never sees one).

        This is what a cold-boot attacker or a bus probe reads."""
        pa = self._check_dram_pa(pa, "dram")
        return self.memory.read(pa, n)

    def write_dram(self, pa: int, data: bytes) -> None:
        """Overwrite DRAM directly, as a bus interposer or a DIMM swap would (no cache, no engine)."""
        data = byteslike(data, "data (what write_dram() writes)")
        pa = self._check_dram_pa(pa, "write_dram")
        self.memory.check(pa, len(data))
        self.emit("dram_write", None, pa, None, f"{len(data)} B raw")
        self.memory.write(pa, data)

    # -- PCONFIG -------------------------------------------------------------------------------------------
    def inject_pconfig_status(self, package: int, status: PconfigStatus, times: int = 1) -> None:
        """Make the next ``times`` PCONFIGs on ``package`` fail with ``status`` (DEVICE_BUSY when another
        logical processor holds the key-table lock, ENTROPY_ERROR when the RNG runs dry)."""
        package = self._check_package(package)
        status = PconfigStatus(whole(status, "status (a PconfigStatus)", min(PconfigStatus), max(PconfigStatus)))
        if status not in (PconfigStatus.DEVICE_BUSY, PconfigStatus.ENTROPY_ERROR):
            raise ParameterError(f"only DEVICE_BUSY and ENTROPY_ERROR are transient failures that can be injected; "
                                 f"got {status.name}")
        times = whole(times, "times", 0, MAX_INJECTED)
        self._injected[package].extend([status] * times)

    def pconfig(self, package: int, keyid: int, command: int, data_key: bytes | None = None,
                tweak_key: bytes | None = None, enc_alg: int = ALG_AES_XTS_128) -> PconfigStatus:
        """PCONFIG leaf MKTME_KEY_PROGRAM on one package. Returns the status code (2018 semantics).

        Touches only ``package``'s key table; never caches, never TLBs.
        """
        package = self._check_package(package)
        # Numbers, as the fields of MKTME_KEY_PROGRAM_STRUCT are; values the hardware does not know
        # come back as status codes (INVALID_KEYID, INVALID_PROG_CMD, INVALID_ENC_ALG), as on the 2018 parts.
        keyid = whole(keyid, "keyid")
        command = whole(command, "command (KEYID_CTRL[7:0], a PconfigCommand)", 0, 0xFF)
        enc_alg = whole(enc_alg, "enc_alg (KEYID_CTRL[23:8], an ALG_* bit)", 0, 0xFFFF, hex_=True)
        status, entry = self._pconfig_decide(package, keyid, command, data_key, tweak_key, enc_alg)
        if status is PconfigStatus.PROG_SUCCESS:
            self.tables[package].program(keyid, entry)
        try:
            cmd_name = PconfigCommand(command).name
        except ValueError:
            cmd_name = f"command {command}"
        self.emit("pconfig", package, None, keyid, f"{cmd_name} -> {status.name}")
        return status

    def _pconfig_decide(self, package, keyid, command, data_key, tweak_key, enc_alg):
        if self._injected[package]:
            return self._injected[package].popleft(), None
        try:
            command = PconfigCommand(command)
        except ValueError:
            return PconfigStatus.INVALID_PROG_CMD, None
        if not 1 <= keyid <= min(self.nr_keyids, self.capability.max_keys):
            return PconfigStatus.INVALID_KEYID, None
        if self.partition.is_private(keyid) and not self._in_seam:
            # Modelling choice: host software programming a private KeyID gets INVALID_KEYID; only
            # the TDX module (SEAM) programs private KeyIDs (TDH.MNG.KEY.CONFIG, intel/tdx-module).
            return PconfigStatus.INVALID_KEYID, None
        if enc_alg not in ALG_NAMES or not (enc_alg & self.activate.crypto_algs):
            return PconfigStatus.INVALID_ENC_ALG, None
        size = ALG_KEY_BYTES[enc_alg]
        if command is PconfigCommand.KEYID_SET_KEY_DIRECT:
            if data_key is None or tweak_key is None:
                raise KeyMaterialError(
                    f"KEYID_SET_KEY_DIRECT needs data_key and tweak_key ({size} bytes each for {ALG_NAMES[enc_alg]})"
                )
            return PconfigStatus.PROG_SUCCESS, make_key_entry(data_key, tweak_key, enc_alg, "direct")
        if command is PconfigCommand.KEYID_SET_KEY_RANDOM:
            keys = []
            for name, entropy in (("data_key", data_key), ("tweak_key", tweak_key)):
                k = self.rng.bytes(size)
                if entropy is not None:
                    if not isinstance(entropy, (bytes, bytearray)) or len(entropy) != size:
                        raise KeyMaterialError(
                            f"{name} entropy for KEYID_SET_KEY_RANDOM must be {size} bytes or None"
                        )
                    k = bytes(a ^ b for a, b in zip(k, entropy))
                keys.append(k)
            return PconfigStatus.PROG_SUCCESS, make_key_entry(keys[0], keys[1], enc_alg, "random")
        if data_key is not None or tweak_key is not None:
            raise KeyMaterialError(f"{command.name} takes no key material; leave data_key and tweak_key as None")
        if command is PconfigCommand.KEYID_CLEAR_KEY:
            return PconfigStatus.PROG_SUCCESS, KeyEntry(KeyMode.TME)
        return PconfigStatus.PROG_SUCCESS, KeyEntry(KeyMode.NO_ENCRYPT, enc_alg)

    def key_table_view(self, package: int) -> dict[int, str]:
        """Simulator-only view of one package's programmed entries (software cannot read keys)."""
        package = self._check_package(package)
        return self.tables[package].view()

    def key_mode(self, package: int, keyid: int) -> KeyMode:
        """Which of the three modes ``keyid`` is in on ``package``."""
        package = self._check_package(package)
        keyid = self.layout.check_keyid(keyid)
        return self.tables[package].entry(keyid).mode

    # -- views for the lessons -----------------------------------------------------------------------------
    def cache_view(self, package: int) -> list[dict]:
        """Every line in ``package``'s cache: address, KeyID, state and plaintext."""
        package = self._check_package(package)
        out = []
        for line in self.caches[package].lines():
            pa, keyid = self.split(line.hpa)
            out.append({"pa": pa, "keyid": keyid, "dirty": line.dirty,
                        "speculative": line.speculative, "data": bytes(line.data)})
        return out

    def dram_as(self, hpa: int, n: int = LINE) -> bytes:
        """Simulator-only view: the ``n`` bytes a fill through ``hpa`` would bring in *now* (DRAM
        decrypted by the home engine with the key ``hpa``'s KeyID selects), without filling,
        without an event and whatever the caches hold. Lessons compare a load with it to tell a
        stale cached line from a fresh one."""
        hpa, pa, keyid, n = self._check_range(hpa, n)
        out = bytearray()
        first = pa - pa % LINE
        for lpa in range(first, pa + n, LINE):
            _, engine = self._engine(lpa)
            plain = engine.decrypt_line(lpa, keyid, self.memory.read_line(lpa))
            lo = max(pa, lpa) - lpa
            hi = min(pa + n, lpa + LINE) - lpa
            out += plain[lo:hi]
        return bytes(out)

    def cached(self, hpa: int, package: int | None = None) -> bool:
        """Whether the line holding ``hpa`` is in ``package``'s cache (any package if None)."""
        hpa, _, _, _ = self._check_range(hpa, 1)
        line_hpa = hpa - hpa % LINE
        caches = self.caches if package is None else [self.caches[self._check_package(package)]]
        return any(c.lookup(line_hpa, touch=False) is not None for c in caches)

    # -- cloning --------------------------------------------------------------------------------------------
    def reboot(self, seed: int | None = None) -> "Machine":
        """Power-cycle the machine: a new Machine built the same way, with what survives a reboot.

        * The TME key is new: the CPU generates it at every cold boot (IA32_TME_ACTIVATE key
          select 0, Intel 336907); ``seed`` (default: this seed + 1) picks it.
        * Every key table is empty: keys are lost on reset (Intel 336907). Software must
          program a user KeyID again, with the same key material if it wants its data back.
        * Ordinary DRAM comes back as power-on noise; the ``pmem_bytes`` at the top of DRAM
          keep exactly the bytes they held (ciphertext, sealed to its physical address).
        * Caches come back empty: a dirty line that was never written back is lost, even for
          pmem. Modelling choice: real platforms differ (ADR drains the memory controller's
          queues, eADR also the caches); here only what reached DRAM persists.
        """
        seed = self.seed + 1 if seed is None else seed
        m = Machine(seed=seed, **self._config)
        if len(self.pmem):
            m.memory.cells[self.pmem.start:self.pmem.stop] = self.memory.cells[self.pmem.start:self.pmem.stop]
        m.emit("reboot", None, None, None,
               f"new TME key (seed {seed}); key tables empty; {len(self.pmem)} B of pmem kept; caches lost")
        return m

    def clone(self) -> "Machine":
        """A deep copy of the whole machine state (DRAM, caches, key tables, RNG, trace, counters).

        The clone's trace and counters are its own: events either machine records later never
        show up in the other."""
        m = Machine.__new__(Machine)
        m.seed = self.seed
        m.layout = self.layout
        m.capability = self.capability
        m.activate = self.activate
        m.rng = np.random.Generator(type(self.rng.bit_generator)())
        m.rng.bit_generator.state = self.rng.bit_generator.state
        m._tme_cipher = self._tme_cipher
        m.memory = self.memory.copy()
        copies: dict[int, KeyTable] = {}  # keeps one shared table shared ("platform" scope)
        m.tables = [copies.setdefault(id(t), t.copy()) for t in self.tables]
        m.keytable_scope = self.keytable_scope
        m.engines = [EncryptionEngine(t, self._tme_cipher, self.tme_bypass) for t in m.tables]
        m.caches = [c.copy() for c in self.caches]
        # Events are frozen, so the copy shares them; its length is bounded by the cap, not by
        # how long this machine has run.
        m.trace = Trace(self.trace, maxlen=self.trace.maxlen)
        m.counters = Counter(self.counters)
        m.trace_enabled = self.trace_enabled
        m._coherent_keyids = self._coherent_keyids
        m.partition, m._private_first, m._in_seam = self.partition, self._private_first, self._in_seam
        m.pmem, m._config = self.pmem, self._config
        m._seq = self._seq
        m._traced = self._traced
        m._injected = [deque(d) for d in self._injected]
        return m

    def __repr__(self) -> str:
        return (
            f"Machine(packages={self.packages}, phys_bits={self.phys_bits}, keyid_bits={self.keyid_bits}, "
            f"dram={self.dram_bytes // 1024} KiB, cache={self.caches[0].sets}x{self.caches[0].ways} lines/package, "
            f"keytable_scope={self.keytable_scope!r}"
            + (f", tdx_keyid_bits={self.activate.tdx_keyid_bits} ({self.partition})"
               if self.partition.tdx_keyids else "")
            + (f", pmem={len(self.pmem) // 1024} KiB at {self.pmem.start:#x}" if len(self.pmem) else "")
            + (", coherent_keyids=True (a model of the idea of AMD's SME_COHERENT, not of AMD's implementation)"
               if self._coherent_keyids else ", coherent_keyids=False")
            # tme_bypass stays the last field: lesson 00 reads the repr and says so
            + f", tme_bypass={self.tme_bypass})"
        )
