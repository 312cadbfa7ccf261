"""Lesson 03's experiments: one frame, two names.

    from mktme_lite.scenarios import aliasing
    from mktme_lite.scenarios.pages import encrypted_page

    r = aliasing.alias_experiment(b"new: balance 250 EUR", writer="debugger", design="keyid0")
    r.read("process").verdict                  # -> 'GARBAGE in blocks 0, 1'
    rows = aliasing.compare_designs()          # every kernel path under every direct-map design
    aliasing.run_path(encrypted_page(), "process_vm_readv", OLD_LINE)   # -> 'GARBAGE'

A page a process encrypted with KeyID *k* is reachable under two full addresses: the process's
own mapping (KeyID *k*) and the kernel's direct map, which carries KeyID 0. The RFC v2 API read on
its own, as Andy Lutomirski read it on 4 Dec 2018, reaches user pages through that KeyID-0 map
(design ``keyid0``); Kirill Shutemov's core series, which the RFC was built on, kept a direct map
per KeyID (design ``per_keyid``). This module runs both, and the other repairs, on the kernel model.

Nothing here decides an outcome: every "right", "GARBAGE" or "EFAULT" is what the hardware model
returned for a load through some full address, compared with what was written.

Modelling choices the lesson names as such: ``write(O_DIRECT)`` is a CPU copy through ``kmap()``
(a bounce buffer), not DMA; under ``xpfo`` the kernel model's temporary ``kmap()`` maps the page
with its own KeyID. The model counts no direct-map large-page splits.

Speed: :func:`alias_experiment` prepares one kernel per direct-map design (boot, key, page, data
in DRAM) and works on a ``Kernel.clone()`` for every call (about 2 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from ..dump import BLOCK, differing_blocks
from ..kernel import PAGE_SIZE, KernelPageFault, Policy, SyscallError
from ..machine import LINE
from ..errors import ParameterError
from ..params import byteslike, choose, flag, instance, shown, text, whole
from .pages import OLD_LINE, RW, SEED, Page, boot, encrypted_page

__all__ = [
    "DESIGNS", "WRITERS", "KERNEL_PATHS", "TABLE_PATHS", "COST_KINDS", "DIRECT_MAP_REGION",
    "AliasRead", "AliasResult", "DesignRow", "AliasName",
    "policy_for", "gup_keyid", "direct_map_keyid", "run_path", "verdict",
    "alias_experiment", "compare_designs", "alias_names",
]


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


def policy_for(design: str, base: Policy | str = "as_proposed") -> Policy:
    """``base`` (a Policy or a preset name) with only its direct-map design changed."""
    choose(design, DESIGNS, "direct-map design")
    if isinstance(base, str):
        base = Policy.preset(base)
    elif not isinstance(base, Policy):
        raise ParameterError(f"base must be a Policy or a preset name; got {shown(base)}")
    return base.replace(direct_map=design)


def _check_page(page) -> Page:
    return instance(page, Page, "page (an aliasing.Page)", "encrypted_page()")


def gup_keyid(page: Page) -> int | None:
    """The KeyID of the alias ``get_user_pages()`` + ``kmap()`` use for the page (None: no alias)."""
    _check_page(page)
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
    _check_page(page)
    info = page.kernel.frame_info(page.pa)
    if info["direct_map"] == "unmapped":
        return None
    return int(info["direct_map"].rsplit(" ", 1)[1])


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


def verdict(got: bytes | None, expected: bytes, old: bytes | None = None, written: bytes = b"",
            error: str | None = None) -> str:
    """A few words for what a read returned, compared with what it should have returned.

    Corruption is reported per 16-byte AES block, the unit in which XTS garbles data."""
    got = None if got is None else byteslike(got, "got (what the read returned, or None)")
    expected = byteslike(expected, "expected")
    old = None if old is None else byteslike(old, "old (the bytes before the write, or None)")
    written = byteslike(written, "written")
    error = None if error is None else text(error, "error (what went wrong, or None)")
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
    choose(writer, WRITERS, "writer")
    if not isinstance(message, (bytes, bytearray)) or not 0 < len(message) <= LINE:
        raise ParameterError("the message must be 1 to 64 bytes (one cache line)")
    choose(design, DESIGNS, "direct-map design")
    flag(written_back, "written_back")
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
    _check_page(page)
    data = byteslike(data, "data (the bytes the page holds)", 1, PAGE_SIZE)
    _, fn = KERNEL_PATHS[choose(name, KERNEL_PATHS, "kernel path")]
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
    if not isinstance(designs, (list, tuple)) or not designs:
        raise ParameterError(f"designs must be a design name or a list of them ({', '.join(DESIGNS)}); "
                             f"got {shown(designs)}")
    designs = [choose(d, DESIGNS, "direct-map design") for d in designs]
    seed = whole(seed, "seed", 0, (1 << 64) - 1)
    data = byteslike(data, "data (the bytes the page holds)", 1, PAGE_SIZE)
    if not isinstance(base, (str, Policy)):
        instance(base, Policy, "base (a Policy or a preset name)", "Policy.core_series()")
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
        k, owner, debugger, serial = boot(policy_for(design, base), seed)
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


@dataclass(frozen=True)
class AliasName:
    """One full address that reaches a frame, and whether it reads the frame's data right now."""

    label: str  # e.g. "alice's mapping\nVA 0x..." or "kernel direct map\n__va(0x...)"
    keyid: int
    frame: int
    reads_data: bool


def alias_names(page: Page, data: bytes) -> tuple[AliasName, ...]:
    """Every name of ``page``'s frame (the owner's mapping, the direct-map entry, the per-KeyID
    copy) with whether a read through it returns ``data``, the bytes the page holds.

    The reads are done on a clone, so asking changes nothing in ``page``."""
    if not isinstance(page, Page):
        raise ParameterError(f"page must be an aliasing.Page (from encrypted_page()); got {shown(page)}")
    if not isinstance(data, (bytes, bytearray)) or not 0 < len(data) <= PAGE_SIZE - page.va % PAGE_SIZE:
        raise ParameterError(f"data must be the 1 to {PAGE_SIZE} bytes the page holds; got {shown(data)}")
    probe = page.clone()
    n = len(data)
    names = [AliasName(f"{probe.owner.name}'s mapping\nVA {probe.va:#x}", probe.keyid, probe.pa,
                       probe.owner.read(probe.va, n) == data)]
    design = probe.kernel.policy.direct_map
    dm = direct_map_keyid(probe)
    if dm is not None:
        what = "kernel direct map" + (" (re-keyed)" if design == "rekey" else "")
        names.append(AliasName(f"{what}\n__va({probe.pa:#x})", dm, probe.pa,
                               probe.kernel.kernel_read_direct_map(probe.pa, n) == data))
    if design == "per_keyid":
        names.append(AliasName(f"direct map, KeyID-{probe.keyid} copy\npage_to_virt(page)", probe.keyid, probe.pa,
                               probe.kernel.kernel_read_direct_map(probe.pa, n, keyid=probe.keyid) == data))
    return tuple(names)
