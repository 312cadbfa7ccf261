"""Physical page frames and the allocator that hands them out.

A frame is a 4 KiB slice of the machine's DRAM. The allocator only does bookkeeping; what
happens to the frame's cache lines when it changes hands (flushes, zeroing, direct-map
changes) is the kernel's job (:class:`mktme_lite.kernel.Kernel`), because that is where the
policy lives.

Per frame the model keeps what Kirill Shutemov's core series kept in ``page_ext``:

* ``keyid``: the KeyID the frame's contents are meant to be read through
  (``page_keyid(page)``). As in the later versions of the series it goes back to 0 when the
  frame is freed.
* ``dm_keyid`` / ``dm_mapped``: the frame's entry in the kernel's direct map, for the
  direct-map designs that change it (``rekey``: the entry's KeyID; ``xpfo`` and ``unmapped``:
  whether there is an entry at all).

Allocation order is deterministic so lessons are reproducible: ``"first_free"`` (lowest free
frame, like a freshly booted buddy allocator) or ``"lifo"`` (the most recently freed frame
first, like the per-CPU free lists that make Linux reuse a hot page at once). The low
``reserved`` frames hold "kernel data" and are never handed out.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ..errors import ConfigError
from ..params import address, choose, whole
from .constants import PAGE_SIZE

FRAME_ORDERS = ("first_free", "lifo")


@dataclass
class Frame:
    """One physical page frame (the model's ``struct page`` plus its ``page_ext``)."""

    index: int
    state: str = "free"  # "free" | "kernel" | "user"
    keyid: int = 0  # page_keyid(): the KeyID the contents are meant for
    dm_keyid: int = 0  # KeyID of this frame's direct-map entry ("rekey" design)
    dm_mapped: bool = True  # does the direct map have an entry for it ("xpfo", "unmapped")
    owner: tuple[int, int] | None = None  # (pid, vaddr) of the user page it backs

    @property
    def pa(self) -> int:
        return self.index * PAGE_SIZE

    def info(self) -> dict:
        return {
            "frame": self.index,
            "pa": self.pa,
            "state": self.state,
            "keyid": self.keyid,
            "direct_map": ("mapped at KeyID %d" % self.dm_keyid) if self.dm_mapped else "unmapped",
            "owner": self.owner,
        }


class FrameAllocator:
    """Hands out frames in a deterministic order; knows nothing about caches or keys."""

    def __init__(self, nr_frames: int, reserved: int = 4, order: str = "first_free"):
        order = choose(order, FRAME_ORDERS, "frame_order")
        nr_frames = whole(nr_frames, "nr_frames", 1)
        if not isinstance(reserved, int) or not 0 <= reserved < nr_frames:
            raise ConfigError(
                f"reserved_frames must be an int between 0 and {nr_frames - 1} (this DRAM has {nr_frames} frames); "
                f"got {reserved!r}"
            )
        self.order = order
        self.reserved = reserved
        self.frames = [Frame(i, state="kernel" if i < reserved else "free") for i in range(nr_frames)]
        free = list(range(reserved, nr_frames))
        # first_free: a min-heap of indices. lifo: a stack whose top is the next frame to hand out.
        self._heap = free if order == "first_free" else []
        self._stack = list(reversed(free)) if order == "lifo" else []
        self.nr_free = len(free)

    def __len__(self) -> int:
        return len(self.frames)

    def check_pa(self, pa) -> int:
        """``pa`` as an int, once it is a physical address inside DRAM (refusals in hex)."""
        return address(pa, f"pa (a physical address in DRAM, frames 0..{len(self.frames) - 1})", 0,
                       len(self.frames) * PAGE_SIZE - 1)

    def frame_at(self, pa: int) -> Frame:
        """The frame containing physical address ``pa``."""
        return self.frames[self.check_pa(pa) // PAGE_SIZE]

    def pick(self) -> Frame | None:
        """Take the next free frame (None when memory is full)."""
        if self.nr_free == 0:
            return None
        index = heapq.heappop(self._heap) if self.order == "first_free" else self._stack.pop()
        self.nr_free -= 1
        frame = self.frames[index]
        assert frame.state == "free", frame
        return frame

    def release(self, frame: Frame) -> None:
        """Put a frame back on the free list."""
        assert frame.state == "free", frame
        if self.order == "first_free":
            heapq.heappush(self._heap, frame.index)
        else:
            self._stack.append(frame.index)
        self.nr_free += 1

    def next_free(self) -> int | None:
        """Index of the frame :meth:`pick` would return now (without taking it)."""
        if self.nr_free == 0:
            return None
        return self._heap[0] if self.order == "first_free" else self._stack[-1]
