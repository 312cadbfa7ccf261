"""A write-back, write-allocate, set-associative cache with LRU replacement.

Lines hold *plaintext* and are tagged by the FULL physical address, KeyID bits included.
That is the root of the whole cache-coherency story: (pa, KeyID 1) and (pa, KeyID 2) are two
unrelated lines as far as the cache is concerned, although they end up in the same DRAM
bytes. Nothing keeps them coherent; software has to flush.

The set index comes from the low address bits (KeyID bits are far above them), so two
aliases of one frame compete for the same set, as they would on real hardware.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .errors import ConfigError
from .xts import LINE


@dataclass(slots=True)
class CacheLine:
    """One cached line: its full address (KeyID included), plaintext and MSI state."""

    hpa: int
    data: bytearray
    dirty: bool = False  # Modified; a clean line is Shared
    speculative: bool = False  # brought in by a load the program did not ask for

    def copy(self) -> "CacheLine":
        return CacheLine(self.hpa, bytearray(self.data), self.dirty, self.speculative)


class Cache:
    """The cache of one package. It only stores lines; the Machine decides what moves where."""

    __slots__ = ("package", "sets", "ways", "_sets")

    def __init__(self, package: int, sets: int = 64, ways: int = 8):
        if not isinstance(sets, int) or sets < 1 or sets & (sets - 1):
            raise ConfigError(f"cache_sets must be a power of two >= 1; got {sets!r}")
        if not isinstance(ways, int) or not 1 <= ways <= 64:
            raise ConfigError(f"cache_ways must be an int between 1 and 64; got {ways!r}")
        self.package = package
        self.sets = sets
        self.ways = ways
        self._sets: list[OrderedDict[int, CacheLine]] = [OrderedDict() for _ in range(sets)]

    @property
    def size_bytes(self) -> int:
        return self.sets * self.ways * LINE

    def _set(self, line_hpa: int) -> OrderedDict:
        return self._sets[(line_hpa // LINE) & (self.sets - 1)]

    def lookup(self, line_hpa: int, touch: bool = True) -> CacheLine | None:
        s = self._set(line_hpa)
        line = s.get(line_hpa)
        if line is not None and touch:
            s.move_to_end(line_hpa)
        return line

    def victim(self, line_hpa: int) -> CacheLine | None:
        """The line that must leave before ``line_hpa`` can be inserted (None if there is room)."""
        s = self._set(line_hpa)
        if len(s) < self.ways:
            return None
        return next(iter(s.values()))

    def insert(self, line: CacheLine) -> None:
        s = self._set(line.hpa)
        assert len(s) < self.ways and line.hpa not in s
        s[line.hpa] = line

    def remove(self, line_hpa: int) -> CacheLine | None:
        return self._set(line_hpa).pop(line_hpa, None)

    def lines(self) -> list[CacheLine]:
        """Every valid line, set by set, least recently used first."""
        return [line for s in self._sets for line in s.values()]

    def copy(self) -> "Cache":
        c = Cache(self.package, self.sets, self.ways)
        c._sets = [OrderedDict((k, v.copy()) for k, v in s.items()) for s in self._sets]
        return c
