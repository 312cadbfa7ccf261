"""Checks for the exercises of lesson 04, cache incoherence (solutions/04_cache_incoherence.ipynb).

Exercise 1 hands over a function, 2 a list of step names, 3 a dict of predictions::

    from mktme_lite.checks.cache_incoherence import (L04_OPTIONS, L04_QUESTIONS, check_change_keyid,
                                                     check_free_path, check_read_prediction)

    check_change_keyid(change_keyid)       # change_keyid(kernel, frame, old, new) never loses data
    check_free_path(free_path)             # the free path with the missing flush put back
    check_read_prediction(dict(zip(L04_QUESTIONS, [...])))   # each answer one of L04_OPTIONS

Every verdict is computed on the engine: exercise 1's function runs on fresh labs
(:func:`mktme_lite.scenarios.incoherence.lab`) under many seeded schedules of dirty lines,
speculative fills and evictions, some of them injected between the function's own operations, and
each schedule ends with the frame handed back to the old KeyID and every line read through it on
every package (:data:`PHASES`); a hint's line, KeyID, package and moment are read off the failing
run, never written in advance;
exercise 2's path runs under every schedule of :func:`~mktme_lite.scenarios.incoherence.run_free_path`;
exercise 3's sequence runs on a :class:`~mktme_lite.scenarios.incoherence.Stepper`. The checks import
no widget, ipywidgets or matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import Examples, NotAttempted, check, hint, is_placeholder, passed
from ..dump import LINE
from ..kernel import PAGE_SIZE, Policy
from ..scenarios import incoherence as inc

__all__ = ["check_change_keyid", "check_free_path", "check_read_prediction", "L04_QUESTIONS", "L04_OPTIONS",
           "L04_SEQUENCE", "SCHEDULES", "PHASES", "Failure"]

LINES = PAGE_SIZE // LINE
#: How many seeded schedules exercise 1's check runs.
SCHEDULES = 24


def _bob(i: int) -> bytes:
    return (b"bob's data, line %02d" % i).ljust(LINE, b"+")


# ----------------------------------------------------------------------------------------------
# Exercise 1 — a change_keyid() that never loses data
# ----------------------------------------------------------------------------------------------
class _Recorder:
    """Wraps a lab machine's cache operations while the learner's function runs: records what was
    called, through which KeyID (with its line of the frame and package argument), and (seeded) lets
    a line of the frame leave a cache after a call."""

    OPS = ("store", "load", "clflush", "clflushopt", "clwb", "wbinvd", "wbnoinvd", "evict", "speculative_fill")

    def __init__(self, lab, rng, evict_p: float):
        self.lab, self.m, self.rng, self.evict_p = lab, lab.machine, rng, evict_p
        self.calls: list[tuple[str, int | None]] = []
        self.detail: list[tuple[str, int | None, int | None, object]] = []  # (name, keyid, line, package)
        self.injected: list[tuple[int, int, int]] = []  # (line, keyid, package) of each injected eviction
        self._depth = 0
        for name in self.OPS:
            setattr(self.m, name, self._wrap(name, getattr(self.m, name)))

    def undo(self):
        for name in self.OPS:
            delattr(self.m, name)

    def _where(self, args):
        """(KeyID, line of the frame) of an address argument inside the frame, else (None, None)."""
        if args and isinstance(args[0], int) and not isinstance(args[0], bool):
            try:
                pa, keyid = self.m.split(args[0])
            except Exception:
                return None, None
            if self.lab.pa <= pa < self.lab.pa + PAGE_SIZE:
                return keyid, (pa - self.lab.pa) // LINE
        return None, None

    def _keyid(self, args):
        return self._where(args)[0]

    def _wrap(self, name, fn):
        def call(*args, **kwargs):
            self._depth += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                self._depth -= 1
            if self._depth == 0:
                keyid, line = self._where(args)
                self.calls.append((name, keyid))
                package = kwargs.get("package", args[0] if name in ("wbinvd", "wbnoinvd") and args else None)
                self.detail.append((name, keyid, line, package))
                self._maybe_evict()
            return out
        return call

    def _maybe_evict(self):
        if self.rng.random() >= self.evict_p:
            return
        mine = [(p, line.hpa) for p, cache in enumerate(self.m.caches) for line in cache.lines()
                if self.lab.pa <= self.m.split(line.hpa)[0] < self.lab.pa + PAGE_SIZE]
        if not mine:
            return
        p, hpa = mine[int(self.rng.integers(len(mine)))]
        pa, keyid = self.m.split(hpa)
        self.injected.append(((pa - self.lab.pa) // LINE, keyid, p))
        type(self.m).evict(self.m, hpa, p)

    def flushed_lines(self, keyid: int) -> set[int]:
        """Lines of the frame a line flush (CLFLUSH, CLFLUSHOPT, CLWB) reached through ``keyid``."""
        names = ("clflush", "clflushopt", "clwb")
        return {line for name, k, line, _ in self.detail if name in names and k == keyid and line is not None}

    def package_flushes(self) -> list[tuple[str, object]]:
        """(instruction, package or None for every package) of each WBINVD/WBNOINVD."""
        return [(name, package) for name, _, _, package in self.detail if name in ("wbinvd", "wbnoinvd")]


def _schedule(seed: int):
    """What happens around the call for one seed: alice's dirty lines (line -> package), the lines
    filled speculatively through the new KeyID (line -> package), bob's package, the lines he writes,
    the eviction order afterwards and the chance of an eviction after each of the learner's operations."""
    rng = np.random.default_rng([seed, 0x0404])
    dirty = {int(i): int(rng.integers(2)) for i in rng.choice(LINES, size=int(rng.integers(1, 9)), replace=False)}
    spec = {int(i): int(rng.integers(2)) for i in rng.choice(LINES, size=int(rng.integers(0, 5)), replace=False)}
    if seed % 3 == 0:  # every third schedule: a dirty line on package 1 and a stale line on package 0 for sure
        dirty[5], spec[7] = 1, 0
    writes = sorted(int(i) for i in rng.choice(LINES, size=8, replace=False))
    order = "new_first" if seed % 2 == 0 else "old_first"
    return dirty, spec, int(rng.integers(2)), writes, order, 0.5 if seed % 4 == 1 else 0.0, rng


def _describe(seed, dirty, spec, bob_pkg, order, evict_p) -> str:
    d = ", ".join(f"{i} (package {p})" for i, p in sorted(dirty.items()))
    s = ", ".join(f"{i} (package {p})" for i, p in sorted(spec.items())) or "none"
    return (f"schedule {seed}: alice left lines {d} dirty; speculative fills through the new KeyID: {s}; "
            f"bob on package {bob_pkg}; afterwards {inc.ORDERS[order].split(':')[0]}"
            + ("; evictions may happen between your operations" if evict_p else ""))


#: The phases of one schedule, in the order the check looks at them.
PHASES = {
    "first_read": "bob's first read of every line (each must be zeros)",
    "lost": "bob's read of every line after his writes and time passing (each must be his data or zeros)",
    "rehand": "bob frees the frame (flushing his alias, Peter Zijlstra's rule) and it goes back to the old KeyID; "
              "its owner reads every line on each package (each must be what the frame now holds)",
}


@dataclass(frozen=True)
class Failure:
    """The first thing that went wrong in one schedule, read off the machine: which line (the lowest
    of the phase's bad lines), which alias (KeyID) caused it, in which package, and when."""

    seed: int
    phase: str  # one of PHASES
    line: int
    keyid: int  # the KeyID of the alias that was left dirty or stale (or, "not_zeroed", never zeroed)
    package: int | None
    cause: str  # late_writeback, overwritten, not_zeroed, stale_new, stale_old, other
    when: str
    corrupted: tuple[int, ...]  # every bad line of the phase
    got: bytes
    want: bytes
    hint: str

    @property
    def offset(self) -> int:
        return self.line * LINE


def _last_writeback(m, pa: int, before: int | None = None):
    return next((e for e in reversed(m.trace) if e.kind == "writeback" and e.pa == pa
                 and (before is None or e.seq < before)), None)


def _when(seq: int, marks: dict) -> str:
    """The phase (in words) that a trace sequence number falls in."""
    names = {"call": "inside change_keyid()", "first_read": "during bob's first reads",
             "writes": "while bob wrote", "time": "while time passed"}
    found = "before change_keyid() ran"
    for name, start in marks.items():
        if seq >= start:
            found = names[name]
    return found


def _what(got: bytes, line: int, fresh: bytes) -> str:
    return inc.classify(got, line, fresh)[0]


def _run_change(answer, seed: int):
    """Run ``answer`` under one schedule. Returns None (nothing lost) or a hint."""
    failure = _diagnose(answer, seed)
    return None if failure is None else hint(failure.hint)


def _diagnose(answer, seed: int) -> Failure | None:
    """Run ``answer`` under schedule ``seed``; the first failure (phase by phase, lowest line first),
    with every name in its hint computed from the machine, or None when nothing went wrong."""
    dirty, spec, bob_pkg, writes, order, evict_p, rng = _schedule(seed)
    lab = inc.lab("cpu")
    m, old, new = lab.machine, lab.old, lab.new
    for i, p in spec.items():
        m.speculative_fill(lab.h(i, "new"), p)
    for i, p in dirty.items():
        m.store(lab.h(i, "old"), inc.payload("alice", i, 2), p)
    rec = _Recorder(lab, rng, evict_p)
    before = len(m.trace)
    marks = {"call": m._seq}
    try:
        answer(lab.kernel, lab.pa, old, new)
    finally:
        rec.undo()
    if len(m.trace) == before:
        raise NotAttempted
    where = _describe(seed, dirty, spec, bob_pkg, order, evict_p)

    def fail(phase, bad, keyid, package, cause, when, got, want, text):
        return Failure(seed, phase, bad[0], keyid, package, cause, when, tuple(bad), got, want,
                       f"{where}. {text}")

    # 1. bob reads every line: zeros. Look at what each read will hit before it runs.
    marks["first_read"] = m._seq
    first, hits = {}, {}
    for i in range(LINES):
        cached = m.caches[bob_pkg].lookup(lab.h(i, "new"), touch=False)
        hits[i] = None if cached is None else (cached.dirty, cached.speculative)
        first[i] = m.load(lab.h(i, "new"), LINE, bob_pkg)
    bad = [i for i in range(LINES) if first[i] != bytes(LINE)]
    if bad:
        i = bad[0]
        pa = lab.pa + i * LINE
        got, kind = first[i], _what(first[i], i, bytes(LINE))
        head = (f"Bob's first read of line {i} (offset {i * LINE:#x}) through KeyID {new} returned {kind}, "
                "not zeros")
        if hits[i] is not None:
            dirty_, speculative = hits[i]
            if speculative:
                return fail("first_read", bad, new, bob_pkg, "stale_new", "before change_keyid() ran", got,
                            bytes(LINE), f"{head}: it hit a stale line of the NEW alias (KeyID {new}, package "
                            f"{bob_pkg}) filled speculatively before the change, and still cached when "
                            "change_keyid() returned. Flush the new alias too, or zero the whole page through it "
                            "(Andy, 5 and 6 Dec).")
            return fail("first_read", bad, new, bob_pkg, "other", "inside change_keyid()", got, bytes(LINE),
                        f"{head}: it hit a {'dirty' if dirty_ else 'clean'} line of KeyID {new} your function "
                        f"left in package {bob_pkg}'s cache. Leave line {i} zeroed through KeyID {new}.")
        wb = _last_writeback(m, pa, marks["first_read"])
        ours = [e for e in m.trace if e.kind == "writeback" and e.pa == pa and e.keyid == new
                and marks["call"] <= e.seq < (wb.seq if wb else 0)]
        if wb is not None and wb.keyid == old and ours:
            left = next((f"line {ln} (KeyID {k}) left package {p}'s cache" for ln, k, p in rec.injected
                         if ln == i and k == new), "your zeroed line left the cache")
            return fail("first_read", bad, old, wb.package, "overwritten", _when(wb.seq, marks), got, bytes(LINE),
                        f"{head}: you wrote line {i} through KeyID {new} before flushing the old alias; {left}, "
                        f"and then your flush of KeyID {old} wrote alice's dirty line {i} (package {wb.package}) "
                        "over it. Flush the old alias first, then zero through the new one.")
        old_zeroed = any(name == "store" and k == old and ln is not None for name, k, ln, _ in rec.detail)
        new_stores = any(name == "store" and k == new for name, k, _, _ in rec.detail)
        if old_zeroed and not new_stores:
            return fail("first_read", bad, new, bob_pkg, "not_zeroed", "inside change_keyid()", got, bytes(LINE),
                        f"{head}: you zeroed the page through KeyID {old}, the old key, and bob's fill decrypts "
                        f"DRAM with KeyID {new}'s key. Zero it through the new KeyID.")
        return fail("first_read", bad, new, bob_pkg, "not_zeroed", "inside change_keyid()", got, bytes(LINE),
                    f"{head}: nothing zeroed line {i} through KeyID {new}, so his fill brought DRAM's content (alice's "
                    f"data, written under KeyID {old}) decrypted with KeyID {new}'s key. The page must reach its new "
                    "owner cleared (spec AddPage step 4): after flushing the old alias, zero the page through the new "
                    "KeyID (the last tool the exercise lists).")

    # 2. bob writes some lines; time passes; every line must be his data or zeros.
    marks["writes"] = m._seq
    for i in writes:
        m.store(lab.h(i, "new"), _bob(i), bob_pkg)
    mb = m.clone()  # for step 3: the frame goes back to the old KeyID soon after bob's writes
    marks["time"] = m._seq
    inc.time_passes(m, lab.pa, (old, new), order)
    final = {i: m.load(lab.h(i, "new"), LINE, bob_pkg) for i in range(LINES)}
    want = {i: (_bob(i) if i in writes else bytes(LINE)) for i in range(LINES)}
    bad = [i for i in range(LINES) if final[i] != want[i]]
    if bad:
        i = bad[0]
        pa = lab.pa + i * LINE
        wb = _last_writeback(m, pa)
        got = final[i]
        head = (f"Bob lost line {i} (offset {i * LINE:#x}): after {'his write' if i in writes else 'his first read'} "
                f"and time passing it read {_what(got, i, want[i])}")
        if wb is None or wb.keyid != old:
            return fail("lost", bad, new if wb is None else wb.keyid, None if wb is None else wb.package, "other",
                        "" if wb is None else _when(wb.seq, marks), got, want[i],
                        f"{head}; the last write-back of line {i} was "
                        + ("none" if wb is None else f"through KeyID {wb.keyid} (package {wb.package})") + ".")
        when = _when(wb.seq, marks)
        text = (f"{head}. Alice's dirty line {i} under KeyID {old}, still in package {wb.package}'s cache when "
                f"change_keyid() returned, was written back {when}, after bob's data. ")
        flushed = rec.flushed_lines(old)
        whole_pkgs = rec.package_flushes()
        if whole_pkgs and not any(p is None or p == wb.package for _, p in whole_pkgs):
            ran = ", ".join(f"{n.upper()} on package {p}" for n, p in whole_pkgs)
            text += (f"You ran {ran}; WBINVD and WBNOINVD act on one package's caches only, and this line was in "
                     f"package {wb.package}. Run it on every package (machine.wbinvd() with no argument), or clflush "
                     "the old alias, which reaches every package.")
        elif flushed:
            text += (f"Your flushes through KeyID {old} reached {len(flushed)} of the frame's {LINES} lines, not line "
                     f"{i}: flush EVERY line of the old alias, e.g. machine.flush_range(machine.hpa(frame, old), "
                     "PAGE_SIZE).")
        else:
            text += (f"The old alias (KeyID {old}) was never flushed: flush the frame through KeyID old first (spec "
                     "EvictPage; Dave Hansen's rule).")
        return fail("lost", bad, old, wb.package, "late_writeback", when, got, want[i], text)

    # 3. bob frees the frame (flushing his alias) and it goes back to the old KeyID; its owner reads every line
    #    on every package.
    mb.flush_range(lab.h(0, "new"), PAGE_SIZE)
    mb.emit("keyid_change", None, lab.pa, old, "the frame goes back to the old KeyID")
    wrong = []
    for i in range(LINES):
        h = lab.h(i, "old")
        fresh = inc.current(mb, h)  # what the frame holds now, seen through KeyID old
        for p in range(mb.packages):
            cached = mb.caches[p].lookup(h, touch=False)
            got = mb.load(h, LINE, p)
            if got != fresh:
                wrong.append((i, p, cached is not None, got, fresh))
    if wrong:
        i, p, was_cached, got, fresh = wrong[0]
        bad = sorted({w[0] for w in wrong})
        text = (f"After bob's turn the frame went back to KeyID {old} (bob freed it, flushing his alias KeyID {new}); "
                f"a read of line {i} (offset {i * LINE:#x}) through KeyID {old} on package {p} returned "
                f"{inc.classify(got, i, fresh)[1]}, not what the frame holds now: ")
        if not was_cached:
            return fail("rehand", bad, old, p, "other", "after the change", got, fresh,
                        text + f"DRAM itself was wrong for line {i}.")
        used = sorted({name.upper() for name, k, _, _ in rec.detail
                       if (name == "clwb" and k == old) or name == "wbnoinvd"})
        text += (f"alice's line {i} under KeyID {old} was still cached, clean, in package {p} when change_keyid() "
                 "returned. ")
        if used:
            text += (f"{' and '.join(used)} wrote it back but kept it (the lesson's table: NOT ENOUGH for a stale "
                     "line of the old alias). ")
        text += ("Use an instruction that invalidates: CLFLUSH or CLFLUSHOPT every line of the old alias, or WBINVD "
                 "on every package.")
        return fail("rehand", bad, old, p, "stale_old", "after the change", got, fresh, text)
    return None


def _change_ref(kernel, frame, old, new):
    m = kernel.machine
    m.flush_range(m.hpa(frame, old), PAGE_SIZE)
    m.store(m.hpa(frame, new), bytes(PAGE_SIZE))


def _zero_only(kernel, frame, old, new):
    kernel.machine.store(kernel.machine.hpa(frame, new), bytes(PAGE_SIZE))


def _flush_old_only(kernel, frame, old, new):
    kernel.machine.flush_range(kernel.machine.hpa(frame, old), PAGE_SIZE)


def _flush_both(kernel, frame, old, new):
    m = kernel.machine
    m.flush_range(m.hpa(frame, old), PAGE_SIZE)
    m.flush_range(m.hpa(frame, new), PAGE_SIZE)


def _zero_then_flush(kernel, frame, old, new):
    m = kernel.machine
    m.store(m.hpa(frame, new), bytes(PAGE_SIZE))
    m.flush_range(m.hpa(frame, old), PAGE_SIZE)


def _wbinvd_here(kernel, frame, old, new):
    m = kernel.machine
    m.wbinvd(0)
    m.store(m.hpa(frame, new), bytes(PAGE_SIZE))


def _one_line(kernel, frame, old, new):
    m = kernel.machine
    m.clflush(m.hpa(frame, old))
    m.store(m.hpa(frame, new), bytes(PAGE_SIZE))


def _zero_old(kernel, frame, old, new):
    m = kernel.machine
    m.flush_range(m.hpa(frame, old), PAGE_SIZE)
    m.store(m.hpa(frame, old), bytes(PAGE_SIZE))
    m.flush_range(m.hpa(frame, old), PAGE_SIZE)


def _clwb_only(kernel, frame, old, new):
    m = kernel.machine
    m.flush_range(m.hpa(frame, old), PAGE_SIZE, "clwb")
    m.store(m.hpa(frame, new), bytes(PAGE_SIZE))


def _wbnoinvd_only(kernel, frame, old, new):
    m = kernel.machine
    m.wbnoinvd()
    m.store(m.hpa(frame, new), bytes(PAGE_SIZE))


def _flush_new_only(kernel, frame, old, new):
    m = kernel.machine
    m.flush_range(m.hpa(frame, new), PAGE_SIZE)
    m.store(m.hpa(frame, new), bytes(PAGE_SIZE))


def _kernel_as_proposed(kernel, frame, old, new):
    kernel.change_frame_keyid(frame, new)


def _kernel_fixed(kernel, frame, old, new):
    kernel.policy = Policy.fixed()
    kernel.change_frame_keyid(frame, new)


@check("change_keyid", examples=Examples(
    placeholder=...,
    wrong=[(_zero_only, "was never flushed"),
           (_flush_new_only, "was never flushed"),
           (_clwb_only, "CLWB wrote it back but kept it"),
           (_wbnoinvd_only, "WBNOINVD wrote it back but kept it"),
           (_flush_old_only, "not zeros"),
           (_flush_both, "not zeros"),
           (_zero_then_flush, "before flushing the old"),
           (_wbinvd_here, "one package"),
           (_one_line, "EVERY line"),
           (_zero_old, "the old key"),
           (_kernel_as_proposed, "never flushed"),
           ("change_keyid", "function itself")],
    correct=lambda: _change_ref,
))
def check_change_keyid(answer):
    """``answer(kernel, frame, old, new)`` moves the frame at ``frame`` from KeyID ``old`` to ``new`` and
    hands it over cleared: under every schedule, bob's first reads are zeros, his writes survive, and
    when the frame comes back to KeyID ``old`` every line read through it is what the frame holds (no
    stale line of the old alias). A hint names the schedule, the first bad line and the alias's KeyID,
    all read off the failing run (:func:`_diagnose`)."""
    if not callable(answer):
        return hint("pass the function itself: check_change_keyid(change_keyid), without calling it.")
    for seed in range(SCHEDULES):
        result = _run_change(answer, seed)
        if result is not None:
            return result
    return passed(f"change_keyid() lost nothing in all {SCHEDULES} schedules: dirty lines of the old alias on both "
                  "packages, stale speculative lines of the new one, both eviction orders, evictions between "
                  "your own operations, and no stale line of the old alias when the frame came back to it.")



# ----------------------------------------------------------------------------------------------
# Exercise 2 — the missing flush in a free path
# ----------------------------------------------------------------------------------------------
def _explain_free(path) -> str | None:
    steps = list(inc.FREE_STEPS)
    if isinstance(path, str) or not isinstance(path, (list, tuple)):
        return f"give the path as a list of step names, e.g. {steps[:2]} ...; got a {type(path).__name__}."
    unknown = [s for s in path if s not in inc.FREE_STEPS and s not in inc.FLUSH_STEPS]
    if unknown:
        return (f"{unknown} are not step names; use the names of inc.FREE_STEPS ({', '.join(steps)}) and of "
                f"inc.FLUSH_STEPS ({', '.join(inc.FLUSH_STEPS)}).")
    kept = [s for s in path if s in inc.FREE_STEPS]
    flushes = [s for s in path if s in inc.FLUSH_STEPS]
    if kept != steps:
        return f"keep the four steps of the free path, in their order ({', '.join(steps)}), and insert one flush."
    if not flushes:
        return "the path still has no flush: insert one of inc.FLUSH_STEPS where it belongs."
    if len(flushes) > 1:
        return "insert exactly one flush; the exercise asks where the one missing flush goes."
    return None


def _free_ref():
    return ["unmap", "tlb_shootdown", "flush_keyid_k", "reset_keyid", "free_list"]


@check("free_path", examples=Examples(
    placeholder=...,
    wrong=[(list(inc.FREE_STEPS), "no flush"),
           (["flush_keyid_k", "unmap", "tlb_shootdown", "reset_keyid", "free_list"], "TLB"),
           (["unmap", "flush_keyid_k", "tlb_shootdown", "reset_keyid", "free_list"], "TLB"),
           (["unmap", "tlb_shootdown", "reset_keyid", "free_list", "flush_keyid_k"], "free list"),
           (["unmap", "tlb_shootdown", "flush_keyid_0", "reset_keyid", "free_list"], "KeyID 0"),
           (["unmap", "tlb_shootdown", "reset_keyid", "free_list"][::-1] + ["flush_keyid_k"], "their order"),
           ("unmap, tlb_shootdown, flush_keyid_k", "list of step names"),
           (["unmap", "tlb_shootdown", "clflush", "reset_keyid", "free_list"], "not step names")],
    correct=_free_ref,
))
def check_free_path(answer):
    """``answer`` is the free path (a list of names) with the missing flush inserted."""
    problem = _explain_free(answer)
    if problem:
        return hint(problem)
    path = list(answer)
    r = inc.run_free_path(path)
    (flush,) = [s for s in path if s in inc.FLUSH_STEPS]
    at = path.index(flush)
    if not r.lost:
        return passed(f"{flush} at position {at + 1} lost nothing in any schedule: after the TLB shootdown no "
                      "thread of alice's can write through KeyID k any more, and before free_list nobody else can "
                      "have the frame. Either place between them is right (Kirill Shutemov's free_encrypted_page() "
                      "flushed before resetting the KeyID).")
    # Every name below is read off the failing schedule (FreePathResult), never assumed.
    head = f"{r.schedule}: {r.why}."
    tlb, free = path.index("tlb_shootdown"), path.index("free_list")
    if flush == "flush_keyid_0":
        return hint(f"{head} Your flush (step {at + 1}) went through KeyID 0, but the line written back over bob's "
                    f"data is tagged with alice's KeyID {r.keyid}: a KeyID-0 flush acts on other full addresses and "
                    f"leaves her line {r.line} under KeyID {r.keyid} in package {r.package}'s cache. On free, flush the "
                    "encrypted (key!=0) range (Peter Zijlstra, 14 Jun 2019).")
    if r.stray_at > at:
        return hint(f"{head} Your flush is step {at + 1}, before the TLB shootdown (step {tlb + 1}): alice's other "
                    f"thread stored to line {r.line} through KeyID {r.keyid} after your flush (before step "
                    f"{r.stray_at + 1}), through a TLB entry not yet shot down, and that dirty line was written back "
                    f"during {r.when}. Flush once nothing can write through KeyID {r.keyid} any more.")
    if r.bob_at <= at:
        return hint(f"{head} Your flush is step {at + 1}, after free_list (step {free + 1}): bob had the frame after "
                    f"step {r.bob_at}, a device wrote his data into DRAM, and the write-back of alice's line "
                    f"{r.line} under KeyID {r.keyid} during {r.when} landed over it. Flush before the frame goes on "
                    "the free list.")
    return hint(f"{head} Alice's line {r.line} under KeyID {r.keyid} was still dirty in package {r.package}'s cache when "
                f"it was written back during {r.when}: flush through KeyID {r.keyid} after the TLB shootdown and "
                "before the free list.")


# ----------------------------------------------------------------------------------------------
# Exercise 3 — predict what each read returns
# ----------------------------------------------------------------------------------------------
_OLD, _NEW = inc.OLD_PKG, inc.NEW_PKG
#: The exercise's ops (no-encrypt keys: every outcome is legible).
L04_SEQUENCE = (
    inc.Op("store", "old", 0, _OLD, inc.payload("alice", 0, 2), "1. alice (package 1) writes line 0 through KeyID a"),
    inc.Op("store", "old", 1, _OLD, inc.payload("alice", 1, 2), "   alice (package 1) writes line 1 through KeyID a"),
    inc.Op("load", "new", 0, _NEW, label="2. bob (package 0) reads line 0 through KeyID b"),
    inc.Op("clflush", "old", 0, label="3. clflush line 0 through KeyID a"),
    inc.Op("load", "new", 0, _NEW, label="4. bob reads line 0 through KeyID b"),
    inc.Op("keyid_change", "new", label="5. the frame goes to bob, no more flushes"),
    inc.Op("store", "new", 1, _NEW, inc.payload("bob", 1), "   bob writes his data to line 1 through KeyID b"),
    inc.Op("load", "new", 1, _NEW, label="6. bob reads line 1"),
    inc.Op("time_passes", "new", label="7. time passes: bob's package's lines leave first, then alice's"),
    inc.Op("load", "new", 1, _NEW, label="8. bob reads line 1"),
    inc.Op("load", "new", 0, _NEW, label="9. bob reads line 0"),
)
L04_QUESTIONS = (
    "step 2: bob reads line 0",
    "step 4: bob reads line 0 again",
    "step 6: bob reads line 1",
    "step 8: bob reads line 1 after time passed",
    "step 9: bob reads line 0 after time passed",
)
L04_OPTIONS = inc.CATEGORIES

_WHY = {
    0: "alice's new line 0 is dirty in package 1 under KeyID a, a different address; bob's fill through KeyID b reads "
       "DRAM, which still holds her first version.",
    1: "the clflush acted on alice's full address only; bob's own line 0 (filled in step 2) is still cached, clean, "
       "and he hits it: stale.",
    2: "bob hits his own dirty line; nothing else has touched it.",
    3: "bob's line 1 was written back first, then alice's dirty line 1 (KeyID a) landed over it: the late dirty "
       "write-back. With no-encrypt keys it reads as alice's data instead of garbage.",
    4: "time passing also dropped bob's stale line 0; his fill now brings what DRAM holds, alice's version 2, "
       "flushed in step 3.",
}


def _truth() -> dict:
    s = inc.Stepper("exercise", "exercise 3", inc.lab("no-encrypt"), L04_SEQUENCE)
    return dict(zip(L04_QUESTIONS, [r.category for _, r in s.reads()]))


@check("read_prediction", examples=Examples(
    placeholder=...,
    wrong=[({q: "alice's data" for q in L04_QUESTIONS}, "DRAM, which still holds"),
           ({**dict(zip(L04_QUESTIONS, ["alice's older data", "alice's older data", "bob's data", "alice's data",
                                         "alice's data"])), L04_QUESTIONS[1]: "alice's data"}, "stale"),
           ({**dict(zip(L04_QUESTIONS, ["alice's older data", "alice's older data", "bob's data", "alice's data",
                                         "alice's data"])), L04_QUESTIONS[3]: "bob's data"}, "late dirty write-back"),
           ({q: "maybe" for q in L04_QUESTIONS}, "not an option"),
           ({L04_QUESTIONS[0]: "zeros"}, "still open")],
    correct=lambda: dict(zip(L04_QUESTIONS, ["alice's older data", "alice's older data", "bob's data", "alice's data",
                                             "alice's data"])),
))
def check_read_prediction(answer):
    """``answer`` maps each question of L04_QUESTIONS to one of L04_OPTIONS."""
    if not isinstance(answer, dict):
        return hint("give a dict: {question: one of L04_OPTIONS, ...} for every question.")
    if answer and all(is_placeholder(v) for v in answer.values()):
        raise NotAttempted
    missing = [q for q in L04_QUESTIONS if q not in answer or is_placeholder(answer[q])]
    if missing:
        return hint(f"answer every question; still open: {missing}.")
    norm = {}
    for q in L04_QUESTIONS:
        value = answer[q]
        options = {o.lower(): o for o in L04_OPTIONS}
        if not isinstance(value, str) or value.strip().lower() not in options:
            return hint(f"{q!r}: {value!r} is not an option; use one of {', '.join(L04_OPTIONS)}.")
        norm[q] = options[value.strip().lower()]
    truth = _truth()
    wrong = [(i, q) for i, q in enumerate(L04_QUESTIONS) if norm[q] != truth[q]]
    if wrong:
        i, q = wrong[0]
        more = f" ({len(wrong) - 1} more prediction(s) differ.)" if len(wrong) > 1 else ""
        return hint(f"{q!r}: you predicted {norm[q]}, the engine shows {truth[q]}. Why: {_WHY[i]}{more}")
    return passed("Every prediction matches the engine: two names of one frame are two cache lines, a flush acts on "
                  "one of them, and the old owner's dirty line lands last.")
