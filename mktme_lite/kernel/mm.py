"""Processes: VMAs, page tables, a TLB, protection keys and the memory system calls.

A :class:`Process` is what a lesson holds on to. Its methods are the Linux system calls with
Linux semantics (page-aligned addresses, errno-style failures via :class:`SyscallError`) plus
``read``/``write`` for user-mode loads and stores, which go through the page tables to
``Machine.load``/``Machine.store`` at the frame's address *with the PTE's KeyID*, on the
process's package.

Modelling choices, said once here:

* A VMA carries ``prot``, ``pkey`` and ``keyid`` (Linux keeps the KeyID in ``vm_page_prot``).
  A PTE carries the frame (or a swap slot) and the KeyID it was faulted in with; permissions
  are checked against the VMA, which ``mprotect`` keeps in step with the PTEs anyway.
* x86 has no write-only or execute-only pages (without pkeys): any of R/W/X allows a read.
* Every page of an access is checked before any byte moves, so a failing access changes
  nothing (a real CPU would fault in the middle of a page-crossing copy).
* The TLB is a per-process set of cached translations, kept only to count shootdowns: a PTE
  change emits one ``tlb_shootdown`` per call when at least one changed page was cached.
* VMAs are split on partial ranges and never merged back (merging changes no behaviour here).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .constants import (
    EINVAL,
    ENOMEM,
    ENOSPC,
    MADV_DONTNEED,
    MADV_NORMAL,
    MADV_RANDOM,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
    NR_PKEYS,
    PAGE_SHIFT,
    PAGE_SIZE,
    PKEY_ACCESS_MASK,
    PROT_MASK,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    USER_BASE,
)
from ..params import address, byteslike, is_whole, shown, whole
from .errors import SyscallError

if TYPE_CHECKING:  # pragma: no cover
    from .frames import Frame
    from .kernel import Kernel


def prot_str(prot: int) -> str:
    """``PROT_READ|PROT_WRITE`` as ``"rw-"`` (the /proc/pid/maps spelling)."""
    prot = whole(prot, "prot (PROT_* bits)", 0, PROT_MASK)
    return "".join(c if prot & bit else "-" for c, bit in (("r", 1), ("w", 2), ("x", 4)))


@dataclass
class VMA:
    """One virtual memory area: ``[start, end)`` with one protection, pkey and KeyID."""

    start: int
    end: int
    prot: int
    pkey: int = 0
    keyid: int = 0
    file: bytes | None = None  # file-backed stub: the bytes a fault reads in (private mapping)
    file_offset: int = 0
    secret: bool = False  # memfd_secret() memory: out of the direct map, no gup, never swapped

    @property
    def anonymous(self) -> bool:
        return self.file is None

    @property
    def pages(self) -> int:
        return (self.end - self.start) >> PAGE_SHIFT

    def split_at(self, addr: int) -> "VMA":
        """Cut at ``addr``: ``self`` keeps ``[start, addr)``, the returned VMA is ``[addr, end)``."""
        upper = VMA(addr, self.end, self.prot, self.pkey, self.keyid, self.file,
                    self.file_offset + (addr - self.start))
        upper.secret = self.secret
        self.end = addr
        return upper

    def info(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "prot": prot_str(self.prot),
            "pkey": self.pkey,
            "keyid": self.keyid,
            "kind": "anon" if self.anonymous else "file",
        }

    def __str__(self) -> str:
        kind = "anon" if self.anonymous else "file"
        return f"{self.start:#x}-{self.end:#x} {prot_str(self.prot)} pkey={self.pkey} keyid={self.keyid} {kind}"


@dataclass
class PTE:
    """A page-table entry: present (``frame``) or swapped out (``swap_slot``), plus its KeyID."""

    frame: "Frame | None"
    keyid: int
    swap_slot: int | None = None
    last_access: int = 0


class Process:
    """A single-threaded process on one package (``package`` can be changed between calls)."""

    def __init__(self, kernel: "Kernel", pid: int, name: str, package: int, privileged: bool):
        self._k = kernel
        self.pid = pid
        self.name = name
        self.package = package
        self.privileged = privileged
        self.vmas: list[VMA] = []
        self.ptes: dict[int, PTE] = {}
        self.tlb: set[int] = set()
        self.pkeys: set[int] = {0}
        self.pkru: dict[int, int] = {}
        self.alive = True

    def __repr__(self) -> str:
        return f"Process(pid={self.pid}, name={self.name!r}, package={self.package}, vmas={len(self.vmas)})"

    # -- user-mode memory access ----------------------------------------------------------------
    def write(self, vaddr: int, data: bytes, package: int | None = None) -> None:
        """A user-mode store: ``data`` at ``vaddr`` through the page tables (faults pages in)."""
        data = byteslike(data, "data (what write() stores)")
        self._k._user_access(self, vaddr, data, package)

    def read(self, vaddr: int, n: int, package: int | None = None) -> bytes:
        """A user-mode load of ``n`` bytes at ``vaddr`` through the page tables."""
        if isinstance(n, (bytes, bytearray, memoryview, str)):
            raise SyscallError(EINVAL, "read", f"read(vaddr, n) takes a byte count n; got {shown(n)} "
                                               "(to store bytes, call write(vaddr, data))")
        n = whole(n, "n (bytes to read)", 0, TASK_SIZE)
        return self._k._user_access(self, vaddr, n, package)

    # -- small helpers ---------------------------------------------------------------------------
    def find_vma(self, addr: int) -> VMA | None:
        if type(addr) is not int:
            addr = address(addr, "addr (a virtual address)")
        i = bisect.bisect_right([v.start for v in self.vmas], addr) - 1
        if i >= 0 and self.vmas[i].start <= addr < self.vmas[i].end:
            return self.vmas[i]
        return None

    def _enter(self, name: str, detail: str = "") -> None:
        if not self.alive:
            raise SyscallError(EINVAL, name, f"process {self.name!r} (pid {self.pid}) has exited")
        self._k.machine.emit("syscall", self.package, None, None, f"pid {self.pid} {name}({detail})")

    @staticmethod
    def _range(name: str, addr, length, *, length_aligned: bool = False) -> tuple[int, int]:
        if not is_whole(addr) or addr < 0:
            raise SyscallError(EINVAL, name, f"addr must be a non-negative whole number (an address); got {shown(addr)}")
        addr = int(addr)
        if addr % PAGE_SIZE:
            raise SyscallError(EINVAL, name, f"addr {addr:#x} is not page aligned (a multiple of {PAGE_SIZE:#x})")
        if not is_whole(length) or length < 0:
            raise SyscallError(EINVAL, name, f"len must be a non-negative whole number; got {shown(length)}")
        length = int(length)
        if length_aligned and length % PAGE_SIZE:
            raise SyscallError(
                EINVAL, name, f"len {length:#x} is not a multiple of the page size {PAGE_SIZE:#x} (an MKTME restriction)"
            )
        end = addr + -(-length // PAGE_SIZE) * PAGE_SIZE
        if end > TASK_SIZE:
            raise SyscallError(ENOMEM, name, f"range {addr:#x}-{end:#x} goes past the end of user space {TASK_SIZE:#x}")
        return addr, end

    def _covered(self, start: int, end: int) -> bool:
        pos = start
        for v in self.vmas:
            if v.end <= pos:
                continue
            if v.start > pos:
                return False
            pos = v.end
            if pos >= end:
                return True
        return pos >= end

    def _split(self, addr: int) -> None:
        v = self.find_vma(addr)
        if v is not None and v.start < addr:
            upper = v.split_at(addr)
            self.vmas.insert(self.vmas.index(v) + 1, upper)

    def _vmas_in(self, start: int, end: int) -> list[VMA]:
        """VMAs inside ``[start, end)``, splitting the ones that straddle an edge."""
        self._split(start)
        self._split(end)
        return [v for v in self.vmas if start <= v.start and v.end <= end]

    def _check_prot(self, name: str, prot) -> int:
        if not is_whole(prot):
            raise SyscallError(EINVAL, name, f"prot must be PROT_* bits (a whole number); got {shown(prot)}")
        prot = int(prot)
        if prot & ~PROT_MASK or prot < 0:
            raise SyscallError(EINVAL, name, f"prot {prot!r} has bits other than PROT_READ|PROT_WRITE|PROT_EXEC")
        return prot

    # -- mmap / munmap -----------------------------------------------------------------------------
    def mmap(self, length: int, prot: int = PROT_READ | PROT_WRITE, *, file: bytes | None = None) -> int:
        """``mmap(NULL, length, prot, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)``; returns the address.

        With ``file=bytes`` the mapping is a private *file* mapping of those bytes (a stub: enough
        to show that ``encrypt_mprotect`` refuses non-anonymous memory).
        """
        self._enter("mmap", f"len={length!r:.40}, prot={prot!r:.40}")
        if not is_whole(length) or length <= 0:
            raise SyscallError(EINVAL, "mmap", f"length must be a positive whole number; got {shown(length)}")
        length = int(length)
        prot = self._check_prot("mmap", prot)
        if file is not None and not isinstance(file, (bytes, bytearray)):
            raise SyscallError(EINVAL, "mmap", f"file= must be bytes (the contents of the mapped file); got {shown(file)}")
        size = -(-length // PAGE_SIZE) * PAGE_SIZE
        # Linux's heuristic overcommit (vm.overcommit_memory=0) refuses one mapping larger than
        # all RAM plus all swap at once: it could never be backed.
        room = (len(self._k.frames) + self._k.swap.nr_slots) * PAGE_SIZE
        if size > room:
            raise SyscallError(ENOMEM, "mmap", f"length {length:#x} is more than RAM + swap ({room:#x} bytes): "
                                               "it could never be backed (heuristic overcommit)")
        start = USER_BASE
        for v in self.vmas:
            if v.start - start >= size:
                break
            start = max(start, v.end)
        if start + size > TASK_SIZE:
            raise SyscallError(ENOMEM, "mmap", f"no room for {size:#x} bytes of address space")
        vma = VMA(start, start + size, prot, file=None if file is None else bytes(file))
        bisect.insort(self.vmas, vma, key=lambda v: v.start)
        return start

    def munmap(self, addr: int, length: int) -> int:
        """``munmap(addr, length)``: drop the mappings (and their pages) in the range."""
        self._enter("munmap", f"{addr!r}, {length!r}")
        start, end = self._range("munmap", addr, length)
        if end == start:
            raise SyscallError(EINVAL, "munmap", "len is 0")
        victims = self._vmas_in(start, end)
        self._k._zap(self, start, end, "munmap")
        for v in victims:
            self.vmas.remove(v)
        self._k.keys.maybe_release()
        return 0

    # -- protections ---------------------------------------------------------------------------------
    def mprotect(self, addr: int, length: int, prot: int) -> int:
        """``mprotect(addr, length, prot)``: new protection, same pkey, same KeyID, same contents."""
        self._enter("mprotect", f"{addr!r}, {length!r}, {prot!r}")
        return self._do_mprotect("mprotect", addr, length, prot, None)

    def pkey_mprotect(self, addr: int, length: int, prot: int, pkey: int) -> int:
        """``pkey_mprotect(addr, length, prot, pkey)``; ``pkey=-1`` keeps each VMA's pkey."""
        self._enter("pkey_mprotect", f"{addr!r}, {length!r}, {prot!r}, {pkey!r}")
        if not is_whole(pkey):
            raise SyscallError(EINVAL, "pkey_mprotect", f"pkey must be a key number from pkey_alloc() or -1; "
                                                        f"got {shown(pkey)}")
        pkey = int(pkey)
        if pkey != -1 and pkey not in self.pkeys:
            raise SyscallError(EINVAL, "pkey_mprotect", f"pkey {pkey!r} is not allocated (see pkey_alloc)")
        return self._do_mprotect("pkey_mprotect", addr, length, prot, None if pkey == -1 else pkey)

    def _do_mprotect(self, name: str, addr, length, prot, pkey) -> int:
        start, end = self._range(name, addr, length)
        self._check_prot(name, prot)
        if start == end:
            return 0
        if not self._covered(start, end):
            raise SyscallError(ENOMEM, name, f"part of {start:#x}-{end:#x} is not mapped")
        changed = set()
        for v in self._vmas_in(start, end):
            new_pkey = v.pkey if pkey is None else pkey
            if v.prot == prot and v.pkey == new_pkey:
                continue
            v.prot, v.pkey = prot, new_pkey
            changed.update(range(v.start >> PAGE_SHIFT, v.end >> PAGE_SHIFT))
        self._k._tlb_flush(self, changed, name)
        return 0

    def encrypt_mprotect(self, addr: int, length: int, prot: int, serial: int) -> int:
        """The RFC's ``encrypt_mprotect(addr, len, prot, key_serial)`` (RFC v2 06/13, 05/13).

        Like ``mprotect`` plus "use this key's KeyID". Faithful to the RFC code path:

        * ``len`` must be page aligned (EINVAL), the serial must name a live key (ENOKEY,
          EKEYREVOKED), every VMA in the range must be anonymous (EINVAL).
        * There is NO protection-key argument (claim C1). The RFC calls
          ``do_mprotect_ext(start, len, prot, NO_KEY, keyid)``: pkey ``NO_KEY`` means "leave
          each VMA's pkey as it is", so a pkey set earlier by ``pkey_mprotect`` survives, but
          setting one needs a second, separate system call.
        * For each VMA whose protection or KeyID changes, ``mprotect_set_encrypt()``
          ``zap_page_range()``s the range: the existing pages are discarded and the next touch
          faults in a zero page under the new KeyID. So on anonymous memory the call is
          functionally ``MADV_DONTNEED`` (claim C2). A VMA that already has this protection and
          KeyID is left alone (``mprotect_fixup``'s early return), contents and all.
        """
        self._enter("encrypt_mprotect", f"{addr!r:.40}, {length!r:.40}, {prot!r:.40}, {serial!r:.40}")
        if not is_whole(length):
            raise SyscallError(EINVAL, "encrypt_mprotect", f"len must be a whole number; got {shown(length)}")
        length = int(length)
        if length % PAGE_SIZE:
            raise SyscallError(
                EINVAL, "encrypt_mprotect", f"len {length!r} is not a multiple of the page size {PAGE_SIZE:#x} (an MKTME restriction)"
            )
        key = self._k.keys.lookup(serial, "encrypt_mprotect")
        keyid = key.keyid
        if keyid == 0:
            raise SyscallError(EINVAL, "encrypt_mprotect", f"key {serial} has no hardware KeyID")
        start, end = self._range("encrypt_mprotect", addr, length, length_aligned=True)
        self._check_prot("encrypt_mprotect", prot)
        if start == end:
            return 0
        if not self._covered(start, end):
            raise SyscallError(ENOMEM, "encrypt_mprotect", f"part of {start:#x}-{end:#x} is not mapped")
        for v in self.vmas:
            if v.start < end and start < v.end and not v.anonymous:
                raise SyscallError(
                    EINVAL, "encrypt_mprotect",
                    f"the VMA at {v.start:#x}-{v.end:#x} is file-backed; MKTME is limited to anonymous memory (RFC v2 08/13)",
                )
        for v in self._vmas_in(start, end):
            if v.prot == prot and v.keyid == keyid:
                continue  # mprotect_fixup: flags and KeyID match -> nothing to do
            v.prot = prot
            self._k._zap(self, v.start, v.end, "encrypt_mprotect")  # mprotect_set_encrypt: zap_page_range
            old = v.keyid
            v.keyid = keyid
            self._k._vma_keyid_changed(v, old)
        self._k.keys.maybe_release()
        return 0

    # -- protection keys -----------------------------------------------------------------------------
    def pkey_alloc(self, flags: int = 0, access_rights: int = 0) -> int:
        """``pkey_alloc(flags, access_rights)``: the lowest free key 1..15 (ENOSPC when none)."""
        self._enter("pkey_alloc", f"{flags!r:.40}, {access_rights!r:.40}")
        if not is_whole(flags) or flags != 0:
            raise SyscallError(EINVAL, "pkey_alloc", f"flags must be 0; got {shown(flags)}")
        access_rights = int(access_rights) if is_whole(access_rights) else access_rights
        if not is_whole(access_rights) or access_rights & ~PKEY_ACCESS_MASK or access_rights < 0:
            raise SyscallError(
                EINVAL, "pkey_alloc", f"access_rights {access_rights!r}: only PKEY_DISABLE_ACCESS|PKEY_DISABLE_WRITE"
            )
        for pkey in range(1, NR_PKEYS):
            if pkey not in self.pkeys:
                self.pkeys.add(pkey)
                self.pkru[pkey] = int(access_rights)
                return pkey
        raise SyscallError(ENOSPC, "pkey_alloc", f"all {NR_PKEYS - 1} protection keys are allocated")

    def pkey_free(self, pkey: int) -> int:
        """``pkey_free(pkey)``."""
        self._enter("pkey_free", f"{pkey!r:.40}")
        if not is_whole(pkey):
            raise SyscallError(EINVAL, "pkey_free", f"pkey must be a key number from pkey_alloc(); got {shown(pkey)}")
        pkey = int(pkey)
        if pkey == 0 or pkey not in self.pkeys:
            raise SyscallError(EINVAL, "pkey_free", f"pkey {pkey!r} is not allocated")
        self.pkeys.discard(pkey)
        self.pkru.pop(pkey, None)
        return 0

    def pkey_set(self, pkey: int, access_rights: int) -> None:
        """glibc's ``pkey_set``: write this key's rights into PKRU (user mode, no system call)."""
        if not is_whole(pkey) or not 0 <= pkey < NR_PKEYS:
            raise SyscallError(EINVAL, "pkey_set", f"pkey must be 0..{NR_PKEYS - 1}; got {shown(pkey)}")
        access_rights = int(access_rights) if is_whole(access_rights) else access_rights
        if not is_whole(access_rights) or access_rights & ~PKEY_ACCESS_MASK or access_rights < 0:
            raise SyscallError(EINVAL, "pkey_set", f"access_rights {shown(access_rights)} is not a PKEY_DISABLE_* mask")
        self.pkru[int(pkey)] = int(access_rights)

    def pkey_get(self, pkey: int) -> int:
        """glibc's ``pkey_get``: this key's rights in PKRU."""
        if not is_whole(pkey) or not 0 <= pkey < NR_PKEYS:
            raise SyscallError(EINVAL, "pkey_get", f"pkey must be 0..{NR_PKEYS - 1}; got {shown(pkey)}")
        return self.pkru.get(int(pkey), 0)

    # -- madvise --------------------------------------------------------------------------------------
    def madvise(self, addr: int, length: int, advice: int) -> int:
        """``madvise(addr, length, advice)``. ``MADV_DONTNEED`` drops the pages of a private
        mapping: the next touch gets a zero page (anonymous) or the file's bytes again.

        Modelling choice: a range with holes fails with ENOMEM before touching anything (Linux
        applies the advice to the mapped parts and then returns ENOMEM).
        """
        self._enter("madvise", f"{addr!r}, {length!r}, {advice!r}")
        start, end = self._range("madvise", addr, length)
        if not is_whole(advice) or advice not in (MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
                                                  MADV_DONTNEED):
            raise SyscallError(EINVAL, "madvise", f"advice {advice!r} is not modelled; use MADV_DONTNEED (4)")
        if start == end:
            return 0
        if not self._covered(start, end):
            raise SyscallError(ENOMEM, "madvise", f"part of {start:#x}-{end:#x} is not mapped")
        if advice == MADV_DONTNEED:
            self._k._zap(self, start, end, "madvise(MADV_DONTNEED)")
            self._k.keys.maybe_release()
        return 0

    # -- keys (convenience: the key service is kernel-wide) ----------------------------------------
    def add_key(self, key_type: str, description: str, payload) -> int:
        """``add_key(type, description, payload, ...)`` with this process's capabilities."""
        self._enter("add_key", f"{key_type!r}, {description!r}")
        return self._k.keys.add_key(key_type, description, payload, proc=self)

    def keyctl_invalidate(self, serial: int) -> int:
        self._enter("keyctl_invalidate", f"{serial!r}")
        return self._k.keys.keyctl_invalidate(serial)

    def keyctl_revoke(self, serial: int) -> int:
        self._enter("keyctl_revoke", f"{serial!r}")
        return self._k.keys.keyctl_revoke(serial)

    def process_vm_readv(self, target: "Process | int", vaddr: int, n: int) -> bytes:
        """Read another process's memory through the kernel (``process_vm_readv``).

        ``target`` is the other Process or its pid (the real system call takes a pid)."""
        target = self._k._check_proc(target, "target")
        self._enter("process_vm_readv", f"pid {target.pid}, {vaddr!r:.40}, {n!r:.40}")
        return self._k.process_vm_readv(target, vaddr, n, package=self.package)

    def process_vm_writev(self, target: "Process | int", vaddr: int, data: bytes) -> int:
        """Write another process's memory through the kernel (``process_vm_writev``); ``target``
        is the other Process or its pid."""
        target = self._k._check_proc(target, "target")
        data = byteslike(data, "data (what process_vm_writev() writes)")
        self._enter("process_vm_writev", f"pid {target.pid}, {vaddr!r:.40}, {len(data)} B")
        return self._k.process_vm_writev(target, vaddr, data, package=self.package)

    # -- exit and views -------------------------------------------------------------------------------
    def exit(self) -> None:
        """Tear the address space down (every page freed through the policy's free path)."""
        if not self.alive:
            return
        self._enter("exit_group", "0")
        for v in list(self.vmas):
            self._k._zap(self, v.start, v.end, "exit")
        self.vmas.clear()
        self.alive = False
        self._k.processes.pop(self.pid, None)
        self._k.keys.maybe_release()

    def pagemap(self, vaddr: int) -> dict | None:
        """What ``/proc/pid/pagemap`` would say about ``vaddr`` (no fault): None if never touched."""
        vaddr = address(vaddr, "vaddr (a virtual address)", 0, TASK_SIZE - 1)
        pte = self.ptes.get(vaddr >> PAGE_SHIFT)
        vma = self.find_vma(vaddr)
        if pte is None:
            return None
        return {
            "vaddr": vaddr & ~(PAGE_SIZE - 1),
            "present": pte.frame is not None,
            "pa": None if pte.frame is None else pte.frame.pa,
            "frame": None if pte.frame is None else pte.frame.index,
            "keyid": pte.keyid,
            "swap_slot": pte.swap_slot,
            "prot": None if vma is None else prot_str(vma.prot),
            "pkey": None if vma is None else vma.pkey,
        }

    def maps(self) -> list[dict]:
        """The VMA list, like ``/proc/pid/maps`` (with pkey and KeyID columns)."""
        return [v.info() for v in self.vmas]

    # -- memfd_secret (Linux 5.14, mm/secretmem.c) ---------------------------------------------------
    def memfd_secret(self, length: int, prot: int = PROT_READ | PROT_WRITE) -> int:
        """``fd = memfd_secret(0); ftruncate(fd, length); mmap(fd)`` in one call; returns the address.

        Every page of the mapping leaves the kernel's direct map when it is faulted in (one
        ``direct_map_change`` and one ``tlb_shootdown``: secretmem's
        ``set_direct_map_invalid_noflush()`` + ``flush_tlb_kernel_range()``), comes back when it
        is freed, is refused by ``get_user_pages()`` (EFAULT) and is never swapped (the VMA is
        ``VM_LOCKED``). Modelling choice: the mapping is anonymous-like here (Linux backs it with
        a secretmem file), and ``encrypt_mprotect()`` is not prevented on it.
        """
        addr = self.mmap(length, prot)
        self.find_vma(addr).secret = True
        self._k.machine.emit("syscall", self.package, None, None, f"pid {self.pid} memfd_secret({length!r})")
        return addr


__all__ = ["VMA", "PTE", "Process", "prot_str", "PROT_READ", "PROT_WRITE"]
