"""A swap device whose slots a lesson can read: what really lands on the disk.

Each slot holds one page exactly as the swap I/O produced it. The kernel decides which alias
the I/O goes through (``Policy.swap_path``): block swap DMAs from the page's physical address
and zram compresses it through ``kmap()``; both see the page through one KeyID, and that KeyID
is the whole story of claim C4.

With ``Policy.encrypted_swap`` the kernel encrypts each slot with a swap key it made at boot
(AES-XTS, tweak = slot number * 64 + line, software crypto, like dm-crypt swap). Without it,
the page lands on the device as plaintext whenever the I/O used the page's own KeyID: memory
encryption protects DRAM, not the disk. Intel recommended encrypted swap in its documents
but never enforced it (Dave Hansen, 4 Dec 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..params import byteslike, whole
from ..xts import LINE, XTSCipher
from .constants import LINES_PER_PAGE, MAX_SWAP_SLOTS, PAGE_SIZE


@dataclass
class SwapSlot:
    """What the device holds in one slot, plus where it came from (for lessons)."""

    data: bytes
    encrypted: bool
    pid: int
    vaddr: int
    keyid: int
    alias_keyid: int  # the KeyID the swap-out read the page through


class SwapDevice:
    """``nr_slots`` page-sized slots, handed out first-free."""

    def __init__(self, nr_slots: int, swap_key: bytes):
        nr_slots = whole(nr_slots, "swap_slots (pages of swap)", 0, MAX_SWAP_SLOTS)
        self.nr_slots = nr_slots
        self.slots: list[SwapSlot | None] = [None] * nr_slots
        self._key = bytes(swap_key)  # kept as bytes so the device can be deep-copied

    def _cipher(self) -> XTSCipher:
        return XTSCipher(self._key[:16], self._key[16:32])

    @property
    def nr_free(self) -> int:
        return sum(1 for s in self.slots if s is None)

    def alloc(self) -> int | None:
        for i, s in enumerate(self.slots):
            if s is None:
                return i
        return None

    def _tweaks(self, slot: int) -> np.ndarray:
        return np.arange(LINES_PER_PAGE, dtype=np.uint64) + np.uint64(slot * LINES_PER_PAGE)

    def write(self, slot: int, data: bytes, encrypt: bool, pid: int, vaddr: int, keyid: int, alias_keyid: int) -> None:
        assert len(data) == PAGE_SIZE and self.slots[slot] is None
        if encrypt:
            data = self._cipher().encrypt_lines(self._tweaks(slot), data)
        self.slots[slot] = SwapSlot(bytes(data), encrypt, pid, vaddr, keyid, alias_keyid)

    def _check_slot(self, slot) -> int:
        if self.nr_slots == 0:
            raise ConfigError("this swap device has no slots (swap_slots=0)")
        return whole(slot, "slot (a swap slot number)", 0, self.nr_slots - 1)

    def read(self, slot: int) -> bytes:
        """The page stored in ``slot``, decrypted if the slot was encrypted (what swap-in gets)."""
        s = self.slots[self._check_slot(slot)]
        if s is None:
            raise ConfigError(f"swap slot {slot} is empty")
        if s.encrypted:
            return self._cipher().decrypt_lines(self._tweaks(slot), s.data)
        return s.data

    def free(self, slot: int) -> None:
        self.slots[slot] = None

    # -- what a lesson looks at --------------------------------------------------------------------
    def slot_bytes(self, slot: int) -> bytes:
        """The raw bytes on the device for ``slot`` (ciphertext if the slot is encrypted)."""
        s = self.slots[self._check_slot(slot)]
        if s is None:
            raise ConfigError(f"swap slot {slot} is empty; used slots are {self.used()}")
        return s.data

    def used(self) -> list[int]:
        return [i for i, s in enumerate(self.slots) if s is not None]

    def device_bytes(self) -> bytes:
        """Everything an attacker who steals the swap disk reads (empty slots read as zeros)."""
        return b"".join(s.data if s is not None else bytes(PAGE_SIZE) for s in self.slots)

    def contains(self, needle: bytes) -> bool:
        """Whether ``needle`` appears anywhere on the device (e.g. a secret in plaintext)."""
        needle = byteslike(needle, "needle (the bytes to look for)", 1, PAGE_SIZE)
        return needle in self.device_bytes()

    def info(self) -> list[dict]:
        return [
            {"slot": i, "pid": s.pid, "vaddr": s.vaddr, "keyid": s.keyid,
             "read_through_keyid": s.alias_keyid, "encrypted": s.encrypted}
            for i, s in enumerate(self.slots) if s is not None
        ]

    def __repr__(self) -> str:
        return f"SwapDevice({self.nr_slots - self.nr_free}/{self.nr_slots} slots used)"


assert PAGE_SIZE == LINES_PER_PAGE * LINE
