"""Numbers the kernel model shares with Linux, so lesson code reads like real C.

Protection bits, madvise advice, protection-key rights and errno values are the x86-64 Linux
values (include/uapi/asm-generic/mman-common.h, errno-base.h, errno.h), so that a learner who
knows ``mprotect(2)`` recognises them and a lesson can quote a man page without translating.
"""

from __future__ import annotations

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT  # 4096: the only page size the model knows (no THP)
LINES_PER_PAGE = PAGE_SIZE // 64

# mmap/mprotect protections (asm-generic/mman-common.h)
PROT_NONE = 0x0
PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4
PROT_MASK = PROT_READ | PROT_WRITE | PROT_EXEC

# madvise advice (asm-generic/mman-common.h)
MADV_NORMAL = 0
MADV_RANDOM = 1
MADV_SEQUENTIAL = 2
MADV_WILLNEED = 3
MADV_DONTNEED = 4

# protection keys (x86: 16 keys, key 0 is the default every mapping starts with)
NR_PKEYS = 16
PKEY_DISABLE_ACCESS = 0x1
PKEY_DISABLE_WRITE = 0x2
PKEY_ACCESS_MASK = PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE

# errno values (x86-64 Linux)
EPERM = 1
ENOENT = 2
ESRCH = 3
ENOMEM = 12
EACCES = 13
EFAULT = 14
EBUSY = 16
ENODEV = 19
EINVAL = 22
ENOSPC = 28
ENOSYS = 38
ENOKEY = 126
EKEYREVOKED = 128

ERRNO_NAMES = {
    EPERM: "EPERM",
    ENOENT: "ENOENT",
    ESRCH: "ESRCH",
    ENOMEM: "ENOMEM",
    EACCES: "EACCES",
    EFAULT: "EFAULT",
    EBUSY: "EBUSY",
    ENODEV: "ENODEV",
    EINVAL: "EINVAL",
    ENOSPC: "ENOSPC",
    ENOSYS: "ENOSYS",
    ENOKEY: "ENOKEY",
    EKEYREVOKED: "EKEYREVOKED",
}

# Where mmap() starts looking for room. Modelling choice: bottom-up from a round address so
# that addresses in lesson output are short; Linux searches top-down below the stack.
USER_BASE = 0x1000_0000

#: Most swap slots a Kernel's swap device has (16 MiB of swap). ``device_bytes()`` joins every
#: slot, so the ceiling keeps a stolen-disk read under ~20 MB and a fraction of a second.
MAX_SWAP_SLOTS = 4096
TASK_SIZE = 0x7FFF_FFFF_F000  # end of the x86-64 user half with 4-level paging

# Event kinds the kernel adds to Machine.trace / Machine.counters (the machine adds its own:
# load, store, fill, writeback, evict, clflush, flush, wbinvd, pconfig, ...).
COST_EVENTS = (
    "tlb_shootdown",
    "clflush",
    "wbinvd",
    "pconfig",
    "page_fault",
    "page_zeroed",
    "swap_out",
    "swap_in",
    "direct_map_change",
    "kmap",
    "kunmap",
    "gup",
    "frame_alloc",
    "frame_free",
    "syscall",
)
