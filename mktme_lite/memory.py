"""DRAM and the memory encryption engine.

DRAM holds what a cold-boot attacker or a bus probe sees: ciphertext for every encrypting
KeyID, plaintext for NO_ENCRYPT KeyIDs and under TME bypass. It is indexed by the address
*without* KeyID bits: the KeyID selects a key inside the SoC and never reaches the DIMM.

Modelling choices (the real details are unpublished; lessons say so):

* XTS data unit = one 64-byte cache line; tweak = the line's physical address with the KeyID
  bits stripped, as a 128-bit little-endian number (the IEEE 1619 convention).
* The engine that encrypts a write-back (and decrypts a fill) sits in the memory controller
  that owns the address (its home package) and uses the entry that package's key table holds
  for the KeyID *at that moment*, whichever cache the line comes from. So a dirty line written
  back just before a PCONFIG on its home package is encrypted with the old key, just after
  with the new one: the timing dependence of the 2018 thread (claim C7).
* DRAM powers up holding arbitrary bits (seeded noise), so reading memory nobody wrote gives
  noise, as on real hardware.
"""

from __future__ import annotations

import numpy as np

from .errors import AddressError
from .params import whole
from .keytable import KeyMode, KeyTable
from .xts import LINE, XTSCipher

__all__ = ["DRAM", "EncryptionEngine", "LINE", "line_tweak"]


def line_tweak(pa: int) -> int:
    """The XTS data-unit number the engine uses for the line holding ``pa``.

    Modelling choice (Intel has not published the real construction): the 64-byte-aligned
    physical address with the KeyID bits already stripped, used directly as the data-unit
    number (encoded little-endian, the IEEE 1619 convention).
    """
    if type(pa) is not int or pa < 0:
        pa = whole(pa, "pa (a physical address)", 0, hex_=True)
    return pa - pa % LINE


class DRAM:
    """Byte-addressed memory holding what is physically stored on the DIMMs."""

    __slots__ = ("size", "cells")

    def __init__(self, size: int, rng: np.random.Generator | None = None):
        self.size = size
        if rng is None:
            self.cells = bytearray(size)
        else:
            self.cells = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())

    def check(self, pa: int, n: int = LINE) -> tuple[int, int]:
        """``(pa, n)`` as ints when bytes ``pa .. pa+n-1`` are all in DRAM; ``n`` is at least 1
        (a read of no bytes, or of -5, is a mistake, not an empty answer)."""
        if type(pa) is not int:
            pa = whole(pa, "physical address")
        if type(n) is not int or n < 1:
            n = whole(n, "length (a positive byte count)", 1)
        if pa < 0 or pa + n > self.size:
            raise AddressError(
                f"bytes {pa:#x}..{pa + n - 1:#x} are outside DRAM; this machine has {self.size:#x} "
                f"bytes ({self.size // 1024} KiB), addresses 0..{self.size - 1:#x}"
            )
        return pa, n

    def read_line(self, pa: int) -> bytes:
        return bytes(self.cells[pa : pa + LINE])

    def write_line(self, pa: int, data: bytes) -> None:
        self.cells[pa : pa + LINE] = data

    def read(self, pa: int, n: int) -> bytes:
        pa, n = self.check(pa, n)
        return bytes(self.cells[pa : pa + n])

    def write(self, pa: int, data: bytes) -> None:
        pa, _ = self.check(pa, len(data))
        self.cells[pa : pa + len(data)] = data

    def copy(self) -> "DRAM":
        d = DRAM.__new__(DRAM)
        d.size = self.size
        d.cells = bytearray(self.cells)
        return d


class EncryptionEngine:
    """The AES-XTS engine of one package: encrypts write-backs and decrypts fills.

    It looks the KeyID up in its package's key table on every line, so a key change by PCONFIG
    takes effect for the very next write-back or fill, whatever is still sitting in the caches.
    """

    __slots__ = ("table", "tme_cipher", "tme_bypass")

    def __init__(self, table: KeyTable, tme_cipher: XTSCipher | None, tme_bypass: bool):
        self.table = table
        self.tme_cipher = tme_cipher
        self.tme_bypass = tme_bypass

    def _cipher(self, keyid: int) -> XTSCipher | None:
        entry = self.table.entry(keyid)
        if entry.mode is KeyMode.KEY:
            return entry.cipher
        if entry.mode is KeyMode.NO_ENCRYPT or self.tme_bypass:
            return None
        return self.tme_cipher

    def encrypt_line(self, pa: int, keyid: int, plaintext: bytes) -> bytes:
        c = self._cipher(keyid)
        return bytes(plaintext) if c is None else c.encrypt(line_tweak(pa), plaintext)

    def decrypt_line(self, pa: int, keyid: int, stored: bytes) -> bytes:
        c = self._cipher(keyid)
        return bytes(stored) if c is None else c.decrypt(line_tweak(pa), stored)

    def decrypt_lines(self, pas: list[int], keyid: int, stored: bytes) -> bytes:
        """Many lines of one KeyID in one call (the batched XTS path)."""
        c = self._cipher(keyid)
        return bytes(stored) if c is None else c.decrypt_lines([line_tweak(p) for p in pas], stored)

    def encrypt_lines(self, pas: list[int], keyid: int, plaintext: bytes) -> bytes:
        c = self._cipher(keyid)
        return bytes(plaintext) if c is None else c.encrypt_lines([line_tweak(p) for p in pas], plaintext)
