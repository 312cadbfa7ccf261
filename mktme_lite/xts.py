"""XTS-AES (IEEE Std 1619-2007) built on AES-ECB from pycryptodome.

pycryptodome has no XTS mode, so this module builds it from two AES-ECB ciphers:

    T0 = AES-Enc(key2, tweak as 16 little-endian bytes)
    for block j:  C_j = AES-Enc(key1, P_j xor T_j) xor T_j,   T_{j+1} = T_j * alpha  in GF(2^128)

Multiplying by alpha is a one-bit left shift of the 128-bit *little-endian* integer, with
0x87 folded back into the low byte on carry-out. The tweak is the data-unit number encoded
little-endian, so the IEEE 1619 test vectors apply directly.

Only whole 16-byte blocks are supported (no ciphertext stealing): the memory encryption
engine always works on 64-byte cache lines, and a data unit that is not a multiple of 16
bytes is refused with a clear error.

Two paths:
* ``xts_encrypt`` / ``xts_decrypt``: one data unit (any multiple of 16 bytes).
* ``XTSCipher.encrypt_lines`` / ``decrypt_lines``: many 64-byte lines with *different*
  tweaks in one call (numpy), for DRAM dumps and page-sized work. Three ECB calls in total,
  whatever the number of lines.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from Crypto.Cipher import AES

from .errors import DataError, KeyMaterialError

BLOCK = 16
LINE = 64
_MASK128 = (1 << 128) - 1
_GF128_FEEDBACK = 0x87

__all__ = [
    "XTSCipher",
    "xts_encrypt",
    "xts_decrypt",
    "gf128_mul_alpha",
    "tweak_sequence",
]


def gf128_mul_alpha(t: int) -> int:
    """Multiply a 128-bit tweak (as a little-endian integer) by alpha in GF(2^128).

    This is the step XTS uses to derive the tweak of block j+1 from that of block j.
    """
    t <<= 1
    if t >> 128:
        t = (t & _MASK128) ^ _GF128_FEEDBACK
    return t


def _check_keys(key1: bytes, key2: bytes) -> None:
    for name, key in (("key1", key1), ("key2", key2)):
        if not isinstance(key, (bytes, bytearray)):
            raise KeyMaterialError(
                f"{name} must be bytes of length 16 (AES-XTS-128) or 32 (AES-XTS-256); got {type(key).__name__}"
            )
        if len(key) not in (16, 32):
            raise KeyMaterialError(
                f"{name} is {len(key)} bytes; AES-XTS keys are 16 bytes (AES-XTS-128) or 32 bytes (AES-XTS-256)"
            )
    if len(key1) != len(key2):
        raise KeyMaterialError(
            f"key1 is {len(key1)} bytes but key2 is {len(key2)}: the data key and the tweak key must have the same size"
        )


def _check_tweak(tweak: int) -> None:
    if not isinstance(tweak, int) or isinstance(tweak, bool):
        raise DataError(f"tweak must be an int (the data-unit number); got {type(tweak).__name__}")
    if not 0 <= tweak <= _MASK128:
        raise DataError(f"tweak must be between 0 and 2**128 - 1; got {tweak}")


def _check_data(data, unit: int = BLOCK) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DataError(f"data must be bytes; got {type(data).__name__}")
    if len(data) == 0 or len(data) % unit:
        raise DataError(
            f"data is {len(data)} bytes; XTS here needs a non-empty multiple of {unit} bytes "
            "(no ciphertext stealing: the memory engine works on whole 16-byte blocks)"
        )


class XTSCipher:
    """An XTS-AES cipher for one (data key, tweak key) pair.

    Holding the two ECB objects avoids re-running the AES key schedule on every line, which
    is how a memory encryption engine behaves too: keys are loaded once into the key table.
    """

    __slots__ = ("_data", "_tweak", "key_bits")

    def __init__(self, key1: bytes, key2: bytes):
        _check_keys(key1, key2)
        self._data = AES.new(bytes(key1), AES.MODE_ECB)
        self._tweak = AES.new(bytes(key2), AES.MODE_ECB)
        self.key_bits = 8 * len(key1)

    # -- one data unit --------------------------------------------------------------------
    def _tweak_stream(self, tweak: int, nblocks: int) -> int:
        t = int.from_bytes(self._tweak.encrypt(tweak.to_bytes(16, "little")), "little")
        parts = []
        for _ in range(nblocks):
            parts.append(t.to_bytes(16, "little"))
            t = gf128_mul_alpha(t)
        return int.from_bytes(b"".join(parts), "little")

    def encrypt(self, tweak: int, data: bytes) -> bytes:
        """Encrypt one data unit (a multiple of 16 bytes) under data-unit number ``tweak``."""
        _check_tweak(tweak)
        _check_data(data)
        n = len(data)
        stream = self._tweak_stream(tweak, n // BLOCK)
        x = (int.from_bytes(data, "little") ^ stream).to_bytes(n, "little")
        y = self._data.encrypt(x)
        return (int.from_bytes(y, "little") ^ stream).to_bytes(n, "little")

    def decrypt(self, tweak: int, data: bytes) -> bytes:
        """Decrypt one data unit (a multiple of 16 bytes) under data-unit number ``tweak``."""
        _check_tweak(tweak)
        _check_data(data)
        n = len(data)
        stream = self._tweak_stream(tweak, n // BLOCK)
        x = (int.from_bytes(data, "little") ^ stream).to_bytes(n, "little")
        y = self._data.decrypt(x)
        return (int.from_bytes(y, "little") ^ stream).to_bytes(n, "little")

    # -- many 64-byte lines, one tweak each -------------------------------------------------
    def _line_tweaks(self, tweaks) -> np.ndarray:
        """Return the four per-block tweaks of every line as an (N, 64) uint8 array."""
        tw = np.asarray(tweaks, dtype=np.uint64)
        n = tw.shape[0]
        raw = np.zeros((n, 2), dtype="<u8")
        raw[:, 0] = tw  # line tweaks are < 2**64 (addresses), high half zero
        t0 = np.frombuffer(self._tweak.encrypt(raw.tobytes()), dtype="<u8").reshape(n, 2)
        out = np.empty((n, 4, 2), dtype="<u8")
        lo, hi = t0[:, 0].copy(), t0[:, 1].copy()
        for j in range(4):
            out[:, j, 0] = lo
            out[:, j, 1] = hi
            carry = hi >> np.uint64(63)
            hi = (hi << np.uint64(1)) | (lo >> np.uint64(63))
            lo = (lo << np.uint64(1)) ^ (carry * np.uint64(_GF128_FEEDBACK))
        return out.view(np.uint8).reshape(n, LINE)

    def _lines(self, tweaks, data, encrypt: bool) -> bytes:
        _check_data(data, LINE)
        n = len(data) // LINE
        if len(tweaks) != n:
            raise DataError(f"got {n} lines of data but {len(tweaks)} tweaks; give exactly one tweak per 64-byte line")
        for t in tweaks:
            if not 0 <= int(t) < (1 << 64):
                raise DataError(f"line tweaks must be between 0 and 2**64 - 1 (physical addresses); got {t}")
        stream = self._line_tweaks(tweaks)
        x = np.frombuffer(bytes(data), dtype=np.uint8).reshape(n, LINE) ^ stream
        op = self._data.encrypt if encrypt else self._data.decrypt
        y = np.frombuffer(op(x.tobytes()), dtype=np.uint8).reshape(n, LINE)
        return (y ^ stream).tobytes()

    def encrypt_lines(self, tweaks, data: bytes) -> bytes:
        """Encrypt ``len(tweaks)`` consecutive 64-byte lines, line i under ``tweaks[i]``."""
        return self._lines(tweaks, data, True)

    def decrypt_lines(self, tweaks, data: bytes) -> bytes:
        """Decrypt ``len(tweaks)`` consecutive 64-byte lines, line i under ``tweaks[i]``."""
        return self._lines(tweaks, data, False)


@lru_cache(maxsize=256)
def _cipher(key1: bytes, key2: bytes) -> XTSCipher:
    return XTSCipher(key1, key2)


def xts_encrypt(key1: bytes, key2: bytes, tweak: int, data: bytes) -> bytes:
    """XTS-AES encrypt ``data`` (a multiple of 16 bytes) with data key ``key1``,
    tweak key ``key2`` and data-unit number ``tweak`` (encoded little-endian)."""
    _check_keys(key1, key2)
    return _cipher(bytes(key1), bytes(key2)).encrypt(tweak, data)


def xts_decrypt(key1: bytes, key2: bytes, tweak: int, data: bytes) -> bytes:
    """Inverse of :func:`xts_encrypt`."""
    _check_keys(key1, key2)
    return _cipher(bytes(key1), bytes(key2)).decrypt(tweak, data)


def tweak_sequence(key2: bytes, tweak: int, nblocks: int = 4) -> list[int]:
    """The per-block tweak values T_0..T_{n-1} (as little-endian ints) XTS uses for one data unit.

    Lessons use this to compare a learner's GF(2^128) doubling against the engine.
    """
    _check_keys(key2, key2)
    _check_tweak(tweak)
    t = int.from_bytes(AES.new(bytes(key2), AES.MODE_ECB).encrypt(tweak.to_bytes(16, "little")), "little")
    out = []
    for _ in range(nblocks):
        out.append(t)
        t = gf128_mul_alpha(t)
    return out
