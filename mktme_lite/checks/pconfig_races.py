"""Checks for the exercises of lesson 06, PCONFIG races (solutions/06_pconfig_races.ipynb).

Exercise 1 hands over a path (thread numbers), 2 the two kernel programs, 3 a table and a choice::

    from mktme_lite.checks.pconfig_races import (EX1_SCENARIO, EX1_SCOPE, EX3_BUDGETS, check_busy_choice,
                                                 check_corrupting_path, check_safe_rotation)

    check_corrupting_path(path)                        # an interleaving of rotate_no_barrier that leaks
    check_safe_rotation((kernel_p0, kernel_p1))        # a rotation safe in every interleaving, every scope
    check_busy_choice((outcomes, choice))              # {budget or "mutex": (bad, interleavings)}, the pick

Every verdict comes from the engine: exercise 1 is replayed with ``races.replay``, exercise 2 is
explored with ``races.explore`` under each key-table scope (a failure shows the first bad
interleaving, step by step), exercise 3 is compared with the explorer's own counts. The
scenarios come from :mod:`mktme_lite.scenarios.races`, so these checks run without a front end.
"""

from __future__ import annotations

from . import Examples, NotAttempted, check, hint, is_placeholder, is_stub_return, passed
from ..errors import MKTMEError
from ..scenarios import races

__all__ = ["check_corrupting_path", "check_safe_rotation", "check_busy_choice", "EX1_SCENARIO", "EX1_SCOPE",
           "EX3_CPUS", "EX3_BUDGETS"]

#: Exercise 1's race: write back, then re-key, each package on its own, under the home scope.
EX1_SCENARIO = "rotate_no_barrier"
EX1_SCOPE = "home"
#: Exercise 3: three CPUs of one package, each programming a KeyID; the budgets to enumerate.
EX3_CPUS = 3
EX3_BUDGETS = (0, 1, 2, 3)


def _steps_text(scen, path, scope, limit: int = 30) -> str:
    steps = races.replay(scen, path, scope)
    shown_steps = [f"{s.index}. {s.thread}: {s.what}" for s in steps[1:limit + 1]]
    more = f" ... ({len(steps) - 1 - limit} more)" if len(steps) - 1 > limit else ""
    return "; ".join(shown_steps) + more


# ----------------------------------------------------------------------------------------------
# Exercise 1 — find a corrupting interleaving
# ----------------------------------------------------------------------------------------------
_EX1_SOLUTION = [0, 0, 1, 1, 1, 1, 1, 4, 2, 2, 2, 2, 2, 3, 3, 3]


def _ex1_ok_path():
    return list(races.explore(races.SCENARIOS[EX1_SCENARIO], EX1_SCOPE).groups[-1].example)


@check("corrupting_path", examples=Examples(
    placeholder=...,
    wrong=[(_ex1_ok_path(), "garbage"),
           ([3, 0, 0], "cannot run"),
           ([0, 0, 1, 1], "never reads"),
           ("0 0 1 1", "list of thread numbers"),
           ([0, 0, 1, 7], "thread index")],
    correct=lambda: list(_EX1_SOLUTION),
))
def check_corrupting_path(answer):
    scen, path = races.SCENARIOS[EX1_SCENARIO], answer
    if isinstance(path, (str, bytes)) or not isinstance(path, (list, tuple)):
        return hint(f"give the interleaving as a list of thread numbers (0 to {len(scen.threads) - 1}), one per "
                    f"step, e.g. [0, 0, 1, ...]; got a {type(path).__name__}")
    if any(is_placeholder(x) for x in path):
        raise NotAttempted
    try:
        steps = races.replay(scen, path, EX1_SCOPE)
    except MKTMEError as refused:
        return hint(f"replaying your path was refused: {refused}. A thread can take its next step only when it "
                    "can run: a `wait` needs its `signal` first, and a finished thread has no steps left.")
    reads = [s for s in steps if "(first read)" in s.what]
    if not reads:
        return hint(f"in your path of {len(path)} steps the new owner (thread 3) never reads: after both kernels "
                    "signal 'rekeyed', give thread 3 its three steps (two waits and the load).")
    read = reads[0]
    got = read.what.rsplit("-> ", 1)[-1]
    if got == "secret":
        return passed(f"Replayed under keytable_scope={EX1_SCOPE!r}: at step {read.index} the new owner read the "
                      "old owner's secret. P1's dirty line went to DRAM through P0's table (its home) after P0 had "
                      "re-keyed, so it was sealed with key B.")
    wbs = [s for s in steps[: read.index] if any(" writeback " in e for e in s.events)]
    when = (f"the dirty line was written back at step {wbs[0].index} ({wbs[0].thread}: {wbs[0].what}) while P0's "
            f"table still held key {'A' if 'KeyID 1: A' in dict(wbs[0].tables)[0] else 'B'}" if wbs else
            "the dirty line was never written back before the read")
    return hint(f"in your interleaving the new owner reads {got}: {when}. The leak needs P0 (the line's home) to "
                "re-key first, and P1's cache (thread 4) to write the line back after that and before P1's own "
                "wbinvd does it.")


# ----------------------------------------------------------------------------------------------
# Exercise 2 — a key rotation that survives every interleaving
# ----------------------------------------------------------------------------------------------
def _kernels(name: str):
    s = races.SCENARIOS[name]
    return list(s.threads[1].ops), list(s.threads[2].ops)


def _without_lock(name: str):
    return tuple([op for op in ops if op.kind not in ("lock", "unlock")] for ops in _kernels(name))


def _never_rekeys():
    return ([races.wait("freed"), races.wbinvd(), races.signal("rekeyed P0")],
            [races.wait("freed"), races.wbinvd(), races.signal("rekeyed P1")])


def _no_signal():
    k0, k1 = _kernels("rotate_safe")
    return k0[:-1], k1


def _rekeys(ops, package: int) -> bool:
    return any(op.kind == "pconfig" and op.keyid == 1 and op.key == "B" and op.package in (None, package)
               for op in ops)


@check("safe_rotation", examples=Examples(
    placeholder=(..., ...),
    wrong=[(_kernels("rotate_unsafe"), "under keytable_scope='home'"),
           (_kernels("rotate_no_barrier"), "831 of 7392"),
           (_without_lock("rotate_safe"), "under keytable_scope='platform'"),
           (_never_rekeys(), "key B on every package"),
           (_no_signal(), "stuck"),
           ([1, 2], "two lists of ops")],
    correct=lambda: _kernels("rotate_safe"),
))
def check_safe_rotation(answer):
    if is_stub_return(answer):
        raise NotAttempted
    if not (isinstance(answer, (list, tuple)) and len(answer) == 2
            and all(isinstance(ops, (list, tuple)) for ops in answer)):
        return hint("give the two kernel programs as a pair, (kernel_p0, kernel_p1): two lists of ops built with "
                    "races.wait(), races.wbinvd(), races.pconfig(), races.lock(), ...")
    if any(is_placeholder(op) for ops in answer for op in ops):
        raise NotAttempted
    kernel_p0, kernel_p1 = answer
    try:
        scen = races.rotation(kernel_p0, kernel_p1)
    except MKTMEError as refused:
        return hint(f"the rotation cannot be built: {refused}")
    for package, ops in ((0, kernel_p0), (1, kernel_p1)):
        if not _rekeys(ops, package):
            return hint(f"the kernel on P{package} never runs races.pconfig(1, 'B'): the rotation must re-key "
                        "KeyID 1 to key B on every package, as Linux programs every package's key table.")
    for scope in races.KEYTABLE_SCOPES:
        try:
            ex = races.explored(scen, scope)
        except MKTMEError as refused:
            return hint(f"exploring it under keytable_scope={scope!r} was refused: {refused}")
        bad = ex.first_bad()
        if bad is not None:
            return hint(f"under keytable_scope={scope!r}, {ex.bad} of {ex.interleavings} interleavings go wrong. "
                        f"The most frequent bad outcome ({bad.count} of them): {bad.summary}. One of them, step by "
                        f"step: {_steps_text(scen, bad.example, scope)}.")
    counts = ", ".join(f"{s} {races.explored(scen, s).interleavings}" for s in races.KEYTABLE_SCOPES)
    return passed(f"Every interleaving ends with the new owner reading garbage, never the secret, under all three "
                  f"scopes (interleavings: {counts}).")


# ----------------------------------------------------------------------------------------------
# Exercise 3 — a retry budget or a lock?
# ----------------------------------------------------------------------------------------------
def _outcomes() -> dict:
    out = {}
    for r in EX3_BUDGETS:
        ex = races.explored(races.key_service(EX3_CPUS, retries=r), "home")
        out[r] = (ex.bad, ex.interleavings)
    ex = races.explored(races.key_service(EX3_CPUS, mutex=True), "home")
    out["mutex"] = (ex.bad, ex.interleavings)
    return out


def _off_by_one() -> dict:
    out = _outcomes()
    bad, n = out[1]
    out[1] = (bad + 1, n)
    return out


@check("busy_choice", examples=Examples(
    placeholder=(..., ...),
    wrong=[((_outcomes(), 3), "retries=3"),
           ((_outcomes(), 16), "budget"),
           ((_off_by_one(), "mutex"), "retries=1"),
           (({0: (1, 2)}, "mutex"), "missing"),
           ((_outcomes(), "lock"), "'mutex'"),
           ((_outcomes(),), "pair")],
    correct=lambda: (_outcomes(), "mutex"),
))
def check_busy_choice(answer):
    if is_stub_return(answer):
        raise NotAttempted
    if not (isinstance(answer, (list, tuple)) and len(answer) == 2):
        return hint("give a pair (outcomes, choice): the table you enumerated and the strategy you pick")
    outcomes, choice = answer
    if is_placeholder(outcomes):
        raise NotAttempted
    truth = _outcomes()
    if not isinstance(outcomes, dict):
        return hint(f"outcomes must be a dict {{budget or 'mutex': (bad, interleavings)}}; got a "
                    f"{type(outcomes).__name__}")
    missing = [k for k in truth if k not in outcomes]
    if missing:
        return hint(f"outcomes is missing {missing}: enumerate races.key_service({EX3_CPUS}, retries=r) for r in "
                    f"{list(EX3_BUDGETS)} and races.key_service({EX3_CPUS}, mutex=True)")
    for key, (bad, n) in truth.items():
        got = outcomes[key]
        if not (isinstance(got, (list, tuple)) and tuple(got) == (bad, n)):
            what = f"retries={key}" if key != "mutex" else "the mutex"
            return hint(f"for {what} the explorer finds {bad} bad interleavings of {n} (Exploration.bad, "
                        f".interleavings under scope 'home'); you have {got!r}")
    if is_placeholder(choice):
        raise NotAttempted
    if isinstance(choice, int) and not isinstance(choice, bool):
        if choice in truth:
            bad, n = truth[choice]
            return hint(f"with retries={choice}, {bad} of {n} interleavings still end with a CPU that gave up. "
                        "Look at the column: does any budget reach 0?")
        return hint(f"a budget of {choice}: the explorer has no clock, so a CPU can be told DEVICE_BUSY on every "
                    "attempt while the others take turns on the lock; no finite budget reaches 0 bad interleavings "
                    f"here (try races.explore(races.key_service({EX3_CPUS}, retries={min(choice, 6)})).bad)")
    if choice != "mutex":
        return hint(f"choice is {choice!r}: pick a budget (an int) or 'mutex'")
    bad, n = truth["mutex"]
    return passed(f"The mutex: {bad} of {n} interleavings go wrong, while every budget leaves some (retries=3: "
                  f"{truth[3][0]} of {truth[3][1]}). A budget is enough only if something bounds how long the lock "
                  "is held, which the model, with no clock, cannot show; KVM serialises PCONFIG with a mutex.")
