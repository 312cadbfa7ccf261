"""Checks for the exercises of lesson 08, use cases and verdict (solutions/08_use_cases.ipynb).

Exercise 1 hands over a function, exercise 2 a function run for its effect, exercise 3 a dict::

    from mktme_lite.checks.use_cases import check_decode_partitioning, check_move_pmem_block, check_c11_answer

    check_decode_partitioning(decode_partitioning)   # MSR 0x87 value -> (MKTME KeyIDs, private range)
    check_move_pmem_block(move_pmem_block)           # move a pmem block so its owner still reads it after a reboot
    check_c11_answer(answer)                         # {use case: {"key", "design", "evidence"}, ..., "why": "..."}

Every verdict is computed: exercise 1 against :class:`~mktme_lite.address.KeyIDPartition`, exercise 2 on
a Machine with persistent memory that the check power-cycles, exercise 3 with
:func:`mktme_lite.scenarios.use_cases.meets` and by re-running every piece of evidence the learner cites.
The machinery, including the missing-``return`` rule, is in :mod:`mktme_lite.checks`.
"""

from __future__ import annotations

import dataclasses

from . import Examples, NotAttempted, check, hint, is_placeholder, passed, returned
from ..address import KeyIDPartition
from ..keytable import PconfigCommand, PconfigStatus
from ..machine import LINE, Machine
from ..scenarios.use_cases import (
    C11_DESIGNS,
    C11_USE_CASES,
    KEY_TYPES,
    MODEL_ANSWER,
    Option,
    Partition,
    PmemResult,
    finding,
    meets,
    option,
    requirements,
    partition,
    pmem_run,
)

__all__ = ["check_decode_partitioning", "check_move_pmem_block", "check_c11_answer", "C11_MIN_WORDS"]


# ----------------------------------------------------------------------------------------------
# Exercise 1 — decode IA32_MKTME_KEYID_PARTITIONING
# ----------------------------------------------------------------------------------------------
def _decode_ref(value):
    mktme = value & 0xFFFFFFFF
    return mktme, range(mktme + 1, mktme + 1 + (value >> 32))


#: (what the value is, the value): the Linux example, no TDX, all TDX, one MKTME KeyID, 15 bits.
_MSR_CASES = [
    ("Linux's example, 6 bits with 2 for TDX", KeyIDPartition.split(6, 2).value),
    ("6 KeyID bits, none for TDX", KeyIDPartition.split(6, 0).value),
    ("6 KeyID bits, all for TDX", KeyIDPartition.split(6, 6).value),
    ("4 KeyID bits, 3 for TDX", KeyIDPartition.split(4, 3).value),
    ("15 KeyID bits, 7 for TDX", KeyIDPartition.split(15, 7).value),
]


@check("decode_partitioning", examples=Examples(
    placeholder=...,
    wrong=[(lambda v: (v >> 32, range((v >> 32) + 1, (v >> 32) + 1 + (v & 0xFFFFFFFF))), "bits 31:0"),
           (lambda v: (v & 0xFFFFFFFF, range(v & 0xFFFFFFFF, (v & 0xFFFFFFFF) + (v >> 32))), "right after"),
           (lambda v: (v & 0xFFFFFFFF, range((v & 0xFFFFFFFF) + 1, v >> 32)), "63:32"),
           (lambda v: (v & 0xFFFFFFFF, v >> 32), "range"),
           (lambda v: None, "missing `return`")],
    correct=lambda: _decode_ref,
))
def check_decode_partitioning(answer):
    """``answer(value)`` returns ``(mktme_keyids, private)``, ``private`` a range of KeyIDs."""
    for what, value in _MSR_CASES:
        got = returned(answer(value), "decode_partitioning", "`return mktme_keyids, private`", case=f"{value:#x}")
        want_n, want_private = _decode_ref(value)
        if not isinstance(got, tuple) or len(got) != 2:
            return hint(f"for {value:#x} ({what}) return two things: the number of MKTME KeyIDs and the private "
                        f"KeyIDs as a range; got {got!r}.")
        n, private = got
        if not isinstance(private, (range, list, tuple)):
            return hint(f"return the private KeyIDs as a range (e.g. range(16, 64)), not {private!r}: the "
                        "question is WHICH KeyIDs are private.")
        if n != want_n:
            if n == value >> 32:
                return hint(f"{value:#x}: you read bits 63:32 as the MKTME count; bits 31:0 hold the number of "
                            "MKTME KeyIDs, bits 63:32 the number of TDX private KeyIDs.")
            return hint(f"{value:#x} ({what}) has {want_n} MKTME KeyIDs in bits 31:0; you returned {n!r}.")
        if list(private) != list(want_private):
            got_list = list(private)
            if got_list and got_list[0] == want_n:
                return hint(f"{value:#x}: your range starts at KeyID {want_n}, the last MKTME KeyID. Private "
                            f"KeyIDs start right after it, at {want_n + 1} (KeyID 0 is not counted among them).")
            return hint(f"{value:#x} ({what}): bits 63:32 say {value >> 32} private KeyIDs, starting right after "
                        f"the last MKTME KeyID; your range has {len(got_list)} KeyIDs"
                        + (f" from {got_list[0]} to {got_list[-1]}." if got_list else "."))
    return passed("decode_partitioning() reads both halves of MSR 0x87 for every split we tried, including "
                  "no TDX KeyIDs and no MKTME KeyIDs.")


# ----------------------------------------------------------------------------------------------
# Exercise 2 — move a pmem block so its owner can still read it after a reboot
# ----------------------------------------------------------------------------------------------
_OWNER_KEY = (b"owner's data key", b"owner's tweakkey")
_KEYID = 3


def _program(m: Machine) -> None:
    for p in range(m.packages):
        assert m.pconfig(p, _KEYID, PconfigCommand.KEYID_SET_KEY_DIRECT, *_OWNER_KEY) is PconfigStatus.PROG_SUCCESS


def _block(nbytes: int, seed: int) -> bytes:
    return bytes((31 * i + seed) % 251 for i in range(nbytes))


def _pmem_machine(seed: int) -> Machine:
    m = Machine(packages=2, keyid_bits=4, dram_bytes=64 * 1024, pmem_bytes=16 * 1024, seed=seed)
    _program(m)
    return m


#: (what, src offset into pmem, dst offset, bytes): a page's worth of lines, then an odd placement.
_MOVE_CASES = [("four lines at the start of pmem", 0x000, 0x1000, 256),
               ("two lines at odd places", 0x440, 0x2c0, 128)]


def _move_ref(m, keyid, src, dst, nbytes):
    for off in range(0, nbytes, LINE):
        m.store(m.hpa(dst + off, keyid), m.load(m.hpa(src + off, keyid), LINE))
        m.clflush(m.hpa(dst + off, keyid))


def _move_raw(m, keyid, src, dst, nbytes):
    m.write_dram(dst, m.dram(src, nbytes))


def _move_keyid0(m, keyid, src, dst, nbytes):
    for off in range(0, nbytes, LINE):
        m.store(m.hpa(dst + off, 0), m.load(m.hpa(src + off, 0), LINE))
        m.clflush(m.hpa(dst + off, 0))


def _move_no_flush(m, keyid, src, dst, nbytes):
    for off in range(0, nbytes, LINE):
        m.store(m.hpa(dst + off, keyid), m.load(m.hpa(src + off, keyid), LINE))


def _move_first_line(m, keyid, src, dst, nbytes):
    _move_ref(m, keyid, src, dst, LINE)


def _move_nothing(m, keyid, src, dst, nbytes):
    return None


@check("move_pmem_block", examples=Examples(
    placeholder=...,
    wrong=[(_move_raw, "tweak"), (_move_keyid0, "KeyID 0"), (_move_no_flush, "clflush"),
           (_move_first_line, "every 64-byte line"), (lambda m, k, s, d, n: 1 / 0, "ZeroDivisionError")],
    correct=lambda: _move_ref,
))
def check_move_pmem_block(answer):
    """``answer(m, keyid, src, dst, nbytes)`` moves the block; the check power-cycles the machine and reads it."""
    for i, (what, src_off, dst_off, nbytes) in enumerate(_MOVE_CASES):
        m = _pmem_machine(808 + i)
        src, dst = m.pmem.start + src_off, m.pmem.start + dst_off
        data = _block(nbytes, i)
        m.store(m.hpa(src, _KEYID), data)
        m.flush_range(m.hpa(src, _KEYID), nbytes)
        before = dict(m.counters)
        m.reset_trace()
        answer(m, _KEYID, src, dst, nbytes)
        if dict(m.counters) == before:
            raise NotAttempted  # the untouched stub: nothing happened on the machine
        if m.dram(dst, nbytes) == m.dram(src, nbytes):
            return hint(f"{what}: DRAM at the new place holds the old place's ciphertext, copied as it was. The "
                        "XTS tweak is the physical address, so that ciphertext decrypts to garbage at the new "
                        "address. Move it through the CPU: load through the KeyID at src, store at dst.")
        used = sorted({e.keyid for e in m.trace if e.kind in ("load", "store") and e.keyid is not None} - {_KEYID})
        if used:
            return hint(f"{what}: your loads or stores used KeyID {', '.join(map(str, used))}. KeyID 0 (or any other "
                        f"KeyID) has another key: use KeyID {_KEYID}, the one the owner's key is programmed in.")
        after = m.reboot()
        _program(after)
        got = after.load(after.hpa(dst, _KEYID), nbytes)
        if got == data:
            continue
        if m.load(m.hpa(dst, _KEYID), nbytes) == data:
            return hint(f"{what}: before the reboot the block reads right at dst, after it not: the new lines were "
                        "still in the cache when the power went. clflush every line at dst (its hpa with the KeyID) "
                        "before you return.")
        bad = [off for off in range(0, nbytes, LINE) if got[off:off + LINE] != data[off:off + LINE]]
        if bad and bad[0] > 0:
            return hint(f"{what}: the first line arrived, the lines at offsets {', '.join(map(hex, bad))} did not. "
                        f"Move every 64-byte line of the {nbytes} bytes.")
        return hint(f"{what}: after the reboot the owner reads garbage at dst (lines at offsets "
                    f"{', '.join(map(hex, bad))}). Load each line through KeyID {_KEYID} at src, store it at dst, "
                    "flush it.")
    return passed("The owner reads the moved block after a reboot in both cases we tried. That is what a design "
                  "that allows moves needs: the move goes through the CPU, under the key, at both addresses, "
                  "which is what a per-namespace key unlocked at mount gives every block the filesystem moves.")


# ----------------------------------------------------------------------------------------------
# Exercise 3 — the C11 answer
# ----------------------------------------------------------------------------------------------
C11_MIN_WORDS = 25


def _genuine(item) -> bool:
    """Whether ``item`` is exactly what the scenario returns for its own arguments (not edited)."""
    if isinstance(item, Option):
        return option(item.key, item.design) == item
    if isinstance(item, PmemResult):
        return pmem_run(key=item.key, flushed=item.flushed, move=item.move, rebooted=item.rebooted) == item
    if isinstance(item, Partition):
        return partition(item.keyid_bits, item.tdx_keyid_bits, item.phys_bits) == item
    return False


#: use case -> the result types that speak to it (at least one must be cited).
_EVIDENCE = {"pmem": (PmemResult,), "a VM": (Option, Partition), "anonymous memory": (Option,),
             "a container": (Option,), "a secret in one process": (Option,)}
_TYPE_WORDS = {PmemResult: "use_cases.pmem_run(...)", Option: "use_cases.option(...)",
               Partition: "use_cases.partition(...)"}


def _engine_line(use_case: str, key: str, design: str) -> str:
    o = option(key, design)
    if use_case == "pmem":
        return f"pmem with {key}/{design}: reads back after a reboot: {o.survives_reboot}; after a move: {o.survives_move}."
    return (f"{use_case} with {key}/{design}: a stray kernel read gets {o.stray_read}, a deliberate one "
            f"{o.kernel_read}, get_user_pages() {o.gup}.")


def _model_answer() -> dict:
    ev = {uc: [option(k, d)] for uc, (k, d) in _MODEL_CHOICES.items() if uc != "pmem"}
    ev["pmem"] = [pmem_run(key="cpu"), pmem_run(key="user", move="raw"), pmem_run(key="user", move="through_cpu")]
    ev["a VM"].append(option("cpu", "per_keyid"))
    answer = {uc: {"key": k, "design": d, "evidence": ev[uc]} for uc, (k, d) in _MODEL_CHOICES.items()}
    answer["why"] = MODEL_ANSWER
    return answer


_MODEL_CHOICES = {"anonymous memory": ("tme", "keyid0"), "pmem": ("user", "namespace"), "a VM": ("tdx", "tdx_module"),
                  "a container": ("tme", "keyid0"), "a secret in one process": ("tme", "xpfo")}


def _with(uc: str, **changes) -> dict:
    a = _model_answer()
    a[uc] = {**a[uc], **changes}
    return a


def _open(entry) -> bool:
    """A use case still as the exercise's skeleton left it: no key and no design chosen."""
    return is_placeholder(entry) or (isinstance(entry, dict) and is_placeholder(entry.get("key"))
                                     and is_placeholder(entry.get("design")))


@check("c11_answer", examples=Examples(
    placeholder=...,
    wrong=[({"pmem": {"key": "user", "design": "namespace", "evidence": []}}, "every use case"),
           (_with("pmem", key="cpu"), "reboot"),
           (_with("a VM", key="cpu", design="keyid0"), "device assignment"),
           (_with("anonymous memory", key="cpu", design="per_keyid"), "no event beyond"),
           (_with("a container", key="aes"), "one of"),
           (_with("a VM", evidence=[dataclasses.replace(option("cpu", "per_keyid"), kernel_read="refused")]),
            "unchanged"),
           (_with("pmem", evidence=[option("user", "namespace")]), "pmem_run"),
           ({**_model_answer(), "why": "TME is best."}, "argument"),
           ("tme everywhere", "dict")],
    correct=_model_answer,
))
def check_c11_answer(answer):
    """``answer`` maps every use case of C11_USE_CASES to {"key", "design", "evidence"}, plus "why"."""
    if not isinstance(answer, dict):
        return hint("give a dict: {use case: {'key': ..., 'design': ..., 'evidence': [...]}, ..., 'why': '...'}.")
    missing = [uc for uc in C11_USE_CASES if uc not in answer or _open(answer[uc])]
    if len(missing) == len(C11_USE_CASES) and is_placeholder(answer.get("why")):
        raise NotAttempted
    if missing:
        return hint(f"answer every use case; still open: {missing}.")
    lines = []
    for uc in C11_USE_CASES:
        entry = answer[uc]
        if not isinstance(entry, dict):
            return hint(f"{uc!r}: give a dict with 'key', 'design' and 'evidence'; got {entry!r}.")
        key, design, evidence = entry.get("key"), entry.get("design"), entry.get("evidence")
        if key not in KEY_TYPES:
            return hint(f"{uc!r}: key {key!r} is not one of {', '.join(KEY_TYPES)}.")
        if design not in C11_DESIGNS:
            return hint(f"{uc!r}: design {design!r} is not one of {', '.join(C11_DESIGNS)}.")
        if not isinstance(evidence, (list, tuple)) or not evidence:
            return hint(f"{uc!r}: cite evidence, a list of results you computed with use_cases "
                        f"({', '.join(_TYPE_WORDS[t] for t in _EVIDENCE[uc])}).")
        for item in evidence:
            if not _genuine(item):
                return hint(f"{uc!r}: {type(item).__name__ if not isinstance(item, str) else repr(item)} is not a "
                            "result the engine returned, unchanged. Cite what use_cases.option(), pmem_run() or "
                            "partition() gave you, as it is.")
        if not any(isinstance(item, _EVIDENCE[uc]) for item in evidence):
            return hint(f"{uc!r}: none of your evidence speaks to it; cite at least one "
                        f"{' or '.join(_TYPE_WORDS[t] for t in _EVIDENCE[uc])} result.")
        failed = [(name, why) for name, met, why in meets(uc, key, design) if not met]
        if failed:
            name, why = failed[0]
            found = finding(uc, key, design, name) if name in {r.name for r in requirements(uc)} else ""
            return hint(f"{uc!r} with key {key!r} and design {design!r} fails '{name}': "
                        + (f"for this choice {found} ({why})." if found else f"{why}."))
        lines.append(_engine_line(uc, key, design))
    why = answer.get("why")
    if not isinstance(why, str) or len(why.split()) < C11_MIN_WORDS:
        return hint(f"write your argument in 'why', at least {C11_MIN_WORDS} words in your own words: for Andy's "
                    "question, which use cases needed a key other than the CPU's, and which result showed it.")
    return passed("Every choice meets what its use case needs, with evidence the engine computed. What the engine "
                  "showed for your choices: " + " ".join(lines) + " Now compare your argument with the course's: "
                  + MODEL_ANSWER)
