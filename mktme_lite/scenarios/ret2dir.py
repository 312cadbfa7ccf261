"""Lesson 07's security side: ret2dir and a kernel read of someone else's secret, per design.

    from mktme_lite.scenarios import ret2dir

    r = ret2dir.ret2dir("keyid0", "encrypted")    # the attacker encrypts its payload page
    r.outcome, r.read                              # 'garbage', b'...' (what the kernel loaded)
    m = ret2dir.security_matrix()                  # every design x every threat, as data
    m.cell("xpfo", "ret2dir").word                 # 'oops'
    ret2dir.andy_verdict()                         # "essentially all the benefit of MKTME", cell by cell

The attack (Kemerlis, Polychronakis and Keromytis, USENIX Security 2014): the kernel's direct
map maps all of RAM, so every user page also has a kernel address, ``__va(pa)``. The attacker
writes a payload into a page of its own, finds the page's frame number, and aims a corrupted
kernel pointer at ``__va(pa)``. SMEP and SMAP do not help: the address is a kernel address. Here
the corrupted pointer is ``Kernel.kernel_read_direct_map(pa, n)``: what the kernel loads when it
follows it. The attack works when the kernel loads the payload.

**Modelling choice: a known frame number and no KASLR.** The attacker reads ``pa`` from
``/proc/self/pagemap`` and the direct map starts at :data:`DIRECT_MAP_BASE`. On a real kernel since
Linux 4.0 PFNs need CAP_SYS_ADMIN (since 4.2 they read as zero unprivileged,
Documentation/admin-guide/mm/pagemap.rst) and KASLR randomises ``page_offset_base``; the paper's
other route, spraying the physmap with copies of the payload and guessing, still works ("physmap
spraying technique still remains viable", Khalid Aziz, 5 Apr 2019). The model gives the attacker
the address so that the outcome depends only on the design.

The designs are those of :mod:`mktme_lite.scenarios.costs` (``costs.DESIGNS``), on the same
kernel policies, so the lesson's security matrix and its price list describe the same kernels.
Per design, the victim ("alice") keeps a secret the way the design protects secrets: in a plain
page (no defence, XPFO), in a page encrypted with her own MKTME KeyID (the MKTME designs), or in
``memfd_secret()`` memory. The attacker ("mallory") may encrypt its payload page or put it in
``memfd_secret()`` memory where the design offers that; :func:`security_matrix` reports the
attacker's best choice, and every choice it tried.

Modelling choices the lesson names: two columns for a kernel that reads alice's secret on
purpose. ``kernel_read`` is a pure *read primitive*: a load through every direct map the design
keeps, and nothing else. ``kernel_gup`` is kernel code that calls ``get_user_pages()`` + ``kmap()``
on her page (``process_vm_readv()`` with ptrace rights over alice does exactly that): it gets the
secret wherever gup works, by construction, so that column is the gup columns read the other way.
Neither is code execution: a kernel that can write its own page tables reads every page under
every design.
MKTME designs put all anonymous memory on KeyIDs (as in :mod:`costs`), so an ordinary page of alice
is encrypted too. Nothing here decides an outcome: each word is what the hardware model returned
(or the fault it raised), compared with the bytes that were written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

from ..kernel import PAGE_SIZE, Kernel, KernelPageFault, SyscallError
from ..machine import LINE, Machine
from ..params import choose, instance, items, shown
from .aliasing import DIRECT_MAP_REGION
from .costs import DESIGNS, Estimate, _designs_arg, design_policy
from .pages import CPU_KEY, RW, SEED

__all__ = [
    "PAYLOAD", "SECRET", "DIRECT_MAP_BASE", "CHOICES", "THREATS", "FUNCTIONS", "COLUMNS", "SHORT",
    "Ret2dirResult", "Outcome", "SecurityRow", "SecurityMatrix", "VerdictCell",
    "attacker_choices", "ret2dir", "security_matrix", "andy_verdict", "cheapest_meeting",
]

#: What the attacker plants: a ROP chain, in the paper's spirit (bytes the kernel would run or use).
PAYLOAD = b"ROP chain: pop rdi; ret; prepare_kernel_cred(0); commit_creds".ljust(LINE, b"!")
#: What alice keeps: a secret someone else's kernel bug must not read.
SECRET = b"alice's TLS private key: 30 82 04 a4 02 01 00 02 82 01 01 00".ljust(LINE, b".")
#: Where the direct map starts with 4-level paging (Documentation/arch/x86/x86_64/mm.rst; KASLR
#: randomises it as page_offset_base). __va(pa) = DIRECT_MAP_BASE + pa.
DIRECT_MAP_BASE = 0xFFFF_8880_0000_0000

#: How the attacker may keep its payload page
CHOICES = {
    "plain": "an ordinary page (mmap)",
    "encrypted": "a page encrypted with the attacker's own MKTME key (encrypt_mprotect)",
    "secret": "a memfd_secret() page",
}

#: The security columns (does the defence hold?) and the function columns (does the kernel still work?)
THREATS = {
    "ret2dir": "ret2dir: a corrupted kernel pointer aimed at __va(pa) of the attacker's own page",
    "stray_read": "a stray kernel read of __va(pa) of alice's secret page (a bug)",
    "kernel_read": "a compromised kernel's read primitive: a load through every direct map the design keeps",
    "kernel_gup": "kernel code that calls get_user_pages() + kmap() on alice's secret page (process_vm_readv "
                  "with ptrace rights)",
    "cold_boot": "a DIMM taken out and read (cold boot)",
}
FUNCTIONS = {
    "gup_secret": "get_user_pages() on alice's secret page (a debugger, O_DIRECT)",
    "gup_ordinary": "get_user_pages() on an ordinary page of alice",
}
COLUMNS = {**THREATS, **FUNCTIONS}
#: a short heading per column, for pictures and tables
SHORT = {"ret2dir": "ret2dir (attacker's page)", "stray_read": "stray read of the secret",
         "kernel_read": "read primitive (direct maps)", "kernel_gup": "kernel gup + kmap read",
         "cold_boot": "cold boot (DIMM read)",
         "gup_secret": "gup: secret page", "gup_ordinary": "gup: ordinary page"}


def attacker_choices(design: str) -> tuple[str, ...]:
    """What the attacker can do with its payload page under ``design``: always an ordinary page;
    an encrypted one where the MKTME API exists; a memfd_secret() one where the design has it."""
    d = DESIGNS[choose(design, DESIGNS, "design")]
    out = ["plain"]
    if d.family == "MKTME":
        out.append("encrypted")
    if d.protect == "secret":
        out.append("secret")
    return tuple(out)


def _boot(design: str, seed: int):
    k = Kernel(Machine(packages=1, seed=seed, trace=False), design_policy(design))
    alice, mallory = k.spawn("alice"), k.spawn("mallory")
    gdb = k.spawn("gdb")
    return k, alice, mallory, gdb


def _page(k: Kernel, proc, how: str) -> int:
    if how == "secret":
        return proc.memfd_secret(PAGE_SIZE)
    va = proc.mmap(PAGE_SIZE, RW)
    if how == "encrypted":
        proc.encrypt_mprotect(va, PAGE_SIZE, RW, proc.add_key("mktme", f"{proc.name}-key", CPU_KEY))
    return va


@dataclass(frozen=True)
class Ret2dirResult:
    """One ret2dir attempt: where the corrupted pointer pointed and what the kernel loaded."""

    design: str
    choice: str  # how the attacker kept its payload page (CHOICES)
    pa: int  # the payload page's frame, from /proc/<pid>/pagemap
    keyid: int  # the payload page's KeyID
    target: int  # the kernel virtual address the pointer was aimed at
    read: bytes | None  # what the kernel loaded there (None: it faulted)
    outcome: str  # "PAYLOAD USED", "garbage" or "oops"

    @property
    def stopped(self) -> bool:
        return self.outcome != "PAYLOAD USED"


@lru_cache(maxsize=64)
def _ret2dir(design: str, choice: str, seed: int) -> Ret2dirResult:
    k, _, mallory, _ = _boot(design, seed)
    va = _page(k, mallory, choice)
    mallory.write(va, PAYLOAD)
    k.machine.wbinvd()  # time passes: the payload sits in DRAM
    info = mallory.pagemap(va)
    pa, keyid = info["pa"], info["keyid"]
    # In the per-KeyID design the attacker aims at its own KeyID's copy of the direct map.
    pivot = keyid if DESIGNS[design].direct_map == "per_keyid" else None
    # The copies share the 64 TiB direct-map region: KeyID n's starts n/(N+1) of the way in.
    copy = DIRECT_MAP_REGION // (k.machine.nr_keyids + 1)
    target = DIRECT_MAP_BASE + (pivot or 0) * copy + pa
    try:
        got = k.kernel_read_direct_map(pa, len(PAYLOAD), keyid=pivot)
    except KernelPageFault:
        return Ret2dirResult(design, choice, pa, keyid, target, None, "oops")
    return Ret2dirResult(design, choice, pa, keyid, target, got, "PAYLOAD USED" if got == PAYLOAD else "garbage")


def ret2dir(design: str, choice: str = "plain") -> Ret2dirResult:
    """The attacker keeps :data:`PAYLOAD` in a page (``choice``) and a corrupted kernel pointer
    is aimed at that page's direct-map address; what does the kernel load?"""
    allowed = attacker_choices(design)
    choose(choice, allowed, f"attacker's choice under {design!r}")
    return _ret2dir(design, choice, SEED)


@dataclass(frozen=True)
class Outcome:
    """One cell: a word for what happened and whether the defence held (or the function works)."""

    column: str
    word: str
    ok: bool  # security column: the defence held; function column: the kernel path still works
    detail: str


def _read_outcome(column: str, attempts: list[tuple[str, bytes | None]]) -> Outcome:
    """``attempts``: (how, bytes or None if refused). PLAINTEXT if any read the secret."""
    for how, got in attempts:
        if got == SECRET:
            return Outcome(column, "PLAINTEXT", False, f"{how} returned alice's secret")
    if any(got is not None for _, got in attempts):
        how = next(h for h, g in attempts if g is not None)
        return Outcome(column, "garbage", True, f"{how} returned bytes that are not the secret")
    return Outcome(column, "refused", True, "; ".join(how for how, _ in attempts))


def _try_read(fn) -> bytes | None:
    try:
        return fn()
    except (KernelPageFault, SyscallError):
        return None


@dataclass(frozen=True)
class SecurityRow:
    design: str
    label: str
    family: str
    cells: Mapping[str, Outcome]
    tries: tuple[Ret2dirResult, ...]  # every ret2dir choice the attacker had

    def __getitem__(self, column: str) -> Outcome:
        return self.cells[choose(column, COLUMNS, "matrix column")]


@lru_cache(maxsize=16)
def _row(design: str, seed: int) -> SecurityRow:
    d = DESIGNS[design]
    tries = tuple(_ret2dir(design, c, seed) for c in attacker_choices(design))
    best = next((t for t in tries if t.outcome == "PAYLOAD USED"), None) or next(
        (t for t in tries if t.outcome == "garbage"), tries[0])
    cells = {"ret2dir": Outcome("ret2dir", best.outcome, best.stopped,
                                "; ".join(f"{t.choice} page: {t.outcome}" for t in tries))}

    k, alice, _, gdb = _boot(design, seed)
    how = {"plain": "plain", "encrypt": "encrypted", "secret": "secret"}[d.protect]
    va = _page(k, alice, how)
    alice.write(va, SECRET)
    ordinary = _page(k, alice, "encrypted" if d.protect == "encrypt" else "plain")
    alice.write(ordinary, SECRET)
    k.machine.wbinvd()
    info = alice.pagemap(va)
    pa = info["pa"]

    stray = _try_read(lambda: k.kernel_read_direct_map(pa, LINE))
    cells["stray_read"] = _read_outcome("stray_read", [("__va(pa)" if stray is not None else
                                                        "__va(pa) faulted (oops)", stray)])
    if cells["stray_read"].word == "refused":
        cells["stray_read"] = Outcome("stray_read", "oops", True, "the frame is not in the direct map: the read faults")

    attempts = [("the KeyID-0 direct map", stray)]
    if d.direct_map == "per_keyid":
        for keyid in range(1, k.machine.nr_keyids + 1):
            attempts.append((f"the KeyID-{keyid} direct map",
                             _try_read(lambda keyid=keyid: k.kernel_read_direct_map(pa, LINE, keyid=keyid))))
    attempts = [(h if g is not None else f"{h}: refused", g) for h, g in attempts]
    cells["kernel_read"] = _read_outcome("kernel_read", attempts)
    gup = _try_read(lambda: k.process_vm_readv(alice, va, LINE))
    cells["kernel_gup"] = _read_outcome("kernel_gup", [("get_user_pages() + kmap()" if gup is not None else
                                                        "get_user_pages() + kmap(): refused", gup)])

    dram = k.machine.dram(pa, LINE)
    cells["cold_boot"] = (Outcome("cold_boot", "PLAINTEXT", False, "DRAM holds the secret as it is")
                          if dram == SECRET else
                          Outcome("cold_boot", "ciphertext", True, "DRAM holds ciphertext (TME encrypts KeyID 0 too)"))

    for column, target in (("gup_secret", va), ("gup_ordinary", ordinary)):
        try:
            got = gdb.process_vm_readv(alice, target, LINE)
        except SyscallError as exc:
            cells[column] = Outcome(column, "EFAULT", False, f"get_user_pages() refused: {exc.reason}")
            continue
        cells[column] = (Outcome(column, "works", True, "process_vm_readv() returned the bytes alice wrote")
                         if got == SECRET else
                         Outcome(column, "GARBAGE", False, "process_vm_readv() returned wrong bytes"))
    return SecurityRow(design, d.label, d.family, MappingProxyType({c: cells[c] for c in COLUMNS}), tries)


@dataclass(frozen=True)
class SecurityMatrix:
    """Design x column, every cell computed on the kernel model."""

    rows: tuple[SecurityRow, ...]
    seed: int

    def row(self, design: str) -> SecurityRow:
        choose(design, [r.design for r in self.rows], "design")
        return next(r for r in self.rows if r.design == design)

    def cell(self, design: str, column: str) -> Outcome:
        return self.row(design)[column]

    def protects(self, column: str) -> tuple[str, ...]:
        """The designs whose cell in ``column`` is ok."""
        choose(column, COLUMNS, "matrix column")
        return tuple(r.design for r in self.rows if r.cells[column].ok)


def security_matrix(designs=tuple(DESIGNS)) -> SecurityMatrix:
    """Every design in ``designs`` against every threat and function column (cached per design)."""
    return SecurityMatrix(tuple(_row(d, SEED) for d in _designs_arg(designs)), SEED)


@dataclass(frozen=True)
class VerdictCell:
    """Andy's "essentially all the benefit of MKTME for the non-pmem use case", for one threat."""

    threat: str
    mktme: tuple[str, ...]  # MKTME designs that stop it
    xpo: Mapping[str, bool]  # XPO design -> does it stop it
    holds: bool  # wherever some MKTME design helps, some XPO design helps too
    sentence: str
    holds_for: Mapping[str, bool] = field(default_factory=dict)  # XPO design -> gives what MKTME gives here
    vacuous: bool = False  # MKTME gives nothing here (no MKTME design stops it, or every design does)


def andy_verdict(matrix: SecurityMatrix | None = None) -> tuple[VerdictCell, ...]:
    """For every threat column: which MKTME designs stop it, which XPO designs do, and whether
    the XPO side gives everything the MKTME side gives there."""
    matrix = _matrix_arg(matrix)
    mktme = [r for r in matrix.rows if r.family == "MKTME"]
    xpo = [r for r in matrix.rows if r.family == "XPO"]
    out = []
    for threat in THREATS:
        m = tuple(r.design for r in mktme if r.cells[threat].ok)
        x = {r.design: r.cells[threat].ok for r in xpo}
        holds = not m or any(x.values())
        if not m and any(x.values()):
            s = f"no MKTME design stops it; {', '.join(d for d, ok in x.items() if ok)} does: XPO gives more here"
        elif not m:
            s = "neither side stops it"
        elif x and all(x.values()):
            s = "MKTME helps and so does every XPO design: the claim holds"
        elif any(x.values()):
            s = (f"MKTME helps ({', '.join(m)}); only {', '.join(d for d, ok in x.items() if ok)} of the XPO "
                 f"designs does: the claim holds for it, not for {', '.join(d for d, ok in x.items() if not ok)}")
        else:
            s = f"MKTME helps ({', '.join(m)}) and no XPO design does: the claim fails here"
        everyone = all(r.cells[threat].ok for r in matrix.rows)
        if everyone:
            s = "every design stops it, the undefended kernel too (TME's key): MKTME adds nothing here"
        holds_for = MappingProxyType({d: not m or ok for d, ok in x.items()})
        # vacuous: MKTME gives nothing here (no MKTME design stops it, or every design does), so there
        # is no benefit of MKTME for XPO to match
        out.append(VerdictCell(threat, m, MappingProxyType(x), holds, s, holds_for, vacuous=not m or everyone))
    return tuple(out)


def _matrix_arg(matrix) -> SecurityMatrix:
    if matrix is None:
        return security_matrix()
    return instance(matrix, SecurityMatrix, "matrix (what ret2dir.security_matrix() returned, or None)",
                    "ret2dir.security_matrix()")


def cheapest_meeting(required, estimates, matrix: SecurityMatrix | None = None) -> str | None:
    """The design with the smallest estimated slowdown whose cells in ``required`` (column names)
    are all ok; ``estimates`` is what ``costs.compare()`` returned. None when no design qualifies."""
    matrix = _matrix_arg(matrix)
    if isinstance(required, str):
        required = (required,)
    required = tuple(choose(c, COLUMNS, "required column") for c in items(required, "required (column names)", 1,
                                                                           len(COLUMNS)))
    estimates = items(estimates, "estimates (what costs.compare() returned)", 1, len(DESIGNS))
    for e in estimates:
        instance(e, Estimate, "each estimate", "costs.compare('kernel_build')")
    ok = [e for e in estimates if all(matrix.cell(e.design, c).ok for c in required)]
    return min(ok, key=lambda e: (e.slowdown, e.design)).design if ok else None
