"""Checks for the exercises of lesson 04, cache incoherence (solutions/04_cache_incoherence.ipynb).

Exercise 1 hands over a function, 2 a list of step names, 3 a dict of predictions::

    from mktme_lite.checks.cache_incoherence import (L04_OPTIONS, L04_QUESTIONS, check_change_keyid,
                                                     check_free_path, check_read_prediction)

    check_change_keyid(change_keyid)       # change_keyid(kernel, frame, old, new) never loses data
    check_free_path(free_path)             # the free path with the missing flush put back
    check_read_prediction(dict(zip(L04_QUESTIONS, [...])))   # each answer one of L04_OPTIONS

Every verdict is computed on the engine: exercise 1's function runs on fresh labs
(:func:`mktme_lite.scenarios.incoherence.lab`) under many seeded schedules of dirty lines,
speculative fills and evictions, some of them injected between the function's own operations;
exercise 2's path runs under every schedule of :func:`~mktme_lite.scenarios.incoherence.run_free_path`;
exercise 3's sequence runs on a :class:`~mktme_lite.scenarios.incoherence.Stepper`. The checks import
no widget, ipywidgets or matplotlib.
"""

from __future__ import annotations

import numpy as np

from . import Examples, NotAttempted, check, hint, is_placeholder, passed
from ..dump import LINE
from ..kernel import PAGE_SIZE, Policy
from ..scenarios import incoherence as inc

__all__ = ["check_change_keyid", "check_free_path", "check_read_prediction", "L04_QUESTIONS", "L04_OPTIONS",
           "L04_SEQUENCE", "SCHEDULES"]

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
    called, through which KeyID, and (seeded) lets a line of the frame leave a cache after a call."""

    OPS = ("store", "load", "clflush", "clflushopt", "clwb", "wbinvd", "wbnoinvd", "evict", "speculative_fill")

    def __init__(self, lab, rng, evict_p: float):
        self.lab, self.m, self.rng, self.evict_p = lab, lab.machine, rng, evict_p
        self.calls: list[tuple[str, int | None]] = []
        self.injected: list[str] = []
        self._depth = 0
        for name in self.OPS:
            setattr(self.m, name, self._wrap(name, getattr(self.m, name)))

    def undo(self):
        for name in self.OPS:
            delattr(self.m, name)

    def _keyid(self, args):
        if args and isinstance(args[0], int) and not isinstance(args[0], bool):
            try:
                pa, keyid = self.m.split(args[0])
            except Exception:
                return None
            return keyid if self.lab.pa <= pa < self.lab.pa + PAGE_SIZE else None
        return None

    def _wrap(self, name, fn):
        def call(*args, **kwargs):
            self._depth += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                self._depth -= 1
            if self._depth == 0:
                self.calls.append((name, self._keyid(args)))
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
        self.injected.append(f"line {(pa - self.lab.pa) // LINE} (KeyID {keyid}) left package {p}'s cache")
        type(self.m).evict(self.m, hpa, p)


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


def _after_call(lab, old, new):
    """What the call left in the caches: dirty lines of the old alias, stale lines of the new one."""
    m = lab.machine
    left_old, stale_new = [], []
    for p, cache in enumerate(m.caches):
        for line in cache.lines():
            pa, keyid = m.split(line.hpa)
            if not lab.pa <= pa < lab.pa + PAGE_SIZE:
                continue
            i = (pa - lab.pa) // LINE
            if keyid == old and line.dirty:
                left_old.append((i, p))
            if keyid == new and not line.dirty and bytes(line.data) != m.dram_as(line.hpa):
                stale_new.append((i, p))
    return left_old, stale_new


def _run_change(answer, seed: int):
    """Run ``answer`` under one schedule. Returns None (nothing lost) or a hint."""
    dirty, spec, bob_pkg, writes, order, evict_p, rng = _schedule(seed)
    lab = inc.lab("cpu")
    m, old, new = lab.machine, lab.old, lab.new
    for i, p in spec.items():
        m.speculative_fill(lab.h(i, "new"), p)
    for i, p in dirty.items():
        m.store(lab.h(i, "old"), inc.payload("alice", i, 2), p)
    rec = _Recorder(lab, rng, evict_p)
    before = len(m.trace)
    try:
        answer(lab.kernel, lab.pa, old, new)
    finally:
        rec.undo()
    if len(m.trace) == before:
        raise NotAttempted
    left_old, stale_new = _after_call(lab, old, new)
    where = _describe(seed, dirty, spec, bob_pkg, order, evict_p)
    # bob: reads every line (must be zeros), writes some, time passes, reads again
    first_reads = {i: m.load(lab.h(i, "new"), LINE, bob_pkg) for i in range(LINES)}
    for i in writes:
        m.store(lab.h(i, "new"), _bob(i), bob_pkg)
    inc.time_passes(m, lab.pa, (old, new), order)
    final = {i: m.load(lab.h(i, "new"), LINE, bob_pkg) for i in range(LINES)}
    want = {i: (_bob(i) if i in writes else bytes(LINE)) for i in range(LINES)}
    bad_first = [i for i, got in first_reads.items() if got != bytes(LINE)]
    lost = [i for i in range(LINES) if final[i] != want[i]]
    if not bad_first and not lost:
        return None
    calls = rec.calls
    stores_new = [j for j, (name, k) in enumerate(calls) if name == "store" and k == new]
    flush_old = [j for j, (name, k) in enumerate(calls) if name in ("clflush", "clflushopt", "clwb") and k == old]
    wbinvds = [j for j, (name, k) in enumerate(calls) if name in ("wbinvd", "wbnoinvd")]
    stores_old = [j for j, (name, k) in enumerate(calls) if name == "store" and k == old]
    if left_old:
        i, p = left_old[0]
        if wbinvds and not flush_old:
            return hint(f"{where}. Alice's dirty line {i} under KeyID {old} was still cached in package {p} after "
                        "change_keyid() returned: WBINVD (and WBNOINVD) act on one package's caches only. Run it on "
                        "every package (machine.wbinvd() with no argument), or clflush the old alias, which reaches "
                        "every package.")
        if flush_old:
            return hint(f"{where}. Alice's dirty line {i} under KeyID {old} was still cached after change_keyid() "
                        "returned: flush EVERY line of the old alias, e.g. machine.flush_range(machine.hpa(frame, "
                        "old), PAGE_SIZE), not only some of them.")
        return hint(f"{where}. Alice's dirty line {i} under KeyID {old} (package {p}) was still cached after "
                    "change_keyid() returned, and it was written back later, over bob's data: the old alias was "
                    "never flushed. Flush the frame through KeyID old first (spec EvictPage; Dave Hansen's rule).")
    if lost and stores_new and flush_old and stores_new[0] < flush_old[0]:
        return hint(f"{where}. Bob lost line {lost[0]}: you wrote through the new KeyID before flushing the old "
                    "alias, and one of your new lines left the cache between the two ("
                    + (rec.injected[0] if rec.injected else "an eviction") + "), so the old alias's flush then wrote "
                    "alice's line over it. Flush the old alias first, then zero through the new one.")
    if bad_first and stores_old and not stores_new:
        return hint(f"{where}. Bob's first read of line {bad_first[0]} was not zeros: you zeroed the page through "
                    f"KeyID {old}, the old key, and bob decrypts with KeyID {new}'s key. Zero it through the new KeyID.")
    if stale_new:
        i, p = stale_new[0]
        return hint(f"{where}. Line {i} of the NEW alias (KeyID {new}, package {p}) was a stale line, filled "
                    "speculatively before the change, and still cached after change_keyid() returned: bob read it. "
                    "Flush the new alias too, or zero the whole page through it (Andy, 5 and 6 Dec).")
    if bad_first:
        i = bad_first[0]
        return hint(f"{where}. Bob's first read of line {i} was not zeros but "
                    f"{'garbage' if first_reads[i] != inc.payload('alice', i, 2) else 'alice data'}: the page must "
                    "reach its new owner cleared (spec AddPage step 4). After flushing the old alias, zero the page "
                    f"through the new KeyID: machine.store(machine.hpa(frame, new), bytes(PAGE_SIZE)).")
    return hint(f"{where}. Bob lost line {lost[0]} after time passed; look at which alias still held a line of "
                "the frame when change_keyid() returned.")


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


def _kernel_as_proposed(kernel, frame, old, new):
    kernel.change_frame_keyid(frame, new)


def _kernel_fixed(kernel, frame, old, new):
    kernel.policy = Policy.fixed()
    kernel.change_frame_keyid(frame, new)


@check("change_keyid", examples=Examples(
    placeholder=...,
    wrong=[(_zero_only, "old alias was never flushed"),
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
    hands it over cleared: under every schedule, bob's first reads are zeros and his writes survive."""
    if not callable(answer):
        return hint("pass the function itself: check_change_keyid(change_keyid), without calling it.")
    for seed in range(SCHEDULES):
        result = _run_change(answer, seed)
        if result is not None:
            return result
    return passed(f"change_keyid() lost nothing in all {SCHEDULES} schedules: dirty lines of the old alias on both "
                  "packages, stale speculative lines of the new one, both eviction orders, and evictions between "
                  "your own operations.")



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
    if flush == "flush_keyid_0":
        return hint(f"{r.schedule}: {r.why}. You flushed through KeyID 0, but alice's dirty lines are tagged with her "
                    "KeyID k: a KeyID-0 flush acts on other addresses. On free, flush the encrypted (key!=0) range "
                    "(Peter Zijlstra, 14 Jun 2019).")
    if at < path.index("tlb_shootdown"):
        return hint(f"{r.schedule}: {r.why}. Your flush runs before the TLB shootdown, so another thread of alice's "
                    "can still write through a stale TLB entry, under KeyID k, after it. Flush once nothing can "
                    "write through KeyID k any more.")
    return hint(f"{r.schedule}: {r.why}. Your flush runs after free_list: by then bob may have the frame, a device "
                "may have written his data into DRAM, and your flush writes alice's dirty line over it. Flush before "
                "the frame goes on the free list.")


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
