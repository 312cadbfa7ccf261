"""Lesson 08 widgets: the KeyID partition explorer and the pmem lab, plus the lesson's tables.

    from mktme_lite.widgets.use_cases import partition_explorer, pmem_lab, render_pmem_table
    partition_explorer()     # KeyID bits, TDX split, MAXPHYADDR -> what the host may program and map
    pmem_lab()               # key x written back x move x reboot -> what the owner reads back
    render_msr_view(6, 2)    # MSRs 0x87 / 0x982 decoded, the fields the model leaves out named
    render_pmem_table()      # every PMEM_CASES setting in one table
    render_coherence_table() # lessons 04-05's cache sequences with and without SME_COHERENT's idea
    render_vm_table()        # a guest's page: KeyID per guest x lesson 03's designs vs XPO vs TDX
    render_verdict()         # every claim C1-C11, the lessons that compute it, the verdict

Every number comes from :mod:`mktme_lite.scenarios.use_cases` (cached there, so a redraw only
draws); this module draws. The explorer's controls reach only consistent settings (Kept for TDX
offers 0 to the KeyID bits); a call with more TDX bits than KeyID bits is refused there with a
ParameterError sentence.
"""

from __future__ import annotations

from .. import course
from ..dump import format_bytes
from ..scenarios.use_cases import (
    COHERENCE_CASES,
    KEYS,
    MOVES,
    PMEM_CASES,
    VERDICTS,
    coherence_run,
    msr_rows,
    partition,
    pmem_run,
    vm_table,
)
from ..viz import HTMLCard, LessonFigure
from ..viz.tables import Cell, table
from ..viz.use_cases import keyid_partition, outcome_table
from . import LessonWidget, Telling, dropdown, slider, toggle

__all__ = ["render_partition_explorer", "partition_explorer", "render_msr_view", "render_pmem_table",
           "render_pmem_lab", "pmem_lab", "render_coherence_table", "render_vm_table", "render_verdict"]


# ==========================================================================================
# The KeyID partition explorer
# ==========================================================================================
def _keyids(pairs, what: str) -> str:
    return ", ".join(f"{k}: {v}" for k, v in pairs) or f"no KeyID to {what}"


def render_partition_explorer(keyid_bits: int = 6, tdx_keyid_bits: int = 2, phys_bits: int = 46) -> LessonFigure:
    """The BIOS split as a KeyID line, with what host PCONFIG and host accesses got for the telling KeyIDs."""
    p = partition(keyid_bits, tdx_keyid_bits, phys_bits)
    left = int(p.addressable_gib * 2**30)
    facts = [
        ("Host PCONFIG (RAX)", _keyids(p.host_program, "program")),
        ("Host load/store", _keyids(((k, "ok" if v == "ok" else "refused") for k, v in p.host_access), "map")),
        ("Memory each KeyID reaches", f"{format_bytes(left)} of the {format_bytes(1 << p.phys_bits)} that "
                                      f"{p.phys_bits} address bits reach"),
        ("MSR 0x87", f"{p.msr_0x87:#x}  (bits 31:0 = {len(p.mktme)}, bits 63:32 = {len(p.private)})"),
        ("IA32_TME_ACTIVATE", f"{p.tme_activate:#x}  (bits 35:32 = {p.keyid_bits}, bits 39:36 = "
                              f"{p.tdx_keyid_bits})"),
    ]
    facts.insert(0, ("The split", p.description))
    return keyid_partition(p.keyid_bits, len(p.mktme), len(p.private), facts=facts)


def _tdx_options(keyid_bits: int) -> list[tuple[str, int]]:
    return [(f"{n} bit{'s' if n != 1 else ''}", n) for n in range(0, keyid_bits + 1)]


def _partition_constraints(params: dict) -> dict:
    """The explorer's consistent ranges: never more bits kept for TDX than KeyID bits activated.

    A TDX split that no longer fits moves to the largest that does (all the KeyID bits), so no setting
    of the controls is refused (as lesson 02's budget widget does)."""
    bits = params["keyid_bits"]
    return {"tdx_keyid_bits": (_tdx_options(bits), min(params["tdx_keyid_bits"], bits))}


def partition_explorer() -> LessonWidget:
    """The KeyID partition explorer (lesson 08)."""
    controls = {
        "keyid_bits": slider("KeyID bits", [(str(n), n) for n in range(1, 16)], 6),
        "tdx_keyid_bits": dropdown("Kept for TDX (top bits)", _tdx_options(6), 2),
        "phys_bits": slider("Physical address bits", [(str(n), n) for n in range(36, 53)], 46),
    }
    telling = [
        Telling("Default, Linux's example: 6 KeyID bits, 2 kept for TDX. The host programs and maps KeyIDs "
                "1-15; PCONFIG on 16 returns INVALID_KEYID and a load through it is refused. Private range "
                "[16, 64).", {}),
        Telling("No TDX: all 63 KeyIDs are the host's, as on the 2018 parts.", {"tdx_keyid_bits": 0}),
        Telling("Every KeyID bit kept for TDX: the host keeps only KeyID 0.", {"tdx_keyid_bits": 6}),
        Telling("4 KeyID bits, 1 kept for TDX: the top bit splits the KeyIDs in half; the host keeps 1-7, "
                "[8, 16) is private.", {"keyid_bits": 4, "tdx_keyid_bits": 1}),
    ]
    # render is pure (partition() is cached in scenarios.use_cases): keep the settings a learner visits and
    # draw the ones a move away ahead (a cold setting costs 30-60 ms of drawing and PNG, 100-150 ms in the
    # browser; a kept one only the send). The address-bit slider switches in the page (front=); the other
    # two refill each other's range, so they go through the kernel.
    widget = LessonWidget(render_partition_explorer, controls, title="KeyID partition explorer", telling=telling,
                          constrain=_partition_constraints, cache=64, front=("phys_bits",),
                          intro="the BIOS activates KeyID bits (IA32_TME_ACTIVATE[35:32]) and keeps the top ones for "
                                "TDX ([39:36]); the machine is then asked what the host may program and map. Kept "
                                "for TDX offers only as many bits as are activated.")
    widget.apply_constraints()  # the dropdown's range is consistent before the first move
    return widget


def render_msr_view(keyid_bits: int = 6, tdx_keyid_bits: int = 2, phys_bits: int = 46) -> HTMLCard:
    """MSR 0x87 and the IA32_TME_ACTIVATE fields of the split, decoded, then what the model leaves out."""
    rows = []
    for r in msr_rows(partition(keyid_bits, tdx_keyid_bits, phys_bits)):
        modelled = Cell("modelled") if r.modelled else Cell("NOT modelled", strong=True, note=r.source)
        rows.append([f"{r.msr:#x}", r.bits, r.field, r.value, r.meaning, modelled])
    return table(["MSR", "bits", "field", "value", "meaning", "in the model"], rows, ruled=True,
                 caption=f"The registers of a {keyid_bits}-bit KeyID split with {tdx_keyid_bits} bit(s) for TDX")


# ==========================================================================================
# pmem
# ==========================================================================================
_KEY_WORDS = {"user": "the owner's key", "cpu": "a CPU-generated key", "tme": "KeyID 0 (the TME key)"}
_MOVE_WORDS = {"none": "stays in place", "raw": "moved by the filesystem (raw copy)",
               "through_cpu": "moved through the CPU with its KeyID"}


def render_pmem_table() -> HTMLCard:
    """Every :data:`PMEM_CASES` setting: what survived the reboot and what the owner reads back."""
    rows = []
    for label, kw in PMEM_CASES:
        r = pmem_run(**kw)
        rows.append([label, "yes" if r.dram_same else "NO", "intact" if r.intact else "GARBAGE"])
    return outcome_table(["setting (written, reboot, re-key, read)", "pmem bytes unchanged by the reboot",
                          "the owner reads"], rows, strong=("GARBAGE", "NO"),
                         caption="A record in persistent memory across a reboot",
                         footer="Computed by use_cases.pmem_run() for each row; the reboot makes a new TME key and "
                                "empties the key tables, the owner programs the KeyID again the way the key allows.")


def render_pmem_lab(key: str = "user", flushed: bool = True, move: str = "none", rebooted: bool = True) -> HTMLCard:
    """One pmem run, step by step, and its verdict."""
    r = pmem_run(key=key, flushed=flushed, move=move, rebooted=rebooted)
    verdict = "The owner reads the record INTACT." if r.intact else "The owner reads GARBAGE."
    steps = [[str(i), s] for i, s in enumerate(r.story, start=1)]
    t = table(["step", "what happened"], steps, ruled=True,
              caption=f"Record under {_KEY_WORDS[r.key]}; block {_MOVE_WORDS[r.move]}; "
                      f"{'rebooted' if r.rebooted else 'no reboot'}",
              footer=f"{verdict} Read from pa {r.read_pa:#x}: {r.readback[:24]!r}...")
    return HTMLCard(f"<div class='mktme-card'>{t.html}</div>", t.text)


def pmem_lab() -> LessonWidget:
    """The pmem lab (lesson 08)."""
    controls = {
        "key": dropdown("The record's key", [(_KEY_WORDS[k], k) for k in KEYS], "user"),
        "flushed": toggle("Before the power goes", [("written back", True), ("still cached", False)], True),
        "move": dropdown("The block", [(_MOVE_WORDS[m], m) for m in MOVES], "none"),
        "rebooted": toggle("Power", [("reboot", True), ("no reboot", False)], True),
    }
    telling = [
        Telling("Default: the owner's key, written back, reboot: the record reads back intact.", {}),
        Telling("A CPU-generated key: after the reboot nobody can program it again; garbage.", {"key": "cpu"}),
        Telling("The filesystem moves the block's ciphertext: garbage, because the tweak is the address.",
                {"move": "raw"}),
    ]
    return LessonWidget(render_pmem_lab, controls, title="pmem lab", telling=telling, cache=64, front=tuple(controls),
                        intro="write a record to persistent memory, power-cycle the machine, read it back.")


# ==========================================================================================
# SME_COHERENT, VM hardening, the verdict
# ==========================================================================================
def _symptom(b: bool) -> str:
    return "WRONG DATA" if b else "right (as if flushed)"


def render_coherence_table() -> HTMLCard:
    """Each cache sequence, without and with ``coherent_keyids``: did the reader get what the flush protocol gives?"""
    rows = []
    for case, (what, lessons) in COHERENCE_CASES.items():
        off, on = coherence_run(case, False), coherence_run(case, True)
        rows.append([what, lessons, _symptom(off.symptom), _symptom(on.symptom), str(on.invalidates)])
    return outcome_table(["sequence", "lesson", "MKTME (no coherence)", "coherent_keyids (SME_COHERENT idea)",
                          "lines the hardware flushed"], rows, strong=("WRONG DATA",),
                         caption="What coherence across KeyIDs removes",
                         footer="coherent_keyids models the idea of AMD's SME_COHERENT, not AMD's implementation: a "
                                "CPU fill first writes back and drops the frame line's other KeyIDs. A device access "
                                "is no CPU fill, and a re-key races within one KeyID.")


def render_vm_table() -> HTMLCard:
    """A guest's page under each design: what a stray host read, a deliberate host read and device assignment get."""
    rows = []
    for label, o in vm_table():
        events = ("not modelled (the TDX module's work)" if not o.events else
                  ", ".join(f"{n} {kind}" for kind, n in o.events if n))
        rows.append([label, o.stray_read, o.kernel_read, o.gup, events])
    return outcome_table(["the guest's page", "stray host read of __va(pa)", "host maps it with the guest's KeyID",
                          "get_user_pages() (device assignment)", "events of one page's life"], rows,
                         strong=("PLAINTEXT", "GARBAGE", "EFAULT"),
                         caption="VM hardening: what the host gets",
                         footer="Computed by use_cases.option() on the kernel model (lesson 03's designs, core-series "
                                "flushes) and, for TDX, on a Machine with the Linux example's KeyID split.")


def render_verdict() -> HTMLCard:
    """The one-page verdict: every claim (from lessons.toml), the lessons that compute it, and what they showed."""
    written = {l.number for l in course.written()}
    rows = []
    for c in course.claims():
        where = ", ".join(f"{n}" + ("" if n in written else " (planned)") for n in c.lessons) or "none"
        rows.append([Cell(c.id, strong=True), c.text, where, VERDICTS[c.id]])
    return table(["claim", "Andy said", "computed in lesson", "what the course found"], rows, ruled=True,
                 caption="The verdict, claim by claim")
