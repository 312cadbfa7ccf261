"""Errors of the kernel model, all in the simulator's one ``MKTMEError`` family.

Three kinds, because a real system reports three different things:

* :class:`SyscallError`: a system call returned ``-1`` with ``errno`` set (EINVAL, ENOMEM,
  ENOKEY, ...). The message names the call, the errno and what was wrong.
* :class:`SegmentationFault`: a user-mode access the page tables or protection keys do not
  allow. Linux would deliver SIGSEGV with ``si_code`` SEGV_MAPERR, SEGV_ACCERR or SEGV_PKUERR.
* :class:`KernelPageFault`: the *kernel* touched an address its own page tables do not map,
  e.g. a direct-map address of a user frame that XPFO removed. On Linux that is an oops.
"""

from __future__ import annotations

from ..errors import MKTMEError
from .constants import ERRNO_NAMES


class SyscallError(MKTMEError):
    """A system call failed. ``errno`` is the Linux value, ``name`` its symbol (e.g. "EINVAL")."""

    def __init__(self, errno: int, syscall: str, reason: str):
        self.errno = errno
        self.syscall = syscall
        self.reason = reason
        super().__init__(f"{syscall}: {self.name} ({errno}): {reason}")

    @property
    def name(self) -> str:
        return ERRNO_NAMES.get(self.errno, f"errno {self.errno}")


class SegmentationFault(MKTMEError):
    """A user access that would raise SIGSEGV. ``code`` is SEGV_MAPERR, SEGV_ACCERR or SEGV_PKUERR."""

    def __init__(self, vaddr: int, access: str, code: str, reason: str):
        self.vaddr = vaddr
        self.access = access
        self.code = code
        self.reason = reason
        super().__init__(f"SIGSEGV ({code}) on {access} at {vaddr:#x}: {reason}")


class KernelPageFault(MKTMEError):
    """The kernel dereferenced an address its page tables do not map (an oops on Linux)."""

    def __init__(self, pa: int, reason: str):
        self.pa = pa
        self.reason = reason
        super().__init__(f"kernel page fault (oops) at direct-map address of pa {pa:#x}: {reason}")
