"""Checks for the exercises of lesson 05, swap (solutions/05_swap.ipynb).

Exercise 1 hands over a pair of functions, exercise 2 a function of a device dump, exercise 3
a function of a cipher and a tweak::

    from mktme_lite.checks.swap import check_find_leaks, check_roundtrip, check_swap_pair

    check_swap_pair((page_out, page_in))   # loses nothing and leaks nothing, over random cases
    check_find_leaks(find_leaks)           # {slot: process name} for the slots showing plaintext
    check_roundtrip(roundtrip)             # the ciphertext after a trip out and back through KeyID 0

Every verdict is computed on the engine: a check builds its own pages and devices from
:mod:`mktme_lite.scenarios.pages` and :mod:`mktme_lite.scenarios.swap`, runs the learner's code
on them and compares the bytes. These checks never import ipywidgets or matplotlib.
"""

from __future__ import annotations

import numpy as np

from . import Examples, NotAttempted, check, hint, is_stub_return, passed, returned
from ..dump import BLOCK, LINE
from ..kernel import PAGE_SIZE
from ..scenarios.pages import boot, encrypt_pages
from ..scenarios.swap import TWEAKS, device_dump, leaking_lines, seal, unseal
from ..scenarios.swap import roundtrip as _roundtrip_ref
from ..xts import XTSCipher

__all__ = ["check_swap_pair", "check_find_leaks", "check_roundtrip", "SWAP_CASES"]

# ----------------------------------------------------------------------------------------------
# Exercise 1 — a swap-out/swap-in pair that loses nothing and leaks nothing
# ----------------------------------------------------------------------------------------------
#: (cache state, swap-in frame) of every case the check runs, in order.
SWAP_CASES = (
    ("settled in DRAM", "same"),
    ("dirty lines under the page's KeyID", "same"),
    ("dirty lines under the page's KeyID", "other"),
    ("settled, and stale KeyID-0 lines in the cache", "other"),
    ("every line still dirty", "other"),
    ("dirty lines and stale KeyID-0 lines", "same"),
    ("dirty lines under the page's KeyID", "other"),
    ("settled in DRAM", "other"),
)


def _ref_page_out(machine, pa, keyid, key):
    data = machine.load(machine.hpa(pa, keyid), PAGE_SIZE)
    return seal(key, data)


def _ref_page_in(machine, slot, pa, keyid, key):
    machine.store(machine.hpa(pa, keyid), unseal(key, slot))


def _naive_out(machine, pa, keyid, key):
    return machine.load(machine.hpa(pa, 0), PAGE_SIZE)


def _naive_in(machine, slot, pa, keyid, key):
    machine.store(machine.hpa(pa, 0), slot)


def _plain_out(machine, pa, keyid, key):
    return machine.load(machine.hpa(pa, keyid), PAGE_SIZE)


def _plain_in(machine, slot, pa, keyid, key):
    machine.store(machine.hpa(pa, keyid), slot)


def _sealed_keyid0_out(machine, pa, keyid, key):
    return seal(key, machine.load(machine.hpa(pa, 0), PAGE_SIZE))


def _sealed_keyid0_in(machine, slot, pa, keyid, key):
    machine.store(machine.hpa(pa, 0), unseal(key, slot))


def _no_unseal_in(machine, slot, pa, keyid, key):
    machine.store(machine.hpa(pa, keyid), slot)


def _nothing_in(machine, slot, pa, keyid, key):
    return None


def _flush_then_keyid0_out(machine, pa, keyid, key):
    machine.flush_range(machine.hpa(pa, keyid), PAGE_SIZE)
    return seal(key, machine.load(machine.hpa(pa, 0), PAGE_SIZE))


def _build_case(i: int, state: str, frame: str):
    """A kernel, alice's encrypted page in the given cache state, and what she last wrote."""
    rng = np.random.default_rng([505, i])
    k, alice, gdb, serial = boot("fixed", seed=5000 + i, trace=False)
    if i % 3 == 2:  # a second key of alice's: this page is at KeyID 2
        serial = None
    data = bytearray(rng.bytes(PAGE_SIZE))
    va, _ = encrypt_pages(k, alice, bytes(data), serial)
    m = k.machine
    info = alice.pagemap(va)
    pa, keyid = info["pa"], info["keyid"]
    if state != "every line still dirty":
        m.wbinvd()
    if "dirty" in state and state != "every line still dirty":
        for line in sorted(rng.choice(PAGE_SIZE // LINE, size=5, replace=False)):
            fresh = rng.bytes(LINE)
            alice.write(va + int(line) * LINE, fresh)
            data[int(line) * LINE:(int(line) + 1) * LINE] = fresh
    if "stale KeyID-0" in state:
        for line in sorted(rng.choice(PAGE_SIZE // LINE, size=4, replace=False)):
            m.speculative_fill(m.hpa(pa + int(line) * LINE, 0))
    key = rng.bytes(32)
    return k, alice, gdb, m, pa, keyid, bytes(data), key, rng


def _free_and_pick(k, gdb, m, pa, keyid, frame, rng) -> int:
    """The kernel's part between swap-out and swap-in: free the frame the way Policy.fixed()
    does (flush both aliases), let gdb take it for ``frame="other"``, and pick the frame the
    page comes back into, flushed for its new KeyID."""
    m.flush_range(m.hpa(pa, keyid), PAGE_SIZE)
    m.flush_range(m.hpa(pa, 0), PAGE_SIZE)
    if frame == "same":
        dest = pa
    else:
        m.store(m.hpa(pa, 0), rng.bytes(PAGE_SIZE))  # gdb's data lands in the old frame
        m.wbinvd()
        dest = k.frames.pick().pa
    m.flush_range(m.hpa(dest, 0), PAGE_SIZE)
    m.flush_range(m.hpa(dest, keyid), PAGE_SIZE)
    return dest


def _lines_right(got: bytes, want: bytes) -> int:
    return sum(got[i:i + LINE] == want[i:i + LINE] for i in range(0, PAGE_SIZE, LINE))


@check("swap_pair", examples=Examples(
    placeholder=...,
    wrong=[((_naive_out, _naive_in), "KeyID 0"),
           ((_plain_out, _plain_in), "plaintext"),
           ((_sealed_keyid0_out, _sealed_keyid0_in), "KeyID 0"),
           ((_flush_then_keyid0_out, _sealed_keyid0_in), "another frame"),
           ((_ref_page_out, _no_unseal_in), "unseal"),
           ((_ref_page_out, _nothing_in), "stored nothing"),
           ((_ref_page_out, _sealed_keyid0_in), "page_in() wrote"),
           ((lambda m, pa, keyid, key: None, _ref_page_in), "missing `return`"),
           ((lambda m, pa, keyid, key: b"short", _ref_page_in), "4096"),
           (_ref_page_out, "pair")],
    correct=lambda: (_ref_page_out, _ref_page_in),
))
def check_swap_pair(answer):
    """``answer`` is ``(page_out, page_in)``: ``page_out(machine, pa, keyid, key)`` returns the
    4096 bytes for the swap slot; ``page_in(machine, slot, pa, keyid, key)`` puts the page back."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 2 or not all(callable(f) for f in answer):
        if is_stub_return(answer):
            raise NotAttempted
        return hint("pass the pair of functions themselves: check_swap_pair((page_out, page_in)).")
    page_out, page_in = answer
    for i, (state, frame) in enumerate(SWAP_CASES):
        k, alice, gdb, m, pa, keyid, want, key, rng = _build_case(i, state, frame)
        where = "the same frame" if frame == "same" else "another frame"
        case = f"case {i + 1} (KeyID {keyid}, {state}, back into {where})"
        probe = m.clone()
        keyid0_view = probe.load(probe.hpa(pa, 0), PAGE_SIZE)
        slot = returned(page_out(m, pa, keyid, key), "page_out", "`return slot`, the 4096 bytes for the device",
                        case=case)
        if not isinstance(slot, (bytes, bytearray)) or len(slot) != PAGE_SIZE:
            got = f"{len(slot)} bytes" if isinstance(slot, (bytes, bytearray)) else f"a {type(slot).__name__}"
            return hint(f"in {case}, page_out() returned {got}; return the 4096 bytes of one swap slot.")
        slot = bytes(slot)
        leaked = leaking_lines(slot, want)
        blocks = [j for j in range(0, PAGE_SIZE, BLOCK) if want[j:j + BLOCK] in slot]
        if leaked or blocks:
            n = len(leaked)
            return hint(f"in {case}, the slot shows {n} of the page's 64 lines (and {len(blocks)} of its 16-byte "
                        "blocks) in plaintext: whoever steals the disk reads them. Encrypt what goes to the device "
                        "with the swap key: seal(key, data).")
        opened = unseal(key, slot)
        dest = _free_and_pick(k, gdb, m, pa, keyid, frame, rng)
        before_in = m.clone().load(m.hpa(dest, keyid), PAGE_SIZE)
        page_in(m, slot, dest, keyid, key)
        now = m.load(m.hpa(dest, keyid), PAGE_SIZE)
        m.wbinvd()  # time passes
        later = m.load(m.hpa(dest, keyid), PAGE_SIZE)
        if now == later == want:
            continue
        if opened == keyid0_view or slot == keyid0_view:
            return hint(f"in {case}, page_out() read the page through KeyID 0: that is the direct map's alias, "
                        f"which decrypts alice's KeyID-{keyid} ciphertext with the TME key (garbage), and misses "
                        f"her dirty lines. Read through the page's own KeyID: machine.hpa(pa, keyid).")
        if opened != want:
            for other in range(1, 4):
                if other != keyid and opened == probe.clone().load(probe.hpa(pa, other), PAGE_SIZE):
                    return hint(f"in {case}, page_out() read the page through KeyID {other}, but this page uses "
                                f"KeyID {keyid}. Use the keyid argument: machine.hpa(pa, keyid).")
            if frame == "other":
                return hint(f"in {case}, what page_out() sent is not alice's page (unseal gives {_lines_right(opened, want)} "
                            "of 64 lines right). A trip through KeyID 0 only comes back in the same frame; in another "
                            "frame it is garbage. Read through the page's own KeyID.")
            return hint(f"in {case}, what page_out() sent is not alice's page ({_lines_right(opened, want)} of 64 "
                        "lines right after unseal). Read it through the page's own KeyID.")
        if now == before_in and later == before_in:
            return hint(f"in {case}, page_in() stored nothing into the frame at {dest:#x}: store the unsealed page "
                        "with machine.store(machine.hpa(pa, keyid), data).")
        if now == slot or later == slot:
            return hint(f"in {case}, alice reads the sealed bytes: page_in() stored the slot as it is. "
                        "unseal(key, slot) first.")
        if m.load(m.hpa(dest, 0), PAGE_SIZE) == want or later != want:
            return hint(f"in {case}, page_in() wrote the page through another alias than alice's: she reads "
                        f"{_lines_right(later, want)} of 64 lines right once time has passed. Write through "
                        f"machine.hpa(pa, keyid), KeyID {keyid}.")
        return hint(f"in {case}, alice reads {_lines_right(now, want)} of 64 lines right at once and "
                    f"{_lines_right(later, want)} after time passes.")
    return passed(f"Across all {len(SWAP_CASES)} cases (KeyIDs 1 and 2, clean and dirty lines, stale KeyID-0 lines, "
                  "the same frame and another one) alice got every line back and no line reached the device "
                  "in plaintext.")


# ----------------------------------------------------------------------------------------------
# Exercise 2 — which slots of a stolen swap device leak plaintext, and whose page each was
# ----------------------------------------------------------------------------------------------
def _find_leaks_ref(dump, pages):
    found = {}
    for slot in range(len(dump) // PAGE_SIZE):
        raw = dump[slot * PAGE_SIZE:(slot + 1) * PAGE_SIZE]
        for name, page in pages.items():
            lines = [page[i:i + LINE] for i in range(0, PAGE_SIZE, LINE)]
            if any(line in raw for line in lines if line != bytes(LINE)):
                found[slot] = name
    return found


def _with_zeros(dump, pages):
    found = {}
    for slot in range(len(dump) // PAGE_SIZE):
        raw = dump[slot * PAGE_SIZE:(slot + 1) * PAGE_SIZE]
        for name, page in pages.items():
            if any(page[i:i + LINE] in raw for i in range(0, PAGE_SIZE, LINE)):
                found[slot] = name
    return found


def _used_slots(dump, pages):
    names = list(pages)
    used = [s for s in range(len(dump) // PAGE_SIZE) if dump[s * PAGE_SIZE:(s + 1) * PAGE_SIZE].strip(b"\0")]
    return {s: names[i % len(names)] for i, s in enumerate(used)}


def _by_order(dump, pages):
    ref = _find_leaks_ref(dump, pages)
    names = sorted(ref.values())
    return dict(zip(sorted(ref), names))


@check("find_leaks", examples=Examples(
    placeholder=...,
    wrong=[(_with_zeros, "zeros"),
           (_used_slots, "no line"),
           (_by_order, "whose page"),
           (lambda dump, pages: list(_find_leaks_ref(dump, pages).values()), "dict"),
           (lambda dump, pages: {s: n for s, n in list(_find_leaks_ref(dump, pages).items())[:-1]}, "missed"),
           (lambda dump, pages: None, "missing `return`")],
    correct=lambda: _find_leaks_ref,
))
def check_find_leaks(answer):
    """``answer(dump, pages)`` returns ``{slot: name}`` for every slot showing plaintext of a page."""
    if not callable(answer):
        return hint("pass the function itself: check_find_leaks(find_leaks).")
    for seed in (505, 77):
        d = device_dump(seed)
        got = returned(answer(d.dump, dict(d.pages)), "find_leaks", "`return found`, a dict {slot: name}",
                       case=f"the dump of seed {seed}")
        if not isinstance(got, dict):
            return hint(f"find_leaks() returned a {type(got).__name__}; return a dict {{slot number: process name}}.")
        bad_keys = [s for s in got if not isinstance(s, (int, np.integer))]
        if bad_keys:
            return hint(f"the keys must be slot numbers (ints, slot = offset // 4096); got {bad_keys[:3]}.")
        got = {int(s): n for s, n in got.items()}
        want = d.truth
        if got == want:
            continue
        for slot, name in sorted(got.items()):
            if slot not in want:
                raw = d.dump[slot * PAGE_SIZE:(slot + 1) * PAGE_SIZE]
                if not raw.strip(b"\0"):
                    return hint(f"slot {slot} is empty (all zeros), yet you named {name!r}: a page's lines of zeros "
                                "match any empty slot. Ignore lines that are all zeros.")
                return hint(f"no line of any page is in slot {slot}, yet you named {name!r}: the slot holds "
                            "ciphertext or garbage, not plaintext. Search the slot for the page's lines.")
            if want[slot] != name:
                raw = d.dump[slot * PAGE_SIZE:(slot + 1) * PAGE_SIZE]
                page = d.pages.get(name, b"")
                pieces = sum(1 for i in range(0, len(page), BLOCK) if page[i:i + BLOCK].strip(b"\0")
                             and page[i:i + BLOCK] in raw)
                why = (f" Only {pieces} 16-byte piece(s) of {name!r}'s page are there (text many pages share, such "
                       "as padding); a slot shows a page when whole 64-byte lines of it are there." if pieces else "")
                return hint(f"slot {slot} shows {want[slot]!r}'s lines, not {name!r}'s: find whose page each slot "
                            f"shows by searching it for each page's lines.{why}")
        missed = sorted(set(want) - set(got))
        return hint(f"you missed slot(s) {missed}: each shows lines of a page in plaintext.")
    return passed("Both dumps: you found every slot that shows plaintext and whose page it is, and named no empty or "
                  "encrypted slot.")


# ----------------------------------------------------------------------------------------------
# Exercise 3 — why the same frame came back: compute the trip out and back through KeyID 0
# ----------------------------------------------------------------------------------------------
def _same_tweak_twice(cipher, tweak, c, out_pa, in_pa):
    return cipher.encrypt(tweak(out_pa), cipher.decrypt(tweak(out_pa), c))


def _raw_address(cipher, tweak, c, out_pa, in_pa):
    return cipher.encrypt(in_pa, cipher.decrypt(out_pa, c))


def _backwards(cipher, tweak, c, out_pa, in_pa):
    return cipher.decrypt(tweak(in_pa), cipher.encrypt(tweak(out_pa), c))


@check("roundtrip", examples=Examples(
    placeholder=...,
    wrong=[(_same_tweak_twice, "in_pa"),
           (_raw_address, "tweak(pa)"),
           (_backwards, "decrypts"),
           (lambda cipher, tweak, c, out_pa, in_pa: c, "another frame"),
           (lambda cipher, tweak, c, out_pa, in_pa: None, "missing `return`")],
    correct=lambda: _roundtrip_ref,
))
def check_roundtrip(answer):
    """``answer(cipher, tweak, c, out_pa, in_pa)`` returns the ciphertext after the trip."""
    if not callable(answer):
        return hint("pass the function itself: check_roundtrip(roundtrip).")
    rng = np.random.default_rng(55)
    pairs = [(0x4040, 0x4040), (0x4040, 0x5040), (0x7fc0, 0x7fc0), (0x9000, 0x4000)]
    for t, (tname, tweak) in enumerate(TWEAKS.items()):
        cipher = XTSCipher(rng.bytes(16), rng.bytes(16))
        for out_pa, in_pa in pairs:
            c = rng.bytes(LINE)
            case = f"tweak {tname!r}, out at {out_pa:#x}, back at {in_pa:#x}"
            got = returned(answer(cipher, tweak, c, out_pa, in_pa), "roundtrip",
                           "`return back`, the 64 bytes of ciphertext", case=case)
            if not isinstance(got, (bytes, bytearray)) or len(got) != LINE:
                return hint(f"for {case}, roundtrip() returned {got!r:.40}; return 64 bytes of ciphertext.")
            want = _roundtrip_ref(cipher, tweak, c, out_pa, in_pa)
            if bytes(got) == want:
                continue
            if out_pa != in_pa and bytes(got) == c:
                return hint(f"for {case} you returned the old ciphertext, as if the line came back where it left. In "
                            "another frame the swap-in encrypts under tweak(in_pa), so the ciphertext changes.")
            if bytes(got) == _same_tweak_twice(cipher, tweak, c, out_pa, in_pa):
                return hint(f"for {case} you encrypted under tweak(out_pa); the line came back at in_pa, so the "
                            "swap-in encrypts under tweak(in_pa).")
            if bytes(got) == _backwards(cipher, tweak, c, out_pa, in_pa):
                return hint(f"for {case}: the swap-out decrypts first (a KeyID-0 read), the swap-in encrypts "
                            "(a KeyID-0 write). You did it the other way round.")
            if t and bytes(got) == _raw_address(cipher, tweak, c, out_pa, in_pa):
                return hint(f"for {case} you used the address itself as the tweak; use tweak(pa), the memory "
                            "controller's tweak function, which the check varies.")
            return hint(f"for {case} your ciphertext differs from decrypt-then-encrypt with the KeyID-0 cipher.")
    return passed(f"roundtrip() matches the engine for {len(TWEAKS)} tweak functions: in the same frame the "
                  "ciphertext comes back exactly, in another frame it does not.")
