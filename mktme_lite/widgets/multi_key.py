"""Lesson 02 widgets: the KeyID-bit budget and the PCONFIG console.

    from mktme_lite.widgets.multi_key import keyid_budget, pconfig_console
    keyid_budget()          # MAXPHYADDR, KeyID bits, CPU limit, DRAM -> the address bits drawn
    pconfig_console()       # one PCONFIG on one package or every package -> both key tables

The numbers come from :func:`mktme_lite.scenarios.multi_key.budget` and the PCONFIG run from
:func:`mktme_lite.scenarios.multi_key.pconfig_run`; this module draws them. Impossible
combinations are refused there with a sentence that says why. The budget widget's controls
never offer one: its DRAM choices follow the address width and its KeyID-bit slider stops at
what the CPU allows and the DRAM leaves (``LessonWidget(constrain=...)``); the CPU's limit is
drawn as a dashed bracket and stated, so "CPU allows" changes the picture at every value.

Speed: the budget figure draws its text as cached glyph outlines, the values that change with
every setting in the mono font (no outline layout per new string); the console's machine is
prepared once and cloned for every update; both widgets keep their last 64 settings.
"""

from __future__ import annotations

import html
import textwrap

from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from .. import style
from ..dump import format_bytes
from ..keytable import PconfigCommand, PconfigStatus
from ..scenarios.multi_key import (
    COMMANDS,
    ENC_ALGS,
    EVERY,
    FAILURES,
    GIB,
    KEY_MATERIAL,
    PHYS_BITS_MAX,
    PHYS_BITS_MIN,
    STATUS_MEANING,
    TIB,
    Budget,
    budget,
    dram_address_bits,
    keyid_bits_allowed,
    pconfig_run,
)
from ..viz import HTMLCard, LessonFigure
from ..viz.figure import Inches
from ..viz.glyphs import Glyphs
from ..viz.tables import Cell, table
from . import LessonWidget, Telling, dropdown, slider

__all__ = ["DRAM_SIZES", "CHANGED", "DISAGREE", "TEXT_WIDTH", "render_keyid_budget", "keyid_budget",
           "render_pconfig_console", "pconfig_console"]


# ==========================================================================================
# KeyID-bit budget
# ==========================================================================================
#: Installed DRAM choices for the widget.
DRAM_SIZES: list[int] = [16 * GIB, 64 * GIB, 256 * GIB, TIB, 4 * TIB, 16 * TIB]


def _bit_range(hi: int, lo: int) -> str:
    return f"bit {hi}" if hi == lo else f"bits {hi}:{lo}"


def _percent(fraction: float) -> str:
    """``98.4 %``; more digits when one decimal would round to 100 % although something is left."""
    pct = 100 * fraction
    return f"{pct:.1f} %" if pct < 99.95 or fraction == 1 else f"{pct:.4f} %"


def _keyid_count(n: int) -> str:
    if n == 0:
        return "no KeyIDs besides KeyID 0 (the TME key)"
    if n == 1:
        return "1 usable KeyID (KeyID 1) besides KeyID 0, the TME key"
    return f"{n} usable KeyIDs (1..{n}) besides KeyID 0, the TME key"


def _lost(b: Budget) -> str:
    """The address space given up, exactly: ``63 TiB`` (of 64 TiB), or ``all but 256 GiB`` when the units differ."""
    if b.lost_bytes == 0:
        return "nothing"
    text = format_bytes(b.lost_bytes)
    if text.split()[1] != format_bytes(b.total_bytes).split()[1]:  # e.g. 65280 GiB of 64 TiB: say it plainly
        return f"all but {format_bytes(b.bytes_per_keyid)}"
    return text


def render_keyid_budget(phys_bits: int = 46, keyid_bits: int = 6, max_keyid_bits: int = 6,
                        dram_bytes: int = 256 * GIB) -> LessonFigure:
    """The address bits as a strip (KeyID bits hatched, the CPU's limit bracketed above), the numbers,
    what limits the KeyID bits, and the address space given up."""
    b = budget(phys_bits, keyid_bits, max_keyid_bits, dram_bytes)
    style.apply()
    fig_w, fig_h = 9.0, 4.09
    fig = LessonFigure(figsize=(fig_w, fig_h))
    ax = Inches(fig, fig_h)  # inches, y grows downwards; no Axes (building one cost a third of a redraw)
    g = Glyphs()
    left, right = 0.35, fig_w - 0.35
    cell = (right - left) / phys_bits
    key_colour, key_hatch = style.keyid_color(1), style.keyid_hatch(1)
    addr_colour = style.OKABE_ITO["sky_blue"]
    k, shift = b.keyid_bits, b.keyid_shift

    g.text(left, 0.12, f"A {phys_bits}-bit physical address with {k} KeyID bit{'s' if k != 1 else ''}", 11,
           weight="bold", va="top")
    # The strip: KeyID part (left, hatched) and address part (right), one cell per bit.
    top, h = 0.72, 0.42
    x_split = left + k * cell
    if k:
        ax.add_patch(Rectangle((left, top), k * cell, h, facecolor=key_colour, hatch=key_hatch, edgecolor="black",
                               linewidth=1.2, alpha=0.85))
        label = f"KeyID: {_bit_range(phys_bits - 1, shift)}"
        wide = k * cell > 1.6
        g.text(left + k * cell / 2 if wide else left, top - 0.06, label, 8.5, weight="bold",
               ha="center" if wide else "left", va="bottom")
    ax.add_patch(Rectangle((x_split, top), right - x_split, h, facecolor=addr_colour, alpha=0.35, edgecolor="black",
                           linewidth=1.2))
    addr_label = (f"address within a KeyID: {_bit_range(shift - 1, 0)}" if k else
                  f"every bit is address ({_bit_range(phys_bits - 1, 0)}): MKTME off, only KeyID 0")
    g.text((x_split + right) / 2, top - 0.06, addr_label, 8.5, ha="center", va="bottom")
    ax.add_collection(LineCollection([[(left + i * cell, top), (left + i * cell, top + h)]
                                      for i in range(1, phys_bits)], colors="black", linewidths=0.35))
    # What the CPU allows, drawn: a bracket over the top max_keyid_bits bits, whatever the BIOS activated.
    cpu = b.max_keyid_bits
    x_cpu, y_br = left + cpu * cell, 0.44
    ax.add_collection(LineCollection([[(left, y_br + 0.09), (left, y_br), (x_cpu, y_br), (x_cpu, y_br + 0.09)]],
                                     colors="black", linewidths=1.3, linestyles="dashed"))
    g.text(x_cpu + 0.08, y_br, f"the CPU allows {cpu} KeyID bit{'s' if cpu != 1 else ''}: "
           f"{_bit_range(phys_bits - 1, phys_bits - cpu)}", 8, slant="italic")
    marks = sorted({phys_bits - 1, shift, shift - 1, 0} - {-1, phys_bits}, reverse=True) if k else [phys_bits - 1, 0]
    for bit in marks:
        x = left + (phys_bits - 1 - bit + 0.5) * cell
        ha = "center"
        if k and bit == shift and shift != phys_bits - 1:  # the two bits either side of the border
            x, ha = x_split - 0.03, "right"
        elif k and bit == shift - 1:
            x, ha = x_split + 0.03, "left"
        g.text(x, top + h + 0.05, str(bit), 7.5, family="mono", ha=ha, va="top")

    # One example address, in the mono font.
    if k:
        example = (f"KeyID {b.example_keyid}, pa {b.example_pa:#x}  ->  hpa {b.example_hpa:#x}"
                   f"  (= {b.example_keyid} << {shift} | {b.example_pa:#x})")
    else:
        example = f"pa {b.example_pa:#x}  ->  hpa {b.example_hpa:#x}: with no KeyID bits, hpa = pa"
    g.text(left, 1.5, example, 8.5, family="mono")

    pct_text = _percent(b.lost_fraction)
    fits = (f"the {format_bytes(b.dram_bytes)} installed fit in one KeyID's "
            f"{format_bytes(b.bytes_per_keyid)}")
    facts = [
        ("KeyIDs", _keyid_count(b.nr_keyids)),
        ("Each KeyID reaches", f"{format_bytes(b.bytes_per_keyid)} (2^{shift} bytes); {fits}"),
        ("Address space given up", f"{_lost(b)} of {format_bytes(b.total_bytes)} ({pct_text})"),
        ("KeyID bits possible", _limit(b)),
        ("IA32_TME_CAPABILITY", f"bits 35:32 = {cpu}: more in ACTIVATE is #GP; the MSR reads "
                                f"{b.capability_value:#x}"),
        ("IA32_TME_ACTIVATE", f"bits 35:32 = {k}; the whole MSR reads {b.activate_value:#x}"),
    ]
    for i, (name, value) in enumerate(facts):
        y = 1.88 + 0.27 * i
        g.text(left, y, name + ":", 9, weight="bold")
        # The values in the mono font, from cached single glyphs: they change with every setting, and a
        # new sans line costs two outline layouts (milliseconds each), a mono one none.
        g.text(left + 2.05, y, value, 8.5, family="mono")

    # The address space as one bar: reachable by each KeyID versus given up.
    bar_top, bar_h = 3.59, 0.3
    width = right - left
    usable_w = max(width / (1 << k), 0.015)
    ax.add_patch(Rectangle((left, bar_top), usable_w, bar_h, facecolor=addr_colour, edgecolor="black", linewidth=1))
    if k:
        ax.add_patch(Rectangle((left + usable_w, bar_top), width - usable_w, bar_h, facecolor="white",
                               hatch="xx", edgecolor=style.OKABE_ITO["grey"], linewidth=1))
        mid = left + usable_w + (width - usable_w) / 2
        label = f"given up to carry KeyIDs: {pct_text}"
        w = g.text(mid, bar_top + bar_h / 2, label, 8.5, ha="center")
        ax.add_patch(Rectangle((mid - w / 2 - 0.06, bar_top + 0.05), w + 0.12, bar_h - 0.1, facecolor="white",
                               edgecolor="none", zorder=4))
    g.text(left, bar_top - 0.05, f"The {format_bytes(b.total_bytes)} address space: the part one KeyID reaches "
           f"(solid, left) and the part given up (crossed)", 8, slant="italic", va="bottom")
    g.draw(ax)
    fig.mktme_alt = (
        f"Address bits of a {phys_bits}-bit physical address drawn as a strip: "
        + (f"the top {k} bits ({_bit_range(phys_bits - 1, shift)}) are hatched and carry the KeyID, "
           f"bits {shift - 1}:0 are the address within a KeyID. " if k else
           "no bit carries a KeyID, so every address is KeyID 0. ")
        + f"{_keyid_count(b.nr_keyids)}; each KeyID reaches {format_bytes(b.bytes_per_keyid)}; "
        f"{_lost(b)} of the {format_bytes(b.total_bytes)} address space ({pct_text}) is given "
        f"up; the {format_bytes(b.dram_bytes)} of installed DRAM fits. Example: KeyID {b.example_keyid} and pa "
        f"{b.example_pa:#x} make hpa {b.example_hpa:#x}. A dashed bracket over the top {cpu} bits marks what "
        f"the CPU allows (IA32_TME_CAPABILITY[35:32] = {cpu}). KeyID bits possible: {_limit(b)}. "
        f"IA32_TME_ACTIVATE reads {b.activate_value:#x}."
    )
    return fig


def _limit(b: Budget) -> str:
    """What caps the KeyID bits on this machine, in words: the CPU's limit or the DRAM's address bits."""
    dram = f"{format_bytes(b.dram_bytes)} of DRAM needs {b.dram_bits} of {b.phys_bits} address bits"
    most, room = b.most_keyid_bits, b.phys_bits - b.dram_bits
    if room < b.max_keyid_bits:
        return f"at most {most}, set by the DRAM: {dram}"
    if room == b.max_keyid_bits:
        return f"at most {most}, set by the CPU and the DRAM: {dram}"
    return f"at most {most}, set by the CPU; {dram}"


def _budget_constraints(params: dict) -> dict:
    """The budget widget's consistent ranges: DRAM that fits the address, KeyID bits the CPU and DRAM allow.

    A value that no longer fits moves to the nearest one that does (the largest DRAM that fits, the
    most KeyID bits possible), so no setting of the controls is refused."""
    phys, cpu = params["phys_bits"], params["max_keyid_bits"]
    sizes = [n for n in DRAM_SIZES if dram_address_bits(n) <= phys]
    dram = params["dram_bytes"] if params["dram_bytes"] in sizes else max(sizes)
    most = keyid_bits_allowed(phys, cpu, dram)
    return {"dram_bytes": ([(format_bytes(n), n) for n in sizes], dram),
            "keyid_bits": ([(str(n), n) for n in range(most + 1)], min(params["keyid_bits"], most))}


def keyid_budget() -> LessonWidget:
    """The KeyID-bit budget widget (lesson 02)."""
    controls = {
        "phys_bits": slider("Physical address bits", [(str(n), n) for n in range(PHYS_BITS_MIN, PHYS_BITS_MAX + 1)], 46),
        "keyid_bits": slider("KeyID bits", [(str(n), n) for n in range(0, 16)], 6),
        "max_keyid_bits": dropdown("CPU allows", [(f"up to {n} KeyID bits", n) for n in range(1, 16)], 6),
        "dram_bytes": dropdown("Installed DRAM", [(format_bytes(n), n) for n in DRAM_SIZES], 256 * GIB),
    }
    for name, control in controls.items():
        control.layout.width = "27em" if name == "phys_bits" else "22em"
    controls["keyid_bits"].tooltip = "at most what the CPU allows and the installed DRAM leaves"
    telling = [
        Telling("Default, the lesson's machine: 6 of 46 bits carry a KeyID; 63 KeyIDs, 1 TiB each, 63 TiB of "
                "address space given up.", {}),
        Telling("No KeyID bits (MKTME off): only KeyID 0, and nothing is given up.", {"keyid_bits": 0}),
        Telling("8 KeyID bits on a CPU that allows 8: 255 KeyIDs, but each reaches only 256 GiB, exactly the "
                "installed DRAM.", {"keyid_bits": 8, "max_keyid_bits": 8}),
        Telling("A 52-bit machine (the x86-64 maximum) with 6 KeyID bits: each KeyID reaches 64 TiB.",
                {"phys_bits": 52}),
    ]
    widget = LessonWidget(render_keyid_budget, controls, title="KeyID-bit budget", telling=telling, cache=64,
                          constrain=_budget_constraints,
                          intro="every KeyID bit doubles the number of KeyIDs and halves the memory each can reach. "
                                "Physical address bits is MAXPHYADDR, KeyID bits is IA32_TME_ACTIVATE[35:32], "
                                "CPU allows is IA32_TME_CAPABILITY[35:32]: the KeyID bits slider offers only what "
                                "the CPU allows and the installed DRAM leaves.")
    widget.apply_constraints()  # the sliders' ranges are consistent before the first move
    return widget


# ==========================================================================================
# PCONFIG console
# ==========================================================================================


_DRAM_WORDS = {
    "plaintext": "PLAINTEXT: a probe reads it",
    "tme": "ciphertext of the TME key, as KeyID 0",
    "own key": "ciphertext of this KeyID's own key",
}


#: Words instead of symbols, so a screen reader says what the card means.
CHANGED = "changed by this call"
DISAGREE = "packages disagree"
#: Width of the plain-text twin (what a screen reader or a terminal gets).
TEXT_WIDTH = 78


def _wrapped(text: str, indent: int) -> list[str]:
    """``text`` wrapped to :data:`TEXT_WIDTH`, continuation lines indented two more spaces."""
    return textwrap.wrap(text, TEXT_WIDTH, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2),
                         break_on_hyphens=False)


def render_pconfig_console(package: int | str = 0, keyid: int = 3, command: int = 1, key: str = "none",
                           enc_alg: str = "aes128", failure: str = "none") -> HTMLCard:
    """Return codes, both packages' key tables, and what DRAM gets through every KeyID shown.

    The HTML and its plain-text twin say the same things in words: "changed by this call" marks
    an entry the call changed, "packages disagree" a KeyID the packages treat differently, and
    the text twin keeps every line within :data:`TEXT_WIDTH` characters.
    """
    r = pconfig_run(package, keyid, command, key, enc_alg, failure)
    esc = html.escape
    cmd_name = PconfigCommand(r.command).name if r.command in PconfigCommand._value2member_map_ else "not a command"
    call = f"PCONFIG leaf 0 (MKTME_KEY_PROGRAM): KEYID = {r.keyid}, KEYID_CTRL = {r.keyid_ctrl:#x}"
    fields = f"COMMAND {r.command} = {cmd_name}, ENC_ALG {r.enc_alg:#x}"
    results = list(zip(r.packages, r.statuses))
    lines_html = "".join(
        f"<li>package {p}: <strong>RAX = {int(s)} {s.name}</strong>: {esc(STATUS_MEANING[s])}</li>" for p, s in results)
    npk = len({p for _, p in r.after})
    head = ["KeyID"] + [h for p in range(npk)
                        for h in (f"package {p}: key-table entry", f"package {p}'s memory gets")]
    disagree = r.disagreeing()
    if disagree:
        ks = ", ".join(map(str, disagree))
        verdict = (f"Warning: KeyID {ks}: the {DISAGREE}, so the same KeyID protects memory differently depending "
                   "on which package's memory controller owns the address. The kernel must program every package.")
    elif any(s is not PconfigStatus.PROG_SUCCESS for s in r.statuses):
        verdict = "Nothing was programmed where PCONFIG failed; the tables on those packages are as they were."
    else:
        verdict = "Every package treats every KeyID shown the same way."
    note = ("Key fingerprints (#abc123) are a simulator-only aid: on real hardware no software, not even the "
            "kernel, can read a key table. What memory gets is computed: a line is stored through the KeyID, "
            "flushed, and DRAM is compared with the plaintext and with KeyID 0's ciphertext.")

    body = []
    for k in r.rows:
        row = [Cell(str(k), strong=True, note=DISAGREE if k in disagree else "")]
        for p in range(npk):
            row += [Cell(r.after[(k, p)], note=f"({CHANGED})" if (k, p) in r.changed else "", note_strong=True),
                    Cell(_DRAM_WORDS[r.dram[(k, p)]])]
        body.append(row)

    def twin(row: list[Cell]) -> list[str]:
        """One KeyID in the text twin: a line per package, wrapped to TEXT_WIDTH."""
        key, *pairs = row
        lines = [f"  KeyID {key.text}{f', {key.note}' if key.note else ''}:"]
        for p, (entry, gets) in enumerate(zip(pairs[::2], pairs[1::2])):
            lines += _wrapped(f"package {p}{f' {entry.note}' if entry.note else ''}: {entry.text}", 4)
            lines += _wrapped(f"memory gets {gets.text}", 6)
        return lines

    keyids = table(head, body, text=twin)
    text = [*_wrapped(call, 0), *_wrapped(f"({fields})", 2), "Return code:"]
    for p, s in results:
        text += _wrapped(f"package {p}: RAX = {int(s)} {s.name}: {STATUS_MEANING[s]}", 2)
    text.append("Key tables after the call, and what a store through each KeyID puts into DRAM:")
    text += keyids.text.splitlines()
    text += _wrapped(verdict, 0) + _wrapped(note, 0)
    html_text = (
        "<div class='mktme-card mktme-pconfig' style='border:1px solid #999;border-left:6px solid "
        f"{style.OKABE_ITO['bluish_green']};padding:0.5em 0.8em;max-width:60em'>"
        f"<p style='margin:0'><code>{esc(call)}</code> ({esc(fields)})</p><ul style='margin:0.3em 0'>{lines_html}</ul>"
        f"{keyids.html}"
        f"<p style='margin:0.4em 0 0 0'><strong>{esc(verdict)}</strong></p>"
        f"<p style='margin:0.3em 0 0 0;font-size:90%'><em>{esc(note)}</em></p></div>")
    return HTMLCard(html_text, "\n".join(text))


def pconfig_console() -> LessonWidget:
    """The PCONFIG console widget (lesson 02)."""
    controls = {
        "package": dropdown("Run on", [("package 0", 0), ("package 1", 1),
                                       ("every package (what the kernel must do)", EVERY)], 0),
        "keyid": slider("KEYID", [(str(k), k) for k in range(0, 65)], 3),
        "command": dropdown("COMMAND", [(label, c) for c, label in COMMANDS.items()], 1),
        "key": dropdown("Key fields", [(label, name) for name, (label, _, _) in KEY_MATERIAL.items()], "none"),
        "enc_alg": dropdown("ENC_ALG", [(label, name) for name, (label, _) in ENC_ALGS.items()], "aes128"),
        "failure": dropdown("Inject first", [(label, name) for name, (label, _) in FAILURES.items()], "none"),
    }
    telling = [
        Telling("Default: KEYID_SET_KEY_RANDOM for KeyID 3 on package 0 only. Package 1 still treats KeyID 3 "
                "like KeyID 0, so its memory is stored under the TME key.", {}),
        Telling("The same command on every package: each package gets its own random key, and every package "
                "encrypts KeyID 3 with a key of its own.", {"package": EVERY}),
        Telling("NO_ENCRYPT with ENC_ALG 0, as the RFC's no-encrypt payload sent it: INVALID_ENC_ALG on every "
                "package, nothing changes.", {"package": EVERY, "command": 3, "enc_alg": "none"}),
        Telling("DEVICE_BUSY on the last package: package 0 is programmed, package 1 is not, until the kernel "
                "retries.", {"package": EVERY, "failure": "busy"}),
    ]
    # The four fields of the command switch in the page (135 cards of ~4 KB, 0-11 ms each to draw); the
    # package and the KeyID slider go to the kernel (with them the combinations would reach 26,325).
    return LessonWidget(render_pconfig_console, controls, title="PCONFIG console", telling=telling, cache=64,
                        front=("command", "key", "enc_alg", "failure"),
                        intro="program one KeyID on one package, or on all of them, and see both key tables.")
