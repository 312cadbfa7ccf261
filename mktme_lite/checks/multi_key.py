"""Checks for the exercises of lesson 02, Multi-key (solutions/02_multi_key.ipynb).

Each exercise hands over its function and shows the result::

    from mktme_lite.checks.multi_key import (check_contents_after, check_hpa_of, check_keyid_ctrl,
                                             check_program_every_package, check_split_hpa)

    check_hpa_of(hpa_of)
    check_program_every_package(program_every_package)

What each check runs the learner's function on:

1. ``hpa_of`` / ``split_hpa``: put a KeyID into a physical address and take it out again, for any
   machine (compared with the engine's :class:`~mktme_lite.address.AddressLayout`).
2. ``contents_after``: what a process reads back after ``mprotect``, ``madvise(MADV_DONTNEED)`` and
   the RFC's ``encrypt_mprotect`` on a buffer full of seeded random bytes (run on the kernel model).
3. ``program_every_package``: PCONFIG on every package, at most 10 attempts in all per package for
   a transient failure (the first one included, like the kas tree's ``int retries = 10; while
   (retries--)``), and a fatal code ends the operation: not retried, nothing retried after it (run
   on machines with injected failures).
4. ``keyid_ctrl``: parse and validate an ``add_key("mktme", ...)`` payload and build PCONFIG's
   KEYID_CTRL from it (compared with the kernel model's parser, then programmed for real).

The machinery, including the missing-``return`` rule, is in :mod:`mktme_lite.checks`.
"""

from __future__ import annotations

import random

from ..address import ALG_AES_XTS_128, AddressLayout
from . import Examples, check, hint, passed, returned
from ..errors import MKTMEError
from ..keytable import KeyMode, PconfigCommand, PconfigStatus

__all__ = ["check_hpa_of", "check_split_hpa", "check_contents_after", "check_program_every_package",
           "check_keyid_ctrl"]

# ----------------------------------------------------------------------------------------------
# Exercise 1 — KeyIDs in physical addresses
# ----------------------------------------------------------------------------------------------
#: (phys_bits, keyid_bits) of the machines the checks try, the lesson's own first.
_LAYOUTS = [(46, 6), (52, 6), (39, 4), (46, 8), (46, 0), (52, 15)]


def _hpa_of_ref(pa: int, keyid: int, phys_bits: int = 46, keyid_bits: int = 6) -> int:
    """Reference, written without the engine: KeyID in the top bits, refused when it does not fit."""
    shift = phys_bits - keyid_bits
    if not 0 <= keyid < 1 << keyid_bits:
        raise ValueError(f"keyid {keyid} does not fit in {keyid_bits} KeyID bits")
    if not 0 <= pa < 1 << shift:
        raise ValueError(f"pa {pa:#x} reaches into the KeyID bits (bit {shift} and up)")
    return keyid << shift | pa


def _split_hpa_ref(hpa: int, phys_bits: int = 46, keyid_bits: int = 6) -> tuple[int, int]:
    shift = phys_bits - keyid_bits
    return hpa & ((1 << shift) - 1), hpa >> shift


def _address_cases() -> list[tuple[int, int, int, int]]:
    """(pa, keyid, phys_bits, keyid_bits) that every layout can hold."""
    cases = []
    for phys, kb in _LAYOUTS:
        layout = AddressLayout(phys, kb)
        top_pa = layout.addressable_bytes - 64
        for keyid in sorted({0, min(1, layout.nr_keyids), min(5, layout.nr_keyids), layout.nr_keyids}):
            for pa in (0x1040, top_pa):
                cases.append((pa, keyid, phys, kb))
    return cases


def _refused(fn, *args) -> bool | None:
    """True if ``fn(*args)`` raised ValueError (or an engine error), False if it returned, None if it
    raised something else."""
    try:
        fn(*args)
    except (ValueError, MKTMEError):
        return True
    except Exception:
        return None
    return False


@check("hpa_of", examples=Examples(
    placeholder=...,
    wrong=[(lambda pa, keyid, phys_bits=46, keyid_bits=6: pa | keyid, "top bits"),
           (lambda pa, keyid, phys_bits=46, keyid_bits=6: keyid << (phys_bits - keyid_bits - 1) | pa,
            "phys_bits - keyid_bits"),
           (lambda pa, keyid, phys_bits=46, keyid_bits=6: keyid << 40 | pa, "arguments"),
           (lambda pa, keyid, phys_bits=46, keyid_bits=6: keyid << (phys_bits - keyid_bits) | pa, "ValueError"),
           (lambda pa, keyid, phys_bits=46, keyid_bits=6: None, "missing `return`")],
    correct=lambda: _hpa_of_ref,
))
def check_hpa_of(answer):
    """``answer(pa, keyid, phys_bits, keyid_bits)`` must build the full address and refuse what does not fit."""
    if not callable(answer):
        return hint("pass the function itself: check_hpa_of(hpa_of), without calling it.")
    for pa, keyid, phys, kb in _address_cases():
        got = returned(answer(pa, keyid, phys, kb), "hpa_of", "`return hpa`, the full physical address as an int")
        want = AddressLayout(phys, kb).hpa(pa, keyid)
        shift = phys - kb
        where = f"hpa_of({pa:#x}, {keyid}, phys_bits={phys}, keyid_bits={kb})"
        if not isinstance(got, int) or isinstance(got, bool):
            return hint(f"{where} returned a {type(got).__name__}; return the address as an int.")
        if got == want:
            continue
        if keyid and got in (pa | keyid, pa + keyid):
            return hint(f"{where} put the KeyID into the low bits, where it changes the address. The KeyID "
                        f"belongs in the top bits: shift it left by phys_bits - keyid_bits = {shift}.")
        if keyid and got in (keyid << (shift - 1) | pa, keyid << (shift + 1) | pa):
            return hint(f"{where} shifted the KeyID by one bit too few or too many; its lowest bit is bit "
                        f"phys_bits - keyid_bits = {shift}.")
        if keyid and got == keyid << 40 | pa:
            return hint(f"{where} shifted by 40, which is right only for 46 address bits with 6 KeyID bits. "
                        "Use the phys_bits and keyid_bits arguments you were given.")
        if keyid and got == keyid << phys | pa:
            return hint(f"{where} put the KeyID above the address width. The KeyID takes the top keyid_bits "
                        f"bits INSIDE the {phys}-bit address: shift by phys_bits - keyid_bits.")
        return hint(f"{where} should be {want:#x}, not {got:#x}: keyid << (phys_bits - keyid_bits) | pa.")
    too_big_keyid = _refused(answer, 0x1040, 64, 46, 6)
    if too_big_keyid is not True:
        return hint("hpa_of(0x1040, 64) must raise ValueError: KeyID 64 needs 7 bits and this machine activated "
                    "6, so it would spill into bit 46, outside the address."
                    + (" It raised a different exception; raise ValueError." if too_big_keyid is None else ""))
    if _refused(answer, 0x1040, 1, 46, 0) is not True:
        return hint("hpa_of(0x1040, 1, phys_bits=46, keyid_bits=0) must raise ValueError: with no KeyID bits "
                    "only KeyID 0 exists.")
    if _refused(answer, 1 << 40, 1, 46, 6) is not True:
        return hint("hpa_of(1 << 40, 1) must raise ValueError: pa 1 << 40 needs bit 40, which carries the "
                    "KeyID on this machine. Every KeyID bit halves the memory a KeyID can address.")
    if _refused(answer, 0x1040, -1, 46, 6) is not True:
        return hint("hpa_of(0x1040, -1) must raise ValueError: KeyIDs are 0 .. 2**keyid_bits - 1.")
    return passed(f"hpa_of() matches the engine on {len(_address_cases())} addresses of "
                  f"{len(_LAYOUTS)} machines and refuses KeyIDs and addresses that do not fit.")


@check("split_hpa", examples=Examples(
    placeholder=...,
    wrong=[(lambda hpa, phys_bits=46, keyid_bits=6: _split_hpa_ref(hpa, phys_bits, keyid_bits)[::-1], "order"),
           (lambda hpa, phys_bits=46, keyid_bits=6: (hpa, hpa >> (phys_bits - keyid_bits)), "mask"),
           (lambda hpa, phys_bits=46, keyid_bits=6: (hpa & ((1 << 40) - 1), hpa >> 40), "arguments"),
           (lambda hpa, phys_bits=46, keyid_bits=6: (hpa & ((1 << (phys_bits - keyid_bits)) - 1),
                                                     hpa >> (phys_bits - keyid_bits + 1)), "shift"),
           (lambda hpa, phys_bits=46, keyid_bits=6: None, "missing `return`")],
    correct=lambda: _split_hpa_ref,
))
def check_split_hpa(answer):
    """``answer(hpa, phys_bits, keyid_bits)`` must return ``(pa, keyid)``."""
    if not callable(answer):
        return hint("pass the function itself: check_split_hpa(split_hpa), without calling it.")
    for pa, keyid, phys, kb in _address_cases():
        layout = AddressLayout(phys, kb)
        hpa = layout.hpa(pa, keyid)
        got = returned(answer(hpa, phys, kb), "split_hpa", "`return (pa, keyid)`")
        where = f"split_hpa({hpa:#x}, phys_bits={phys}, keyid_bits={kb})"
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return hint(f"{where} returned {got!r}; return a pair (pa, keyid).")
        got = tuple(got)
        if got == (pa, keyid):
            continue
        if got == (keyid, pa):
            return hint(f"{where} returned (keyid, pa); the order is (pa, keyid), like the engine's m.split().")
        if got[0] == hpa and keyid:
            return hint(f"{where}: the pa still carries the KeyID bits; mask them off: pa = hpa & "
                        "((1 << (phys_bits - keyid_bits)) - 1).")
        if (phys, kb) != (46, 6) and got == (hpa & ((1 << 40) - 1), hpa >> 40):
            return hint(f"{where} used 40 as the shift, which is right only for 46 bits with 6 KeyID bits. "
                        "Use the phys_bits and keyid_bits arguments.")
        if got[0] == pa:
            return hint(f"{where}: the pa {pa:#x} is right but the KeyID should be {keyid}, not {got[1]!r}: shift "
                        "the hpa right by phys_bits - keyid_bits.")
        return hint(f"{where} should be ({pa:#x}, {keyid}), not ({got[0]!r}, {got[1]!r}).")
    return passed("split_hpa() undoes the engine's hpa() on every machine we tried, including one with no "
                  "KeyID bits.")


# ----------------------------------------------------------------------------------------------
# Exercise 2 — encrypt_mprotect() against MADV_DONTNEED
# ----------------------------------------------------------------------------------------------
_OPS = ("mprotect", "madvise", "encrypt_mprotect")


def _contents_after_ref(op: str, data: bytes, seed: int, *, encrypt_first: bool = False) -> bytes:
    """Reference: map, fill with ``data``, apply ``op``, read everything back (kernel model, as proposed)."""
    from ..kernel import MADV_DONTNEED, PROT_READ, PROT_WRITE, Kernel, Policy
    from ..machine import Machine

    kernel = Kernel(Machine(packages=2, seed=seed), Policy.as_proposed())
    proc = kernel.spawn("app")
    size = -(-len(data) // 4096) * 4096
    buf = proc.mmap(size, PROT_READ | PROT_WRITE)
    key = kernel.add_key("mktme", "app-key", "type=cpu algorithm=aes-xts-128")
    if encrypt_first and op == "encrypt_mprotect":
        proc.encrypt_mprotect(buf, size, PROT_READ | PROT_WRITE, key)
    proc.write(buf, data)
    if op == "mprotect":
        proc.mprotect(buf, size, PROT_READ | PROT_WRITE)
    elif op == "madvise":
        proc.madvise(buf, size, MADV_DONTNEED)
    elif op == "encrypt_mprotect":
        proc.encrypt_mprotect(buf, size, PROT_READ | PROT_WRITE, key)
    else:
        raise ValueError(f"op must be one of {_OPS}; got {op!r}")
    return proc.read(buf, len(data))


def _contents_after_keyid(op: str, data: bytes, seed: int) -> bytes:
    """A common slip: encrypt_mprotect() given the KeyID (1) where the key serial belongs."""
    from ..kernel import PROT_READ, PROT_WRITE, Kernel, Policy
    from ..machine import Machine

    if op != "encrypt_mprotect":
        return _contents_after_ref(op, data, seed)
    kernel = Kernel(Machine(packages=2, seed=seed), Policy.as_proposed())
    proc = kernel.spawn("app")
    size = -(-len(data) // 4096) * 4096
    buf = proc.mmap(size, PROT_READ | PROT_WRITE)
    key = kernel.add_key("mktme", "app-key", "type=cpu algorithm=aes-xts-128")
    proc.write(buf, data)
    proc.encrypt_mprotect(buf, size, PROT_READ | PROT_WRITE, kernel.keys.keyid_of(key))
    return proc.read(buf, len(data))


def _buffers() -> list[tuple[bytes, int]]:
    return [(random.Random(seed).randbytes(2 * 4096), seed) for seed in (201, 202)]


@check("contents_after", examples=Examples(
    placeholder=...,
    wrong=[(lambda op, data, seed: data, "MADV_DONTNEED"),
           (lambda op, data, seed: bytes(len(data)), "write"),
           (lambda op, data, seed: _contents_after_ref(op, data, seed, encrypt_first=True), "before"),
           (lambda op, data, seed: _contents_after_ref(op, data, seed)[:4096], "bytes"),
           (lambda op, data, seed: None, "missing `return`"),
           (_contents_after_keyid, "not a KeyID")],
    correct=lambda: _contents_after_ref,
))
def check_contents_after(answer):
    """``answer(op, data, seed)``: what the process reads back after ``op`` on a buffer holding ``data``."""
    from ..kernel import SyscallError

    if not callable(answer):
        return hint("pass the function itself: check_contents_after(contents_after).")
    buffers = _buffers()
    for data, seed in buffers:
        zeros = bytes(len(data))
        for op in _OPS:
            where = f"contents_after({op!r}, <{len(data)} random bytes>, seed={seed})"
            try:
                got = answer(op, data, seed)
            except SyscallError as exc:
                if exc.name == "ENOKEY" and exc.syscall == "encrypt_mprotect":
                    return hint(f"{where}: encrypt_mprotect() answered {exc.name} ({exc.reason}). Its last "
                                "argument is the key's serial, the number add_key() returned (like 1001), not a "
                                "KeyID (like 1): pass the value add_key() gave you. The kernel looks the serial "
                                "up and finds the KeyID itself.")
                return hint(f"{where}: {exc}. Follow the steps above in order, on the kernel model.")
            got = returned(got, "contents_after", "`return after`, the bytes the process reads back")
            if not isinstance(got, (bytes, bytearray)):
                return hint(f"{where} returned a {type(got).__name__}; return the bytes the process reads back, "
                            "p.read(buf, len(data)).")
            if len(got) != len(data):
                return hint(f"{where} returned {len(got)} bytes; read back all {len(data)} bytes of the buffer.")
            if op == "mprotect":
                if got == zeros:
                    return hint(f"{where} read zeros. mprotect() keeps the contents, so the buffer was never "
                                "filled: write data into it with p.write(buf, data) before the operation.")
                if got != data:
                    return hint(f"{where} should read back exactly the data you wrote: mprotect() changes "
                                "permissions only. Read through the same process and address you wrote.")
            elif op == "madvise":
                if got == data:
                    return hint(f"{where} still reads your data. MADV_DONTNEED (4) drops the pages of a private "
                                "anonymous mapping: call p.madvise(buf, len, MADV_DONTNEED) after writing.")
                if got != zeros:
                    return hint(f"{where} should read zeros: the next touch after MADV_DONTNEED maps a fresh zero "
                                "page.")
            else:
                if got == data:
                    return hint(f"{where} still reads your data: you probably called encrypt_mprotect() before "
                                "p.write(). Then the buffer already had the key's KeyID when you wrote, and the "
                                "call had nothing to change. The claim is about a buffer that already holds data: "
                                "write first, then call encrypt_mprotect().")
                if got != zeros:
                    return hint(f"{where} should read zeros, like MADV_DONTNEED: encrypt_mprotect() zaps the "
                                "pages, and the next touch faults in a zeroed page under the new KeyID.")
    return passed("mprotect() kept every byte; MADV_DONTNEED and encrypt_mprotect() both left zeros, on two "
                  "random buffers. Now compare the two runs yourself in the next cell.")


# ----------------------------------------------------------------------------------------------
# Exercise 3 — PCONFIG on every package, with retries
# ----------------------------------------------------------------------------------------------
_MAX_ATTEMPTS = 10
_DIRECT_KEYS = (bytes(range(16)), bytes(range(16, 32)))


def _program_every_package_ref(m, keyid, command, data_key=None, tweak_key=None):
    """Reference: each package in turn, up to 10 attempts in all while the status is transient."""
    for package in range(m.packages):
        for _ in range(_MAX_ATTEMPTS):
            status = m.pconfig(package, keyid, command, data_key, tweak_key)
            if not status.retryable:
                break
        if status is not PconfigStatus.PROG_SUCCESS:
            return status
    return PconfigStatus.PROG_SUCCESS


def _only_package_0(m, keyid, command, data_key=None, tweak_key=None):
    return m.pconfig(0, keyid, command, data_key, tweak_key)


def _no_retry(m, keyid, command, data_key=None, tweak_key=None):
    statuses = [m.pconfig(p, keyid, command, data_key, tweak_key) for p in range(m.packages)]
    bad = [s for s in statuses if s is not PconfigStatus.PROG_SUCCESS]
    return bad[0] if bad else PconfigStatus.PROG_SUCCESS


def _retry_forever(m, keyid, command, data_key=None, tweak_key=None):
    for p in range(m.packages):
        status = m.pconfig(p, keyid, command, data_key, tweak_key)
        while status.retryable:
            status = m.pconfig(p, keyid, command, data_key, tweak_key)
        if status is not PconfigStatus.PROG_SUCCESS:
            return status
    return PconfigStatus.PROG_SUCCESS


def _eleven_attempts(m, keyid, command, data_key=None, tweak_key=None):
    """The first try, then 10 retries: 11 attempts, one more than the kas tree's loop makes."""
    for p in range(m.packages):
        status = m.pconfig(p, keyid, command, data_key, tweak_key)
        for _ in range(_MAX_ATTEMPTS):
            if not status.retryable:
                break
            status = m.pconfig(p, keyid, command, data_key, tweak_key)
        if status is not PconfigStatus.PROG_SUCCESS:
            return status
    return PconfigStatus.PROG_SUCCESS


def _carry_on(m, keyid, command, data_key=None, tweak_key=None):
    """Never retries a fatal code, but goes on to the next package after one (and retries there)."""
    result = PconfigStatus.PROG_SUCCESS
    for p in range(m.packages):
        for _ in range(_MAX_ATTEMPTS):
            status = m.pconfig(p, keyid, command, data_key, tweak_key)
            if not status.retryable:
                break
        if status is not PconfigStatus.PROG_SUCCESS and result is PconfigStatus.PROG_SUCCESS:
            result = status
    return result


def _retry_everything(m, keyid, command, data_key=None, tweak_key=None):
    for p in range(m.packages):
        for _ in range(_MAX_ATTEMPTS):
            status = m.pconfig(p, keyid, command, data_key, tweak_key)
            if status is PconfigStatus.PROG_SUCCESS:
                break
        if status is not PconfigStatus.PROG_SUCCESS:
            return status
    return PconfigStatus.PROG_SUCCESS


def _pconfig_scenarios():
    """(name, machine, args, expected status, must every package hold the KeyID afterwards?)."""
    from ..machine import Machine

    random_cmd, direct = PconfigCommand.KEYID_SET_KEY_RANDOM, PconfigCommand.KEYID_SET_KEY_DIRECT
    m = Machine(packages=2, seed=21)
    yield "two packages, KEYID_SET_KEY_RANDOM", m, (3, random_cmd), PconfigStatus.PROG_SUCCESS, True
    m = Machine(packages=4, seed=22)
    m.inject_pconfig_status(2, PconfigStatus.DEVICE_BUSY, 3)
    m.inject_pconfig_status(0, PconfigStatus.ENTROPY_ERROR, 1)
    yield ("four packages, package 2 DEVICE_BUSY three times, package 0 ENTROPY_ERROR once", m,
           (5, random_cmd), PconfigStatus.PROG_SUCCESS, True)
    m = Machine(packages=3, seed=23)
    yield "three packages, KEYID_SET_KEY_DIRECT with one key", m, (7, direct, *_DIRECT_KEYS), \
        PconfigStatus.PROG_SUCCESS, True
    m = Machine(packages=2, seed=24)
    m.inject_pconfig_status(1, PconfigStatus.DEVICE_BUSY, 25)
    yield "two packages, package 1 DEVICE_BUSY 25 times in a row", m, (3, random_cmd), \
        PconfigStatus.DEVICE_BUSY, False
    m = Machine(packages=2, seed=25)
    yield "KeyID 0, which PCONFIG never programs", m, (0, random_cmd), PconfigStatus.INVALID_KEYID, False
    m = Machine(packages=3, seed=27)
    m.inject_pconfig_status(1, PconfigStatus.DEVICE_BUSY, 3)
    yield ("KeyID 0 on three packages, package 1 DEVICE_BUSY three times", m, (0, random_cmd),
           PconfigStatus.INVALID_KEYID, False)


def _is_direct(args) -> bool:
    return len(args) > 1 and args[1] == PconfigCommand.KEYID_SET_KEY_DIRECT


def _pconfig_events(m) -> list[tuple[int, str]]:
    """(package, status name) of every PCONFIG the machine ran, in order."""
    return [(e.package, e.detail.rpartition("-> ")[2]) for e in m.trace if e.kind == "pconfig"]


def _attempts(m) -> dict[int, int]:
    out = {p: 0 for p in range(m.packages)}
    for package, _ in _pconfig_events(m):
        out[package] += 1
    return out


def _after_fatal(m) -> tuple[int, str, dict[int, int]] | None:
    """(package, status, {package: PCONFIGs run after it}) for the first fatal code, or None.

    A sequential loop that stops at once runs nothing after the fatal code. A kernel that
    programs whole rounds (the kas tree's lead CPUs all at once) may finish the round it is in,
    one PCONFIG on each other package, but retries nothing.
    """
    events = _pconfig_events(m)
    transient = {s.name for s in PconfigStatus if s.retryable} | {PconfigStatus.PROG_SUCCESS.name}
    for i, (package, status) in enumerate(events):
        if status not in transient:
            later: dict[int, int] = {}
            for p, _ in events[i + 1:]:
                later[p] = later.get(p, 0) + 1
            return package, status, later
    return None


@check("program_every_package", examples=Examples(
    placeholder=...,
    wrong=[(_only_package_0, "package 1"),
           (_no_retry, "retry"),
           (_retry_forever, "10"),
           (_eleven_attempts, "the first one included"),
           (_retry_everything, "fatal"),
           (_carry_on, "went on"),
           (lambda m, keyid, command, data_key=None, tweak_key=None: None, "missing `return`")],
    correct=lambda: _program_every_package_ref,
))
def check_program_every_package(answer):
    """``answer(m, keyid, command, data_key=None, tweak_key=None)`` must program every package or say why not."""
    if not callable(answer):
        return hint("pass the function itself: check_program_every_package(program_every_package).")
    for name, m, args, want, everywhere in _pconfig_scenarios():
        keyid = args[0]
        got = returned(answer(m, *args), "program_every_package", "`return result`, the PconfigStatus of the whole operation")
        attempts = _attempts(m)
        if not isinstance(got, int) or isinstance(got, bool):
            return hint(f"{name}: return the PconfigStatus of the whole operation, not a {type(got).__name__}.")
        too_many = [p for p, n in attempts.items() if n > _MAX_ATTEMPTS]
        if too_many:
            return hint(f"{name}: package {too_many[0]} got {attempts[too_many[0]]} PCONFIGs. Retry a transient "
                        f"failure, but make at most {_MAX_ATTEMPTS} attempts in all, the first one included "
                        "(the RFC's key service in the kas tree: int retries = 10; while (retries--)), and then "
                        "return the last status: a lock that stays busy must not hang the kernel.")
        fatal = _after_fatal(m)
        if fatal is not None:
            where, code, later = fatal
            if later.get(where):
                return hint(f"{name}: package {where} got {attempts[where]} PCONFIGs. {code} is fatal: the same "
                            "call can never succeed, so retrying is pointless. Retry only codes whose "
                            "status.retryable is True (ENTROPY_ERROR, DEVICE_BUSY).")
            again = sorted(p for p, n in later.items() if n > 1)
            if again:
                return hint(f"{name}: package {where} answered {code}, a fatal code, but your function went on "
                            f"and ran {later[again[0]]} more PCONFIGs on package {again[0]}. A fatal code means the "
                            "request itself is wrong, so every package would refuse it: stop at once and return "
                            "that status.")
        if everywhere:
            missing = [p for p in range(m.packages) if m.key_mode(p, keyid) is not KeyMode.KEY]
            if missing:
                p = missing[0]
                if attempts.get(p, 0) == 0:
                    return hint(f"{name}: package {p} never ran PCONFIG, so its key table still treats KeyID "
                                f"{keyid} like KeyID 0. In this model each package has its own key table: loop "
                                "over range(m.packages).")
                return hint(f"{name}: package {p} answered with a transient failure and was not programmed. "
                            "ENTROPY_ERROR and DEVICE_BUSY mean 'nothing happened, try again': retry while "
                            f"status.retryable, up to {_MAX_ATTEMPTS} attempts in all.")
            if _is_direct(args):
                prints = {m.tables[p].entry(keyid).fingerprint for p in range(m.packages)}
                if len(prints) != 1:
                    return hint(f"{name}: the packages hold different keys; pass data_key and tweak_key through "
                                "to every PCONFIG.")
        if got != want:
            return hint(f"{name}: you returned {PconfigStatus(got).name if got in range(6) else got!r}, but the "
                        f"right answer is {want.name}: report PROG_SUCCESS only when every package succeeded, "
                        "otherwise the status that made you stop.")
    return passed(f"Every package is programmed, a transient failure gets at most {_MAX_ATTEMPTS} attempts in "
                  "all, and a fatal code (INVALID_KEYID) ends the operation: it is not retried, and nothing is "
                  "retried after it.")


# ----------------------------------------------------------------------------------------------
# Exercise 4 — from a key payload to KEYID_CTRL
# ----------------------------------------------------------------------------------------------
_DATA_KEY_HEX = "00112233445566778899aabbccddeeff"
_TWEAK_KEY_HEX = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
_VALID_PAYLOADS = [
    "type=cpu algorithm=aes-xts-128",
    f"type=user algorithm=aes-xts-128 key={_DATA_KEY_HEX} tweak={_TWEAK_KEY_HEX}",
    "type=clear",
    "type=no-encrypt",
    f"type=cpu algorithm=aes-xts-128 key={_DATA_KEY_HEX}",
    "algorithm=aes-xts-128 type=cpu",
]
_INVALID_PAYLOADS = [
    "type=cpu",
    f"type=user algorithm=aes-xts-128 key={_DATA_KEY_HEX}",
    f"type=user algorithm=aes-xts-128 key={_DATA_KEY_HEX[:30]} tweak={_TWEAK_KEY_HEX}",
    f"type=clear key={_DATA_KEY_HEX}",
    "type=gold algorithm=aes-xts-128",
    "algorithm=aes-xts-128",
    "type=cpu algorithm=aes-xts-256",
    "type=cpu type=user algorithm=aes-xts-128",
    "type=user type=cpu algorithm=aes-xts-128",
    "type=cpu algorithm=aes-xts-128 algorithm=aes-xts-128",
    f"type=user algorithm=aes-xts-128 key={'zz' * 16} tweak={_TWEAK_KEY_HEX}",
    "",
]


def _engine_reason(payload: str) -> str | None:
    """Why the kernel model's parser refuses ``payload`` (None if it accepts it)."""
    from ..kernel import SyscallError, parse_mktme_payload

    try:
        parse_mktme_payload(payload)
    except SyscallError as exc:
        return exc.reason
    return None


def _keyid_ctrl_ref(payload: str) -> int:
    """Reference on top of the kernel model's parser: COMMAND in bits 7:0, ENC_ALG in bits 23:8 for EVERY command."""
    from ..kernel import SyscallError, parse_mktme_payload

    try:
        parsed = parse_mktme_payload(payload)
    except SyscallError as exc:
        raise ValueError(exc.reason) from None
    return int(parsed.command) | ALG_AES_XTS_128 << 8


def _keyid_ctrl_rfc(payload: str) -> int:
    """The RFC v2 behaviour: clear and no-encrypt carried no ENC_ALG."""
    ctrl = _keyid_ctrl_ref(payload)
    return ctrl & 0xFF if ctrl & 0xFF in (2, 3) else ctrl


def _keyid_ctrl_unshifted(payload: str) -> int:
    return (_keyid_ctrl_ref(payload) & 0xFF) | ALG_AES_XTS_128


def _keyid_ctrl_last_wins(payload: str) -> int:
    """Right in every rule but one: a repeated option quietly replaces the earlier one, as in a dict."""
    options: dict[str, str] = {}
    for token in payload.split():
        name, _, value = token.partition("=")
        options[name] = value
    return _keyid_ctrl_ref(" ".join(f"{name}={value}" for name, value in options.items()))


def _keyid_ctrl_needs_entropy(payload: str) -> int:
    """Refuses a valid payload with a bare ValueError (type=cpu without key=)."""
    if "type=cpu" in payload and "key=" not in payload:
        raise ValueError()
    return _keyid_ctrl_ref(payload)


def _repeated_option(payload: str) -> str | None:
    """The first option name a payload gives more than once, or None."""
    seen: set[str] = set()
    for token in payload.split():
        name = token.partition("=")[0]
        if name in seen:
            return name
        seen.add(name)
    return None


def _shown_ctrl(got) -> str:
    """What a learner's function returned, as a hint shows it: KEYID_CTRL in hex."""
    return f"{got:#x}" if isinstance(got, int) and not isinstance(got, bool) else repr(got)


def _keyid_ctrl_lenient(payload: str) -> int:
    commands = {"user": 0, "cpu": 1, "clear": 2, "no-encrypt": 3}
    options = dict(token.partition("=")[::2] for token in payload.split())
    return commands[options.get("type", "cpu")] | ALG_AES_XTS_128 << 8


@check("keyid_ctrl", examples=Examples(
    placeholder=...,
    wrong=[(_keyid_ctrl_rfc, "INVALID_ENC_ALG"),
           (_keyid_ctrl_unshifted, "bits 23:8"),
           (lambda payload: 0x101, "KEYID_SET_KEY_DIRECT"),
           (_keyid_ctrl_lenient, "refuses"),
           (_keyid_ctrl_lenient, "returned 0x101"),
           (_keyid_ctrl_last_wins, "twice"),
           (_keyid_ctrl_needs_entropy, "keyid_ctrl('type=cpu algorithm=aes-xts-128') raised ValueError, but"),
           (lambda payload: None, "missing `return`")],
    correct=lambda: _keyid_ctrl_ref,
))
def check_keyid_ctrl(answer):
    """``answer(payload)`` must return KEYID_CTRL for a valid payload and raise ValueError for an invalid one."""
    from ..machine import Machine

    if not callable(answer):
        return hint("pass the function itself: check_keyid_ctrl(keyid_ctrl).")
    names = {0: "KEYID_SET_KEY_DIRECT", 1: "KEYID_SET_KEY_RANDOM", 2: "KEYID_CLEAR_KEY", 3: "KEYID_NO_ENCRYPT"}
    m = Machine(packages=1, seed=26)
    for keyid, payload in enumerate(_VALID_PAYLOADS, start=1):
        want = _keyid_ctrl_ref(payload)
        where = f"keyid_ctrl({payload!r})"
        try:
            got = answer(payload)
        except Exception as exc:  # name the payload, whatever the exception and even without a message
            said = f" ({exc})" if str(exc) else ""
            return hint(f"{where} raised {type(exc).__name__}{said}, but that payload is valid: the kernel "
                        f"accepts it, and KEYID_CTRL should be {want:#x}. Check which rule refused it.")
        got = returned(got, "keyid_ctrl", "`return ctrl`, KEYID_CTRL as an int")
        if not isinstance(got, int) or isinstance(got, bool):
            return hint(f"{where} returned a {type(got).__name__}; return KEYID_CTRL as an int.")
        if got == want:
            cmd, alg = got & 0xFF, got >> 8 & 0xFFFF
            key = (bytes.fromhex(_DATA_KEY_HEX), bytes.fromhex(_TWEAK_KEY_HEX)) if cmd == 0 else (None, None)
            status = m.pconfig(0, keyid, cmd, *key, enc_alg=alg)
            assert status is PconfigStatus.PROG_SUCCESS, status  # the reference itself must program
            continue
        want_cmd = want & 0xFF
        if got & 0xFF != want_cmd:
            return hint(f"{where} chose command {got & 0xFF}, but {payload.split('type=')[1].split()[0]!r} "
                        f"needs {want_cmd} {names[want_cmd]}: type=user means software supplies the key "
                        "(KEYID_SET_KEY_DIRECT), type=cpu that the CPU makes it (KEYID_SET_KEY_RANDOM).")
        if got == want_cmd and want_cmd in (2, 3):
            status = m.pconfig(0, keyid, want_cmd, enc_alg=0)
            return hint(f"{where} is {got:#x}: ENC_ALG is 0, as in the RFC's clear and no-encrypt payloads. The "
                        "2018-era rule wants a valid, activated ENC_ALG even for KEYID_CLEAR_KEY and "
                        f"KEYID_NO_ENCRYPT, and the simulator's PCONFIG answers {status.name} ({int(status)}) to "
                        "that (try it). Alison Schofield's May 2019 patch set a valid ENC_ALG for every command: "
                        "put AES-XTS-128 (1) into bits 23:8 for all four types.")
        if got == want_cmd:
            return hint(f"{where} is {got:#x}: ENC_ALG is missing. Put AES-XTS-128 (1) into bits 23:8: "
                        f"{want_cmd} | 1 << 8.")
        if got == want_cmd | ALG_AES_XTS_128:
            return hint(f"{where} is {got:#x}: ENC_ALG landed in the COMMAND byte. ENC_ALG sits in bits 23:8 of "
                        "KEYID_CTRL: shift it left by 8.")
        return hint(f"{where} should be {want:#x}, not {got:#x}: COMMAND in bits 7:0, ENC_ALG in bits 23:8.")
    for payload in _INVALID_PAYLOADS:
        reason = _engine_reason(payload)
        try:
            got = answer(payload)
        except ValueError:
            continue
        except Exception as exc:
            return hint(f"keyid_ctrl({payload!r}) raised {type(exc).__name__}; the kernel refuses this payload, "
                        f"but say so with ValueError ({reason}).")
        repeated = _repeated_option(payload)
        if repeated:
            return hint(f"keyid_ctrl({payload!r}) returned {_shown_ctrl(got)}, but the payload gives {repeated}= "
                        f"twice, and each option may appear at most once: the kernel refuses it with EINVAL "
                        f"({reason}). A dict quietly keeps one of the two values; check `if name in options` "
                        "before you store an option, and raise ValueError.")
        return hint(f"keyid_ctrl({payload!r}) returned {_shown_ctrl(got)}, but the kernel refuses that payload with "
                    f"EINVAL: {reason}. Raise ValueError for it.")
    return passed(f"keyid_ctrl() agrees with the kernel model's parser on {len(_VALID_PAYLOADS)} valid and "
                  f"{len(_INVALID_PAYLOADS)} invalid payloads, and every value it built programmed a KeyID.")
