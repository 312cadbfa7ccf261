"""Checks for the exercises of lesson 03, aliasing through the direct map (solutions/03_aliasing.ipynb).

Exercises 1 and 2a hand over a function, 2b a Policy, 3 a dict of predictions::

    from mktme_lite.checks.aliasing import (L03_OPTIONS, L03_QUESTIONS, check_alias_prediction, check_gup_fix,
                                            check_kernel_read, check_wrong_paths)

    check_kernel_read(kernel_read)          # read a user page through its own KeyID
    check_wrong_paths(wrong_paths)          # which kernel paths hand back wrong bytes
    check_gup_fix(Policy.as_proposed().replace(direct_map=...))
    check_alias_prediction(dict(zip(L03_QUESTIONS, [...])))   # each answer one of L03_OPTIONS

Every verdict is computed on the kernel model: a check builds its own scenarios, runs the
learner's answer on them and compares the bytes with what the process wrote. The set-up comes
from the scenarios layer (:mod:`mktme_lite.scenarios.pages`, :mod:`mktme_lite.scenarios.aliasing`),
never from a widget module, so these checks run without ipywidgets or matplotlib. The
machinery, including the missing-``return`` rule, is in :mod:`mktme_lite.checks`.
"""

from __future__ import annotations

import re

from . import Examples, NotAttempted, check, hint, is_placeholder, passed, returned
from ..errors import AddressError
from ..kernel import PAGE_SIZE, PROT_READ, PROT_WRITE, Kernel, Policy, SyscallError
from ..machine import Machine
from ..dump import differing_blocks
from ..scenarios.aliasing import KERNEL_PATHS
from ..scenarios.pages import CPU_KEY, encrypted_page

__all__ = ["check_kernel_read", "check_wrong_paths", "check_gup_fix", "check_alias_prediction",
           "L03_QUESTIONS", "L03_OPTIONS"]

_RW = PROT_READ | PROT_WRITE

# ----------------------------------------------------------------------------------------------
# Exercise 1 — a kernel read of user memory through the right alias
# ----------------------------------------------------------------------------------------------
_PAGE_DATA = bytes((7 * i + 3) % 251 for i in range(PAGE_SIZE))  # every byte differs from its neighbours


def _kernel_read_ref(kernel, proc, vaddr, n):
    (pa,) = kernel.get_user_pages(proc, vaddr)
    keyid = kernel.frame_info(pa)["keyid"]
    return kernel.machine.load(kernel.machine.hpa(pa + vaddr % PAGE_SIZE, keyid), n)


def _read_cases():
    """(description, kernel, proc, vaddr, n, expected bytes) on as-proposed kernels (KeyID-0 direct map)."""
    m = Machine(packages=2, seed=303)
    k = Kernel(m, Policy.as_proposed())
    alice, bob = k.spawn("alice", package=0), k.spawn("bob", package=1)
    keys = [alice.add_key("mktme", f"key-{i}", CPU_KEY) for i in range(2)]
    pages = []
    for proc, serial in ((alice, keys[0]), (bob, keys[1])):
        va = proc.mmap(PAGE_SIZE, _RW)
        proc.encrypt_mprotect(va, PAGE_SIZE, _RW, serial)
        proc.write(va, _PAGE_DATA)
        pages.append(va)
    plain = alice.mmap(PAGE_SIZE, _RW)
    alice.write(plain, _PAGE_DATA)
    untouched = bob.mmap(PAGE_SIZE, _RW)
    bob.encrypt_mprotect(untouched, PAGE_SIZE, _RW, keys[1])
    m.wbinvd()
    alice.write(pages[0] + 2048, b"still in the cache")  # dirty under alice's KeyID, not yet in DRAM
    cached = _PAGE_DATA[:2048] + b"still in the cache" + _PAGE_DATA[2048 + 18:]
    return [
        ("the first 64 bytes of alice's encrypted page", k, alice, pages[0], 64, _PAGE_DATA[:64]),
        ("20 bytes at offset 100 of that page", k, alice, pages[0] + 100, 20, _PAGE_DATA[100:120]),
        ("bytes alice wrote a moment ago (still cached)", k, alice, pages[0] + 2048, 18, cached[2048:2066]),
        ("bob's page, encrypted with a second key", k, bob, pages[1] + 512, 64, _PAGE_DATA[512:576]),
        ("a page alice never encrypted (KeyID 0)", k, alice, plain + 64, 32, _PAGE_DATA[64:96]),
        ("a page bob mapped and encrypted but never touched", k, bob, untouched + 256, 16, bytes(16)),
    ]


def _keyid0_read(kernel, proc, vaddr, n):
    (pa,) = kernel.get_user_pages(proc, vaddr)
    return kernel.machine.load(kernel.machine.hpa(pa + vaddr % PAGE_SIZE, 0), n)


def _no_offset(kernel, proc, vaddr, n):
    (pa,) = kernel.get_user_pages(proc, vaddr)
    return kernel.machine.load(kernel.machine.hpa(pa, kernel.frame_info(pa)["keyid"]), n)


def _keyid1(kernel, proc, vaddr, n):
    (pa,) = kernel.get_user_pages(proc, vaddr)
    return kernel.machine.load(kernel.machine.hpa(pa + vaddr % PAGE_SIZE, 1), n)


def _pagemap_only(kernel, proc, vaddr, n):
    info = proc.pagemap(vaddr)
    return kernel.machine.load(kernel.machine.hpa(info["pa"] + vaddr % PAGE_SIZE, info["keyid"]), n)


def _whole_list(kernel, proc, vaddr, n):
    pa = kernel.get_user_pages(proc, vaddr)
    return kernel.machine.load(kernel.machine.hpa(pa + vaddr % PAGE_SIZE, 1), n)


def _virtual_address(kernel, proc, vaddr, n):
    (pa,) = kernel.get_user_pages(proc, vaddr)
    return kernel.machine.load(kernel.machine.hpa(vaddr, kernel.frame_info(pa)["keyid"]), n)


def _pa_plus_vaddr(kernel, proc, vaddr, n):
    (pa,) = kernel.get_user_pages(proc, vaddr)
    return kernel.machine.load(kernel.machine.hpa(pa + vaddr, kernel.frame_info(pa)["keyid"]), n)


def _user_read(kernel, proc, vaddr, n):
    return proc.read(vaddr, n)


def _copy_from_user(kernel, proc, vaddr, n):
    return kernel.copy_from_user(proc, vaddr, n)


def _walk_stamp(proc, vaddr):
    """When the process's page tables last translated ``vaddr`` (None: no PTE yet).

    A user access (``proc.read()``, ``copy_from_user()``) and ``get_user_pages()`` both walk the
    process's page tables; only ``get_user_pages()`` also counts a ``gup`` event. A kernel read
    that never walked them (``pagemap()`` + ``machine.load()``) leaves the stamp alone."""
    pte = proc.ptes.get(vaddr // PAGE_SIZE)
    return None if pte is None else pte.last_access


_OUTSIDE_DRAM = re.compile(r"bytes (0x[0-9a-f]+)\.\.")


@check("kernel_read", examples=Examples(
    placeholder=...,
    wrong=[(lambda k, p, va, n: k.process_vm_readv(p, va, n), "KeyID 0"),
           (_keyid0_read, "KeyID 0"),
           (_no_offset, "offset"),
           (_keyid1, "KeyID 1"),
           (_pagemap_only, "get_user_pages"),
           (_whole_list, "first element"),
           (_virtual_address, "virtual address"),
           (_pa_plus_vaddr, "outside DRAM"),
           (_user_read, "own page tables"),
           (_copy_from_user, "own page tables"),
           (lambda k, p, va, n: None, "missing `return`"),
           (lambda k, p, va, n: list(_kernel_read_ref(k, p, va, n)), "bytes")],
    correct=lambda: _kernel_read_ref,
))
def check_kernel_read(answer):
    """``answer(kernel, proc, vaddr, n)`` must return the ``n`` bytes ``proc`` sees at ``vaddr``."""
    if not callable(answer):
        return hint("pass the function itself: check_kernel_read(kernel_read), without calling it.")
    cases = _read_cases()
    for i, (what, k, proc, va, n, want) in enumerate(cases):
        stamp = _walk_stamp(proc, va)
        try:
            with k.measure() as spent:
                got = answer(k, proc, va, n)
        except TypeError as exc:
            if "NoneType" in str(exc) and proc.pagemap(va) is None:
                return hint(f"for {what}, pagemap() is None: the page was never touched, so it has no frame yet. "
                            "kernel.get_user_pages(proc, vaddr) faults it in and returns its frame's address.")
            if "list" in str(exc):
                return hint("get_user_pages() returns a list, one physical address per page pinned; take its first "
                            f"element, kernel.get_user_pages(proc, vaddr)[0]. (Python said: {exc})")
            raise
        except AddressError as exc:
            found = _OUTSIDE_DRAM.search(str(exc))
            if found is None:
                raise
            address = int(found.group(1), 16)
            if proc.find_vma(address) is not None:
                which = "vaddr itself" if address == va else "inside the process's mappings"
                return hint(f"for {what} you loaded from {address:#x}, which is {which}: a virtual address of the "
                            "process, not a physical one, so it is outside DRAM. machine.load() takes a physical "
                            "address: the frame's address from get_user_pages(proc, vaddr)[0] plus the offset "
                            "vaddr % PAGE_SIZE.")
            return hint(f"for {what} you loaded from {address:#x}, which is outside DRAM. The physical address is "
                        "the frame's address from get_user_pages(proc, vaddr)[0] plus only the offset within the "
                        "page, vaddr % PAGE_SIZE, not the whole of vaddr.")
        got = returned(got, "kernel_read", "`return data`, the n bytes it loaded", case=what)
        if not isinstance(got, (bytes, bytearray)):
            return hint(f"kernel_read() returned a {type(got).__name__}; return bytes, as machine.load() does.")
        got = bytes(got)
        if got == want and not spent.get("gup"):
            if _walk_stamp(proc, va) != stamp:
                return hint(f"for {what} you got the right bytes through the process's own page tables "
                            "(proc.read() or kernel.copy_from_user()), never calling get_user_pages(). That is the "
                            "process reading its own memory, or the kernel acting inside it; the exercise is the "
                            "read a debugger's process_vm_readv() does from outside. Pin the page with "
                            "kernel.get_user_pages(proc, vaddr)[0] and load from the frame's physical address.")
            return hint(f"for {what} your kernel_read() never called kernel.get_user_pages(). A kernel read of "
                        "another process's page pins it first: pagemap() only reports a frame, a page never "
                        "touched has none yet, and an unpinned page can be swapped out under the read.")
        if got == want:
            continue
        if len(got) != n:
            return hint(f"for {what} you returned {len(got)} bytes; return exactly n = {n}.")
        pa = k.get_user_pages(proc, va)[0]
        keyid = k.frame_info(pa)["keyid"]
        off = va % PAGE_SIZE
        if off and got == k.machine.load(k.machine.hpa(pa, keyid), n):
            return hint(f"for {what} you read the start of the page. Add the offset within the page, "
                        "vaddr % PAGE_SIZE, to the frame's physical address.")
        if keyid and got == k.machine.load(k.machine.hpa(pa + off, 0), n):
            return hint(f"for {what} you read through KeyID 0: that is the direct map's alias, and it decrypts "
                        f"the page with the TME key. This page is encrypted with KeyID {keyid}; use the page's own "
                        "KeyID (kernel.frame_info(pa)['keyid']).")
        if keyid != 1 and got == k.machine.load(k.machine.hpa(pa + off, 1), n):
            return hint(f"for {what} you used KeyID 1, but this page uses KeyID {keyid}. Look the KeyID up for "
                        "every page instead of assuming KeyID 1.")
        return hint(f"for {what} the bytes differ from what the process sees (blocks "
                    f"{differing_blocks(got.ljust(-(-n // 16) * 16, b'?'), want.ljust(-(-n // 16) * 16, b'?'))}). "
                    "Pin the page with get_user_pages(), look up its KeyID, and load from "
                    "machine.hpa(pa + offset, keyid).")
    return passed(f"kernel_read() returned what the process sees in all {len(cases)} cases: two keys, a KeyID-0 "
                  "page, an offset, a line still in the cache, and a page faulted in on demand.")


# ----------------------------------------------------------------------------------------------
# Exercise 2a — which kernel paths hand back wrong data
# ----------------------------------------------------------------------------------------------
_LINE = b"exercise 2: the bytes alice's page holds, one cache line long.."


def _wrong_paths_ref(policy):
    wrong = []
    for name, (_, run) in KERNEL_PATHS.items():
        page = encrypted_page(policy, _LINE)
        try:
            got = run(page, _LINE)
        except SyscallError:
            continue  # refused: no data at all, which is not wrong data
        if got != _LINE:
            wrong.append(name)
    return wrong


def _policies():
    base = Policy.as_proposed()
    return [("the as-proposed kernel", base),
            ("per-KeyID direct maps", base.replace(direct_map="per_keyid")),
            ("encrypted pages dropped from the direct map", base.replace(direct_map="unmapped")),
            ("swap through the page's own KeyID", base.replace(swap_path="page_keyid")),
            ("the fixed kernel", Policy.fixed())]


def _with_refused(policy):
    out = []
    for name, (_, run) in KERNEL_PATHS.items():
        page = encrypted_page(policy, _LINE)
        try:
            if run(page, _LINE) != _LINE:
                out.append(name)
        except SyscallError:
            out.append(name)
    return out


def _one_page(policy):
    page = encrypted_page(policy, _LINE)
    out = []
    for name, (_, run) in KERNEL_PATHS.items():
        try:
            if run(page, _LINE) != _LINE:
                out.append(name)
        except SyscallError:
            pass
    return out


@check("wrong_paths", examples=Examples(
    placeholder=...,
    wrong=[(_with_refused, "EFAULT"),
           (lambda policy: ["process_vm_readv", "write(O_DIRECT)", "process_vm_writev"], "swap"),
           (lambda policy: list(KERNEL_PATHS), "copy_from_user"),
           (_one_page, "fresh page"),
           (lambda policy: ",".join(_wrong_paths_ref(policy)), "list"),
           (lambda policy: None, "missing `return`")],
    correct=lambda: _wrong_paths_ref,
))
def check_wrong_paths(answer):
    """``answer(policy)`` must name the paths of KERNEL_PATHS that return other bytes than the page holds."""
    if not callable(answer):
        return hint("pass the function itself: check_wrong_paths(wrong_paths).")
    for what, policy in _policies():
        got = returned(answer(policy), "wrong_paths", "`return wrong`, the list of names")
        if isinstance(got, str) or not isinstance(got, (list, tuple, set)):
            return hint(f"wrong_paths() returned a {type(got).__name__}; return a list of path names, "
                        "e.g. ['process_vm_readv'].")
        unknown = sorted(set(got) - set(KERNEL_PATHS))
        if unknown:
            return hint(f"{unknown} are not names of aliasing.KERNEL_PATHS; use its keys.")
        want = _wrong_paths_ref(policy)
        if sorted(got) == sorted(want):
            continue
        extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
        refused = [n for n in extra if _refuses(policy, n)]
        if refused:
            return hint(f"under {what}, {refused} fail with EFAULT: the kernel refuses, and no bytes come back. "
                        "That is not wrong data; count only paths that return bytes other than the page holds.")
        if extra and sorted(got) == sorted(_one_page(policy)):
            return hint(f"under {what} you list {extra}, which return the right bytes when run on a fresh page. "
                        "Run each path on a fresh page (aliasing.encrypted_page(policy, DATA) per path): an earlier "
                        "path's write corrupted the page they shared.")
        if "copy_from_user" in extra:
            return hint(f"under {what}, copy_from_user returns the right bytes: it goes through the process's own "
                        "mapping and KeyID. Run each path and compare what it returns with DATA.")
        if extra:
            return hint(f"under {what} you list {extra}, which return the right bytes when run on a fresh page. "
                        "Run each path on a fresh page (aliasing.encrypted_page(policy, DATA) per path): an earlier "
                        "path's write may have corrupted a shared page.")
        return hint(f"under {what} you miss {missing}: run every path in aliasing.KERNEL_PATHS (swap too) and "
                    "compare what it returns with DATA.")
    return passed("wrong_paths() finds exactly the paths that return wrong data under five kernels, and leaves "
                  "out the ones that refuse with EFAULT.")


def _refuses(policy, name):
    page = encrypted_page(policy, _LINE)
    try:
        KERNEL_PATHS[name][1](page, _LINE)
    except SyscallError:
        return True
    return False


# ----------------------------------------------------------------------------------------------
# Exercise 2b — fix the get_user_pages() paths with one switch
# ----------------------------------------------------------------------------------------------
_GUP_PATHS = ("process_vm_readv", "write(O_DIRECT)", "process_vm_writev")


@check("gup_fix", examples=Examples(
    placeholder=...,
    wrong=[(Policy.as_proposed(), "as-proposed"),
           (Policy.fixed(), "one switch"),
           (Policy.as_proposed().replace(swap_path="page_keyid"), "direct_map"),
           (Policy.as_proposed().replace(direct_map="unmapped"), "EFAULT"),
           ("per_keyid", "Policy")],
    correct=lambda: Policy.as_proposed().replace(direct_map="per_keyid"),
))
def check_gup_fix(answer):
    """``answer`` must be the as-proposed Policy with ONE switch changed, under which every
    get_user_pages() path returns the right bytes."""
    if not isinstance(answer, Policy):
        return hint(f"give a Policy, e.g. Policy.as_proposed().replace(switch=value); got a {type(answer).__name__}.")
    changed = Policy.as_proposed().differences(answer)
    if not changed:
        return hint("that is the as-proposed policy itself: change one switch with .replace(...).")
    if len(changed) > 1:
        return hint(f"change only one switch; you changed {', '.join(sorted(changed))}. The point is to see which "
                    "single decision repairs these paths.")
    results = {}
    for name in _GUP_PATHS:
        page = encrypted_page(answer, _LINE)
        try:
            results[name] = "right" if KERNEL_PATHS[name][1](page, _LINE) == _LINE else "GARBAGE"
        except SyscallError as exc:
            results[name] = exc.name
    (switch,) = changed
    if any(v == "EFAULT" for v in results.values()):
        return hint(f"with {switch}={getattr(answer, switch)!r} the paths fail with EFAULT: no wrong data, but no "
                    "data either. Dave Hansen's point: direct I/O and device assignment need get_user_pages() to "
                    "keep working (and so do debuggers). Find a value that keeps them working and right.")
    bad = sorted(n for n, v in results.items() if v != "right")
    if bad:
        return hint(f"with {switch}={getattr(answer, switch)!r}, {bad} still return GARBAGE. These paths reach the "
                    "page through the kernel's direct map: the switch to change is direct_map.")
    design = answer.direct_map
    cost = {"per_keyid": "a copy of the direct map per KeyID (address space), and page_to_virt() gives any kernel "
                         "code the plaintext",
            "rekey": "a direct-map change and a TLB shootdown on every CPU each time a page changes KeyID, and "
                     "the one direct map shows the plaintext",
            "xpfo": "a TLB shootdown for every user page and every kmap (lesson 07)"}.get(design, "")
    return passed(f"direct_map={design!r} makes every get_user_pages() path return the right bytes"
                  + (f"; its price: {cost}." if cost else "."))


# ----------------------------------------------------------------------------------------------
# Exercise 3 — predict what each alias shows
# ----------------------------------------------------------------------------------------------
L03_QUESTIONS = (
    "alice, line 0, right after gdb's write",
    "gdb, line 0, right after its write",
    "alice, line 0, after the write-back",
    "gdb, line 0, after the write-back",
    "gdb, line 1 (gdb never wrote it)",
)
L03_OPTIONS = ("A", "B", "garbage")

_WHY = {
    # (question index, truth, predicted) -> the explanation
    (0, "A", "B"): "gdb's B sits in a cache line tagged with KeyID 0. Alice loads through KeyID 1, which is a "
                   "different address to the cache: it misses and reads the old ciphertext from DRAM, A.",
    (0, "A", "garbage"): "nothing has reached DRAM yet. DRAM still holds A encrypted with KeyID 1's key, and "
                         "alice decrypts it with that same key.",
    (1, "B", "A"): "gdb reads through the same KeyID-0 name it wrote through, so it hits its own dirty line.",
    (1, "B", "garbage"): "gdb wrote the whole line, so the line it holds under KeyID 0 is all B, and it reads "
                         "through that same KeyID-0 name: it hits its own dirty line.",
    (2, "garbage", "B"): "the write-back encrypted B with the TME key (KeyID 0), but alice decrypts with "
                         "KeyID 1's key: every block is garbage.",
    (2, "garbage", "A"): "the write-back replaced A's ciphertext in DRAM with B encrypted under the TME key; "
                         "decrypted with KeyID 1's key, that is garbage.",
    (3, "B", "garbage"): "DRAM now holds B encrypted with the TME key, and gdb decrypts with the TME key: it reads "
                         "B back. The kernel's view looks fine; only alice sees the damage.",
    (3, "B", "A"): "the write-back put B, encrypted with the TME key, in DRAM; gdb decrypts with the TME key and "
                   "reads B.",
    (4, "garbage", "A"): "line 1 holds A encrypted with KeyID 1's key; gdb reads it through KeyID 0, so the TME "
                         "key decrypts it: garbage.",
    (4, "garbage", "B"): "gdb wrote only line 0. Line 1 holds A encrypted with KeyID 1's key, and gdb decrypts "
                         "it with the TME key: garbage.",
}


def _truth() -> dict:
    """Run the exercise's sequence on the engine; say what each alias showed."""
    a_line, b_line = b"A" * 64, b"B" * 64
    page = encrypted_page("as_proposed", a_line + a_line, seed=33)
    alice, gdb, m = page.owner, page.debugger, page.machine

    def name(got: bytes) -> str:
        return "A" if got == a_line else "B" if got == b_line else "garbage"

    seen = []
    gdb.process_vm_writev(alice, page.va, b_line)
    seen.append(name(alice.read(page.va, 64)))
    seen.append(name(gdb.process_vm_readv(alice, page.va, 64)))
    m.wbinvd()
    seen.append(name(alice.read(page.va, 64)))
    seen.append(name(gdb.process_vm_readv(alice, page.va, 64)))
    seen.append(name(gdb.process_vm_readv(alice, page.va + 64, 64)))
    return dict(zip(L03_QUESTIONS, seen))


@check("alias_prediction", examples=Examples(
    placeholder=...,
    wrong=[({q: "A" for q in L03_QUESTIONS}, "its own dirty line"),
           ({**dict(zip(L03_QUESTIONS, ["A", "B", "garbage", "B", "garbage"])),
             L03_QUESTIONS[2]: "B"}, "TME key"),
           ({**dict(zip(L03_QUESTIONS, ["A", "B", "garbage", "B", "garbage"])),
             L03_QUESTIONS[0]: "B"}, "different address"),
           ({q: "maybe" for q in L03_QUESTIONS}, "one of"),
           ({L03_QUESTIONS[0]: "A"}, "every question")],
    correct=lambda: dict(zip(L03_QUESTIONS, ["A", "B", "garbage", "B", "garbage"])),
))
def check_alias_prediction(answer):
    """``answer`` maps each question of L03_QUESTIONS to "A", "B" or "garbage"."""
    if not isinstance(answer, dict):
        return hint("give a dict: {question: 'A' or 'B' or 'garbage', ...} for every question.")
    if answer and all(is_placeholder(v) for v in answer.values()):
        raise NotAttempted
    missing = [q for q in L03_QUESTIONS if q not in answer or is_placeholder(answer[q])]
    if missing:
        return hint(f"answer every question; still open: {missing}.")
    norm = {}
    for q in L03_QUESTIONS:
        value = answer[q]
        if not isinstance(value, str) or value.strip().lower() not in {o.lower() for o in L03_OPTIONS}:
            return hint(f"{q!r}: {value!r} is not an option; use one of {', '.join(L03_OPTIONS)}.")
        norm[q] = {"a": "A", "b": "B", "garbage": "garbage"}[value.strip().lower()]
    truth = _truth()
    wrong = [(i, q) for i, q in enumerate(L03_QUESTIONS) if norm[q] != truth[q]]
    if wrong:
        i, q = wrong[0]
        why = _WHY.get((i, truth[q], norm[q]), f"the engine shows {truth[q]} there.")
        more = f" ({len(wrong) - 1} more prediction(s) differ.)" if len(wrong) > 1 else ""
        return hint(f"{q!r}: you predicted {norm[q]}, the engine shows {truth[q]}. Why: {why}{more}")
    return passed("Every prediction matches the engine: two names of one frame disagree, and the kernel's own "
                  "name even reads back what it wrote.")
