"""The kernel facade: frames, faults, the direct map, swap and kernel access to user memory.

``Kernel(machine, policy)`` is a tiny operating system on top of the hardware model. It never
decides an outcome: it only chooses *which address* (frame + KeyID) each access goes to,
*when* it flushes, and *which* KeyID PCONFIG programs. Whether data survives is computed by
the machine: its caches tag lines by the full address, write-backs are encrypted with the key
the home package holds at that moment, and DRAM keeps what was written last. So the claims of
Andy Lutomirski's 4 Dec 2018 reply happen by themselves under ``Policy.as_proposed()`` and go
away under ``Policy.fixed()``:

* C2: ``encrypt_mprotect`` zaps the range (see :meth:`Process.encrypt_mprotect`).
* C4: swap I/O through the KeyID-0 alias reads the wrong plaintext (or stale DRAM) and writes
  the page back under KeyID 0 into a frame whose address (the XTS tweak) may differ.
* C5/C6: a frame that changes KeyID without ``clflush`` keeps dirty lines of the old alias,
  which are written back later over the new owner's data.
* C7: a KeyID reprogrammed while its pages are cached: lines written back after the PCONFIG
  use the new key, lines already in DRAM were encrypted with the old one.
* C8: ``get_user_pages`` + ``kmap`` go through the direct map, whose alias is KeyID 0.
* C9: the XPFO design counts a TLB shootdown for every frame handed to user space.

Every step emits an event through ``Machine.emit`` (page_fault, page_zeroed, tlb_shootdown,
swap_out, swap_in, direct_map_change, kmap, kunmap, gup, ...) next to the machine's own
(clflush, wbinvd, pconfig, ...); :meth:`Kernel.costs` returns the counts a cost model prices.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np

from ..errors import ConfigError, MKTMEError, PackageError
from ..machine import Machine
from ..params import address, byteslike, choose, flag, instance, text, whole
from .constants import (
    COST_EVENTS,
    MAX_SWAP_SLOTS,
    EFAULT,
    EINVAL,
    ENOMEM,
    ENOSPC,
    ESRCH,
    PAGE_SHIFT,
    PAGE_SIZE,
    PKEY_DISABLE_ACCESS,
    PKEY_DISABLE_WRITE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
)
from .errors import KernelPageFault, SegmentationFault, SyscallError
from .frames import FRAME_ORDERS, Frame, FrameAllocator
from .keys import KeyService
from .mm import PTE, VMA, Process
from .policy import PRESETS, Policy
from .swap import SwapDevice


class Kernel:
    """A tiny OS on a :class:`~mktme_lite.machine.Machine`, run under one :class:`Policy`.

    Parameters: ``policy`` (a Policy or a preset name), ``reserved_frames`` (low frames kept
    for "kernel data", never handed out), ``frame_order`` (``"first_free"`` or ``"lifo"``, see
    :mod:`mktme_lite.kernel.frames`) and ``swap_slots`` (size of the swap device in pages, at most
    ``MAX_SWAP_SLOTS``).
    """

    def __init__(self, machine, policy, *, reserved_frames: int = 4, frame_order: str = "first_free",
                 swap_slots: int = 64):
        machine = instance(machine, Machine, "machine (the hardware the kernel runs on)", "Machine()")
        if isinstance(policy, str):
            policy = Policy.preset(policy)
        policy = instance(policy, Policy, "policy (a Policy or a preset name: " + ", ".join(PRESETS) + ")",
                          "Policy.fixed()")
        nr_frames = machine.dram_bytes // PAGE_SIZE
        reserved_frames = whole(reserved_frames, f"reserved_frames (this DRAM has {nr_frames} frames)",
                                0, nr_frames - 1)
        frame_order = choose(frame_order, FRAME_ORDERS, "frame_order")
        swap_slots = whole(swap_slots, "swap_slots (pages of swap)", 0, MAX_SWAP_SLOTS)
        self.machine = machine
        self.policy = policy
        # The kernel's own randomness (swap key, key-service entropy), seeded from the machine's
        # seed but separate from the machine's generator, so kernel work never shifts hardware keys.
        self.rng = np.random.default_rng([machine.seed, 0x6B65726E])
        self.frames = FrameAllocator(machine.dram_bytes // PAGE_SIZE, reserved_frames, frame_order)
        self.keys = KeyService(self)
        self.swap = SwapDevice(swap_slots, self.rng.bytes(32))
        self.processes: dict[int, Process] = {}
        self.disk: list[bytes] = []  # what direct_io_write() sent to the block device
        self._next_pid = 1
        self._tick = 0

    def __repr__(self) -> str:
        return (
            f"Kernel(policy={self.policy.name!r}, frames free {self.frames.nr_free}/{len(self.frames)}, "
            f"{len(self.processes)} processes, {self.keys!r}, {self.swap!r})"
        )

    # -- processes ---------------------------------------------------------------------------------
    def spawn(self, name: str = "proc", package: int = 0, privileged: bool = True) -> Process:
        """Start an empty process on ``package`` (``privileged``: has CAP_SYS_RESOURCE)."""
        name = text(name, "name (of the process)", 1, 64)
        package = self._check_package(package)
        privileged = flag(privileged, "privileged")
        proc = Process(self, self._next_pid, name, package, privileged)
        self.processes[proc.pid] = proc
        self._next_pid += 1
        self.machine.emit("spawn", package, None, None, f"pid {proc.pid} {name!r}")
        return proc

    def _check_package(self, package) -> int:
        package = whole(package, "package")
        if not 0 <= package < self.machine.packages:
            raise PackageError(
                f"package {package!r} does not exist; this machine has packages 0..{self.machine.packages - 1}"
            )
        return package

    def _check_proc(self, proc, what: str = "proc") -> Process:
        """A Process of this kernel, or a pid (as the real system calls take)."""
        if isinstance(proc, Process):
            if proc._k is not self:
                raise MKTMEError(f"{what} {proc!r} belongs to another kernel (a clone?); use this kernel's "
                                 f"processes: pids {sorted(self.processes)}")
            return proc
        if isinstance(proc, type) or not (isinstance(proc, int) or hasattr(proc, "__index__")) \
                or isinstance(proc, bool):
            instance(proc, Process, f"{what} (a Process, or its pid)", "kernel.spawn('bob')")
        pid = whole(proc, f"{what} (a Process, or its pid)")
        if pid not in self.processes:
            raise SyscallError(ESRCH, "pid lookup", f"no process with pid {pid}; the pids are {sorted(self.processes)}")
        return self.processes[pid]

    def _check_access_size(self, nr_pages: int, syscall: str) -> None:
        """Fail at once when an access spans more pages than memory and swap could ever hold
        (each page needs a frame or a swap slot), instead of after swapping the machine empty."""
        room = len(self.frames) - self.frames.reserved + self.swap.nr_slots
        if nr_pages > room:
            raise SyscallError(ENOMEM, syscall,
                               f"the access spans {nr_pages} pages, but this machine has room for {room} "
                               f"({len(self.frames) - self.frames.reserved} frames + {self.swap.nr_slots} swap slots)")

    # -- keys (the "mktme" key type) -----------------------------------------------------------------
    def add_key(self, key_type: str, description: str, payload) -> int:
        """``add_key("mktme", description, payload)`` as root; returns the key serial."""
        return self.keys.add_key(key_type, description, payload)

    def keyctl_invalidate(self, serial: int) -> int:
        return self.keys.keyctl_invalidate(serial)

    def keyctl_revoke(self, serial: int) -> int:
        return self.keys.keyctl_revoke(serial)

    def keyctl_update(self, serial: int, payload) -> int:
        return self.keys.keyctl_update(serial, payload)

    # -- frames: allocation, KeyID changes, free --------------------------------------------------------
    def _emit(self, kind: str, package=None, pa=None, keyid=None, detail: str = "") -> None:
        self.machine.emit(kind, package, pa, keyid, detail)

    def _flush_alias(self, frame: Frame, keyid: int, done: set) -> None:
        """clflush every line of ``frame`` through ``keyid`` (once per KeyID per operation)."""
        if keyid in done:
            return
        done.add(keyid)
        self.machine.flush_range(self.machine.hpa(frame.pa, keyid), PAGE_SIZE)

    def _get_free_frame(self, package: int) -> Frame:
        frame = self.frames.pick()
        while frame is None:
            if not self.reclaim(1, package=package):
                raise SyscallError(ENOMEM, "page allocator", "out of memory: no free frame and no swap slot left")
            frame = self.frames.pick()
        return frame

    def _set_keyid(self, frame: Frame, new: int, package: int, done: set) -> None:
        """Move ``frame`` to KeyID ``new`` the way the policy says (spec EvictPage + AddPage).

        Old alias first (``flush_old_alias``: Kirill's prep_encrypted_page flushes the KeyID-0
        alias, free_encrypted_page the page's own), then the new one (``flush_new_alias``: Andy,
        5 Dec: "the new mapping may have been speculatively read"), then the bookkeeping.
        """
        old = frame.keyid
        if new != old:
            if self.policy.flush_old_alias:
                self._flush_alias(frame, old, done)
            elif old != 0:
                self.keys.note_unflushed(old, frame.index)
            if self.policy.flush_new_alias:
                self._flush_alias(frame, new, done)
        frame.keyid = new
        if self.policy.direct_map == "rekey" and frame.dm_keyid != new:
            # pageattr.c-style: the direct-map entry follows the page's KeyID. Changing an
            # entry's KeyID is a change of "memory type": flush the old alias, shoot down TLBs.
            self._flush_alias(frame, frame.dm_keyid, done)
            frame.dm_keyid = new
            self._emit("direct_map_change", package, frame.pa, new, f"re-keyed direct-map entry to KeyID {new}")
            self._emit("tlb_shootdown", package, frame.pa, new, "direct map (all CPUs): re-key")

    def _zero(self, frame: Frame, package: int) -> None:
        """``clear_page``: through the page's own KeyID (spec AddPage step 4) or the KeyID-0 map."""
        alias = frame.keyid if self.policy.zero_through_new_keyid else 0
        self.machine.store(self.machine.hpa(frame.pa, alias), bytes(PAGE_SIZE), package)
        self._emit("page_zeroed", package, frame.pa, alias, f"frame {frame.index}")

    def _dm_hide(self, frame: Frame, package: int) -> None:
        """XPFO: a frame handed to user space leaves the direct map (TLB shootdown on every CPU).
        "unmapped": only encrypted frames leave it."""
        design = self.policy.direct_map
        if frame.dm_mapped and (design == "xpfo" or (design == "unmapped" and frame.keyid != 0)):
            frame.dm_mapped = False
            self._emit("direct_map_change", package, frame.pa, frame.keyid, "unmapped user frame from the direct map")
            self._emit("tlb_shootdown", package, frame.pa, frame.keyid, "direct map (all CPUs): unmap")
        elif frame.dm_mapped and self._is_secret_frame(frame):
            # secretmem_fault(): set_direct_map_invalid_noflush() + flush_tlb_kernel_range() per page
            frame.dm_mapped = False
            self._emit("direct_map_change", package, frame.pa, frame.keyid, "memfd_secret: frame out of the direct map")
            self._emit("tlb_shootdown", package, frame.pa, frame.keyid, "direct map (all CPUs): memfd_secret fault")

    def _is_secret_frame(self, frame: Frame) -> bool:
        """Does ``frame`` back a page of a ``memfd_secret()`` mapping?"""
        if frame.owner is None:
            return False
        proc = self.processes.get(frame.owner[0])
        vma = None if proc is None else proc.find_vma(frame.owner[1])
        return vma is not None and vma.secret

    def _dm_restore(self, frame: Frame, package: int) -> None:
        if not frame.dm_mapped:
            frame.dm_mapped = True
            self._emit("direct_map_change", package, frame.pa, 0, "frame freed: mapped into the direct map again")

    def _alloc_frame(self, keyid: int, zero: bool, package: int, owner: tuple[int, int]) -> Frame:
        frame = self._get_free_frame(package)
        frame.state, frame.owner = "user", owner
        self._emit("frame_alloc", package, frame.pa, keyid, f"frame {frame.index} for pid {owner[0]}")
        self._set_keyid(frame, keyid, package, set())
        if zero:
            self._zero(frame, package)
        self._dm_hide(frame, package)
        return frame

    def _free_frame(self, frame: Frame, package: int) -> None:
        """Give a frame back (Kirill's ``free_encrypted_page``: flush its KeyID alias, KeyID := 0)."""
        assert frame.state == "user", frame
        self._set_keyid(frame, 0, package, set())
        self._dm_restore(frame, package)
        frame.state, frame.owner = "free", None
        self.frames.release(frame)
        self._emit("frame_free", package, frame.pa, None, f"frame {frame.index}")

    def change_frame_keyid(self, pa: int, keyid: int, *, zero: bool = True, package: int = 0) -> None:
        """Move the frame holding ``pa`` to ``keyid`` in place, with the policy's protocol.

        This is the operation of the spec's EvictPage + AddPage (and of the course's "safe
        change_keyid" exercise): flush the old alias, flush the new alias, zero through the new
        KeyID, each as the policy says. If a user page maps the frame, its PTE follows (what RFC
        v1's ``mprotect_set_encrypt`` did by rewriting ``vm_page_prot`` without zapping).

        ``zero=False`` keeps the bytes in DRAM. That only preserves *contents* when both KeyIDs
        decrypt the same way (KeyID 0 and a ``type=clear`` KeyID, or two no-encrypt KeyIDs):
        the one case where a speculatively filled line of the new alias shows up as stale data.
        """
        package = self._check_package(package)
        keyid = self.machine.layout.check_keyid(keyid)
        zero = flag(zero, "zero")
        frame = self.frames.frame_at(pa)
        if frame.state != "user":
            raise ConfigError(f"frame {frame.index} is {frame.state}; only frames that back user pages can be re-keyed")
        old = frame.keyid
        self._set_keyid(frame, keyid, package, set())
        if zero:
            self._zero(frame, package)
        if keyid != old and self.policy.direct_map == "unmapped":
            if keyid == 0:
                self._dm_restore(frame, package)
            else:
                self._dm_hide(frame, package)
        if frame.owner is not None:
            pid, vaddr = frame.owner
            proc = self.processes.get(pid)
            pte = None if proc is None else proc.ptes.get(vaddr >> PAGE_SHIFT)
            if pte is not None and pte.frame is frame:
                pte.keyid = keyid
                self._tlb_flush(proc, {vaddr >> PAGE_SHIFT}, "change_frame_keyid")

    # -- TLB --------------------------------------------------------------------------------------------
    def _tlb_flush(self, proc: Process, vpns, why: str) -> None:
        """Invalidate cached translations; one ``tlb_shootdown`` event when any was cached."""
        hit = proc.tlb.intersection(vpns)
        if hit:
            proc.tlb.difference_update(hit)
            self._emit("tlb_shootdown", proc.package, None, None, f"pid {proc.pid}: {len(hit)} page(s), {why}")

    # -- faults and user access ---------------------------------------------------------------------------
    def _check_user(self, proc: Process, vaddr: int, write: bool, syscall: str | None) -> VMA:
        """Permission check of one page for a user-mode access (or a copy_*_user on its behalf)."""
        access = "write" if write else "read"

        def fail(code: str, reason: str):
            if syscall is not None:
                return SyscallError(EFAULT, syscall, f"{access} at {vaddr:#x}: {reason}")
            self._emit("segfault", proc.package, None, None, f"pid {proc.pid} {code} {access} {vaddr:#x}")
            return SegmentationFault(vaddr, access, code, reason)

        vma = proc.find_vma(vaddr)
        if vma is None:
            raise fail("SEGV_MAPERR", "no mapping at this address")
        if write and not vma.prot & PROT_WRITE:
            raise fail("SEGV_ACCERR", f"the mapping {vma} is not writable")
        if not write and vma.prot == PROT_NONE:
            raise fail("SEGV_ACCERR", f"the mapping {vma} is PROT_NONE")
        rights = proc.pkru.get(vma.pkey, 0)
        if rights & PKEY_DISABLE_ACCESS or (write and rights & PKEY_DISABLE_WRITE):
            raise fail("SEGV_PKUERR", f"protection key {vma.pkey} forbids it (PKRU rights {rights:#x})")
        return vma

    def _fault_in(self, proc: Process, vaddr: int, vma: VMA, package: int) -> PTE:
        """Return the present PTE for ``vaddr``, handling demand-zero, file and swap-in faults."""
        vpn = vaddr >> PAGE_SHIFT
        pte = proc.ptes.get(vpn)
        if pte is None or (pte.frame is None and pte.swap_slot is None):
            page_va = vpn << PAGE_SHIFT
            if vma.anonymous:
                frame = self._alloc_frame(vma.keyid, True, package, (proc.pid, page_va))
                kind = "demand-zero"
            else:
                frame = self._alloc_frame(vma.keyid, False, package, (proc.pid, page_va))
                off = vma.file_offset + page_va - vma.start
                content = vma.file[off : off + PAGE_SIZE].ljust(PAGE_SIZE, b"\0")
                self.machine.store(self.machine.hpa(frame.pa, vma.keyid), content, package)
                kind = "file"
            pte = PTE(frame, vma.keyid)
            proc.ptes[vpn] = pte
            self._emit("page_fault", package, frame.pa, vma.keyid, f"pid {proc.pid} {page_va:#x} {kind}")
        elif pte.frame is None:
            self._swap_in(proc, vpn, pte, package)
        self._tick += 1
        pte.last_access = self._tick
        proc.tlb.add(vpn)
        return pte

    def _user_access(self, proc: Process, vaddr: int, data_or_n, package: int | None,
                     syscall: str | None = None):
        """Load or store through ``proc``'s page tables, at the PTE's KeyID, on ``package``."""
        proc = self._check_proc(proc)
        if not proc.alive:
            raise MKTMEError(f"process {proc.name!r} (pid {proc.pid}) has exited")
        package = proc.package if package is None else self._check_package(package)
        write = isinstance(data_or_n, (bytes, bytearray, memoryview))
        call = syscall or ("write" if write else "read")
        if write:
            data = bytes(data_or_n)
            n = len(data)
        else:
            n = whole(data_or_n, f"n (bytes to {call})", 0, TASK_SIZE)
        vaddr = address(vaddr, "vaddr (a virtual address)", 0, TASK_SIZE - 1)
        if n == 0:
            return None if write else b""
        first, last = vaddr >> PAGE_SHIFT, (vaddr + n - 1) >> PAGE_SHIFT
        self._check_access_size(last - first + 1, call)
        vmas = [self._check_user(proc, max(vaddr, vpn << PAGE_SHIFT), write, syscall)
                for vpn in range(first, last + 1)]
        out = bytearray()
        pos = 0
        for vpn, vma in zip(range(first, last + 1), vmas):
            va = vaddr + pos
            off = va & (PAGE_SIZE - 1)
            chunk = min(n - pos, PAGE_SIZE - off)
            pte = self._fault_in(proc, va, vma, package)
            hpa = self.machine.hpa(pte.frame.pa + off, pte.keyid)
            if write:
                self.machine.store(hpa, data[pos : pos + chunk], package)
            else:
                out += self.machine.load(hpa, chunk, package)
            pos += chunk
        return None if write else bytes(out)

    def copy_to_user(self, proc: Process, vaddr: int, data: bytes) -> int:
        """The kernel writes into user memory through the user's own mapping (right KeyID).

        Faults pages in like user code would; a bad address is EFAULT instead of SIGSEGV."""
        data = byteslike(data, "data (what copy_to_user() writes)")
        self._user_access(proc, vaddr, data, None, syscall="copy_to_user")
        return len(data)

    def copy_from_user(self, proc: Process, vaddr: int, n: int) -> bytes:
        """The kernel reads user memory through the user's own mapping (right KeyID)."""
        n = whole(n, "n (bytes to copy_from_user)", 0, TASK_SIZE)
        return self._user_access(proc, vaddr, n, None, syscall="copy_from_user")

    # -- zapping ---------------------------------------------------------------------------------------
    def _zap(self, proc: Process, start: int, end: int, why: str) -> None:
        """``zap_page_range``: drop every PTE in ``[start, end)``, freeing frames and swap slots."""
        vpns = [vpn for vpn in proc.ptes if start >> PAGE_SHIFT <= vpn < end >> PAGE_SHIFT]
        self._tlb_flush(proc, vpns, why)
        for vpn in sorted(vpns):
            pte = proc.ptes.pop(vpn)
            if pte.frame is not None:
                self._free_frame(pte.frame, proc.package)
            elif pte.swap_slot is not None:
                self.swap.free(pte.swap_slot)

    def _vma_keyid_changed(self, vma: VMA, old: int) -> None:
        self._emit("vma_keyid", None, None, vma.keyid,
                   f"{vma.start:#x}-{vma.end:#x}: KeyID {old} -> {vma.keyid}")

    # -- the direct map: how the kernel itself reaches a user frame --------------------------------------
    def _kmap(self, frame: Frame, package: int) -> int:
        """``kmap(page)``: the KeyID of the alias the kernel uses for ``frame`` (see Policy)."""
        design = self.policy.direct_map
        if design == "keyid0":
            return 0
        if design == "per_keyid":
            return frame.keyid  # page_to_virt(): the direct map of the page's KeyID
        if design == "rekey":
            return frame.dm_keyid
        if not frame.dm_mapped:
            if design == "xpfo":
                # XPFO: a temporary mapping just for this access (modelling choice: it maps the
                # page with its own KeyID, as a per-KeyID page_to_virt() would).
                self._emit("kmap", package, frame.pa, frame.keyid, f"frame {frame.index}")
                self._emit("direct_map_change", package, frame.pa, frame.keyid, "kmap: temporary mapping")
                return frame.keyid
            raise KernelPageFault(frame.pa, "the frame is not in the direct map")
        return 0

    def _kunmap(self, frame: Frame, package: int) -> None:
        if self.policy.direct_map == "xpfo" and not frame.dm_mapped:
            self._emit("kunmap", package, frame.pa, frame.keyid, f"frame {frame.index}")
            self._emit("direct_map_change", package, frame.pa, frame.keyid, "kunmap: temporary mapping removed")
            self._emit("tlb_shootdown", package, frame.pa, frame.keyid, "kunmap (all CPUs)")

    def get_user_pages(self, proc: Process, vaddr: int, nr_pages: int = 1, *, write: bool = False,
                       package: int | None = None) -> list[int]:
        """``get_user_pages()``: fault the pages in and return their frames' physical addresses.

        A foreign access: protection keys do not apply, VMA permissions do (EFAULT). Under the
        ``"unmapped"`` design it fails with EFAULT for encrypted memory (Andy's first fix).
        """
        proc = self._check_proc(proc)
        package = proc.package if package is None else self._check_package(package)
        vaddr = address(vaddr, "vaddr (a virtual address)", 0, TASK_SIZE - 1)
        nr_pages = whole(nr_pages, "nr_pages", 1, TASK_SIZE // PAGE_SIZE)
        write = flag(write, "write")
        self._check_access_size(nr_pages, "get_user_pages")
        out = []
        base = vaddr & ~(PAGE_SIZE - 1)
        for i in range(nr_pages):
            va = base + i * PAGE_SIZE
            vma = proc.find_vma(va)
            if vma is None:
                raise SyscallError(EFAULT, "get_user_pages", f"no mapping at {va:#x} in pid {proc.pid}")
            need = PROT_WRITE if write else PROT_READ
            if not vma.prot & need:
                raise SyscallError(EFAULT, "get_user_pages", f"{vma} does not allow {'writing' if write else 'reading'}")
            if self.policy.direct_map == "unmapped" and vma.keyid != 0:
                raise SyscallError(
                    EFAULT, "get_user_pages",
                    f"{va:#x} is encrypted memory (KeyID {vma.keyid}); it has no direct-map alias in this design",
                )
            if vma.secret:
                raise SyscallError(EFAULT, "get_user_pages", f"{va:#x} is memfd_secret() memory; gup refuses it")
            pte = self._fault_in(proc, va, vma, package)
            if self.policy.direct_map == "unmapped" and pte.keyid != 0:
                raise SyscallError(
                    EFAULT, "get_user_pages",
                    f"{va:#x} is mapped with KeyID {pte.keyid}; it has no direct-map alias in this design",
                )
            out.append(pte.frame.pa)
        self._emit("gup", package, None, None, f"pid {proc.pid} {base:#x} x{nr_pages}")
        return out

    def _kernel_copy(self, proc: Process, vaddr: int, data_or_n, package: int, syscall: str, write: bool):
        """gup + kmap + copy + kunmap, page by page (the process_vm_* and O_DIRECT paths)."""
        proc = self._check_proc(proc)
        vaddr = address(vaddr, "vaddr (a virtual address)", 0, TASK_SIZE - 1)
        n = len(data_or_n) if write else whole(data_or_n, f"n (bytes for {syscall})", 0, TASK_SIZE)
        if n:
            self._check_access_size(((vaddr + n - 1) >> PAGE_SHIFT) - (vaddr >> PAGE_SHIFT) + 1, syscall)
        out = bytearray()
        pos = 0
        while pos < n:
            va = vaddr + pos
            off = va & (PAGE_SIZE - 1)
            chunk = min(n - pos, PAGE_SIZE - off)
            try:
                (pa,) = self.get_user_pages(proc, va, 1, write=write, package=package)
            except SyscallError as e:
                raise SyscallError(e.errno, syscall, e.reason) from None
            frame = self.frames.frame_at(pa)
            alias = self._kmap(frame, package)
            hpa = self.machine.hpa(pa + off, alias)
            if write:
                self.machine.store(hpa, bytes(data_or_n[pos : pos + chunk]), package)
            else:
                out += self.machine.load(hpa, chunk, package)
            self._kunmap(frame, package)
            pos += chunk
        return n if write else bytes(out)

    def process_vm_readv(self, target: Process, vaddr: int, n: int, *, package: int = 0) -> bytes:
        """Read ``target``'s memory the way ``process_vm_readv``/ptrace do: gup + kmap (claim C8).

        ``target`` is a Process or its pid (the real system call takes a pid)."""
        package = self._check_package(package)
        return self._kernel_copy(target, vaddr, n, package, "process_vm_readv", False)

    def process_vm_writev(self, target: Process, vaddr: int, data: bytes, *, package: int = 0) -> int:
        """Write ``target``'s memory through gup + kmap: a write through the kernel's alias."""
        package = self._check_package(package)
        data = byteslike(data, "data (what process_vm_writev() writes)")
        return self._kernel_copy(target, vaddr, bytes(data), package, "process_vm_writev", True)

    def direct_io_write(self, proc: Process, vaddr: int, n: int, *, package: int | None = None) -> bytes:
        """An ``O_DIRECT`` ``write(fd, buf, n)``: the block layer pins the user buffer with
        gup and the data reaches the disk through the direct map. Returns (and logs in
        ``kernel.disk``) what the disk received."""
        proc = self._check_proc(proc)
        package = proc.package if package is None else self._check_package(package)
        data = self._kernel_copy(proc, vaddr, n, package, "write(O_DIRECT)", False)
        self.disk.append(data)
        return data

    def kernel_read_direct_map(self, pa: int, n: int, *, keyid: int | None = None, package: int = 0) -> bytes:
        """A kernel read of ``n`` bytes at the direct-map address of ``pa`` (``__va(pa)``).

        This is what any kernel code that dereferences the direct-map name of a frame gets: a
        stray or buggy pointer, or an attacker who can make the kernel read there. It is not
        ret2dir's primitive: ret2dir (Kemerlis et al. 2014) does not read the alias, it plants a
        payload in a user page and redirects a corrupted kernel pointer to that page's direct-map
        alias (lesson 03 says so; lesson 07 is about it).

        ``keyid`` picks one of the per-KeyID direct maps (``per_keyid`` design only: the attacker
        "pivots" to the right map); by default the KeyID-0 map, where kernel data lives. Under
        ``rekey`` the map's entry for the frame carries the frame's KeyID. Under ``xpfo`` and
        ``unmapped`` a user frame missing from the direct map raises :class:`KernelPageFault`, and so does
        a ``memfd_secret()`` frame under any design.
        """
        package = self._check_package(package)
        design = self.policy.direct_map
        if keyid is not None:
            keyid = self.machine.layout.check_keyid(keyid)
        if keyid not in (None, 0) and design != "per_keyid":
            raise ConfigError(f"the {design!r} design has a single direct map; keyid= only applies to 'per_keyid'")
        pa = self.frames.check_pa(pa)
        end = len(self.frames) * PAGE_SIZE
        n = whole(n, "n (bytes to read)", 1)
        if pa + n > end:
            raise ConfigError(f"kernel_read_direct_map({pa:#x}, {n}) runs past the end of DRAM at {end:#x}; "
                              f"at most {end - pa} bytes ({end - pa:#x}) start at {pa:#x}")
        out = bytearray()
        pos = 0
        while pos < n:
            addr = pa + pos
            frame = self.frames.frame_at(addr)
            chunk = min(n - pos, PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            if not frame.dm_mapped:
                raise KernelPageFault(addr, f"frame {frame.index} belongs to user space and is not in the direct map ({design})")
            alias = frame.dm_keyid if design == "rekey" else (keyid or 0)
            out += self.machine.load(self.machine.hpa(addr, alias), chunk, package)
            pos += chunk
        return bytes(out)

    # -- swap ----------------------------------------------------------------------------------------
    def _swap_alias(self, pte_keyid: int) -> int:
        return 0 if self.policy.swap_path == "direct_map_keyid0" else pte_keyid

    def swap_out(self, proc: Process, vaddr: int, *, package: int | None = None) -> int:
        """Swap one present page out; returns the swap slot.

        Unmap (PTE becomes a swap entry, TLB shootdown), read the page through the swap path's
        alias, write it to a slot (encrypted if ``encrypted_swap``), free the frame through the
        policy's free path. As proposed the read goes through KeyID 0 with no flush first.
        """
        proc = self._check_proc(proc)
        package = proc.package if package is None else self._check_package(package)
        vaddr = address(vaddr, "vaddr (a virtual address)", 0, TASK_SIZE - 1)
        vpn = vaddr >> PAGE_SHIFT
        pte = proc.ptes.get(vpn)
        if pte is None or pte.frame is None:
            raise SyscallError(EINVAL, "swap_out", f"{vaddr:#x} in pid {proc.pid} is not a present page")
        if getattr(proc.find_vma(vaddr), "secret", False):
            raise SyscallError(EINVAL, "swap_out", f"{vaddr:#x} is memfd_secret() memory: locked, never swapped")
        slot = self.swap.alloc()
        if slot is None:
            raise SyscallError(ENOSPC, "swap_out", f"all {self.swap.nr_slots} swap slots are in use")
        frame = pte.frame
        pte.frame, pte.swap_slot = None, slot
        self._tlb_flush(proc, {vpn}, "swap-out")
        alias = self._swap_alias(pte.keyid)
        data = self.machine.load(self.machine.hpa(frame.pa, alias), PAGE_SIZE, package)
        self.swap.write(slot, data, self.policy.encrypted_swap, proc.pid, vpn << PAGE_SHIFT, pte.keyid, alias)
        self._free_frame(frame, package)
        self._emit("swap_out", package, frame.pa, alias,
                   f"pid {proc.pid} {vpn << PAGE_SHIFT:#x} -> slot {slot} (read through KeyID {alias})")
        return slot

    def _swap_in(self, proc: Process, vpn: int, pte: PTE, package: int) -> None:
        # Read the slot into the "swap cache" and give the slot up first, so that reclaim can
        # reuse it if the allocation below has to make room (modelling choice).
        slot = pte.swap_slot
        data = self.swap.read(slot)
        saved = self.swap.slots[slot]
        self.swap.free(slot)
        pte.swap_slot = None
        try:
            frame = self._alloc_frame(pte.keyid, False, package, (proc.pid, vpn << PAGE_SHIFT))
        except SyscallError:
            self.swap.slots[slot], pte.swap_slot = saved, slot
            raise
        alias = self._swap_alias(pte.keyid)
        self.machine.store(self.machine.hpa(frame.pa, alias), data, package)
        pte.frame = frame
        self._emit("swap_in", package, frame.pa, alias,
                   f"pid {proc.pid} {vpn << PAGE_SHIFT:#x} <- slot {slot} into frame {frame.index} (KeyID {alias})")
        self._emit("page_fault", package, frame.pa, pte.keyid, f"pid {proc.pid} {vpn << PAGE_SHIFT:#x} swap-in")

    def reclaim(self, nr_pages: int = 1, *, package: int | None = None) -> list[tuple[int, int]]:
        """Swap out the ``nr_pages`` least recently used present pages (all processes).

        Returns ``[(pid, vaddr), ...]`` of what went out (fewer when swap is full)."""
        nr_pages = whole(nr_pages, "nr_pages", 0, len(self.frames))
        if package is not None:
            package = self._check_package(package)
        candidates = sorted(
            ((pte.last_access, proc.pid, vpn) for proc in self.processes.values()
             for vpn, pte in proc.ptes.items() if pte.frame is not None
             and not getattr(proc.find_vma(vpn << PAGE_SHIFT), "secret", False)),
        )
        out = []
        for _, pid, vpn in candidates[:nr_pages]:
            if self.swap.alloc() is None:
                break
            proc = self.processes[pid]
            self.swap_out(proc, vpn << PAGE_SHIFT, package=proc.package if package is None else package)
            out.append((pid, vpn << PAGE_SHIFT))
        return out

    # -- views and costs --------------------------------------------------------------------------------
    def frame_info(self, pa: int) -> dict:
        """State, KeyID, direct-map entry and owner of the frame holding ``pa``."""
        return self.frames.frame_at(pa).info()

    def costs(self, since: dict | None = None) -> dict[str, int]:
        """Counts of the events a cost model prices (``COST_EVENTS``), optionally minus ``since``."""
        now = {k: self.machine.counters.get(k, 0) for k in COST_EVENTS}
        if since is not None and not isinstance(since, dict):
            raise MKTMEError(f"since must be a dict of counts from an earlier costs(); got {type(since).__name__}")
        if since is not None:
            now = {k: v - since.get(k, 0) for k, v in now.items()}
        return now

    @contextmanager
    def measure(self):
        """``with kernel.measure() as c: ...`` fills ``c`` with the cost counts of the block."""
        before = self.costs()
        result: dict[str, int] = {}
        try:
            yield result
        finally:
            result.update(self.costs(since=before))

    def clone(self) -> "Kernel":
        """A deep copy of the kernel AND its machine, for replaying a scenario from here."""
        memo = {id(self.machine): self.machine.clone()}
        return copy.deepcopy(self, memo)
