"""Per-package key tables and PCONFIG's MKTME_KEY_PROGRAM leaf.

Each package (socket) has its own table mapping KeyID -> how to encrypt: with the KeyID's
own key, not at all, or like KeyID 0 (TME). PCONFIG programs one entry of *one* package's
table, so the kernel has to run it on every package (Linux's key service picked one "lead
CPU" per package). PCONFIG never touches caches or TLBs: lines already cached under a KeyID
keep their plaintext, and whatever key is in the table when a line is finally written back
is the key that encrypts it.

Return codes follow the 2018-era documents the RFC was written against: invalid command,
KeyID and algorithm come back in RAX as 1, 3 and 4. Today's SDM raises #GP(0) for those three
instead and only returns ENTROPY_ERROR (2) and DEVICE_BUSY (5). The simulator keeps the 2018
behaviour because it makes the failure visible as a value a lesson can print.

Keys are not readable by software. The only window into a table is :meth:`KeyTable.view`,
which shows each entry's mode and a short *fingerprint* of its key: a simulator-only
debugging aid, labelled as such wherever a lesson shows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum, IntEnum
from functools import lru_cache

from .address import ALG_KEY_BYTES, ALG_NAMES
from .errors import KeyMaterialError
from .params import byteslike
from .xts import XTSCipher

__all__ = ["PconfigCommand", "PconfigStatus", "KeyMode", "KeyEntry", "KeyTable", "key_fingerprint",
           "make_key_entry"]


class PconfigCommand(IntEnum):
    """KEYID_CTRL[7:0] of MKTME_KEY_PROGRAM_STRUCT."""

    KEYID_SET_KEY_DIRECT = 0
    KEYID_SET_KEY_RANDOM = 1
    KEYID_CLEAR_KEY = 2
    KEYID_NO_ENCRYPT = 3


class PconfigStatus(IntEnum):
    """What MKTME_KEY_PROGRAM returns in RAX (2018-era documents)."""

    PROG_SUCCESS = 0
    INVALID_PROG_CMD = 1
    ENTROPY_ERROR = 2
    INVALID_KEYID = 3
    INVALID_ENC_ALG = 4
    DEVICE_BUSY = 5

    @property
    def retryable(self) -> bool:
        """Linux's key service retried these two (up to 10 times); the others are fatal."""
        return self in (PconfigStatus.ENTROPY_ERROR, PconfigStatus.DEVICE_BUSY)


class KeyMode(str, Enum):
    """The three things a key-table entry can say (Intel spec, "memory encryption modes")."""

    TME = "tme"  # behave like KeyID 0: the TME key, or no encryption under TME bypass
    KEY = "key"  # encrypt with this KeyID's own data and tweak keys
    NO_ENCRYPT = "no-encrypt"  # store plaintext in DRAM


@dataclass(frozen=True)
class KeyEntry:
    """One key-table entry. ``cipher`` is None unless ``mode`` is KEY."""

    mode: KeyMode = KeyMode.TME
    alg: int = 0
    cipher: XTSCipher | None = None
    fingerprint: str = ""
    source: str = ""  # "direct" or "random": how the key was made (for the lessons' views)

    def describe(self) -> str:
        if self.mode is KeyMode.KEY:
            return f"{ALG_NAMES.get(self.alg, '?')} key #{self.fingerprint} ({self.source})"
        return {"tme": "TME behaviour (KeyID-0 key)", "no-encrypt": "no encryption"}[self.mode.value]


def key_fingerprint(data_key: bytes, tweak_key: bytes) -> str:
    """A 6-hex-digit name for a key pair, so lessons can tell keys apart without seeing them."""
    data_key, tweak_key = byteslike(data_key, "data_key", 1, 64), byteslike(tweak_key, "tweak_key", 1, 64)
    return hashlib.sha256(b"mktme-lite" + data_key + tweak_key).hexdigest()[:6]


def make_key_entry(data_key: bytes, tweak_key: bytes, alg: int, source: str) -> KeyEntry:
    """The entry PCONFIG writes for a key pair (checked). Entries are frozen and the cipher keeps
    no state between calls, so programming the same key again reuses the entry made the first
    time: a scenario that re-keys thousands of cloned machines builds each AES key schedule once."""
    if isinstance(data_key, bytes) and isinstance(tweak_key, bytes):
        return _key_entry(data_key, tweak_key, alg, source)
    return _key_entry.__wrapped__(data_key, tweak_key, alg, source)


@lru_cache(maxsize=256)
def _key_entry(data_key: bytes, tweak_key: bytes, alg: int, source: str) -> KeyEntry:
    size = ALG_KEY_BYTES[alg]
    for name, k in (("data_key", data_key), ("tweak_key", tweak_key)):
        if not isinstance(k, (bytes, bytearray)) or len(k) != size:
            got = f"{len(k)} bytes" if isinstance(k, (bytes, bytearray)) else type(k).__name__
            raise KeyMaterialError(f"{name} must be {size} bytes for {ALG_NAMES[alg]}; got {got}")
    return KeyEntry(
        mode=KeyMode.KEY,
        alg=alg,
        cipher=XTSCipher(bytes(data_key), bytes(tweak_key)),
        fingerprint=key_fingerprint(bytes(data_key), bytes(tweak_key)),
        source=source,
    )


class KeyTable:
    """The key table of one package. KeyIDs 1..N start in TME mode until programmed."""

    __slots__ = ("package", "nr_keyids", "_entries")

    def __init__(self, package: int, nr_keyids: int):
        self.package = package
        self.nr_keyids = nr_keyids
        self._entries: dict[int, KeyEntry] = {}

    def entry(self, keyid: int) -> KeyEntry:
        """The entry the encryption engine uses for ``keyid`` (KeyID 0 is always TME)."""
        if keyid == 0:
            return _TME_ENTRY
        return self._entries.get(keyid, _TME_ENTRY)

    def program(self, keyid: int, entry: KeyEntry) -> None:
        if entry.mode is KeyMode.TME:
            self._entries.pop(keyid, None)
        else:
            self._entries[keyid] = entry

    def copy(self) -> "KeyTable":
        t = KeyTable(self.package, self.nr_keyids)
        t._entries = dict(self._entries)
        return t

    def view(self) -> dict[int, str]:
        """Simulator-only view of the programmed entries (KeyIDs not listed are in TME mode)."""
        return {k: e.describe() for k, e in sorted(self._entries.items())}

    def programmed(self) -> dict[int, KeyEntry]:
        return dict(sorted(self._entries.items()))


_TME_ENTRY = KeyEntry()
