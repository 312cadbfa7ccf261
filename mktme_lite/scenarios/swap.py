"""Lesson 05's experiments: what lands on the swap device, and what comes back.

    from mktme_lite.scenarios import swap

    r = swap.swap_run("keyid0", flush=False, frame="other", encrypted=False)   # the naive path
    r.plaintext_visible, r.device_verdict, r.verdict      # -> False, '... garbage ...', 'GARBAGE in every line'
    swap.swap_run("page_keyid").plaintext_visible          # -> True: the "fixed" path leaks to the disk
    swap.identity_rows()                                   # why the same frame came back intact
    swap.outlive_vma("vma").intact                         # a pinned page outlives its VMA

One encrypted page of alice's goes out to swap and comes back, under four knobs: the swap path
(``"keyid0"``: the I/O reads and writes the page through the direct map's KeyID-0 alias, as the
RFC v2 API alone did; ``"page_keyid"``: through the page's own KeyID, as Kirill Shutemov's core
series did with its per-KeyID direct maps and KeyID-carrying DMA), a flush of the page's own
KeyID alias before swap-out, the frame the page comes back into (the same one, or another
because a process took the freed frame), and encrypted swap (the kernel model's swap key).

Nothing here decides an outcome. Whether plaintext is on the device is found by searching the
device's bytes for the page's lines; whether the owner's page came back is a comparison of what
the owner reads with what it wrote.

Modelling choices the lesson names as such:

* Every run uses ``Policy.fixed()`` with only ``swap_path`` and ``encrypted_swap`` changed, so
  a frame changing hands is flushed the way lesson 04's protocol says, and whatever differs
  between runs belongs to the swap path.
* Swap I/O is a CPU copy through one alias (as zram does after ``kmap()``); block swap's DMA
  reads the same alias and, in this model, snoops the CPU caches for that full address only.
* "Flush before swap-out" is the scenario calling ``machine.flush_range`` on the page's KeyID
  alias just before ``Kernel.swap_out``: the step a KeyID-aware kernel would add there.
* "Another frame" is gdb allocating and touching a page between swap-out and swap-in, so the
  first-free allocator hands gdb the freed frame and alice's page comes back into the next one.
* The page comes back when alice touches it (a one-byte read); then time passes (``wbinvd``)
  before she reads the whole page, so every write the swap-in left in the caches is in DRAM.
* The model has no page pins: ``get_user_pages()`` returns a frame's address and nothing keeps
  the frame. :func:`outlive_vma` plays the two counting rules by their effect on the order of
  events (see its docstring).

Speed: :func:`swap_run` has 16 settings and is cached (``functools.lru_cache``); the first call
of a setting boots a kernel and swaps a page out and in (a few tens of milliseconds), every later
call is a look-up (benchmarks/bench_swap.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..dump import BLOCK, LINE
from ..errors import ParameterError
from ..kernel import PAGE_SIZE, Policy
from ..params import byteslike, choose, flag, shown, whole
from ..xts import XTSCipher
from .pages import RW, boot, encrypt_pages, encrypted_page

__all__ = [
    "PATHS", "FRAMES", "SWAP_PATH_OF", "LINES", "PAGE_TEXT", "FRESH_LINE", "FRESH_INDEX", "TWEAKS",
    "SwapRun", "IdentityRow", "OutliveRun", "DeviceDump",
    "policy_for", "swap_run", "all_runs", "identity_rows", "roundtrip", "outlive_vma", "seal", "unseal",
    "leaking_lines", "device_dump",
]

#: path -> label (the order of the lesson's sections)
PATHS: dict[str, str] = {
    "keyid0": "KeyID 0 (the direct map's alias)",
    "page_keyid": "the page's own KeyID",
}
#: the kernel model's name for each path (``Policy.swap_path``)
SWAP_PATH_OF = {"keyid0": "direct_map_keyid0", "page_keyid": "page_keyid"}
#: frame -> label
FRAMES: dict[str, str] = {
    "same": "the same frame (nobody used it meanwhile)",
    "other": "another frame (gdb took the freed one)",
}

LINES = PAGE_SIZE // LINE  # 64 lines in a page

#: What alice's page holds once it has settled in DRAM: 64 lines, each one different.
PAGE_TEXT = b"".join(f"alice's page, line {i:02d}: balance {100 + i} EUR, keep it private".encode()
                     .ljust(LINE, b".") for i in range(LINES))
#: The line alice writes just before reclaim picks her page: still dirty in the cache under her KeyID.
FRESH_INDEX = 1
FRESH_LINE = b"fresh: launch code 4711, written just before swap-out".ljust(LINE, b"!")

assert len(PAGE_TEXT) == PAGE_SIZE and len(FRESH_LINE) == LINE


def policy_for(path: str, encrypted: bool = False) -> Policy:
    """``Policy.fixed()`` with only its swap path and encrypted swap changed."""
    choose(path, PATHS, "swap path")
    flag(encrypted, "encrypted (encrypted swap)")
    return Policy.fixed().replace(swap_path=SWAP_PATH_OF[path], encrypted_swap=encrypted)


def _lines(data: bytes) -> list[bytes]:
    return [data[i:i + LINE] for i in range(0, len(data), LINE)]


def leaking_lines(device: bytes, page: bytes) -> list[int]:
    """Which 64-byte lines of ``page`` appear, byte for byte, anywhere in ``device``."""
    device, page = byteslike(device, "device"), byteslike(page, "page", LINE)
    return [i for i, line in enumerate(_lines(page)) if line in device]


@dataclass(frozen=True)
class SwapRun:
    """One page out to swap and back, and everything a learner would look at."""

    path: str
    flush: bool
    frame: str
    encrypted: bool
    keyid: int  # the page's KeyID
    frame_out: int  # the frame the page left
    frame_in: int  # the frame it came back into
    reused_by: str | None  # who took frame_out while the page was on swap (None: nobody)
    slot: int
    expected: bytes  # the page as alice last wrote it (PAGE_TEXT with the fresh line)
    settled: bytes  # the page as it sat in DRAM before the fresh write (PAGE_TEXT)
    device: bytes  # the raw bytes of the slot on the swap device
    device_lines: tuple[int, ...]  # the page's lines found on the whole device
    slot_encrypted: bool  # the device's own record: was the slot encrypted with the swap key
    read_back: bytes  # what alice reads after the page came back and time passed
    dram_at_swap_out: bytes  # the frame's ciphertext just before Kernel.swap_out
    dram_after_swap_in: bytes  # the ciphertext of the frame it came back into, after time passed
    costs_out: dict  # events of the swap-out (with the scenario's flush, if any)
    costs_in: dict  # events of the swap-in

    @property
    def plaintext_visible(self) -> bool:
        """Is any line of alice's page readable, as it is, on the swap device?"""
        return bool(self.device_lines)

    @property
    def line_status(self) -> tuple[str, ...]:
        """Per line of the read-back: "right", "old" (the settled bytes, not what alice wrote) or "garbage"."""
        out = []
        for got, want, old in zip(_lines(self.read_back), _lines(self.expected), _lines(self.settled)):
            out.append("right" if got == want else "old" if got == old else "garbage")
        return tuple(out)

    @property
    def intact(self) -> bool:
        return self.read_back == self.expected

    @property
    def verdict(self) -> str:
        """What alice reads back, in a few words."""
        status = self.line_status
        if self.intact:
            return "intact: every line as alice wrote it"
        if set(status) == {"garbage"}:
            return "GARBAGE in every line"
        old = [i for i, s in enumerate(status) if s == "old"]
        bad = [i for i, s in enumerate(status) if s == "garbage"]
        parts = []
        if old:
            parts.append(f"line{'s' if len(old) > 1 else ''} {', '.join(map(str, old))} LOST "
                         f"(the bytes from before alice's last write)")
        if bad:
            parts.append(f"{len(bad)} line(s) GARBAGE")
        right = status.count("right")
        return "; ".join(parts) + f"; {right} of {LINES} lines right"

    @property
    def device_verdict(self) -> str:
        """What the device slot holds, in a few words (from searching the device's bytes)."""
        n = len(self.device_lines)
        if n:
            return f"PLAINTEXT visible: {n} of the page's {LINES} lines are on the device as they are"
        what = ("swap-key ciphertext" if self.slot_encrypted
                else f"the TME decryption of KeyID-{self.keyid} ciphertext" if self.path == "keyid0"
                else "not the page")
        return f"no plaintext: none of the page's {LINES} lines is on the device ({what})"

    @property
    def aes_blocks(self) -> int:
        """16-byte AES blocks the kernel encrypts in software per swap-out (and decrypts per swap-in)."""
        return PAGE_SIZE // BLOCK if self.slot_encrypted else 0

    @property
    def settings(self) -> str:
        return (f"path={self.path!r}, flush={self.flush}, frame={self.frame!r}, encrypted={self.encrypted}")


@lru_cache(maxsize=2 * 2)
def _prepared(path: str, encrypted: bool):
    """alice's encrypted page holding PAGE_TEXT, settled in DRAM; never modified (runs use clones)."""
    return encrypted_page(policy_for(path, encrypted), PAGE_TEXT, trace=False)


def swap_run(path: str = "keyid0", flush: bool = False, frame: str = "other", encrypted: bool = False) -> SwapRun:
    """Swap alice's page out and back in under one setting of the four knobs (see the module docstring).

    Order: the page holds :data:`PAGE_TEXT`, settled in DRAM; alice writes :data:`FRESH_LINE` over
    line 1 (dirty in the cache under her KeyID); [``flush``: the page's KeyID alias is flushed];
    ``Kernel.swap_out``; [``frame="other"``: gdb maps a page and writes to it]; alice touches her
    page, which faults it back in; time passes (``wbinvd``); alice reads the whole page.

    The 16 results are cached: a second call with the same setting returns the same object."""
    choose(path, PATHS, "swap path")
    flush = flag(flush, "flush (before swap-out)")
    choose(frame, FRAMES, "frame (the swap-in frame)")
    encrypted = flag(encrypted, "encrypted (encrypted swap)")
    return _swap_run(path, flush, frame, encrypted)


@lru_cache(maxsize=16)
def _swap_run(path: str, flush: bool, frame: str, encrypted: bool) -> SwapRun:
    page = _prepared(path, encrypted).clone()
    k, m, alice, gdb = page.kernel, page.machine, page.owner, page.debugger
    alice.write(page.va + FRESH_INDEX * LINE, FRESH_LINE)
    expected = PAGE_TEXT[:FRESH_INDEX * LINE] + FRESH_LINE + PAGE_TEXT[(FRESH_INDEX + 1) * LINE:]
    with k.measure() as costs_out:
        if flush:  # the step a KeyID-aware kernel adds before swap-out: clflush the page's own alias
            m.flush_range(m.hpa(page.pa, page.keyid), PAGE_SIZE)
        dram_out = m.dram(page.pa, PAGE_SIZE)
        slot = k.swap_out(alice, page.va)
    device_slot = k.swap.slot_bytes(slot)
    slot_encrypted = k.swap.slots[slot].encrypted
    found = tuple(leaking_lines(k.swap.device_bytes(), expected))
    reused_by = None
    if frame == "other":
        filler = gdb.mmap(PAGE_SIZE, RW)
        gdb.write(filler, b"gdb's own data")
        if gdb.pagemap(filler)["pa"] == page.pa:
            reused_by = gdb.name
    with k.measure() as costs_in:
        alice.read(page.va, 1)  # alice touches her page: the fault swaps it back in
    m.wbinvd()  # time passes: every line the swap-in left in the caches reaches DRAM
    info = alice.pagemap(page.va)
    read_back = alice.read(page.va, PAGE_SIZE)
    return SwapRun(path, flush, frame, encrypted, page.keyid, page.pa // PAGE_SIZE, info["frame"], reused_by, slot,
                   expected, PAGE_TEXT, device_slot, found, slot_encrypted, read_back, dram_out,
                   m.dram(info["pa"], PAGE_SIZE), {kk: v for kk, v in costs_out.items() if v},
                   {kk: v for kk, v in costs_in.items() if v})


def all_runs() -> list[SwapRun]:
    """Every one of the 16 settings, in the order path, flush, frame, encrypted."""
    return [swap_run(p, fl, fr, e) for p in PATHS for fl in (False, True) for fr in FRAMES for e in (False, True)]


# ------------------------------------------------------------------------------------------------
# Why the same frame came back intact: decrypt, then encrypt, with one key at one address
# ------------------------------------------------------------------------------------------------
def _keyed_hash(pa: int) -> int:
    return int.from_bytes(hashlib.sha256(b"firmware secret" + pa.to_bytes(8, "little")).digest()[:8], "little")


#: name -> tweak function of a line's physical address. The first is the model's (memory.line_tweak);
#: the others are other choices a memory controller could make, since Intel has not published its own.
TWEAKS = {
    "the line's address (this model's choice)": lambda pa: pa - pa % LINE,
    "the line number times an odd constant": lambda pa: ((pa // LINE) * 0x9E3779B97F4A7C15) % (1 << 64),
    "a keyed hash of the address": _keyed_hash,
}


def roundtrip(cipher: XTSCipher, tweak, c: bytes, out_pa: int, in_pa: int) -> bytes:
    """The ciphertext DRAM holds after a line left through KeyID 0 at ``out_pa`` and came back
    through KeyID 0 at ``in_pa``: decrypted with the KeyID-0 cipher under ``tweak(out_pa)``, then
    encrypted with it again under ``tweak(in_pa)``."""
    if not isinstance(cipher, XTSCipher):
        raise ParameterError(f"cipher must be an XTSCipher (the KeyID-0 key); got {shown(cipher)}")
    if not callable(tweak):
        raise ParameterError(f"tweak must be a function of the physical address, like those in TWEAKS; got {shown(tweak)}")
    c = byteslike(c, "c (one line of ciphertext)", LINE, LINE)
    out_pa, in_pa = whole(out_pa, "out_pa", 0, 1 << 52), whole(in_pa, "in_pa", 0, 1 << 52)
    return cipher.encrypt(tweak(in_pa), cipher.decrypt(tweak(out_pa), c))


@dataclass(frozen=True)
class IdentityRow:
    """One tweak function: does a line that went out and back through KeyID 0 come back?"""

    tweak: str
    same_frame_ciphertext_back: bool  # the exact ciphertext back in DRAM at the same address
    same_frame_owner_reads: bool  # the owner (KeyID k) reads its plaintext there
    other_frame_owner_reads: bool  # ... and after coming back at another address
    counter_owner_reads: bool  # same address, but the tweak also counts writes (not address-only)


def identity_rows(*, seed: int = 5, out_pa: int = 0x4000 + 64, in_pa: int = 0x5000 + 64) -> list[IdentityRow]:
    """For each of :data:`TWEAKS`: one line of alice's, encrypted with her key at ``out_pa``, goes
    out through a KeyID-0 cipher (the TME key) and back; what DRAM and alice get.

    The keys are random (seeded): the outcome must not depend on them. The last column adds a
    write counter to the tweak (1 for the first write, 2 for the swap-in's write), so the tweak
    no longer depends only on the address."""
    seed = whole(seed, "seed", 0)
    out_pa, in_pa = whole(out_pa, "out_pa", 0, 1 << 52), whole(in_pa, "in_pa", 0, 1 << 52)
    rng = np.random.default_rng(seed)
    alice_key = XTSCipher(rng.bytes(16), rng.bytes(16))
    tme_key = XTSCipher(rng.bytes(16), rng.bytes(16))
    plain = FRESH_LINE
    rows = []
    for name, tweak in TWEAKS.items():
        c = alice_key.encrypt(tweak(out_pa), plain)
        back_same = roundtrip(tme_key, tweak, c, out_pa, out_pa)
        back_other = roundtrip(tme_key, tweak, c, out_pa, in_pa)
        c1 = alice_key.encrypt(tweak(out_pa) ^ 1, plain)  # written once: counter 1
        back_counter = tme_key.encrypt(tweak(out_pa) ^ 2, tme_key.decrypt(tweak(out_pa) ^ 1, c1))
        rows.append(IdentityRow(
            name, back_same == c, alice_key.decrypt(tweak(out_pa), back_same) == plain,
            alice_key.decrypt(tweak(in_pa), back_other) == plain,
            alice_key.decrypt(tweak(out_pa) ^ 2, back_counter) == plain))
    return rows


# ------------------------------------------------------------------------------------------------
# A page that outlives its VMA: get_user_pages() pins it, munmap() removes the VMA
# ------------------------------------------------------------------------------------------------
COUNTS = {
    "vma": "KeyID users counted per VMA (RFC v2 counted VMAs)",
    "page": "KeyID users counted per page too (the 2019 MKTME series)",
}
OUTLIVE_DATA = b"alice's O_DIRECT buffer: 64 bytes on their way to the disk".ljust(LINE, b".")


@dataclass(frozen=True)
class OutliveRun:
    count: str
    keyid: int  # alice's KeyID
    bob_keyid: int  # the KeyID bob's new key got
    refs_after_munmap: dict  # what the kernel model's KeyID count says once the VMA is gone
    frame_ciphertext_unchanged: bool  # the pinned frame still holds alice's ciphertext at the DMA
    device_read: bytes  # what the device's DMA through KeyID k read from the pinned page
    expected: bytes

    @property
    def intact(self) -> bool:
        return self.device_read == self.expected


def outlive_vma(count: str = "vma") -> OutliveRun:
    """alice's encrypted buffer is pinned by ``get_user_pages()`` for a device (an O_DIRECT write
    in flight); alice unmaps it and invalidates her key; bob adds a key; the device's DMA, which
    carries alice's KeyID as the core series' DMA did, reads the pinned page.

    The model has no page pins (modelling choice), so this plays the two rules by their effect:
    with ``count="vma"`` the KeyID is free once the VMA is gone, and bob's key takes it before
    the DMA; with ``count="page"`` the pinned page holds the KeyID until it is released after the
    DMA (``put_page()``), so the DMA comes first and bob gets the KeyID only afterwards."""
    choose(count, COUNTS, "count (what holds a KeyID)")
    k, alice, _, serial = boot("fixed", trace=False)
    va, _ = encrypt_pages(k, alice, OUTLIVE_DATA, serial)
    k.machine.wbinvd()
    (pa,) = k.get_user_pages(alice, va)  # the device's pin
    keyid = alice.pagemap(va)["keyid"]
    before = k.machine.dram(pa, LINE)
    hpa = k.machine.hpa(pa, keyid)
    if count == "page":
        got = k.machine.dma_read(hpa, LINE)  # the I/O ends while the page still holds its KeyID
    alice.munmap(va, PAGE_SIZE)
    refs = k.keys.refs(keyid)
    alice.keyctl_invalidate(serial)
    bob = k.spawn("bob")
    bob_keyid = k.keys.keyid_of(bob.add_key("mktme", "bob-key", "type=cpu algorithm=aes-xts-128"))
    unchanged = k.machine.dram(pa, LINE) == before
    if count == "vma":
        got = k.machine.dma_read(hpa, LINE)  # the I/O ends after bob's key took the KeyID
    return OutliveRun(count, keyid, bob_keyid, refs, unchanged, got, OUTLIVE_DATA)


# ------------------------------------------------------------------------------------------------
# Exercise helpers: a software swap key, and a swap device to read
# ------------------------------------------------------------------------------------------------
def _swap_cipher(key) -> XTSCipher:
    key = byteslike(key, "key (the swap key)", 32, 32)
    return XTSCipher(key[:16], key[16:])


def seal(key: bytes, page: bytes) -> bytes:
    """Encrypt one page with a 32-byte swap key (AES-XTS, line i of the page under tweak i), as
    dm-crypt swap would encrypt it on its way to the disk."""
    page = byteslike(page, "page", PAGE_SIZE, PAGE_SIZE)
    return _swap_cipher(key).encrypt_lines(np.arange(LINES), page)


def unseal(key: bytes, data: bytes) -> bytes:
    """Undo :func:`seal`."""
    data = byteslike(data, "data (a sealed page)", PAGE_SIZE, PAGE_SIZE)
    return _swap_cipher(key).decrypt_lines(np.arange(LINES), data)


@dataclass(frozen=True)
class DeviceDump:
    """A stolen swap disk, and what each process's page held (exercise 2)."""

    dump: bytes  # every slot of the device, empty slots as zeros
    pages: dict  # process name -> the page it swapped out (4096 bytes)
    how: dict  # process name -> how its page went out (for the explanation after the exercise)
    truth: dict  # slot -> name of the process whose plaintext the slot shows (computed)


def _dump_page(name: str, rng: np.random.Generator, sparse: bool) -> bytes:
    if sparse:  # a mostly empty page: one line of text, zeros elsewhere
        line = f"{name}'s only secret: PIN {int(rng.integers(1000, 9999))}".encode().ljust(LINE, b".")
        return bytes(LINE * 3) + line + bytes(PAGE_SIZE - 4 * LINE)
    return b"".join(f"{name}'s page, line {i:02d}: {rng.bytes(8).hex()}".encode().ljust(LINE, b".")
                    for i in range(LINES))


def device_dump(seed: int = 505) -> DeviceDump:
    """Five processes swap a page out, each under a different kernel setting, on one device.

    * alice: encrypted page, swapped through its own KeyID, swap not encrypted;
    * bob: a page at KeyID 0 (never encrypted), swapped through KeyID 0;
    * carol: encrypted page, swapped through the KeyID-0 alias (garbage on the device);
    * dave: encrypted page, its own KeyID, encrypted swap;
    * erin: encrypted page that is mostly zeros, its own KeyID, swap not encrypted.

    A sixth page (frank's) goes out first and comes back, so its slot is empty again."""
    seed = whole(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    k, _, _, _ = boot("fixed", seed=seed, trace=False)
    fixed = k.policy
    settings = {
        "frank": ("page_keyid", False, True, False),
        "alice": ("page_keyid", False, True, False),
        "bob": ("page_keyid", False, False, False),
        "carol": ("direct_map_keyid0", False, True, False),
        "dave": ("page_keyid", True, True, False),
        "erin": ("page_keyid", False, True, True),
    }
    how_text = {
        "frank": "swapped out and back in: its slot is empty again",
        "alice": "encrypted page, swapped through its own KeyID, swap not encrypted",
        "bob": "page at KeyID 0 (never encrypted), swap not encrypted",
        "carol": "encrypted page, swapped through the KeyID-0 alias",
        "dave": "encrypted page, its own KeyID, encrypted swap",
        "erin": "encrypted page (mostly zeros), its own KeyID, swap not encrypted",
    }
    order = list(settings)
    rest = order[1:]
    rng.shuffle(rest)
    pages, procs = {}, {}
    for name in [order[0]] + rest:
        swap_path, encrypted_swap, encrypt, sparse = settings[name]
        proc = k.spawn(name)
        data = _dump_page(name, rng, sparse)
        if encrypt:
            va, _ = encrypt_pages(k, proc, data)
        else:
            va = proc.mmap(PAGE_SIZE, RW)
            proc.write(va, data)
        k.policy = fixed.replace(swap_path=swap_path, encrypted_swap=encrypted_swap)
        k.swap_out(proc, va)
        pages[name], procs[name] = data, (proc, va)
    frank, fva = procs["frank"]
    frank.read(fva, 1)  # frank's page comes back: its slot is freed
    k.policy = fixed
    dump = k.swap.device_bytes()
    truth = {}
    for entry in k.swap.info():
        slot = entry["slot"]
        name = k.processes[entry["pid"]].name
        raw = dump[slot * PAGE_SIZE:(slot + 1) * PAGE_SIZE]
        if any(line in raw for line in _lines(pages[name]) if line.strip(b"\0")):
            truth[slot] = name
    del pages["frank"]
    return DeviceDump(dump, pages, {n: how_text[n] for n in pages}, truth)
