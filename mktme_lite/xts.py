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

A data unit is at most 2**20 blocks (16 MiB), the limit NIST SP 800-38E puts on XTS-AES; a
longer one is refused (``MAX_UNIT_BLOCKS``).

Two paths:
* ``xts_encrypt`` / ``xts_decrypt``: one data unit (any multiple of 16 bytes). The tweak stream
  costs time linear in the length: a short unit (a cache line) doubles a Python integer block
  by block; a long one is built with numpy, 64 tweaks per row (see ``_tweak_array``).
* ``XTSCipher.encrypt_lines`` / ``decrypt_lines``: many 64-byte lines with *different*
  tweaks in one call (numpy), for DRAM dumps and page-sized work. Three ECB calls in total,
  whatever the number of lines.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from Crypto.Cipher import AES

from .errors import DataError, KeyMaterialError
from .params import byteslike, whole

BLOCK = 16
LINE = 64
_MASK128 = (1 << 128) - 1
_GF128_FEEDBACK = 0x87
_U64 = [np.uint64(i) for i in range(65)]
_MASK64 = (1 << 64) - 1
#: NIST SP 800-38E: "the length of the data unit ... shall not exceed 2**20 AES blocks".
MAX_UNIT_BLOCKS = 1 << 20
#: Up to this many blocks the tweak stream is one Python integer built by shifts (fastest for a
#: 64-byte line); above it, numpy rows (the shifts would cost time quadratic in the length).
_SMALL_UNIT_BLOCKS = 32


def _clmul_feedback(c: int) -> int:
    """Carry-less product of the shifted-out bits ``c`` with the feedback polynomial 0x87."""
    out = 0
    for bit in range(3):
        if c >> bit & 1:
            out ^= _GF128_FEEDBACK << bit
    return out


_FOLD = np.array([_clmul_feedback(c) for c in range(8)], dtype=np.uint64)

__all__ = [
    "XTSCipher",
    "xts_encrypt",
    "xts_decrypt",
    "gf128_mul_alpha",
    "tweak_sequence",
    "MAX_UNIT_BLOCKS",
]


def gf128_mul_alpha(t: int) -> int:
    """Multiply a 128-bit tweak (as a little-endian integer) by alpha in GF(2^128).

    This is the step XTS uses to derive the tweak of block j+1 from that of block j.
    """
    if type(t) is not int or not 0 <= t <= _MASK128:  # the engine's own calls skip the general check
        t = whole(t, "t (a 128-bit tweak)", 0, _MASK128, hex_=True)
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


def _check_tweak(tweak) -> int:
    """The data-unit number as an ``int`` (numpy integers welcome), 0 .. 2**128 - 1."""
    if type(tweak) is int and 0 <= tweak <= _MASK128:  # the engine's own calls: skip the general check
        return tweak
    return whole(tweak, "tweak (the data-unit number)", 0, _MASK128, hex_=True)


def _check_data(data, unit: int = BLOCK, most: int | None = None) -> bytes:
    """``data`` as bytes: a non-empty multiple of ``unit`` bytes, at most ``most``."""
    if type(data) is not bytes or (most is not None and len(data) > most):  # bytes: the engine's own calls
        data = byteslike(data, "data", 0, most)
    if len(data) == 0 or len(data) % unit:
        raise DataError(
            f"data is {len(data)} bytes; XTS here needs a non-empty multiple of {unit} bytes "
            "(no ciphertext stealing: the memory engine works on whole 16-byte blocks)"
        )
    return data


def _mul_alpha_pow(lo: np.ndarray, hi: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Every 128-bit tweak ``hi:lo`` times alpha**j, for 0 < j < 64, as numpy uint64 halves.

    A j-bit left shift; the j bits ``c`` shifted out of the top come back as the carry-less
    product c * 0x87 = c ^ c<<1 ^ c<<2 ^ c<<7, whose bits above 63 (only when j > 57) land in
    the high half. That product has at most 70 bits, so no second reduction is needed.
    """
    c = hi >> _U64[64 - j]
    fold_lo = c ^ (c << _U64[1]) ^ (c << _U64[2]) ^ (c << _U64[7])
    fold_hi = (c >> _U64[63]) ^ (c >> _U64[62]) ^ (c >> _U64[57])
    new_hi = ((hi << _U64[j]) | (lo >> _U64[64 - j])) ^ fold_hi
    new_lo = (lo << _U64[j]) ^ fold_lo
    return new_lo, new_hi


def _tweak_array(t0: int, nblocks: int) -> np.ndarray:
    """T_0 .. T_{n-1} as an (n, 2) little-endian uint64 array (low half first), in linear time.

    Row r holds T_{64r} .. T_{64r+63}. The row heads T_{64r} come from a Python loop (one
    multiplication by alpha**64 per row: the high half drops out and is folded back, times
    0x87); the other 63 columns are the heads times alpha**j, computed for all rows at once.
    """
    rows = -(-nblocks // 64)
    heads = []
    t = t0
    for _ in range(rows):
        heads.append(t.to_bytes(16, "little"))
        top = t >> 64
        t = ((t & _MASK64) << 64) ^ top ^ (top << 1) ^ (top << 2) ^ (top << 7)
    head = np.frombuffer(b"".join(heads), dtype="<u8").reshape(rows, 2)
    out = np.empty((rows, 64, 2), dtype="<u8")
    out[:, 0, :] = head
    lo, hi = head[:, 0], head[:, 1]
    for j in range(1, 64):
        out[:, j, 0], out[:, j, 1] = _mul_alpha_pow(lo, hi, j)
    return out.reshape(rows * 64, 2)[:nblocks]


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
        """T_0 .. T_{n-1} laid side by side as one little-endian integer of 16*n bytes.

        Only for short units (``_SMALL_UNIT_BLOCKS``): each ``|=`` copies the whole integer."""
        t = int.from_bytes(self._tweak.encrypt(tweak.to_bytes(16, "little")), "little")
        stream = 0
        for j in range(nblocks):
            stream |= t << (128 * j)
            t <<= 1
            if t >> 128:
                t = (t & _MASK128) ^ _GF128_FEEDBACK
        return stream

    def _unit(self, tweak, data, encrypt: bool) -> bytes:
        tweak = _check_tweak(tweak)
        data = _check_data(data, BLOCK, MAX_UNIT_BLOCKS * BLOCK)
        n = len(data)
        op = self._data.encrypt if encrypt else self._data.decrypt
        if n <= _SMALL_UNIT_BLOCKS * BLOCK:
            stream = self._tweak_stream(tweak, n // BLOCK)
            y = op((int.from_bytes(data, "little") ^ stream).to_bytes(n, "little"))
            return (int.from_bytes(y, "little") ^ stream).to_bytes(n, "little")
        t0 = int.from_bytes(self._tweak.encrypt(tweak.to_bytes(16, "little")), "little")
        stream = _tweak_array(t0, n // BLOCK).reshape(-1)
        y = np.frombuffer(op((np.frombuffer(data, dtype="<u8") ^ stream).tobytes()), dtype="<u8")
        return (y ^ stream).tobytes()

    def encrypt(self, tweak: int, data: bytes) -> bytes:
        """Encrypt one data unit (a multiple of 16 bytes) under data-unit number ``tweak``."""
        return self._unit(tweak, data, True)

    def decrypt(self, tweak: int, data: bytes) -> bytes:
        """Decrypt one data unit (a multiple of 16 bytes) under data-unit number ``tweak``."""
        return self._unit(tweak, data, False)

    # -- many 64-byte lines, one tweak each -------------------------------------------------
    def _line_tweaks(self, tw: np.ndarray) -> np.ndarray:
        """Return the four per-block tweaks of every line as an (N, 64) uint8 array.

        T_j = T_0 * alpha^j for j < 4: a j-bit left shift of the 128-bit value, with the j
        bits shifted out folded back in through the 0x87 feedback polynomial (a carry-less
        product, looked up in a table of eight entries).
        """
        n = tw.shape[0]
        raw = np.zeros((n, 2), dtype="<u8")
        raw[:, 0] = tw  # line tweaks are < 2**64 (addresses), high half zero
        t0 = np.frombuffer(self._tweak.encrypt(raw.tobytes()), dtype="<u8").reshape(n, 2)
        lo, hi = t0[:, 0], t0[:, 1]
        out = np.empty((n, 4, 2), dtype="<u8")
        out[:, 0, :] = t0
        for j in (1, 2, 3):
            out[:, j, 1] = (hi << _U64[j]) | (lo >> _U64[64 - j])
            out[:, j, 0] = (lo << _U64[j]) ^ _FOLD[hi >> _U64[64 - j]]
        return out.view(np.uint8).reshape(n, LINE)

    def _lines(self, tweaks, data, encrypt: bool) -> bytes:
        data = _check_data(data, LINE)
        n = len(data) // LINE
        try:
            tw = np.asarray(tweaks, dtype=np.uint64)
        except (OverflowError, TypeError, ValueError):
            raise DataError("line tweaks must be ints between 0 and 2**64 - 1 (physical addresses)") from None
        if tw.ndim != 1 or tw.shape[0] != n:
            raise DataError(f"got {n} lines of data but {tw.size} tweaks; give exactly one tweak per 64-byte line")
        stream = self._line_tweaks(tw)
        x = np.frombuffer(data, dtype=np.uint8).reshape(n, LINE) ^ stream
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

    Lessons use this to compare a learner's GF(2^128) doubling against the engine. ``nblocks``
    is 1 .. ``MAX_UNIT_BLOCKS`` (2**20, the longest data unit SP 800-38E allows): no unit has
    more tweaks than that, and the list stays under about 60 MB and a second to build.
    """
    _check_keys(key2, key2)
    tweak = _check_tweak(tweak)
    nblocks = whole(nblocks, "nblocks (how many 16-byte blocks)", 1, MAX_UNIT_BLOCKS)
    t = int.from_bytes(AES.new(bytes(key2), AES.MODE_ECB).encrypt(tweak.to_bytes(16, "little")), "little")
    out = []
    for _ in range(nblocks):
        out.append(t)
        t = gf128_mul_alpha(t)
    return out
