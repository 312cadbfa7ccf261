"""The kernel model: a tiny OS on the hardware model, run under a :class:`Policy`.

    from mktme_lite import Machine
    from mktme_lite.kernel import Kernel, Policy, PROT_READ, PROT_WRITE

    k = Kernel(Machine(), Policy.as_proposed())
    p = k.spawn("alice", package=0)
    key = k.add_key("mktme", "alice-key", "type=cpu algorithm=aes-xts-128")
    buf = p.mmap(4096, PROT_READ | PROT_WRITE)
    p.encrypt_mprotect(buf, 4096, PROT_READ | PROT_WRITE, key)
    p.write(buf, b"secret")

Modules: ``policy`` (the switches), ``frames`` (page frames and the allocator), ``mm``
(processes, VMAs, page tables, memory system calls), ``keys`` (the "mktme" key type),
``swap`` (the swap device), ``kernel`` (the facade: faults, direct map, gup, swap paths).
"""

from .constants import (
    COST_EVENTS,
    EACCES,
    EBUSY,
    EFAULT,
    EINVAL,
    EKEYREVOKED,
    ENODEV,
    ENOKEY,
    ENOMEM,
    ENOSPC,
    MADV_DONTNEED,
    PAGE_SIZE,
    PKEY_DISABLE_ACCESS,
    PKEY_DISABLE_WRITE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from .errors import KernelPageFault, SegmentationFault, SyscallError
from .frames import Frame, FrameAllocator
from .kernel import Kernel
from .keys import KeyService, MKTMEPayload, parse_mktme_payload
from .mm import PTE, VMA, Process
from .policy import DIRECT_MAP_DESIGNS, SWAP_PATHS, Policy
from .swap import SwapDevice

__all__ = [
    "Kernel", "Policy", "Process", "VMA", "PTE", "Frame", "FrameAllocator", "KeyService", "MKTMEPayload",
    "parse_mktme_payload", "SwapDevice", "SyscallError", "SegmentationFault", "KernelPageFault",
    "DIRECT_MAP_DESIGNS", "SWAP_PATHS", "COST_EVENTS", "PAGE_SIZE",
    "PROT_NONE", "PROT_READ", "PROT_WRITE", "PROT_EXEC", "MADV_DONTNEED",
    "PKEY_DISABLE_ACCESS", "PKEY_DISABLE_WRITE",
    "EINVAL", "ENOMEM", "EFAULT", "EACCES", "ENOKEY", "ENOSPC", "EBUSY", "ENODEV", "EKEYREVOKED",
]
