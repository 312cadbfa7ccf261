"""Memory as pictures: which frames are used with which KeyID, and which names reach a frame.

How a lesson calls them::

    from mktme_lite import viz
    viz.show(viz.memory_map({0: 0, 1: 1, 3: None}, 8, title="Frames and their KeyIDs"))
    viz.show(viz.alias_map([{"label": "user VA 0x7f00...", "keyid": 1, "frame": 0x3000},
                            {"label": "direct map", "keyid": 0, "frame": 0x3000, "note": "reads garbage"}]))

A KeyID is always drawn three ways, its colour, its hatch (or line style) and its name ("K1"),
so no reader needs colour to tell two KeyIDs apart.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from matplotlib.patches import FancyArrowPatch, Rectangle

from .. import style
from ..errors import ParameterError
from ..params import items, shown, whole
from ..params import text as _text
from .figure import LessonFigure, new_figure

__all__ = ["memory_map", "alias_map", "MAX_FRAMES"]

#: Most frames one memory map draws (a box and two labels each): 64 frames, all of the lessons' 256 KiB
#: of DRAM, take about 0.3 s to draw (256 took 1.4 s to draw and 5 s to encode as PNG).
MAX_FRAMES = 64


def memory_map(frames: Mapping[int, int | None], n_frames: int, *, frame_bytes: int = 4096, base_pa: int = 0,
               labels: Mapping[int, str] | None = None, title: str | None = None,
               per_row: int = 8) -> LessonFigure:
    """Frames as boxes; a frame in use is filled with its KeyID's colour *and* hatch and says "K1".

    ``frames`` maps a frame number (0 = the frame at ``base_pa``) to the KeyID it is used with,
    or None for a frame that is allocated without a KeyID of interest. Frames not in the
    mapping are drawn as free (white, dashed).
    """
    n_frames = whole(n_frames, "n_frames", 1, MAX_FRAMES)
    per_row = whole(per_row, "per_row (frames per row)", 1, 32)
    frame_bytes = whole(frame_bytes, "frame_bytes", 1, 1 << 30)
    base_pa = whole(base_pa, "base_pa (the address of frame 0)", 0, (1 << 64) - 1, hex_=True)
    if not isinstance(frames, Mapping):
        raise ParameterError(f"frames must be a dict {{frame number: KeyID or None}}; got {shown(frames)}")
    for f, keyid in frames.items():
        whole(f, "a frame number in frames", 0)
        if keyid is not None:
            whole(keyid, f"the KeyID of frame {f}", 0, 0x7FFF)
    if labels is not None and not isinstance(labels, Mapping):
        raise ParameterError(f"labels must be a dict {{frame number: text}} or None; got {shown(labels)}")
    labels = {f: _text(v, f"the label of frame {f}", 0, 40) for f, v in (labels or {}).items()}
    title = None if title is None else _text(title, "title", 0, 500)
    rows = -(-n_frames // per_row)
    fig = new_figure(1.1 * per_row + 0.8, 0.75 * rows + (0.9 if title else 0.6))
    ax = fig.subplots()
    used: dict[int | None, int] = {}
    for f in range(n_frames):
        r, c = divmod(f, per_row)
        keyid = frames.get(f, "free") if f in frames else "free"
        if keyid == "free":
            ax.add_patch(Rectangle((c, -r), 0.92, 0.8, facecolor="white", edgecolor=style.OKABE_ITO["grey"],
                                   linestyle="--", linewidth=0.8))
            text = "free"
        else:
            used[keyid] = used.get(keyid, 0) + 1
            ax.add_patch(Rectangle((c, -r), 0.92, 0.8, facecolor=style.keyid_color(keyid),
                                   hatch=style.keyid_hatch(keyid), edgecolor="black", linewidth=0.8, alpha=0.85))
            text = style.keyid_label(keyid)
        ax.text(c + 0.46, -r + 0.58, f"{base_pa + f * frame_bytes:#x}", ha="center", va="center", fontsize=7,
                family=style.MONO, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        ax.text(c + 0.46, -r + 0.24, labels.get(f, text), ha="center", va="center", fontsize=8, fontweight="bold",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    ax.set_xlim(-0.05, per_row)
    ax.set_ylim(-rows + 0.9, 0.85)
    ax.set_axis_off()
    if title:
        ax.set_title(title, loc="left")
    handles = [Rectangle((0, 0), 1, 1, facecolor=style.keyid_color(k), hatch=style.keyid_hatch(k), edgecolor="black",
                         label=style.keyid_label(k)) for k in sorted(used, key=lambda k: -1 if k is None else k)]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="KeyID")
    summary = "; ".join(f"{n} frame(s) with {style.keyid_label(k)}" for k, n in
                        sorted(used.items(), key=lambda kv: -1 if kv[0] is None else kv[0]))
    free = n_frames - sum(used.values())
    fig.mktme_alt = ((f"{title}. " if title else "") + f"Memory map of {n_frames} frames of {frame_bytes} bytes "
                     f"from {base_pa:#x}: {summary or 'no frame in use'}; {free} free.")
    return fig


# ----------------------------------------------------------------------------------------------
# Alias map: which full addresses reach which frame
# ----------------------------------------------------------------------------------------------
_LINESTYLES = ["-", "--", ":", "-."]


def alias_map(aliases: Sequence[Mapping], *, title: str | None = None) -> LessonFigure:
    """Left: the names a CPU uses (a mapping, a full address with its KeyID). Right: DRAM frames.

    Each alias is a mapping with keys ``label`` (e.g. "user VA 0x7f00…"), ``keyid``, ``frame``
    (the physical address of the frame it reaches) and optionally ``note`` (e.g. "reads
    garbage"). Arrows take the KeyID's colour, a line style and a "K1" label, so they can be
    told apart without colour.
    """
    if not isinstance(aliases, (list, tuple)) or not aliases:
        raise ParameterError(f"alias_map needs a list of at least one alias; got {shown(aliases)}")
    items(aliases, "aliases", 1, 16)
    title = None if title is None else _text(title, "title", 0, 500)
    for a in aliases:
        if not isinstance(a, Mapping) or not {"label", "keyid", "frame"} <= set(a):
            raise ParameterError("an alias is a dict with the keys 'label', 'keyid' and 'frame' (and optionally "
                                 f"'note'); got {shown(a)}")
        _text(a["label"], "an alias's label", 0, 300)
        whole(a["keyid"], "an alias's keyid", 0, 0x7FFF)
        whole(a["frame"], "an alias's frame (a physical address)", 0, hex_=True)
        if a.get("note") is not None:
            _text(a["note"], "an alias's note", 0, 300)
    frames = sorted({int(a["frame"]) for a in aliases})
    n_left, n_right = len(aliases), len(frames)
    height = max(n_left, n_right) * 0.75 + (0.8 if title else 0.4)
    fig = new_figure(8.2, max(1.6, height))
    ax = fig.subplots()
    top = max(n_left, n_right)

    def y_of(i: int, n: int) -> float:
        return top - (i + 0.5) * top / n

    frame_y = {f: y_of(i, n_right) for i, f in enumerate(frames)}
    for f, y in frame_y.items():
        ax.add_patch(Rectangle((6.0, y - 0.28), 1.9, 0.56, facecolor="white", edgecolor="black", linewidth=1))
        ax.text(6.95, y, f"DRAM frame\n{f:#x}", ha="center", va="center", fontsize=8, family=style.MONO)
    parts = []
    for i, a in enumerate(aliases):
        y = y_of(i, n_left)
        keyid = a.get("keyid")
        ax.add_patch(Rectangle((0.0, y - 0.28), 2.9, 0.56, facecolor=style.keyid_color(keyid), alpha=0.35,
                               hatch=style.keyid_hatch(keyid), edgecolor="black", linewidth=1))
        ax.text(1.45, y, f"{a['label']}\n{style.keyid_label(keyid)}", ha="center", va="center", fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.8, "alpha": 0.85})
        fy = frame_y[int(a["frame"])]
        ls = _LINESTYLES[(keyid or 0) % len(_LINESTYLES)]
        ax.add_patch(FancyArrowPatch((2.95, y), (5.95, fy), arrowstyle="-|>", mutation_scale=12, linewidth=1.6,
                                     linestyle=ls, color=style.keyid_color(keyid)))
        note = a.get("note")
        mid = (4.45, (y + fy) / 2)
        label = style.keyid_label(keyid) + (f": {note}" if note else "")
        ax.text(*mid, label, ha="center", va="center", fontsize=7.5,
                bbox={"facecolor": "white", "edgecolor": style.keyid_color(keyid), "pad": 1.2})
        parts.append(f"{' '.join(str(a['label']).split())} with {style.keyid_label(keyid)} reaches frame "
                     f"{int(a['frame']):#x}"
                     + (f" ({note})" if note else ""))
    ax.set_xlim(-0.1, 8.0)
    ax.set_ylim(-0.05, top + 0.05)
    ax.set_axis_off()
    if title:
        ax.set_title(title, loc="left")
    fig.mktme_alt = (f"{title}. " if title else "") + f"Alias map: {n_left} alias(es), {n_right} frame(s). " + \
        "; ".join(parts) + "."
    return fig
