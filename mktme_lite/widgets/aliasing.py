"""Lesson 03 widget and helpers: one frame, two names.

A page a process encrypted with KeyID *k* is reachable under two full addresses: the process's
own mapping (KeyID *k*) and the kernel's direct map, which carries KeyID 0. The RFC v2 API read on
its own, as Andy Lutomirski read it on 4 Dec 2018, reaches user pages through that KeyID-0 map
(design ``keyid0``); Kirill Shutemov's core series, which the RFC was built on, kept a direct map
per KeyID (design ``per_keyid``). This module runs both, and the other repairs, on the kernel
model and draws them:

* :func:`encrypted_page` boots a kernel under a policy, gives a process one page encrypted with
  a CPU-generated key, fills it and lets the data settle in DRAM (tested).
* :data:`KERNEL_PATHS` are the ways the kernel model moves a user page's bytes (copy_from_user,
  process_vm_readv/writev, O_DIRECT, swap); lesson 03's tables and exercise 2 run them.
* :func:`alias_experiment` writes through one alias and reads through every alias (tested);
  :func:`render_alias_explorer` draws it (tested, benchmarked); :func:`alias_explorer` is the
  widget.
* :func:`compare_designs` fills the table of the direct-map designs from the engine:
  what each kernel path returns and which events each design pays for, every design on the
  same base policy (``core_series``: the old alias is flushed on every KeyID change) so that
  only the direct-map design differs between rows (tested).
* :func:`alias_picture` draws which names reach the frame, each with what it reads.

Nothing here decides an outcome: every "right", "GARBAGE" or "EFAULT" below is what the
hardware model returned for a load through some full address, compared with what was written.

Modelling choices the lesson names as such: ``write(O_DIRECT)`` is a CPU copy through ``kmap()``
(a bounce buffer), not DMA; under ``xpfo`` the kernel model's temporary ``kmap()`` maps the page
with its own KeyID. The model counts no direct-map large-page splits.

Speed: the explorer prepares one kernel per direct-map design (boot, key, page, data in DRAM)
and works on a ``Kernel.clone()`` for every update (about 2 ms). Its figure has four byte grids;
what happened to the line in DRAM is one sentence under them, not a fifth grid of ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from ..machine import LINE, Machine
from ..kernel import PAGE_SIZE, PROT_READ, PROT_WRITE, Kernel, KernelPageFault, Policy, Process, SyscallError
from ..viz import BLOCK, HTMLCard, LessonFigure, alias_map, bytes_figure, differing_blocks
from ..viz.tables import table
from . import LessonWidget, Telling, WidgetInputError, dropdown, text, toggle

__all__ = [
    "CPU_KEY", "SEED", "OLD_LINE", "DESIGNS", "WRITERS", "KERNEL_PATHS", "TABLE_PATHS", "COST_KINDS",
    "DIRECT_MAP_REGION", "Page", "AliasRead", "AliasResult", "DesignRow",
    "encrypted_page", "plain_page", "policy_for", "gup_keyid", "direct_map_keyid", "run_path", "verdict",
    "alias_experiment", "render_alias_explorer", "alias_explorer",
    "compare_designs", "render_design_table", "alias_picture",
]

#: The RFC's demo payload: a key the CPU generates (``type=cpu``), AES-XTS-128.
CPU_KEY = "type=cpu algorithm=aes-xts-128"
SEED = 2018
RW = PROT_READ | PROT_WRITE

#: What the process's first line holds before the experiment writes anything.
OLD_LINE = b"old: balance 100 EUR, owner alice".ljust(LINE, b".")

#: design -> label shown to the learner (order = the order of the lesson's sections)
DESIGNS: dict[str, str] = {
    "keyid0": "One direct map at KeyID 0 (RFC v2 API alone)",
    "per_keyid": "A direct map per KeyID (Kirill Shutemov's series)",
    "rekey": "Re-key the page's direct-map entry (pageattr)",
    "unmapped": "Drop encrypted pages from the direct map (gup fails)",
    "xpfo": "XPFO: every user page out of the direct map (lesson 07)",
}

#: writer -> label
WRITERS: dict[str, str] = {
    "process": "the process itself (its own mapping)",
    "debugger": "a debugger: process_vm_writev (gup + direct map)",
    "copy_to_user": "the kernel: copy_to_user (the process's mapping)",
}

#: Size of the x86-64 direct-map region with 4-level paging (Documentation/arch/x86/x86_64/mm.rst).
DIRECT_MAP_REGION = 64 << 40


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _choose(value, allowed, what: str) -> str:
    """``value`` when it is one of the strings ``allowed``; otherwise a WidgetInputError naming them.

    Checked with isinstance first, so a list or a dict gets the same sentence as a typo instead
    of Python's "unhashable type"."""
    if not isinstance(value, str) or value not in allowed:
        raise WidgetInputError(f"unknown {what} {_short(value)}; choose one of {', '.join(allowed)}")
    return value


def _flag(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise WidgetInputError(f"{what} must be True or False; got {_short(value)}")
    return value


def policy_for(design: str, base: Policy | str = "as_proposed") -> Policy:
    """``base`` (a Policy or a preset name) with only its direct-map design changed."""
    _choose(design, DESIGNS, "direct-map design")
    if isinstance(base, str):
        base = Policy.preset(base)
    elif not isinstance(base, Policy):
        raise WidgetInputError(f"base must be a Policy or a preset name; got {_short(base)}")
    return base.replace(direct_map=design)


# ------------------------------------------------------------------------------------------------
# The scenario: one encrypted page and a debugger
# ------------------------------------------------------------------------------------------------
@dataclass
class Page:
    """One page of ``owner`` encrypted with a CPU key, plus a second process (a debugger)."""

    kernel: Kernel
    owner: Process
    debugger: Process
    va: int  # the page's virtual address in ``owner``
    pa: int  # the frame's physical address
    keyid: int  # the KeyID the page is encrypted with
    serial: int  # the "mktme" key's serial (for encrypting more pages with the same key)

    @property
    def machine(self) -> Machine:
        return self.kernel.machine

    def clone(self) -> "Page":
        """An independent copy (kernel, machine, processes), for replaying from here."""
        k = self.kernel.clone()
        return Page(k, k.processes[self.owner.pid], k.processes[self.debugger.pid], self.va, self.pa, self.keyid,
                    self.serial)


def _boot(policy: Policy | str, seed: int, packages: int = 1, trace: bool = True):
    """A fresh kernel with processes "alice" and "gdb" and one "mktme" key (a CPU key) for alice."""
    k = Kernel(Machine(packages=packages, seed=seed, trace=trace), policy)
    owner = k.spawn("alice")
    debugger = k.spawn("gdb")
    serial = owner.add_key("mktme", "alice-key", CPU_KEY)
    return k, owner, debugger, serial


def encrypted_page(policy: Policy | str = "as_proposed", data: bytes = OLD_LINE, *, seed: int = SEED,
                   packages: int = 1, trace: bool = True) -> Page:
    """Boot a kernel under ``policy``; process "alice" encrypts one page and writes ``data`` to it.

    The RFC's demo flow: ``add_key("mktme", ..., "type=cpu ...")``, ``mmap``,
    ``encrypt_mprotect``, write. Then every cache is written back (``wbinvd``), so the page's
    bytes sit in DRAM, encrypted with the page's key, and no line of it is cached: the state a
    page reaches some time after it was written. A second process, "gdb", is there to call
    ``process_vm_readv``/``process_vm_writev`` on it.
    """
    if not isinstance(data, (bytes, bytearray)) or not 0 < len(data) <= PAGE_SIZE:
        raise WidgetInputError(f"data must be 1 to {PAGE_SIZE} bytes")
    k, owner, debugger, serial = _boot(policy, seed, packages, trace)
    m = k.machine
    va = owner.mmap(PAGE_SIZE, RW)
    owner.encrypt_mprotect(va, PAGE_SIZE, RW, serial)
    owner.write(va, bytes(data))
    m.wbinvd()
    info = owner.pagemap(va)
    return Page(k, owner, debugger, va, info["pa"], info["keyid"], serial)


def plain_page(policy: Policy | str = "as_proposed", data: bytes = OLD_LINE, *, seed: int = SEED) -> Page:
    """Like :func:`encrypted_page`, but alice never calls ``encrypt_mprotect``: the page stays at
    KeyID 0, under the TME key the CPU made at boot."""
    if not isinstance(data, (bytes, bytearray)) or not 0 < len(data) <= PAGE_SIZE:
        raise WidgetInputError(f"data must be 1 to {PAGE_SIZE} bytes")
    k, owner, debugger, serial = _boot(policy, seed)
    va = owner.mmap(PAGE_SIZE, RW)
    owner.write(va, bytes(data))
    k.machine.wbinvd()
    info = owner.pagemap(va)
    return Page(k, owner, debugger, va, info["pa"], info["keyid"], serial)


def gup_keyid(page: Page) -> int | None:
    """The KeyID of the alias ``get_user_pages()`` + ``kmap()`` use for the page (None: no alias)."""
    design = page.kernel.policy.direct_map
    info = page.kernel.frame_info(page.pa)
    if design == "keyid0":
        return 0
    if design in ("per_keyid", "xpfo"):
        return info["keyid"]
    if design == "rekey":
        return int(info["direct_map"].rsplit(" ", 1)[1])
    return None  # "unmapped": gup refuses


def direct_map_keyid(page: Page) -> int | None:
    """The KeyID of the frame's entry in the (KeyID-0) direct map, None if it has no entry."""
    info = page.kernel.frame_info(page.pa)
    if info["direct_map"] == "unmapped":
        return None
    return int(info["direct_map"].rsplit(" ", 1)[1])


# ------------------------------------------------------------------------------------------------
# The kernel paths that move a user page's bytes
# ------------------------------------------------------------------------------------------------
def _path_copy_from_user(page: Page, data: bytes) -> bytes:
    return page.kernel.copy_from_user(page.owner, page.va, len(data))


def _path_process_vm_readv(page: Page, data: bytes) -> bytes:
    return page.debugger.process_vm_readv(page.owner, page.va, len(data))


def _path_direct_io(page: Page, data: bytes) -> bytes:
    return page.kernel.direct_io_write(page.owner, page.va, len(data))


def _path_process_vm_writev(page: Page, data: bytes) -> bytes:
    page.debugger.process_vm_writev(page.owner, page.va, data)
    page.machine.wbinvd()  # time passes: every dirty line reaches DRAM
    return page.owner.read(page.va, len(data))


def _path_swap(page: Page, data: bytes) -> bytes:
    page.kernel.swap_out(page.owner, page.va)
    # Memory pressure: another page takes the freed frame, so the page comes back elsewhere.
    filler = page.debugger.mmap(PAGE_SIZE, RW)
    page.debugger.write(filler, b"\0")
    page.machine.wbinvd()
    return page.owner.read(page.va, len(data))  # the fault swaps it back in, into another frame


#: name -> (what it models, function(page, data) -> the bytes that arrived). A path is *right*
#: when it returns ``data``, the bytes the page holds (for the write path: the bytes written).
KERNEL_PATHS: dict[str, tuple[str, Callable[[Page, bytes], bytes]]] = {
    "process_vm_readv": ("a debugger reads the page: get_user_pages() + kmap()", _path_process_vm_readv),
    "process_vm_writev": ("a debugger writes the same bytes back; later the process reads them",
                          _path_process_vm_writev),
    "write(O_DIRECT)": ("the block layer pins the buffer with get_user_pages(); modelled as a CPU copy "
                        "through kmap() (a bounce buffer), not DMA", _path_direct_io),
    "copy_from_user": ("write(2) of the buffer: the kernel copies it through the process's own mapping",
                       _path_copy_from_user),
    "swap out + in": ("the page goes to swap, its frame is reused, and it comes back into another frame",
                      _path_swap),
}


# ------------------------------------------------------------------------------------------------
# What one read returned, in words
# ------------------------------------------------------------------------------------------------
def verdict(got: bytes | None, expected: bytes, old: bytes | None = None, written: bytes = b"",
            error: str | None = None) -> str:
    """A few words for what a read returned, compared with what it should have returned.

    Corruption is reported per 16-byte AES block, the unit in which XTS garbles data."""
    if error:
        return error
    if got == expected:
        return "right"
    if old is not None and got == old:
        return "the OLD bytes (the write is not visible here)"
    if written and got is not None and got.startswith(written):
        return "its own write, GARBAGE after it"
    if got is None or len(got) != len(expected):
        return "GARBAGE"
    bad = differing_blocks(got, expected)
    if len(bad) == len(expected) // BLOCK:
        return "GARBAGE (every block)"
    return f"GARBAGE in block{'s' if len(bad) > 1 else ''} {', '.join(map(str, bad))}"


@dataclass(frozen=True)
class AliasRead:
    """What one alias returned. ``data`` is None when the access failed (``error`` says how)."""

    name: str  # "process", "debugger", "direct_map"
    label: str
    keyid: int | None
    data: bytes | None
    error: str | None
    verdict: str


@dataclass(frozen=True)
class AliasResult:
    design: str
    writer: str
    written_back: bool
    keyid: int  # the page's KeyID
    pa: int
    message: bytes
    old: bytes  # the line before the write
    expected: bytes  # the line after a correct write: the message over the old bytes
    write_error: str | None
    reads: tuple[AliasRead, ...]
    dram: bytes  # the line's ciphertext in DRAM after the reads
    dram_before: bytes = b""  # ... and before the write

    @property
    def dram_changed(self) -> bool:
        """Did the experiment change what DRAM holds for the line (did a write reach DRAM)?"""
        return self.dram != self.dram_before

    def read(self, name: str) -> AliasRead:
        return next(r for r in self.reads if r.name == name)


@lru_cache(maxsize=len(DESIGNS))
def _prepared(design: str) -> Page:
    """The explorer's starting point per design; never modified (every update works on a clone)."""
    return encrypted_page(policy_for(design), OLD_LINE, trace=False)


def _errno_text(exc: SyscallError) -> str:
    return f"{exc.name}: get_user_pages() refused"


def alias_experiment(message: bytes, writer: str = "process", design: str = "keyid0",
                     written_back: bool = True) -> AliasResult:
    """Write ``message`` at the start of the page through ``writer``'s path, then read every alias.

    Order: the page holds :data:`OLD_LINE`, settled in DRAM; ``writer`` writes ``message``;
    if ``written_back``, every cache is written back (time passes); then the process reads its
    line, the debugger reads it with ``process_vm_readv``, the kernel reads the frame's
    direct-map address, and a probe reads DRAM.
    """
    _choose(writer, WRITERS, "writer")
    if not isinstance(message, (bytes, bytearray)) or not 0 < len(message) <= LINE:
        raise WidgetInputError("the message must be 1 to 64 bytes (one cache line)")
    _choose(design, DESIGNS, "direct-map design")
    _flag(written_back, "written_back")
    page = _prepared(design).clone()
    dram_before = page.machine.dram(page.pa, LINE)
    message = bytes(message)
    expected = message + OLD_LINE[len(message):]
    write_error = None
    try:
        if writer == "process":
            page.owner.write(page.va, message)
        elif writer == "debugger":
            page.debugger.process_vm_writev(page.owner, page.va, message)
        else:
            page.kernel.copy_to_user(page.owner, page.va, message)
    except SyscallError as exc:
        write_error = _errno_text(exc)
        expected = OLD_LINE  # nothing was written: the line should still hold the old bytes
    if written_back:
        page.machine.wbinvd()
    written = b"" if write_error else message
    reads = []
    k = page.keyid
    got = page.owner.read(page.va, LINE)
    reads.append(AliasRead("process", f"The process reads it (its own mapping, K{k})", k, got, None,
                           verdict(got, expected, OLD_LINE, written)))
    alias = gup_keyid(page)
    try:
        got, error = page.debugger.process_vm_readv(page.owner, page.va, LINE), None
    except SyscallError as exc:
        got, error = None, _errno_text(exc)
    where = "no alias" if alias is None else f"K{alias}"
    reads.append(AliasRead("debugger", f"The debugger reads it (process_vm_readv: gup + kmap, {where})", alias,
                           got, error, verdict(got, expected, OLD_LINE, written, error)))
    dm = direct_map_keyid(page)
    try:
        got, error = page.kernel.kernel_read_direct_map(page.pa, LINE), None
    except KernelPageFault:
        got, error = None, "oops: frame not in the direct map"
    where = "not mapped" if dm is None else f"K{dm}"
    reads.append(AliasRead("direct_map", f"The kernel reads __va({page.pa:#x}) (direct map, {where})", dm,
                           got, error, verdict(got, expected, OLD_LINE, written, error)))
    return AliasResult(design, writer, written_back, k, page.pa, message, OLD_LINE, expected, write_error,
                       tuple(reads), page.machine.dram(page.pa, LINE), dram_before)


def render_alias_explorer(writer: str = "process", design: str = "keyid0", written_back: bool = True,
                          message: str = "new: balance 250 EUR") -> LessonFigure:
    """What the line should hold (top) and what each alias reads; a note says what DRAM got.

    Four byte grids. The line's ciphertext in DRAM is not drawn as a fifth grid: ciphertext
    looks random whether or not it changed, so the note says in words whether it did."""
    _choose(writer, WRITERS, "writer")
    _choose(design, DESIGNS, "direct-map design")
    _flag(written_back, "written_back")
    if not isinstance(message, str):
        raise WidgetInputError(f"the message must be text; got {type(message).__name__}")
    try:
        data = message.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WidgetInputError(f"the message holds a character UTF-8 cannot encode ({exc.object[exc.start]!r}, "
                               "a lone surrogate); retype that part of it") from None
    if not data:
        raise WidgetInputError("type a message (1 to 64 bytes) and press Enter")
    if len(data) > LINE:
        raise WidgetInputError(f"the message is {len(data)} bytes, but the explorer writes one 64-byte cache line; "
                               f"shorten it by {len(data) - LINE} byte(s).")
    r = alias_experiment(data, writer, design, written_back)
    who = {"process": "the process", "debugger": "the debugger", "copy_to_user": "copy_to_user"}[writer]
    top = (f"What the line should hold: old bytes, {who}'s write refused ({r.write_error})" if r.write_error
           else f"What the line should hold: {who} wrote {len(data)} byte(s) over the old bytes")
    panels = [(top, r.expected)]
    for read in r.reads:
        label = read.label + (f": no data ({read.error})" if read.error else f": {read.verdict}")
        panels.append((label, read.data or b""))
    compared = [i for i, (_, d) in enumerate(panels[1:], start=1) if d]
    proc, dbg = r.read("process"), r.read("debugger")
    first = f"The process reads: {proc.verdict}. The debugger's process_vm_readv gets: {dbg.verdict}."
    dram = ("the line's ciphertext in DRAM changed" if r.dram_changed
            else "the line's ciphertext in DRAM is unchanged")
    timing = (f"Then every cache was written back (time passed): {dram}." if written_back
              else f"Read at once, before any write-back: {dram}.")
    fig = bytes_figure(panels, base=r.pa, title=f"{DESIGNS[design]}; page KeyID {r.keyid}, frame {r.pa:#x}",
                       mark_changed=compared, note=f"{first}\n{timing}\nThe word 'differs' at the right of a "
                       "row marks a 16-byte block that differs from the top grid.")
    fig.mktme_alt = f"{first} {timing} " + fig.mktme_alt
    return fig


def alias_explorer() -> LessonWidget:
    """The alias explorer widget (lesson 03)."""
    controls = {
        "writer": toggle("Who writes", [("process", "process"), ("debugger (gup)", "debugger"),
                                        ("copy_to_user", "copy_to_user")], "process"),
        "design": dropdown("Direct-map design", [(label, d) for d, label in DESIGNS.items()], "keyid0"),
        "written_back": toggle("Before the reads", [("caches written back", True), ("read at once", False)], True),
        "message": text("Message", "new: balance 250 EUR", placeholder="1 to 64 bytes"),
    }
    for control, tips in ((controls["writer"], [WRITERS[w] for w in WRITERS]),
                          (controls["written_back"], ["every dirty line reaches DRAM first (time passes)",
                                                      "the reads happen while the written line is still cached"])):
        control.tooltips = tips
        control.style.button_width = "auto"  # the labels are longer than the default button width
    # Wide enough for the longest design label (55 characters); 30em cut them at about 40.
    controls["design"].layout.width = "44em"
    telling = [
        Telling("One KeyID-0 direct map (the RFC v2 API alone), the process writes: the debugger's "
                "process_vm_readv reads GARBAGE through the KeyID-0 direct map.", {}),
        Telling("One KeyID-0 direct map, the debugger writes 20 bytes through it: once the line is written back, "
                "the process reads GARBAGE in blocks 0 and 1, the 16-byte blocks the write touched.",
                {"writer": "debugger"}),
        Telling("Per-KeyID direct maps: the debugger's write goes through the page's own KeyID; every alias "
                "the kernel uses agrees.", {"writer": "debugger", "design": "per_keyid"}),
        Telling("Encrypted pages dropped from the direct map: the debugger gets EFAULT and the kernel's own "
                "read oopses; the process's data is safe.", {"writer": "debugger", "design": "unmapped"}),
    ]
    return LessonWidget(render_alias_explorer, controls, title="Alias explorer", telling=telling,
                        intro="write one line of an encrypted page through one path, read it back through every "
                              "alias, and pick the kernel's direct-map design.")


# ------------------------------------------------------------------------------------------------
# The designs side by side
# ------------------------------------------------------------------------------------------------
#: the columns of the comparison: path name -> short heading
TABLE_PATHS = {
    "process_vm_readv": "debugger reads (process_vm_readv)",
    "process_vm_writev": "debugger writes, process reads back",
    "write(O_DIRECT)": "O_DIRECT (a CPU copy here): what the disk gets",
    "copy_from_user": "write(2): copy_from_user",
}
COST_KINDS = ("clflush", "tlb_shootdown", "direct_map_change", "kmap")


@dataclass(frozen=True)
class DesignRow:
    design: str
    label: str
    outcomes: dict  # path name -> "right" / "GARBAGE" / "EFAULT" ...
    stray_read: str  # what a read of __va(pa) (the KeyID-0 direct map) sees: "garbage", "PLAINTEXT", "oops"
    costs: dict  # event kind -> count, for one encrypted page's life (fault, one process_vm_readv, free)
    direct_maps: int  # how many copies of the direct map the design keeps
    base: str = ""  # the policy every switch but direct_map comes from (e.g. "core_series")

    @property
    def max_ram_bytes(self) -> int:
        """RAM each direct map can cover when the 64 TiB region is shared by all copies."""
        return DIRECT_MAP_REGION // self.direct_maps


def run_path(page: Page, name: str, data: bytes) -> str:
    """Run one of :data:`KERNEL_PATHS` on ``page`` (which holds ``data``); say how it went."""
    _, fn = KERNEL_PATHS[_choose(name, KERNEL_PATHS, "kernel path")]
    try:
        got = fn(page, data)
    except SyscallError as exc:
        return exc.name
    return "right" if got == data else "GARBAGE"


def compare_designs(designs=tuple(DESIGNS), base: Policy | str = "core_series", *, seed: int = SEED,
                    data: bytes = OLD_LINE) -> list[DesignRow]:
    """For each design (``base`` with only its direct map changed): every kernel path, run on a
    fresh copy of the same encrypted page, plus the events one page's life costs.

    The default base is Kirill Shutemov's core series (``Policy.core_series()``), which flushes a
    frame through its old KeyID whenever the frame changes KeyID (``prep_encrypted_page``,
    ``free_encrypted_page``). Every row pays those flushes, so the differences between rows are
    the direct-map design's own (direct-map changes, TLB shootdowns, kmaps)."""
    if isinstance(designs, str):
        designs = (designs,)
    base_name = base if isinstance(base, str) else getattr(base, "name", "custom")
    rows = []
    for design in designs:
        start = encrypted_page(policy_for(design, base), data, seed=seed)
        outcomes = {name: run_path(start.clone(), name, data) for name in TABLE_PATHS}
        probe = start.clone()
        try:
            got = probe.kernel.kernel_read_direct_map(probe.pa, len(data))
            stray = "PLAINTEXT" if got == data else "garbage"
        except KernelPageFault:
            stray = "oops"
        # One page's life, measured on its own: fault it in, one process_vm_readv, free it.
        k, owner, debugger, serial = _boot(policy_for(design, base), seed)
        with k.measure() as spent:
            va = owner.mmap(PAGE_SIZE, RW)
            owner.encrypt_mprotect(va, PAGE_SIZE, RW, serial)
            owner.write(va, data)
            try:
                debugger.process_vm_readv(owner, va, len(data))
            except SyscallError:
                pass
            owner.munmap(va, PAGE_SIZE)
        costs = {kind: spent.get(kind, 0) for kind in COST_KINDS}
        maps = k.machine.nr_keyids + 1 if design == "per_keyid" else 1  # KeyID 0 and every KeyID 1..N
        rows.append(DesignRow(design, DESIGNS[design], outcomes, stray, costs, maps, base_name))
    return rows


def _tib(n: int) -> str:
    return f"{n / (1 << 40):g} TiB"


def _base_sentence(rows: list[DesignRow]) -> str:
    bases = sorted({r.base for r in rows if r.base})
    if len(bases) == 1:
        return f"Every row: Policy.{bases[0]}() with only direct_map changed."
    if bases:
        return f"Rows come from different base policies ({', '.join(bases)}): compare them with care."
    return ""


def render_design_table(rows: list[DesignRow], view: str = "paths") -> HTMLCard:
    """The comparison as a table: ``view="paths"`` (what each kernel path returned) or
    ``view="costs"`` (what one page's life cost, and what a stray read of the direct map sees).

    ``rows`` is what :func:`compare_designs` returns: a non-empty list of :class:`DesignRow`."""
    if (not isinstance(rows, (list, tuple)) or not rows
            or not all(isinstance(r, DesignRow) for r in rows)):
        got = f"an empty {type(rows).__name__}" if isinstance(rows, (list, tuple)) and not rows else _short(rows)
        raise WidgetInputError("rows must be a non-empty list of design rows, as aliasing.compare_designs() "
                               f"returns; got {got}")
    _choose(view, ("paths", "costs"), "view")
    base = _base_sentence(list(rows))
    if view == "paths":
        heads = ["direct-map design"] + list(TABLE_PATHS.values())
        body = [[r.design] + [r.outcomes[p] for p in TABLE_PATHS] for r in rows]
        return table(heads, body, strong=("GARBAGE", "EFAULT"), caption=base, ruled=True,
                     css_class="mktme-design-table")
    heads = (["direct-map design", "direct maps", "RAM per map"] + list(COST_KINDS)
             + ["a stray read of __va(pa) sees"])
    body = [[r.design, str(r.direct_maps), _tib(r.max_ram_bytes)] + [str(r.costs[k]) for k in COST_KINDS]
            + [r.stray_read] for r in rows]
    caption = (base + " Events of one encrypted page's life: fault it in, one process_vm_readv(), "
               "munmap().").strip()
    return table(heads, body, strong=("PLAINTEXT",), caption=caption, ruled=True, css_class="mktme-design-table")


# ------------------------------------------------------------------------------------------------
# The names of one frame, as a picture
# ------------------------------------------------------------------------------------------------
def alias_picture(page: Page, data: bytes, *, title: str | None = None) -> LessonFigure:
    """Every full address that reaches ``page``'s frame, each labelled with what it reads now.

    The reads are done on a clone, so drawing the picture changes nothing in ``page``."""
    if not isinstance(page, Page):
        raise WidgetInputError(f"page must be an aliasing.Page (from encrypted_page()); got {_short(page)}")
    if not isinstance(data, (bytes, bytearray)) or not 0 < len(data) <= PAGE_SIZE - page.va % PAGE_SIZE:
        raise WidgetInputError(f"data must be the 1 to {PAGE_SIZE} bytes the page holds; got {_short(data)}")
    probe = page.clone()
    n = len(data)

    def word(got: bytes) -> str:
        return "reads the data" if got == data else "reads garbage"

    aliases = [{"label": f"{probe.owner.name}'s mapping\nVA {probe.va:#x}", "keyid": probe.keyid, "frame": probe.pa,
                "note": word(probe.owner.read(probe.va, n))}]
    design = probe.kernel.policy.direct_map
    dm = direct_map_keyid(probe)
    if dm is not None:
        what = "kernel direct map" + (" (re-keyed)" if design == "rekey" else "")
        aliases.append({"label": f"{what}\n__va({probe.pa:#x})", "keyid": dm, "frame": probe.pa,
                        "note": word(probe.kernel.kernel_read_direct_map(probe.pa, n))})
    if design == "per_keyid":
        aliases.append({"label": f"direct map, KeyID-{probe.keyid} copy\npage_to_virt(page)", "keyid": probe.keyid,
                        "frame": probe.pa,
                        "note": word(probe.kernel.kernel_read_direct_map(probe.pa, n, keyid=probe.keyid))})
    return alias_map(aliases, title=title)
