"""Lesson 06's experiments: every interleaving of a few small programs, grouped by outcome.

    from mktme_lite.scenarios import races

    s = races.SCENARIOS["rotate_unsafe"]           # a Scenario: threads of Ops, keys, checks
    ex = races.explore(s, scope="home")            # every interleaving, on cloned Machines
    ex.interleavings, ex.states, ex.safe           # how many, how many distinct states, verdict
    for g in ex.groups:                            # one Group per distinct outcome
        g.count, g.reads, g.dram, g.problems, g.example
    steps = races.replay(s, ex.groups[0].example, scope="home")   # the same run, step by step

A :class:`Scenario` is a few *threads*, each a name, the package it runs on and a tuple of
:class:`Op` (built with :func:`store`, :func:`load`, :func:`clflush`, :func:`wbinvd`,
:func:`evict`, :func:`pconfig`, :func:`lock`, :func:`unlock`, :func:`signal`, :func:`wait`).
A thread runs its ops in order; at every step any thread whose next op can run may go next.
:func:`explore` follows EVERY such interleaving on clones of one Machine, merging
interleavings that reach the same state (same caches, DRAM, key tables, threads, reads), so the
work grows with the number of distinct states while the counts stay exact: ``Group.count`` is
the number of interleavings, not of states, that end in that outcome.

Modelling choices (each visible in the lesson):

* The hardware writes a dirty line back when it pleases. A scenario says so with a thread of
  its own holding one :func:`evict`: it may run at any point, before the line exists too.
* PCONFIG takes two steps: it takes the key-table lock, then programs the entry and lets the
  lock go. Another PCONFIG that finds the lock taken gets DEVICE_BUSY, as the SDM says of a
  concurrent PCONFIG (the SDM's PCONFIG reference). Which lock is shared follows the Machine's
  ``keytable_scope``: one per package (home, writer) or one for the platform.
* Keys are programmed with KEYID_SET_KEY_DIRECT from named key material, so two interleavings
  that program the same key reach the same state (random keys would make every run unique).
* When every thread is done, every package's cache is written back (WBINVD on each package:
  "eventually"), and then the scenario's checks read their lines.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from ..errors import ParameterError
from ..keytable import PconfigCommand, PconfigStatus, key_fingerprint
from ..machine import KEYTABLE_SCOPES, LINE, Machine
from ..memory import line_tweak
from ..params import choose, shown, text, whole
from ..xts import XTSCipher

__all__ = [
    "OPS", "Op", "Thread", "Check", "Scenario", "Group", "Exploration", "Step",
    "store", "load", "clflush", "wbinvd", "evict", "pconfig", "lock", "unlock", "signal", "wait",
    "scenario", "explore", "replay", "SCENARIOS", "KEYS", "MAX_STATES", "MAX_RETRIES",
    "explored", "rotation", "key_service", "KEYTABLE_SCOPES",
]

#: What an op can be, with what it does.
OPS = {
    "store": "write a named value into a line through a KeyID (the thread's package's cache)",
    "load": "read a line through a KeyID; the outcome records which value came back",
    "clflush": "write the line back if dirty and drop it from every package",
    "wbinvd": "write back and drop every line of the thread's package",
    "evict": "the hardware writes one line of the thread's package back when it pleases",
    "pconfig": "program a KeyID's key on a package (two steps: take the key-table lock, program)",
    "lock": "take a software mutex (waits while another thread holds it)",
    "unlock": "release a software mutex",
    "signal": "mark an event as happened (other threads may wait for it)",
    "wait": "wait until an event has happened",
}
#: Most distinct states one exploration may visit; the lesson's scenarios need a few thousand.
MAX_STATES = 200_000
#: Most PCONFIG attempts a retry budget may allow (Linux's key service used 10).
MAX_RETRIES = 16
MAX_THREADS = 6
MAX_OPS = 12

#: Named key material for KEYID_SET_KEY_DIRECT (AES-XTS-128: 16-byte data key, 16-byte tweak key).
KEYS = {
    "A": (bytes(range(0x10, 0x20)), bytes(range(0x20, 0x30))),
    "B": (bytes(range(0x40, 0x50)), bytes(range(0x50, 0x60))),
    "C": (bytes(range(0x70, 0x80)), bytes(range(0x80, 0x90))),
}
ZEROS = "zeros"
GARBAGE = "garbage"
#: Where the lesson's lines live: line "L" is homed on package 0, line "H" on package 1
#: (the Machine splits DRAM evenly: 8 KiB, two packages).
LINES = {"L": 0x40, "H": 0x1040}
DRAM_BYTES = 8192


@dataclass(frozen=True)
class Op:
    """One step of a thread. ``args`` depend on ``kind`` (see the builder functions)."""

    kind: str
    line: str | None = None
    keyid: int | None = None
    value: str | None = None  # store: the value's name; load: the read's label
    key: str | None = None  # pconfig: a name in the scenario's keys, or "tme" (KEYID_CLEAR_KEY)
    package: int | None = None  # pconfig/wbinvd/evict on another package than the thread's
    retries: int = 0  # pconfig: how many more attempts after DEVICE_BUSY
    name: str | None = None  # lock/unlock/signal/wait

    def __str__(self) -> str:
        where = "" if self.package is None else f" on P{self.package}"
        if self.kind == "store":
            return f"store {self.value!r} -> {self.line} via KeyID {self.keyid}"
        if self.kind == "load":
            return f"load {self.line} via KeyID {self.keyid} ({self.value})"
        if self.kind in ("clflush", "evict"):
            return f"{self.kind} {self.line} KeyID {self.keyid}{where}"
        if self.kind == "wbinvd":
            return f"wbinvd{where}"
        if self.kind == "pconfig":
            retry = f", up to {self.retries} retries" if self.retries else ""
            return f"pconfig KeyID {self.keyid} := key {self.key}{where}{retry}"
        return f"{self.kind} {self.name}"


def _line(line: Any) -> str:
    return choose(line, LINES, "line (a line of the scenario's page)")


def _keyid(keyid: Any, low: int = 0) -> int:
    return whole(keyid, "keyid", low, 7)


def _package(package: Any) -> int | None:
    return None if package is None else whole(package, "package (None: the thread's own)", 0, 7)


def _name(name: Any, what: str) -> str:
    return text(name, what, 1, 80)


def store(line: str, keyid: int, value: str) -> Op:
    """Write the value named ``value`` (a scenario value, or "zeros") into ``line`` through ``keyid``."""
    return Op("store", line=_line(line), keyid=_keyid(keyid), value=_name(value, "value (a value's name)"))


def load(line: str, keyid: int, label: str) -> Op:
    """Read ``line`` through ``keyid``; the outcome calls this read ``label``."""
    return Op("load", line=_line(line), keyid=_keyid(keyid), value=_name(label, "label (the read's name)"))


def clflush(line: str, keyid: int) -> Op:
    return Op("clflush", line=_line(line), keyid=_keyid(keyid))


def wbinvd(package: int | None = None) -> Op:
    return Op("wbinvd", package=_package(package))


def evict(line: str, keyid: int, package: int | None = None) -> Op:
    return Op("evict", line=_line(line), keyid=_keyid(keyid), package=_package(package))


def pconfig(keyid: int, key: str, package: int | None = None, retries: int = 0) -> Op:
    return Op("pconfig", keyid=_keyid(keyid, 1), key=_name(key, "key (a key name such as 'B', or 'tme')"),
              package=_package(package), retries=whole(retries, "retries", 0, MAX_RETRIES))


def lock(name: str) -> Op:
    return Op("lock", name=_name(name, "name (of the mutex)"))


def unlock(name: str) -> Op:
    return Op("unlock", name=_name(name, "name (of the mutex)"))


def signal(name: str) -> Op:
    return Op("signal", name=_name(name, "name (of the event)"))


def wait(name: str) -> Op:
    return Op("wait", name=_name(name, "name (of the event)"))


@dataclass(frozen=True)
class Thread:
    name: str
    package: int
    ops: tuple[Op, ...]


@dataclass(frozen=True)
class Check:
    """What the run must end with: after everything is written back, read ``line`` through
    ``keyid`` on ``package``; the outcome is good when the value is one of ``allowed``."""

    label: str
    line: str
    keyid: int
    package: int
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    """A race to explore: threads, the lines and values they use, keys set up first, checks.

    ``setup`` names the key each KeyID holds on every package before the threads start;
    ``reads`` maps a load's label to the values it may return in a correct run; ``secrets``
    maps a value to the thread that owns it (a read of it by anybody else is a leak)."""

    name: str
    title: str
    threads: tuple[Thread, ...]
    values: tuple[tuple[str, str], ...]  # (name, text): what stores write
    setup: tuple[tuple[int, str], ...] = ((1, "A"),)
    checks: tuple[Check, ...] = ()
    reads: tuple[tuple[str, tuple[str, ...]], ...] = ()
    keys: tuple[str, ...] = ("A", "B")
    packages: int = 2
    note: str = ""

    def value_bytes(self, name: str) -> bytes:
        if name == ZEROS:
            return bytes(LINE)
        return dict(self.values)[name].encode().ljust(LINE, b".")[:LINE]


def _check_op(op: Any, scen: "Scenario", thread: str, i: int) -> None:
    where = f"thread {thread!r} op {i}"
    if not isinstance(op, Op):
        raise ParameterError(f"{where} is {shown(op)}; build ops with races.store(), load(), clflush(), "
                             f"wbinvd(), evict(), pconfig(), lock(), unlock(), signal() or wait()")
    choose(op.kind, OPS, f"{where} kind")
    if op.kind in ("store", "load", "clflush", "evict"):
        choose(op.line, LINES, f"{where} line")
        whole(op.keyid, f"{where} keyid", 0, 7)
    if op.kind == "store" and op.value != ZEROS:
        choose(op.value, [n for n, _ in scen.values], f"{where} value")
    if op.kind == "load" and not (isinstance(op.value, str) and op.value):
        raise ParameterError(f"{where}: a load needs a label (a non-empty string) naming the read")
    if op.kind == "pconfig":
        whole(op.keyid, f"{where} keyid", 1, 7)
        choose(op.key, [*scen.keys, "tme"], f"{where} key")
        whole(op.retries, f"{where} retries", 0, MAX_RETRIES)
    if op.package is not None:
        whole(op.package, f"{where} package", 0, scen.packages - 1)
    if op.kind in ("lock", "unlock", "signal", "wait") and not (isinstance(op.name, str) and op.name):
        raise ParameterError(f"{where}: {op.kind} needs a name (a non-empty string)")


def _listed(value: Any, what: str) -> list:
    """``value`` as a list when it is a real sequence (a list, a tuple), else a sentence."""
    if isinstance(value, (str, bytes, type)) or not isinstance(value, (list, tuple)):
        raise ParameterError(f"{what}; got {shown(value)}")
    return list(value)


def scenario(name: str, title: str, threads, values=(), *, setup=((1, "A"),), checks=(), reads=(),
             keys=("A", "B"), note: str = "") -> Scenario:
    """Build and check a Scenario. ``threads`` is a sequence of ``(name, package, [ops])``;
    ``values`` a mapping or pairs of value name -> text; ``checks`` of ``Check`` or
    ``(label, line, keyid, package, allowed)``; ``reads`` a mapping label -> allowed values."""
    name, title, note = text(name, "name", 1, 80), text(title, "title", 1, 200), text(note, "note", 0, 1000)
    setup = tuple(_listed(setup, "setup must be pairs (keyid, key name), e.g. ((1, 'A'),)"))
    checks = _listed(checks, "checks must be a list of races.Check or (label, line, keyid, package, allowed)")
    try:
        values = tuple(dict(values).items()) if values else ()
        reads = dict(reads)
    except (TypeError, ValueError):
        raise ParameterError(f"values and reads are mappings (or pairs) of name -> text; got {shown(values)} "
                             f"and {shown(reads)}") from None
    for vname, vtext in values:
        if not isinstance(vname, str) or not isinstance(vtext, str) or vname in (ZEROS, GARBAGE):
            raise ParameterError(f"value {shown(vname)}: a value is a name (not {ZEROS!r}/{GARBAGE!r}) and a text")
    keys = tuple(_listed(keys, f"keys must be a tuple of key names from {', '.join(KEYS)}"))
    for k in keys:
        choose(k, KEYS, "key name")
    raw = _listed(threads, "threads must be a list of (name, package, [ops])")
    if not 1 <= len(raw) <= MAX_THREADS:
        raise ParameterError(f"a scenario has 1 to {MAX_THREADS} threads; got {len(raw)}")
    scen = Scenario(name, title, (), values, setup, (), tuple(reads.items()), keys, note=note)
    built = []
    for t in raw:
        if isinstance(t, Thread):
            tname, package, ops = t.name, t.package, t.ops
        else:
            try:
                tname, package, ops = t
            except (TypeError, ValueError):
                raise ParameterError(f"thread {shown(t)}: give (name, package, [ops])") from None
        tname = text(tname, "thread name", 1, 80)
        package = whole(package, f"thread {tname!r} package", 0, scen.packages - 1)
        ops = tuple(_listed(ops, f"thread {tname!r}: ops must be a list of races ops"))
        if not 1 <= len(ops) <= MAX_OPS:
            raise ParameterError(f"thread {tname!r} has {len(ops)} ops; allowed 1 to {MAX_OPS}")
        for i, op in enumerate(ops):
            _check_op(op, scen, tname, i)
        built.append(Thread(str(tname), package, ops))
    try:
        for keyid, key in scen.setup:
            whole(keyid, "setup keyid", 1, 7)
            choose(key, scen.keys, "setup key")
        checks = tuple(c if isinstance(c, Check) else Check(c[0], c[1], c[2], c[3], tuple(c[4])) for c in checks)
    except ParameterError:
        raise
    except (TypeError, ValueError, IndexError, KeyError):
        raise ParameterError(f"setup is pairs (keyid, key name) and checks are Check or (label, line, keyid, "
                             f"package, allowed); got {shown(setup)} and {shown(checks)}") from None
    for c in checks:
        text(c.label, "check label", 1, 80)
        choose(c.line, LINES, f"check {c.label!r} line")
        whole(c.keyid, f"check {c.label!r} keyid", 0, 7)
        whole(c.package, f"check {c.label!r} package", 0, 1)
        for a in c.allowed:
            text(a, f"check {c.label!r} allowed value")
    return Scenario(name, title, tuple(built), values, scen.setup, checks, scen.reads, scen.keys, note=note)


# --------------------------------------------------------------------------- the run state

@dataclass
class _State:
    m: Machine
    pcs: list[int]
    phase: list[int]  # pconfig: 0 = not started, 1 = holds the key-table lock
    tries: list[int]  # pconfig attempts that failed so far (for the op at pc)
    ends: list[str]  # "" while running, else how the thread ended
    locks: dict[str, int]  # software mutexes and key-table locks -> holder thread
    signals: frozenset
    reads: tuple  # ((label, value), ...) in the order they happened


def _boot(scen: Scenario, scope: str, trace: bool = False) -> _State:
    m = Machine(packages=scen.packages, keyid_bits=3, phys_bits=40, dram_bytes=DRAM_BYTES, cache_sets=4,
                cache_ways=2, seed=6, keytable_scope=scope, trace=trace)
    for keyid, key in scen.setup:
        for p in range(scen.packages):
            m.pconfig(p, keyid, PconfigCommand.KEYID_SET_KEY_DIRECT, *KEYS[key])
    m.reset_trace()
    n = len(scen.threads)
    return _State(m, [0] * n, [0] * n, [0] * n, [""] * n, {}, frozenset(), ())


def _copy(st: _State) -> _State:
    return _State(st.m.clone(), list(st.pcs), list(st.phase), list(st.tries), list(st.ends), dict(st.locks),
                  st.signals, st.reads)


def _table_lock(m: Machine, package: int) -> str:
    return "keytable" if m.keytable_scope == "platform" else f"keytable P{package}"


def _classify(scen: Scenario, data: bytes) -> str:
    if data == bytes(LINE):
        return ZEROS
    for vname, _ in scen.values:
        if data == scen.value_bytes(vname):
            return vname
    return GARBAGE


def _enabled(scen: Scenario, st: _State, t: int) -> bool:
    if st.ends[t]:
        return False
    op = scen.threads[t].ops[st.pcs[t]]
    if op.kind == "wait":
        return op.name in st.signals
    if op.kind == "lock":
        return st.locks.get(op.name, t) == t
    return True


def _advance(scen: Scenario, st: _State, t: int) -> None:
    st.pcs[t] += 1
    st.phase[t] = st.tries[t] = 0
    if st.pcs[t] == len(scen.threads[t].ops):
        st.ends[t] = "done"


def _step(scen: Scenario, st: _State, t: int) -> str:
    """Run thread ``t``'s next step on ``st`` (in place); returns what happened, in words."""
    th = scen.threads[t]
    op = th.ops[st.pcs[t]]
    m = st.m
    pkg = th.package if op.package is None else op.package
    if op.kind in ("store", "load", "clflush", "evict"):
        hpa = m.hpa(LINES[op.line], op.keyid)
    if op.kind == "store":
        m.store(hpa, scen.value_bytes(op.value), package=th.package)
        what = str(op)
    elif op.kind == "load":
        got = _classify(scen, m.load(hpa, LINE, package=th.package))
        st.reads = st.reads + ((op.value, got),)
        what = f"{op} -> {got}"
    elif op.kind == "clflush":
        m.clflush(hpa)
        what = str(op)
    elif op.kind == "evict":
        what = str(op) + ("" if m.evict(hpa, pkg) else " (nothing cached)")
    elif op.kind == "wbinvd":
        m.wbinvd(pkg)
        what = str(op)
    elif op.kind == "pconfig":
        table = _table_lock(m, pkg)
        if st.phase[t] == 0:  # take the key-table lock, or come back DEVICE_BUSY
            holder = st.locks.get(table)
            if holder is not None and holder != t:
                st.tries[t] += 1
                m.emit("pconfig", pkg, None, op.keyid, f"-> DEVICE_BUSY ({table} held by {scen.threads[holder].name})")
                if st.tries[t] > op.retries:
                    st.ends[t] = f"gave up: DEVICE_BUSY {st.tries[t]}x"
                return f"{op}: DEVICE_BUSY ({table} held by {scen.threads[holder].name})"
            st.locks[table] = t
            st.phase[t] = 1
            return f"{op}: takes {table}"
        del st.locks[table]
        if op.key == "tme":
            status = m.pconfig(pkg, op.keyid, PconfigCommand.KEYID_CLEAR_KEY)
        else:
            status = m.pconfig(pkg, op.keyid, PconfigCommand.KEYID_SET_KEY_DIRECT, *KEYS[op.key])
        if status is PconfigStatus.PROG_SUCCESS:
            _advance(scen, st, t)
            return f"{op}: PROG_SUCCESS"
        st.phase[t] = 0
        st.tries[t] += 1
        if not status.retryable or st.tries[t] > op.retries:
            st.ends[t] = f"gave up: {status.name}"
        return f"{op}: {status.name}"
    elif op.kind == "lock":
        st.locks[op.name] = t
        what = str(op)
    elif op.kind == "unlock":
        if st.locks.get(op.name) != t:
            st.ends[t] = f"error: unlock of {op.name!r} it does not hold"
            return f"{op}: not held"
        del st.locks[op.name]
        what = str(op)
    elif op.kind == "signal":
        st.signals = st.signals | {op.name}
        what = str(op)
    else:  # wait
        what = str(op)
    _advance(scen, st, t)
    return what


def _key(scen: Scenario, st: _State) -> tuple:
    """Everything that decides the rest of a run (so states with equal keys are merged)."""
    m = st.m
    caches = tuple(tuple((ln.hpa, ln.dirty, bytes(ln.data)) for ln in c.lines()) for c in m.caches)
    dram = tuple(m.memory.read_line(pa) for pa in LINES.values())
    tables = tuple(tuple(sorted(t.view().items())) for t in m.tables)
    injected = tuple(tuple(d) for d in m._injected)
    return (tuple(st.pcs), tuple(st.phase), tuple(st.tries), tuple(st.ends), tuple(sorted(st.locks.items())),
            st.signals, st.reads, caches, dram, tables, injected)


def _sealed(scen: Scenario, m: Machine, line: str) -> str:
    """What DRAM holds at ``line``, in words: which value under which key, if any."""
    pa = LINES[line]
    stored = m.dram(pa, LINE)
    for kname in scen.keys:
        plain = XTSCipher(*KEYS[kname]).decrypt(line_tweak(pa), stored)
        got = _classify(scen, plain)
        if got != GARBAGE:
            return f"{got} under key {kname}"
    return "neither key's ciphertext of a known value"


@dataclass(frozen=True)
class Group:
    """One outcome and every interleaving that ends in it."""

    reads: tuple[tuple[str, str], ...]  # (label, value) of every load, in the order they ran
    checks: tuple[tuple[str, str], ...]  # (label, value) of each Check after everything is written back
    dram: tuple[tuple[str, str], ...]  # (line, what DRAM holds) after everything is written back
    ends: tuple[tuple[str, str], ...]  # (thread, how it ended)
    problems: tuple[str, ...]  # why this outcome is wrong; empty when it is a correct one
    count: int  # how many interleavings end here
    example: tuple[int, ...]  # one of them: the thread index of each step

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def label(self) -> str:
        reads = ", ".join(f"{k}={v}" for k, v in self.reads) or "no reads"
        return ("OK: " if self.ok else "BAD: ") + reads

    @property
    def summary(self) -> str:
        """The outcome in one line: the reads, every thread that did not end normally, what DRAM
        holds. Two groups of one exploration never share a summary (the label alone may)."""
        parts = [", ".join(f"{k}={v}" for k, v in self.reads)] if self.reads else []
        parts += [f"{name} {how}" for name, how in self.ends if how != "done"]
        parts += [f"DRAM {line}: {what}" for line, what in self.dram]
        parts += [f"check {label}={value}" for label, value in self.checks]
        return "; ".join(parts) or "every thread done"


@dataclass(frozen=True)
class Exploration:
    scenario: str
    scope: str
    interleavings: int
    states: int
    groups: tuple[Group, ...]  # correct outcomes last, most frequent first within each kind

    @property
    def safe(self) -> bool:
        """Every interleaving ends in a correct outcome."""
        return all(g.ok for g in self.groups)

    @property
    def bad(self) -> int:
        """How many interleavings end in a wrong outcome."""
        return sum(g.count for g in self.groups if not g.ok)

    def first_bad(self) -> Group | None:
        return next((g for g in self.groups if not g.ok), None)


def _finish(scen: Scenario, st: _State) -> tuple:
    m = st.m.clone()
    m.wbinvd()
    checks = tuple((c.label, _classify(scen, m.load(m.hpa(LINES[c.line], c.keyid), LINE, package=c.package)))
                   for c in scen.checks)
    used = sorted({op.line for t in scen.threads for op in t.ops if op.line})
    dram = tuple((line, _sealed(scen, m, line)) for line in used)
    ends = tuple((scen.threads[t].name, st.ends[t] or "stuck (waiting forever)") for t in range(len(scen.threads)))
    problems = []
    allowed = dict(scen.reads)
    for label, got in st.reads:
        if label in allowed and got not in allowed[label]:
            problems.append(f"read {label!r} returned {got}, expected {' or '.join(allowed[label])}")
    for c, (label, got) in zip(scen.checks, checks):
        if got not in c.allowed:
            problems.append(f"after write-back, {label!r} reads {got}, expected {' or '.join(c.allowed)}")
    for name, how in ends:
        if how != "done":
            problems.append(f"{name} {how}")
    return st.reads, checks, dram, ends, tuple(problems)


def explore(scen: Scenario, scope: str = "home") -> Exploration:
    """Run every interleaving of ``scen`` under ``keytable_scope=scope``; group the outcomes."""
    if not isinstance(scen, Scenario):
        raise ParameterError(f"explore() needs a races.Scenario (see races.SCENARIOS); got {shown(scen)}")
    scope = choose(scope, KEYTABLE_SCOPES, "scope (the Machine's keytable_scope)")
    memo: dict[tuple, dict[tuple, list]] = {}

    def visit(st: _State) -> dict[tuple, list]:
        k = _key(scen, st)
        hit = memo.get(k)
        if hit is not None:
            return hit
        if len(memo) >= MAX_STATES:
            raise ParameterError(f"scenario {scen.name!r} has more than {MAX_STATES} distinct states; "
                                 "use fewer threads, ops or retries")
        runnable = [t for t in range(len(scen.threads)) if _enabled(scen, st, t)]
        out: dict[tuple, list] = {}
        if not runnable:
            out[_finish(scen, st)] = [1, ()]
        for t in runnable:
            nxt = _copy(st)
            _step(scen, nxt, t)
            for outcome, (count, path) in visit(nxt).items():
                entry = out.setdefault(outcome, [0, (t, *path)])
                entry[0] += count
        memo[k] = out
        return out

    result = visit(_boot(scen, scope))
    groups = [Group(reads, checks, dram, ends, problems, count, path)
              for (reads, checks, dram, ends, problems), (count, path) in result.items()]
    groups.sort(key=lambda g: (g.ok, -g.count, g.label))
    return Exploration(scen.name, scope, sum(g.count for g in groups), len(memo), tuple(groups))


@functools.lru_cache(maxsize=64)
def _explored(scen: Scenario, scope: str) -> Exploration:
    return explore(scen, scope)


def explored(scen: Scenario, scope: str = "home") -> Exploration:
    """:func:`explore`, remembered: a Scenario and its Exploration are frozen, so one result per
    (scenario, scope) serves every widget redraw and notebook cell (the 64 most recent are kept)."""
    if not isinstance(scen, Scenario):
        raise ParameterError(f"explored() needs a races.Scenario (see races.SCENARIOS); got {shown(scen)}")
    return _explored(scen, choose(scope, KEYTABLE_SCOPES, "scope (the Machine's keytable_scope)"))


@dataclass(frozen=True)
class Step:
    """One step of a replayed interleaving and what the machine looked like after it."""

    index: int
    thread: str
    package: int
    what: str
    events: tuple[str, ...]  # the hardware events of the step, in order
    lines: tuple[tuple[int, str, int, bool, str], ...]  # (package, line, keyid, dirty, value) cached
    dram: tuple[tuple[str, str], ...]  # (line, what DRAM holds)
    tables: tuple[tuple[int, str], ...]  # (package, KeyID 1's key) per package


_KEY_NAMES = {key_fingerprint(data, tweak): kname for kname, (data, tweak) in KEYS.items()}


def _keyname(m: Machine, package: int, keyid: int) -> str:
    entry = m.tables[package].entry(keyid)
    return _KEY_NAMES.get(entry.fingerprint, entry.mode.value)


def _snapshot(scen: Scenario, st: _State, index: int, t: int | None, what: str, events) -> Step:
    m = st.m
    lines = []
    inverse = {pa: name for name, pa in LINES.items()}
    for p, cache in enumerate(m.caches):
        for ln in cache.lines():
            pa, keyid = m.split(ln.hpa)
            lines.append((p, inverse.get(pa, hex(pa)), keyid, ln.dirty, _classify(scen, bytes(ln.data))))
    used = sorted({op.line for th in scen.threads for op in th.ops if op.line})
    dram = tuple((line, _sealed(scen, m, line)) for line in used)
    keyids = sorted({k for k, _ in scen.setup} | {op.keyid for th in scen.threads for op in th.ops
                                                    if op.kind == "pconfig"})
    tables = tuple((p, ", ".join(f"KeyID {k}: {_keyname(m, p, k)}" for k in keyids)) for p in range(m.packages))
    th = scen.threads[t] if t is not None else None
    return Step(index, th.name if th else "start", th.package if th else -1, what, tuple(events), tuple(lines),
                dram, tables)


def replay(scen: Scenario, path, scope: str = "home") -> tuple[Step, ...]:
    """Run one interleaving (``Group.example``, or a learner's list of thread indices) step by step.

    Returns the state before the first step and after every step. A step of a thread that
    cannot run at that point (finished, or waiting) is refused, naming it."""
    if not isinstance(scen, Scenario):
        raise ParameterError(f"replay() needs a races.Scenario; got {shown(scen)}")
    scope = choose(scope, KEYTABLE_SCOPES, "scope (the Machine's keytable_scope)")
    try:
        path = [whole(t, "thread index", 0, len(scen.threads) - 1) for t in path]
    except TypeError:
        raise ParameterError(f"path must be a sequence of thread indices; got {shown(path)}") from None
    if len(path) > 10 * MAX_OPS * MAX_THREADS:
        raise ParameterError(f"path has {len(path)} steps; an interleaving of this scenario is far shorter")
    st = _boot(scen, scope, trace=True)
    steps = [_snapshot(scen, st, 0, None, "set-up: " + ", ".join(f"KeyID {k} := key {v}" for k, v in scen.setup), ())]
    for i, t in enumerate(path, start=1):
        if not _enabled(scen, st, t):
            why = st.ends[t] or f"waiting at {scen.threads[t].ops[st.pcs[t]]}"
            raise ParameterError(f"step {i}: thread {t} ({scen.threads[t].name}) cannot run now ({why})")
        before = st.m._seq
        what = _step(scen, st, t)
        events = tuple(str(e) for e in st.m.trace if e.seq >= before)
        steps.append(_snapshot(scen, st, i, t, what, events))
    return tuple(steps)


# --------------------------------------------------------------------------- the lesson's scenarios

_VALUES = {"secret": "old owner's secret", "fresh": "new owner's data"}
_NO_LEAK = ("garbage", ZEROS)


def _rotation(name: str, title: str, kernel_p0, kernel_p1, note: str) -> Scenario:
    return scenario(
        name, title,
        [("old owner (P1)", 1, [store("L", 1, "secret"), signal("freed")]),
         ("kernel on P0", 0, kernel_p0),
         ("kernel on P1", 1, kernel_p1),
         ("new owner (P0)", 0, [wait("rekeyed P0"), wait("rekeyed P1"), load("L", 1, "first read")]),
         ("P1's cache", 1, [evict("L", 1)])],
        _VALUES,
        reads={"first read": _NO_LEAK},
        note=note,
    )


def rotation(kernel_p0, kernel_p1, *, name: str = "my_rotation", title: str = "A key rotation of your own",
             note: str = "") -> Scenario:
    """The lesson's rotation race with your own kernel programs: the old owner (P1) writes its
    secret through KeyID 1 and signals "freed"; the new owner (P0) waits for "rekeyed P0" and
    "rekeyed P1", then reads; P1's cache may write the line back at any moment. ``kernel_p0`` and
    ``kernel_p1`` are the op lists of the kernel on each package (they must signal "rekeyed P0"
    and "rekeyed P1"). A correct run: the new owner never reads the secret."""
    p0 = _listed(kernel_p0, "kernel_p0 must be a list of races ops (the kernel on package 0)")
    p1 = _listed(kernel_p1, "kernel_p1 must be a list of races ops (the kernel on package 1)")
    return _rotation(name, title, p0, p1, note)


#: Keys the key-service CPUs of :func:`key_service` program, one per CPU (KeyIDs 1, 2, 3).
_SERVICE_KEYS = ("B", "C", "A")


def key_service(cpus: int = 2, retries: int = 0, mutex: bool = False) -> Scenario:
    """``cpus`` logical processors of package 0 each program their own KeyID at the same time
    (KeyID 1 := B, 2 := C, 3 := A), each retrying DEVICE_BUSY up to ``retries`` times, or
    serialised by a software mutex when ``mutex`` is set (KVM's choice)."""
    cpus = whole(cpus, "cpus (key-service CPUs of package 0)", 1, 3)
    retries = whole(retries, "retries", 0, MAX_RETRIES)
    if not isinstance(mutex, bool):
        raise ParameterError(f"mutex must be True or False; got {shown(mutex)}")
    threads = []
    for i in range(cpus):
        ops = [pconfig(i + 1, _SERVICE_KEYS[i], retries=retries)]
        if mutex:
            ops = [lock("keys"), *ops, unlock("keys")]
        threads.append((f"key service, CPU {'abc'[i]}", 0, ops))
    how = "a mutex" if mutex else f"{retries} retries"
    return scenario(f"key_service_{cpus}cpus_{'mutex' if mutex else f'r{retries}'}",
                    f"{cpus} CPUs of one package program a KeyID each, {how}", threads, (),
                    keys=("A", "B", "C"), note=f"Key-service CPUs contend for the key-table lock; {how}.")


SCENARIOS: dict[str, Scenario] = {
    "rotate_unsafe": _rotation(
        "rotate_unsafe", "Re-key KeyID 1 with the old owner's line still dirty",
        [wait("freed"), pconfig(1, "B"), signal("rekeyed P0")],
        [wait("freed"), pconfig(1, "B"), signal("rekeyed P1")],
        "The RFC's order: the old owner is done, each package's key table gets key B, the new owner "
        "reads. Nobody writes the old owner's dirty line back first."),
    "rotate_own_package": _rotation(
        "rotate_own_package", "Each package writes back only after its own PCONFIG",
        [wait("freed"), pconfig(1, "B"), wbinvd(), signal("rekeyed P0")],
        [wait("freed"), pconfig(1, "B"), wbinvd(), signal("rekeyed P1")],
        "WBINVD after PCONFIG: the write-back now happens under the new key on purpose."),
    "rotate_no_barrier": _rotation(
        "rotate_no_barrier", "Write back, then re-key, each package on its own",
        [wait("freed"), wbinvd(), pconfig(1, "B"), signal("rekeyed P0")],
        [wait("freed"), wbinvd(), pconfig(1, "B"), signal("rekeyed P1")],
        "Every package writes back before it re-keys, but P0 may re-key before P1 has written back."),
    "rotate_safe": _rotation(
        "rotate_safe", "No users, write back everywhere, then re-key everywhere, then reuse",
        [wait("freed"), wbinvd(), signal("clean P0"), wait("clean P1"), lock("keys"), pconfig(1, "B"),
         unlock("keys"), signal("rekeyed P0")],
        [wait("freed"), wbinvd(), signal("clean P1"), wait("clean P0"), lock("keys"), pconfig(1, "B"),
         unlock("keys"), signal("rekeyed P1")],
        "Dave Hansen's rule (5 Dec 2018) as a protocol: the KeyID has no users; every package writes "
        "back; only when all are clean does any package re-key, one PCONFIG at a time (a mutex, as "
        "KVM does for TDX); the new owner waits for all of them."),
    "rotate_safe_retry": _rotation(
        "rotate_safe_retry", "The safe order, but retrying DEVICE_BUSY instead of a mutex",
        [wait("freed"), wbinvd(), signal("clean P0"), wait("clean P1"), pconfig(1, "B", retries=10),
         signal("rekeyed P0")],
        [wait("freed"), wbinvd(), signal("clean P1"), wait("clean P0"), pconfig(1, "B", retries=10),
         signal("rekeyed P1")],
        "The same order with the RFC's retry budget (10) in place of the mutex."),
    "busy_no_retry": scenario(
        "busy_no_retry", "Two CPUs program KeyIDs 1 and 2 at once, no retry",
        [("key service, CPU a", 0, [pconfig(1, "B")]), ("key service, CPU b", 0, [pconfig(2, "C")])],
        (), keys=("A", "B", "C"),
        note="Two logical processors of one package run PCONFIG at the same time: one may get DEVICE_BUSY."),
    "busy_retry": scenario(
        "busy_retry", "The same, retrying DEVICE_BUSY up to 10 times",
        [("key service, CPU a", 0, [pconfig(1, "B", retries=10)]),
         ("key service, CPU b", 0, [pconfig(2, "C", retries=10)])],
        (), keys=("A", "B", "C"),
        note="A retry budget: each busy answer costs one attempt."),
    "busy_mutex": scenario(
        "busy_mutex", "The same, serialised by a mutex (KVM's choice for TDX)",
        [("key service, CPU a", 0, [lock("keys"), pconfig(1, "B"), unlock("keys")]),
         ("key service, CPU b", 0, [lock("keys"), pconfig(2, "C"), unlock("keys")])],
        (), keys=("A", "B", "C"),
        note="A software lock around PCONFIG: nobody ever finds the key table busy."),
}
