"""Two diagrams of the course itself: which lesson runs which claim, and what TME defends.

How a lesson calls them::

    from mktme_lite import viz
    viz.show(viz.tme_boundary())                               # lesson 01: the threat model
    viz.claim_matrix([("C1", "encrypt_mprotect() lacks pkeys"), ...], [("02", "Multi-key"), ...],
                     {"C1": ["02"]}, highlight="C1")             # lesson 00: claims x lessons

They are drawn apart from the memory pictures (:mod:`~mktme_lite.viz.maps`) because they show
the course and its threat model, not the state of a machine.
"""

from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

from matplotlib.patches import FancyArrowPatch, Rectangle

from .. import style
from ..errors import ParameterError
from ..params import choose, items, shown
from ..params import text as _text
from .figure import LessonFigure, new_figure

__all__ = ["claim_matrix", "tme_boundary", "machine_overview"]


def claim_matrix(claims: Sequence[tuple[str, str]], lessons: Sequence[tuple[str, str]],
                 covers: Mapping[str, Sequence[str]], *, highlight: str | None = None,
                 title: str | None = None) -> LessonFigure:
    """Rows = claims (id, short text), columns = lessons (number, short title), ● where covered.

    ``covers`` maps a claim id to the lesson numbers that run it. ``highlight`` frames one
    claim's row and writes "◀ selected" next to it.
    """
    claims, lessons = items(claims, "claims", 1, 40), items(lessons, "lessons", 1, 40)
    for what, rows in (("claims", claims), ("lessons", lessons)):
        for row in rows:
            if not isinstance(row, (list, tuple)) or len(row) != 2 or not all(isinstance(x, str) for x in row):
                raise ParameterError(f"each of {what} is a pair of texts (id, short text); got {shown(row)}")
    if not isinstance(covers, Mapping):
        raise ParameterError(f"covers must be a dict {{claim id: [lesson numbers]}}; got {shown(covers)}")
    for cid, numbers in covers.items():
        for n in items(numbers, f"the lessons covering {cid!r}"):
            _text(n, f"a lesson number covering {cid!r}")
    title = None if title is None else _text(title, "title", 0, 500)
    ids = [c for c, _ in claims]
    if highlight is not None:
        choose(highlight, ids, "claim to highlight")
    cols = [l for l, _ in lessons]
    fig = new_figure(0.62 * len(cols) + 5.6, 0.36 * len(ids) + 1.5)
    ax = fig.subplots()
    nrows = len(ids)
    for r, (cid, text) in enumerate(claims):
        y = nrows - 1 - r
        strong = cid == highlight
        if strong:
            ax.add_patch(Rectangle((-0.5, y - 0.45), len(cols), 0.9, facecolor=style.OKABE_ITO["yellow"], alpha=0.45,
                                   edgecolor="black", linewidth=1.5, hatch="..", zorder=0))
        short = text if len(text) <= 52 else text[:51] + "…"
        ax.text(-0.7, y, f"{cid}  {short}", ha="right", va="center", fontsize=8,
                fontweight="bold" if strong else "normal")
        for lesson in covers.get(cid, ()):
            if lesson in cols:
                ax.scatter([cols.index(lesson)], [y], s=90, marker="o", color=style.OKABE_ITO["blue"],
                           edgecolor="black", zorder=3)
        if strong:
            ax.text(len(cols) - 0.3, y, "◀ selected", ha="left", va="center", fontsize=8, fontweight="bold")
    ax.set_xticks(range(len(cols)), [f"{l}\n{textwrap.fill(t, 12)}" for l, t in lessons], fontsize=7.5, va="bottom")
    ax.xaxis.tick_top()
    ax.set_yticks([])
    ax.set_xlim(-0.5, len(cols) - 0.5)
    ax.set_ylim(-0.6, nrows - 0.4)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0)
    if title:
        ax.set_title(title, loc="left")
    parts = [f"{cid} in lesson(s) {', '.join(covers.get(cid, ())) or 'none'}" for cid in ids]
    fig.mktme_alt = ((f"{title}. " if title else "") + "Matrix of claims (rows) against lessons (columns); a dot "
                     "marks the lesson that runs the claim: " + "; ".join(parts) + "."
                     + (f" Claim {highlight} is highlighted." if highlight else ""))
    return fig


# ----------------------------------------------------------------------------------------------
# The TME threat model as a picture
# ----------------------------------------------------------------------------------------------
def tme_boundary(*, title: str | None = "Where TME encrypts") -> LessonFigure:
    """The SoC package (plaintext inside) and the memory bus and DIMMs (ciphertext outside)."""
    title = None if title is None else _text(title, "title", 0, 500)
    fig = new_figure(9.0, 3.5)
    ax = fig.subplots()
    ok = style.OKABE_ITO
    # Package boundary.
    ax.add_patch(Rectangle((0.1, 0.5), 5.9, 2.6, fill=False, edgecolor="black", linewidth=1.6, linestyle="--"))
    ax.text(0.25, 2.95, "CPU package (SoC): data is PLAINTEXT here", fontsize=9, fontweight="bold", va="top")

    def box(x, y, w, h, text, face, hatch=""):
        ax.add_patch(Rectangle((x, y), w, h, facecolor=face, hatch=hatch, edgecolor="black", linewidth=1, alpha=0.9))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.85})

    box(0.35, 1.35, 1.3, 0.9, "cores,\nregisters", ok["yellow"])
    box(1.95, 1.35, 1.3, 0.9, "caches\n(plaintext)", ok["yellow"])
    box(3.55, 1.35, 2.2, 0.9, "memory controller\nAES-XTS engine\n(key: CPU-made)", ok["sky_blue"])
    box(7.0, 1.35, 1.8, 0.9, "DIMMs\n(CIPHERTEXT)", ok["blue"], hatch="//")
    for x0, x1 in ((1.65, 1.95), (3.25, 3.55), (5.75, 7.0)):
        ax.add_patch(FancyArrowPatch((x0, 1.8), (x1, 1.8), arrowstyle="<|-|>", mutation_scale=10, linewidth=1.2))
    ax.text(6.38, 2.0, "memory bus", ha="center", fontsize=8)
    # Attackers.
    ax.text(7.9, 0.85, "✔ defended: cold boot (DIMM removed),\n   bus probe / interposer", ha="center", va="top",
            fontsize=8)
    ax.text(3.0, 0.95, "✘ not defended: the kernel and any code that runs here,\n"
            "   cache side channels, replay or tampering (no integrity)", ha="center", va="top", fontsize=8)
    ax.set_xlim(0, 9.0)
    ax.set_ylim(0, 3.2)
    ax.set_axis_off()
    if title:
        ax.set_title(title, loc="left")
    fig.mktme_alt = ("Diagram of the TME threat model. Inside the dashed CPU package boundary, cores, registers and "
                     "caches hold plaintext; the memory controller's AES-XTS engine, with a key the CPU generated, "
                     "encrypts every line on its way to the DIMMs, which hold only ciphertext. Defended: cold boot and "
                     "bus probes outside the package. Not defended: the kernel and code running inside the package, "
                     "cache side channels, replay or tampering, because there is no integrity.")
    return fig


def machine_overview(*, title: str | None = "An MKTME machine, as the simulator models it") -> LessonFigure:
    """One picture of the whole machine: two packages (cores, a cache whose lines are tagged by
    KeyID, a key table and an encryption engine each), DRAM split between their memory controllers,
    and the kernel's direct map, which names every frame at KeyID 0. Pure drawing: no arguments
    but the title, nothing computed."""
    if title is not None and not isinstance(title, str):
        from ..errors import ParameterError
        from ..params import shown
        raise ParameterError(f"title must be text or None, got {shown(title)}")
    fig = new_figure(10.0, 5.8)
    ax = fig.subplots()
    ok = style.OKABE_ITO

    def box(x, y, w, h, text, face="white", hatch="", size=8.0):
        ax.add_patch(Rectangle((x, y), w, h, facecolor=face, hatch=hatch, edgecolor="black", linewidth=1))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.8, "alpha": 0.85})

    def arrow(a, b, head="<|-|>", ls="-"):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle=head, mutation_scale=10, linewidth=1.1, linestyle=ls))

    for p, x in enumerate((0.3, 5.1)):
        ax.add_patch(Rectangle((x, 2.35), 4.6, 2.95, fill=False, edgecolor="black", linewidth=1.5, linestyle="--"))
        ax.text(x + 0.1, 5.22, f"package {p} (socket): plaintext inside", fontsize=9, fontweight="bold", va="top")
        box(x + 0.15, 3.75, 0.95, 0.95, "cores", ok["yellow"])
        box(x + 1.45, 3.75, 1.4, 0.95, "cache: lines\ntagged by KeyID\nK0 | K1 | K2", ok["yellow"], size=7.5)
        box(x + 3.05, 3.75, 1.4, 0.95, "key table\n0: TME key\n1: own key\n2: NO_ENCRYPT", ok["sky_blue"], size=7.5)
        box(x + 1.45, 2.55, 3.0, 0.8, "memory controller: AES-XTS engine\n(key chosen by the line's KeyID)",
            ok["sky_blue"], size=7.5)
        arrow((x + 1.1, 4.22), (x + 1.45, 4.22))
        arrow((x + 2.15, 3.75), (x + 2.15, 3.35))
        arrow((x + 3.75, 3.75), (x + 3.75, 3.35), head="-|>")
        box(x + 0.15, 1.2, 4.3, 0.8, f"DRAM homed on package {p}: CIPHERTEXT\n(the DIMM never sees a KeyID)",
            ok["blue"], hatch="//", size=8)
        arrow((x + 2.95, 2.55), (x + 2.95, 2.0))
        arrow((x + 2.3, 0.7), (x + 2.3, 1.2), head="-|>", ls="--")
    box(0.3, 0.15, 9.4, 0.55, "kernel's direct map: __va(pa) = page_offset_base + pa names every frame, with KeyID 0",
        ok["grey"], size=8.5)
    ax.set_xlim(0, 10.0)
    ax.set_ylim(0, 5.4)
    ax.set_axis_off()
    if title:
        ax.set_title(title, loc="left")
    fig.mktme_alt = (
        "Block diagram of the simulated MKTME machine. Two CPU packages (sockets), each in a dashed box where data "
        "is plaintext: cores, a cache whose lines are tagged by KeyID (K0, K1, K2), a key table (KeyID 0: the TME "
        "key, 1: a key of its own, 2: no encryption) and a memory controller whose AES-XTS engine picks the key by "
        "the line's KeyID. Under each package, the half of DRAM its memory controller owns, holding ciphertext; the "
        "DIMM never sees a KeyID. At the bottom, the kernel's direct map: one virtual range that names every "
        "physical frame, with KeyID 0, pointing at both halves of DRAM.")
    return fig
