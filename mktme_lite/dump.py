"""Bytes and sizes as text: hex dumps, block comparisons, exact binary sizes. Pure, no drawing.

Scenarios use these to say what a read returned ("GARBAGE in blocks 0, 1"); pictures and lesson
helpers use them to print it. They sit at the bottom of the layers, beside the hardware::

    from mktme_lite.dump import hexdump, differing_blocks, format_bytes

    print(hexdump(m.dram(0x1000, 64), base=0x1000))
    differing_blocks(got, expected)        # -> [0, 1]: the 16-byte AES blocks that differ
    format_bytes(63 << 40)                 # -> '63 TiB'
"""

from __future__ import annotations

from .errors import ParameterError
from .params import byteslike, whole

__all__ = ["BLOCK", "LINE", "printable", "hexdump", "differing_blocks", "changed_lines", "describe_bytes",
           "format_bytes"]

BLOCK = 16  # one AES block: the unit in which XTS garbles data
LINE = 64  # one cache line = one XTS data unit (modelling choice)
#: Most bytes a text dump shows: 64 KiB is 4096 rows already (about 300 KB of text).
MAX_DUMP_BYTES = 64 * 1024


def printable(data: bytes) -> str:
    """Bytes as ASCII, with ``.`` for every byte that is not a printable character."""
    if type(data) is not bytes:
        data = byteslike(data, "data")
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data)


def hexdump(data: bytes, base: int = 0, width: int = 16) -> str:
    """A classic hex dump: address, hex bytes, ASCII. One row per 16-byte AES block by default.

    At most ``MAX_DUMP_BYTES`` (64 KiB); ``width`` is 1 to 64 bytes per row."""
    data = byteslike(data, f"data (at most {MAX_DUMP_BYTES} bytes; slice a longer dump)", 0, MAX_DUMP_BYTES)
    base = whole(base, "base (the address of the first byte)", 0, (1 << 64) - 1, hex_=True)
    width = whole(width, "width (bytes per row)", 1, 64)
    rows = []
    last = base + max(len(data) - 1, 0)
    digits = max(4, len(f"{last:x}"))
    for off in range(0, len(data), width):
        chunk = data[off : off + width]
        hexes = " ".join(f"{b:02x}" for b in chunk).ljust(3 * width - 1)
        rows.append(f"0x{base + off:0{digits}x}  {hexes}  |{printable(chunk)}|")
    return "\n".join(rows)


def differing_blocks(a: bytes, b: bytes, block: int = BLOCK) -> list[int]:
    """Indices of the ``block``-byte blocks in which ``a`` and ``b`` differ."""
    a, b = byteslike(a, "a (the first bytes)"), byteslike(b, "b (the second bytes)")
    block = whole(block, "block (bytes per block)", 1, 1 << 20)
    if len(a) != len(b):
        raise ParameterError(f"cannot compare {len(a)} bytes with {len(b)} bytes: give two runs of equal length")
    return [i // block for i in range(0, len(a), block) if a[i : i + block] != b[i : i + block]]


def changed_lines(before: bytes, after: bytes, base: int = 0) -> list[int]:
    """Physical addresses of the 64-byte lines that differ between two DRAM dumps."""
    before, after = byteslike(before, "before (a DRAM dump)"), byteslike(after, "after (a DRAM dump)")
    base = whole(base, "base (the address of the first byte)", 0, (1 << 64) - 1, hex_=True)
    return [base + i * LINE for i in differing_blocks(before, after, LINE)]


def describe_bytes(data: bytes) -> str:
    """A few words a screen reader can say about a run of bytes."""
    data = byteslike(data, "data")
    if not data:
        return "no bytes"
    if not any(data):
        return "all zero"
    text = printable(data)
    readable = sum(0x20 <= b < 0x7F for b in data) + data.count(0)
    if readable >= 0.9 * len(data):
        shown = text.replace(".", " ").strip()
        shown = " ".join(shown.split())
        if len(shown) > 40:
            shown = shown[:39] + "…"
        return f'readable text "{shown}"'
    return f"random-looking bytes ({len(set(data))} distinct values in {len(data)})"


_UNITS = [("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]


def format_bytes(n: int) -> str:
    """An exact size in binary units: ``1 TiB``, ``63 TiB``, ``65534 GiB`` (never rounded)."""
    n = whole(n, "a size (a whole number of bytes)", 0)
    if n == 0:
        return "0 B"
    for name, unit in _UNITS:
        if n >= unit and n % unit == 0 and n // unit < 100_000:
            return f"{n // unit} {name}"
    return f"{n} B"
