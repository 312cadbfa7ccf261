"""Checks for the exercises of lesson 01, TME basics (solutions/01_tme_basics.ipynb).

An exercise hands over its function, not a value, and shows the result::

    from mktme_lite.checks.tme_basics import check_changed_lines, check_line_tweaks, check_mul_alpha, check_replay

    check_mul_alpha(mul_alpha)          # doubling a tweak in GF(2^128), against a reference
    check_line_tweaks(line_tweaks)      # T0..T3 of a line, against the engine's XTS tweaks
    check_changed_lines(changed_lines)  # which 64-byte lines differ between two DRAM dumps
    check_replay(replay)                # an attacker rolls a line back to an old ciphertext

The references are written here without the engine (the tests prove they agree with it), so
a bug in :mod:`mktme_lite.xts` cannot make a wrong answer pass. The machinery, including the
missing-``return`` rule, is in :mod:`mktme_lite.checks`.
"""

from __future__ import annotations

from . import Examples, NotAttempted, check, hint, passed, returned

__all__ = ["check_mul_alpha", "check_line_tweaks", "check_changed_lines", "check_replay"]

_MASK128 = (1 << 128) - 1


def _mul_alpha_ref(t: int) -> int:
    """Reference doubling in GF(2^128), written here independently of xts.gf128_mul_alpha."""
    t <<= 1
    return (t & _MASK128) ^ 0x87 if t >> 128 else t


def _tweak_samples() -> list[int]:
    import random

    rng = random.Random(1619)
    fixed = [0, 1, 2, 0x87, 1 << 63, 1 << 64, 1 << 126, 1 << 127, (1 << 127) | 1, _MASK128]
    return fixed + [rng.getrandbits(128) for _ in range(40)]


@check("mul_alpha", examples=Examples(
    placeholder=...,
    wrong=[(lambda t: t << 1, "128 bits"),
           (lambda t: (t << 1) & _MASK128, "0x87"),
           (lambda t: t >> 1, "left"),
           (lambda t: ((t << 1) & _MASK128) ^ 0x87, "only when"),
           (lambda t: str(t), "int"),
           (lambda t: 0, "whatever t is"),
           (lambda t: None, "missing `return`")],
    correct=lambda: _mul_alpha_ref,
))
def check_mul_alpha(answer):
    """``answer(t)`` must multiply the 128-bit tweak ``t`` by alpha, exactly like the engine."""
    if not callable(answer):
        return hint("pass the function itself: check_mul_alpha(mul_alpha), without calling it.")
    results: dict[int, int] = {}
    for t in _tweak_samples():
        got = returned(answer(t), "mul_alpha", "`return t`, the product t * alpha as an int")
        if not isinstance(got, int) or isinstance(got, bool):
            return hint(f"mul_alpha({t:#x}) returned a {type(got).__name__}; return an int.")
        results[t] = got
    if len(set(results.values())) == 1:
        value = next(iter(results.values()))
        return hint(f"mul_alpha() returns {value:#x} whatever t is, but the product must depend on t: start "
                    "from t shifted left by one bit (t << 1).")
    if all(got == t >> 1 for t, got in results.items()):
        return hint("that shifts right. Multiplying by alpha shifts the little-endian integer one bit "
                    "left, towards the most significant bit.")
    for t, got in results.items():
        want = _mul_alpha_ref(t)
        if got == want:
            continue
        if got >> 128:
            return hint(f"mul_alpha({t:#x}) has {got.bit_length()} bits, more than 128 bits. When bit 127 "
                        "shifts out, drop it (mask with (1 << 128) - 1) and fold it back in by XOR-ing 0x87.")
        if got == (t << 1) & _MASK128:
            return hint(f"for t = {t:#x} the top bit fell off and was lost. On carry-out, XOR 0x87 into the low "
                        "byte: x^128 = x^7 + x^2 + x + 1 in this field.")
        if got == ((t << 1) & _MASK128) ^ 0x87 and not t >> 127:
            return hint(f"for t = {t:#x} bit 127 was 0, so nothing falls off: XOR 0x87 only when the bit "
                        "shifted out was 1.")
        return hint(f"mul_alpha({t:#x}) should be {want:#x}, not {got:#x}. Shift left by one; if bit 128 is "
                    "then set, clear it and XOR 0x87.")
    return passed(f"mul_alpha() agrees with the reference on {len(_tweak_samples())} tweaks, including the "
                  "carry case 1 << 127.")


def _line_tweaks_ref(tweak_key: bytes, pa: int) -> list[int]:
    from Crypto.Cipher import AES

    t = int.from_bytes(AES.new(tweak_key, AES.MODE_ECB).encrypt(pa.to_bytes(16, "little")), "little")
    out = []
    for _ in range(4):
        out.append(t)
        t = _mul_alpha_ref(t)
    return out


def _tweak_cases() -> list[tuple[bytes, int]]:
    return [(bytes(range(16)), 0x1040), (bytes(16), 0), (b"\x22" * 16, 0x3333333333 & ~0x3F),
            (bytes(range(100, 116)), 0x3FFC0)]


def _wrong_endian(tweak_key: bytes, pa: int) -> list[int]:
    from Crypto.Cipher import AES

    t = int.from_bytes(AES.new(tweak_key, AES.MODE_ECB).encrypt(pa.to_bytes(16, "big")), "little")
    return [t, _mul_alpha_ref(t), _mul_alpha_ref(_mul_alpha_ref(t)),
            _mul_alpha_ref(_mul_alpha_ref(_mul_alpha_ref(t)))]


def _t0_wrong(tweak_key: bytes, pa: int) -> list[int]:
    """A wrong T0 (encrypted under another key), then correct doubling."""
    return _line_tweaks_ref(bytes(b ^ 0xFF for b in tweak_key), pa)


@check("line_tweaks", examples=Examples(
    placeholder=...,
    wrong=[(_wrong_endian, "little-endian"),
           (lambda key, pa: [_line_tweaks_ref(key, pa)[0]] * 4, "alpha"),
           (lambda key, pa: [pa, pa << 1, pa << 2, pa << 3], "AES"),
           (lambda key, pa: _line_tweaks_ref(key, pa)[:3], "four"),
           (_t0_wrong, "T0 for pa="),
           (lambda key, pa: None, "missing `return`")],
    correct=lambda: _line_tweaks_ref,
))
def check_line_tweaks(answer):
    """``answer(tweak_key, pa)`` must return the four per-block tweaks T0..T3 of the line at ``pa``."""
    from Crypto.Cipher import AES

    if not callable(answer):
        return hint("pass the function itself: check_line_tweaks(line_tweaks).")
    for key, pa in _tweak_cases():
        got = returned(answer(key, pa), "line_tweaks", "`return tweaks`, the list [T0, T1, T2, T3]")
        want = _line_tweaks_ref(key, pa)
        if not isinstance(got, (list, tuple)) or len(got) != 4 or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in got):
            return hint("return a list of four ints: T0, T1, T2, T3, one tweak per 16-byte block of the line.")
        got = list(got)
        if got == want:
            continue
        pa_le = pa.to_bytes(16, "little")
        big = int.from_bytes(AES.new(key, AES.MODE_ECB).encrypt(pa.to_bytes(16, "big")), "little")
        be_out = int.from_bytes(AES.new(key, AES.MODE_ECB).encrypt(pa_le), "big")
        swapped = int.from_bytes(AES.new(pa_le, AES.MODE_ECB).encrypt(key), "little")
        if got[0] == big:
            return hint("encode the physical address little-endian before encrypting it: "
                        "pa.to_bytes(16, 'little'), the IEEE 1619 convention.")
        if got[0] == be_out:
            return hint("read the AES output as a little-endian integer, the same convention as the address.")
        if got[0] == swapped:
            return hint("the key and the block are swapped: lesson.aes_block(key, block) takes the tweak key "
                        "first and the 16 address bytes second.")
        if got[0] == pa:
            return hint("T0 is not the address itself: T0 is the address AES-encrypted with the tweak key.")
        if got[0] != want[0]:
            return hint(f"T0 for pa={pa:#x} is wrong. Three steps: the address as 16 little-endian bytes; those "
                        "bytes AES-encrypted with the tweak key (lesson.aes_block); the 16-byte result read "
                        "back as a little-endian int.")
        if len(set(got)) == 1:
            return hint("all four tweaks are equal: multiply by alpha between blocks, T(j+1) = mul_alpha(T(j)).")
        return hint("T0 is right but a later tweak is not: check mul_alpha() (exercise 1) and that each "
                    "tweak comes from the one before it.")
    return passed("line_tweaks() reproduces the engine's per-block tweaks T0..T3 for every line we tried.")


def _changed_lines_ref(before: bytes, after: bytes, base: int) -> list[int]:
    return [base + i for i in range(0, len(before), 64) if before[i:i + 64] != after[i:i + 64]]


def _dump_cases() -> list[tuple[bytes, bytes, int]]:
    """Pairs of DRAM dumps made by the engine: stores, same-value stores, one-byte stores."""
    from ..machine import Machine

    cases = []
    m = Machine(packages=1, seed=404)
    base, n = 0x2000, 16
    for i in range(n):
        m.store(m.hpa(base + 64 * i), f"record {i:2d}".encode().ljust(64, b"."))
    m.wbinvd()
    before = m.dram(base, 64 * n)
    m.store(m.hpa(base + 64 * 3), b"record  3".ljust(64, b"."))  # same value: invisible
    m.store(m.hpa(base + 64 * 5 + 40), b"!")  # one byte
    m.store(m.hpa(base + 64 * 9), b"record 99".ljust(64, b"."))
    m.store(m.hpa(base + 64 * 15 + 63), b"?")
    m.wbinvd()
    cases.append((before, m.dram(base, 64 * n), base))
    cases.append((before, before, base))  # nothing changed
    cases.append((bytes(256), bytes(range(256)), 0x40))  # every line changed
    return cases


@check("changed_lines", examples=Examples(
    placeholder=...,
    wrong=[(lambda b, a, base: [i for i in range(0, len(b), 64) if b[i:i + 64] != a[i:i + 64]], "base"),
           (lambda b, a, base: [i // 64 for i in range(0, len(b), 64) if b[i:i + 64] != a[i:i + 64]], "line numbers"),
           (lambda b, a, base: [base + i for i in range(0, len(b), 16) if b[i:i + 16] != a[i:i + 16]], "once"),
           (lambda b, a, base: len(_changed_lines_ref(b, a, base)), "list"),
           (lambda b, a, base: [hex(x) for x in _changed_lines_ref(b, a, base)], "as ints"),
           (lambda b, a, base: _changed_lines_ref(b, a, base)[::-1], "increasing order"),
           (lambda b, a, base: set(_changed_lines_ref(b, a, base)), "increasing order"),
           (lambda b, a, base: _changed_lines_ref(b, a, base) * 2, "once"),
           (lambda b, a, base: None, "missing `return`")],
    correct=lambda: _changed_lines_ref,
))
def check_changed_lines(answer):
    """``answer(before, after, base)`` must list, in increasing order, the addresses of the lines that differ."""
    if not callable(answer):
        return hint("pass the function itself: check_changed_lines(changed_lines).")
    cases = _dump_cases()
    for before, after, base in cases:
        got = returned(answer(before, after, base), "changed_lines",
                       "`return changed`, the list of the changed lines' addresses")
        want = _changed_lines_ref(before, after, base)
        if isinstance(got, (set, frozenset)):
            return hint("return a list, in increasing order: a set has no order (sorted(...) turns it into a "
                        "sorted list).")
        if not isinstance(got, (list, tuple)):
            return hint(f"return a list of addresses, not a {type(got).__name__}.")
        odd = [a for a in got if not isinstance(a, int) or isinstance(a, bool)]
        if odd:
            return hint(f"the list holds {type(odd[0]).__name__} values such as {odd[0]!r}; return the addresses "
                        "as ints (e.g. base + 64), not as text. lesson.hexlist() writes ints in hex when "
                        "you print them.")
        got = list(got)
        if got == want:
            continue
        if sorted(set(got)) == want:
            if len(got) != len(set(got)):
                return hint("some addresses appear more than once: report each changed line once.")
            return hint("the right addresses, but not in increasing order: list them from the lowest address "
                        "up (walk the dumps from the start, or sort the list).")
        got_sorted = sorted(got)
        if want and got_sorted == [a - base for a in want]:
            return hint("those are offsets into the dump; add base to report physical addresses.")
        if want and got_sorted == [(a - base) // 64 for a in want]:
            return hint("those look like line numbers; report each line's physical address, base + 64 * i.")
        if want and set(got) > set(want) or any(a % 64 != base % 64 for a in got):
            return hint("compare whole 64-byte lines and report each changed line once, at its first byte's "
                        "address (base + a multiple of 64).")
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        return hint(f"missing {[hex(a) for a in missing]}, unexpected {[hex(a) for a in extra]}. "
                    "A line changed if any of its 64 bytes differ between the dumps.")
    return passed("changed_lines() finds exactly the changed lines, in increasing order, including one-byte "
                  "writes, and correctly reports none when the dumps are equal.")


_BALANCE_OLD = b"balance: 100 EUR".ljust(64, b" ")
_BALANCE_NEW = b"balance:   0 EUR".ljust(64, b" ")


def _replay_ref(m, pa: int, old_ciphertext: bytes) -> None:
    m.write_dram(pa, old_ciphertext)


def _replay_scenarios():
    """(machine, pa, hpa, snapshot, keyid) after a victim wrote 100 EUR, we snapshot, it wrote 0 EUR."""
    from ..keytable import PconfigCommand
    from ..machine import Machine

    for keyid in (0, 1):
        m = Machine(packages=1, seed=77 + keyid)
        if keyid:
            m.pconfig(0, keyid, PconfigCommand.KEYID_SET_KEY_RANDOM)
        pa = 0x3000
        hpa = m.hpa(pa, keyid)
        m.store(hpa, _BALANCE_OLD)
        m.clflush(hpa)
        snapshot = m.dram(pa)
        m.store(hpa, _BALANCE_NEW)
        m.clflush(hpa)
        yield m, pa, hpa, snapshot, keyid


@check("replay", examples=Examples(
    placeholder=...,
    wrong=[(lambda m, pa, old: m.clflush(m.hpa(pa)), "DRAM still holds"),
           (lambda m, pa, old: m.store(m.hpa(pa, 1), old), "through the CPU"),
           (lambda m, pa, old: (m.store(m.hpa(pa, 1), old), m.clflush(m.hpa(pa, 1))), "as data"),
           (lambda m, pa, old: m.write_dram(pa + 64, old), "same physical address"),
           (lambda m, pa, old: m.store(m.hpa(pa), old), "write_dram"),
           (lambda m, pa, old: m.write_dram(m.hpa(pa, 1), old), "KeyID")],
    correct=lambda: _replay_ref,
))
def check_replay(answer):
    """``answer(m, pa, old_ciphertext)`` must make the CPU read the old balance again."""
    from ..errors import AddressError

    if not callable(answer):
        return hint("pass the function itself: check_replay(replay).")
    for m, pa, hpa, snapshot, keyid in _replay_scenarios():
        dram_before = m.dram(pa)
        events_before = sum(m.counters.values())
        stores_before = m.counters["store"]
        try:
            answer(m, pa, snapshot)
        except AddressError as exc:
            return hint("DRAM is indexed by the physical address WITHOUT KeyID bits: the DIMM never sees a "
                        f"KeyID. Use pa, not an hpa. (The engine said: {exc})")
        if sum(m.counters.values()) == events_before:
            raise NotAttempted  # the function did nothing at all: still the generated placeholder
        if m.counters["store"] > stores_before:
            return hint("you stored the old ciphertext through the CPU (m.store). The CPU treats those 64 bytes "
                        "as data: a load through the same name reads them back as they are (that is the garbage "
                        "you may have printed), and a write-back would encrypt them once more. A bus attacker "
                        "never goes through the CPU: it overwrites DRAM directly, m.write_dram(pa, "
                        "old_ciphertext).")
        if m.cached(hpa):
            return hint("you went through the CPU (its cache now holds the line). A bus attacker cannot use the "
                        "CPU: it overwrites DRAM directly with m.write_dram(pa, ...).")
        if m.dram(pa) == dram_before:
            if m.counters["dram_write"] == 0:
                return hint("DRAM still holds the new balance's ciphertext: your function wrote nothing to the "
                            "DIMM, so a load decrypts 0 EUR. Put the old ciphertext back into DRAM with "
                            "m.write_dram(pa, old_ciphertext).")
            return hint("DRAM at pa still holds the new ciphertext. Write the old ciphertext back to the same "
                        "physical address it was read from: ciphertext only decrypts at its own address.")
        got = m.load(hpa)
        if got == _BALANCE_NEW:
            return hint("the CPU still reads the new balance. Put the old ciphertext back into DRAM with "
                        "m.write_dram.")
        if got != _BALANCE_OLD:
            return hint("the CPU now reads garbage, not the old balance: write exactly the snapshot, at "
                        "exactly the same physical address.")
    return passed("your replay rolled the balance back to 100 EUR under KeyID 0 (the TME key) and under "
                  "KeyID 1 (its own key): XTS checks neither integrity nor freshness.")
