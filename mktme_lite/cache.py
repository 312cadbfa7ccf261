"""A write-back, write-allocate, set-associative cache with LRU replacement.

Lines hold *plaintext* and are tagged by the FULL physical address, KeyID bits included.
That is the root of the whole cache-coherency story: (pa, KeyID 1) and (pa, KeyID 2) are two
unrelated lines as far as the cache is concerned, although they end up in the same DRAM
bytes. Nothing keeps them coherent; software has to flush.

The set index comes from the low address bits (KeyID bits are far above them), so two
aliases of one frame compete for the same set, as they would on real hardware.

Only sets that hold a line are stored (a dict from set index to its lines), so an empty cache
costs nothing whatever its geometry, and copying one costs time in the lines it holds.
``cache_sets`` is a power of two up to ``MAX_CACHE_SETS`` (2**16: 4 MiB per way, more sets
than any last-level cache slice; a bigger number would only be a typo).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .errors import ConfigError
from .params import whole
from .xts import LINE

__all__ = ["Cache", "CacheLine", "MAX_CACHE_SETS", "MAX_CACHE_WAYS"]

MAX_CACHE_SETS = 1 << 16
MAX_CACHE_WAYS = 64


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
        sets = whole(sets, "cache_sets", 1, MAX_CACHE_SETS)
        if sets & (sets - 1):
            raise ConfigError(f"cache_sets must be a power of two >= 1; got {sets!r}")
        ways = whole(ways, "cache_ways", 1, MAX_CACHE_WAYS)
        self.package = package
        self.sets = sets
        self.ways = ways
        self._sets: dict[int, OrderedDict[int, CacheLine]] = {}  # only the sets that hold a line

    @property
    def size_bytes(self) -> int:
        return self.sets * self.ways * LINE

    def _index(self, line_hpa: int) -> int:
        return (line_hpa // LINE) & (self.sets - 1)

    def lookup(self, line_hpa: int, touch: bool = True) -> CacheLine | None:
        s = self._sets.get(self._index(line_hpa))
        if s is None:
            return None
        line = s.get(line_hpa)
        if line is not None and touch:
            s.move_to_end(line_hpa)
        return line

    def victim(self, line_hpa: int) -> CacheLine | None:
        """The line that must leave before ``line_hpa`` can be inserted (None if there is room)."""
        s = self._sets.get(self._index(line_hpa))
        if s is None or len(s) < self.ways:
            return None
        return next(iter(s.values()))

    def insert(self, line: CacheLine) -> None:
        s = self._sets.setdefault(self._index(line.hpa), OrderedDict())
        assert len(s) < self.ways and line.hpa not in s
        s[line.hpa] = line

    def remove(self, line_hpa: int) -> CacheLine | None:
        index = self._index(line_hpa)
        s = self._sets.get(index)
        if s is None:
            return None
        line = s.pop(line_hpa, None)
        if not s:
            del self._sets[index]
        return line

    def set_of(self, line_hpa: int) -> list[CacheLine]:
        """The lines of the set ``line_hpa`` maps to, least recently used first (at most ``ways``).

        The aliases of one frame under other KeyIDs share its set (the KeyID bits are far above
        the index bits), so this is where ``Machine(coherent_keyids=True)`` looks for them."""
        s = self._sets.get(self._index(line_hpa))
        return [] if s is None else list(s.values())

    def lines(self) -> list[CacheLine]:
        """Every valid line, set by set (in set order), least recently used first."""
        return [line for index in sorted(self._sets) for line in self._sets[index].values()]

    def copy(self) -> "Cache":
        c = Cache.__new__(Cache)  # the geometry was checked when this cache was made
        c.package, c.sets, c.ways = self.package, self.sets, self.ways
        c._sets = {i: OrderedDict((k, v.copy()) for k, v in s.items()) for i, s in self._sets.items()}
        return c
