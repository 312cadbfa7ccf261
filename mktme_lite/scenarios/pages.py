"""The one set-up every lesson, check and test uses: a booted kernel and a page to experiment on.

    from mktme_lite.scenarios.pages import encrypted_page, plain_page

    page = encrypted_page("as_proposed")          # alice's page, encrypted with a CPU key, in DRAM
    page.owner.read(page.va, 16)                  # what alice reads
    page.kernel.kernel_read_direct_map(page.pa, 16)   # what the kernel's direct map reads
    other = page.clone()                          # replay from here on an independent copy

Why one module: lessons 03, 04, 05 and 07 all start from "a process encrypted one page and wrote
to it", and the exercise checks and the tests must start from exactly the same state as the
lesson, or a check could pass on a page the lesson never showed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..dump import LINE
from ..kernel import PAGE_SIZE, PROT_READ, PROT_WRITE, Kernel, Policy, Process
from ..machine import Machine
from ..params import byteslike, flag, instance, whole

__all__ = ["CPU_KEY", "SEED", "RW", "OLD_LINE", "Page", "boot", "encrypt_pages", "encrypted_page", "plain_page"]

#: The RFC's demo payload: a key the CPU generates (``type=cpu``), AES-XTS-128.
CPU_KEY = "type=cpu algorithm=aes-xts-128"
SEED = 2018
RW = PROT_READ | PROT_WRITE

#: What the process's first line holds before an experiment writes anything.
OLD_LINE = b"old: balance 100 EUR, owner alice".ljust(LINE, b".")


@dataclass
class Page:
    """One page of ``owner`` (encrypted with a CPU key, or plain), plus a second process (a debugger)."""

    kernel: Kernel
    owner: Process
    debugger: Process
    va: int  # the page's virtual address in ``owner``
    pa: int  # the frame's physical address
    keyid: int  # the KeyID the page is encrypted with (0: the TME key)
    serial: int  # the "mktme" key's serial (for encrypting more pages with the same key)

    @property
    def machine(self) -> Machine:
        return self.kernel.machine

    def clone(self) -> "Page":
        """An independent copy (kernel, machine, processes), for replaying from here."""
        k = self.kernel.clone()
        return Page(k, k.processes[self.owner.pid], k.processes[self.debugger.pid], self.va, self.pa, self.keyid,
                    self.serial)


def boot(policy: Policy | str = "as_proposed", seed: int = SEED, packages: int = 1,
         trace: bool = True) -> tuple[Kernel, Process, Process, int]:
    """A fresh kernel with processes "alice" and "gdb" and one "mktme" key (a CPU key) for alice.

    Returns ``(kernel, alice, gdb, key_serial)``."""
    whole(seed, "seed", 0)
    whole(packages, "packages", 1, 8)
    flag(trace, "trace")
    k = Kernel(Machine(packages=packages, seed=seed, trace=trace), policy)
    owner = k.spawn("alice")
    debugger = k.spawn("gdb")
    serial = owner.add_key("mktme", "alice-key", CPU_KEY)
    return k, owner, debugger, serial


def encrypt_pages(kernel: Kernel, proc: Process, data: bytes, serial: int | None = None,
                  pages: int = 1) -> tuple[int, int]:
    """The RFC's demo flow on an existing kernel: ``mmap`` + ``encrypt_mprotect`` + write ``data``.

    ``serial`` is a "mktme" key of ``proc`` (a new CPU key is added when it is None). Returns
    ``(va, serial)``. Nothing is written back: the data may still sit dirty in the caches."""
    instance(kernel, Kernel, "kernel", "boot()[0]")
    instance(proc, Process, "proc (a process of that kernel)", "kernel.spawn('alice')")
    pages = whole(pages, "pages", 1, 64)
    data = byteslike(data, "data", 0, pages * PAGE_SIZE)
    if serial is None:
        serial = kernel.add_key("mktme", f"key-{proc.pid}", CPU_KEY)
    va = proc.mmap(pages * PAGE_SIZE, RW)
    proc.encrypt_mprotect(va, pages * PAGE_SIZE, RW, serial)
    if data:
        proc.write(va, data)
    return va, serial


def _settled(k: Kernel, owner: Process, debugger: Process, serial: int, va: int) -> Page:
    k.machine.wbinvd()
    info = owner.pagemap(va)
    return Page(k, owner, debugger, va, info["pa"], info["keyid"], serial)


def encrypted_page(policy: Policy | str = "as_proposed", data: bytes = OLD_LINE, *, seed: int = SEED,
                   packages: int = 1, trace: bool = True) -> Page:
    """Boot a kernel under ``policy``; process "alice" encrypts one page and writes ``data`` to it.

    The RFC's demo flow: ``add_key("mktme", ..., "type=cpu ...")``, ``mmap``,
    ``encrypt_mprotect``, write. Then every cache is written back (``wbinvd``), so the page's
    bytes sit in DRAM, encrypted with the page's key, and no line of it is cached: the state a
    page reaches some time after it was written. A second process, "gdb", is there to call
    ``process_vm_readv``/``process_vm_writev`` on it.
    """
    data = byteslike(data, "data", 1, PAGE_SIZE)
    k, owner, debugger, serial = boot(policy, seed, packages, trace)
    va, _ = encrypt_pages(k, owner, data, serial)
    return _settled(k, owner, debugger, serial, va)


def plain_page(policy: Policy | str = "as_proposed", data: bytes = OLD_LINE, *, seed: int = SEED,
               packages: int = 1, trace: bool = True) -> Page:
    """Like :func:`encrypted_page`, but alice never calls ``encrypt_mprotect``: the page stays at
    KeyID 0, under the TME key the CPU made at boot (the control case)."""
    data = byteslike(data, "data", 1, PAGE_SIZE)
    k, owner, debugger, serial = boot(policy, seed, packages, trace)
    va = owner.mmap(PAGE_SIZE, RW)
    owner.write(va, data)
    return _settled(k, owner, debugger, serial, va)
