"""One look for every picture in the course, safe for colour-blind readers.

Rules every figure follows (tests/test_viz.py checks them):

* Categorical colours come from the Okabe-Ito palette, which stays distinguishable under
  the common forms of colour blindness. Continuous data (byte values) uses ``cividis``,
  which is perceptually uniform and readable for deuteranopes and protanopes.
* Colour is never the only carrier of meaning. Every KeyID also has its own hatch pattern
  and is always written out as text ("K1"); plaintext / ciphertext / garbage are named in
  titles and labels, never told apart by red versus green.
* Figures are PNG, small and legible at 100 % zoom, with a monospace font for hex.

Lessons call :func:`apply` once (``mktme_lite.lesson.setup()`` does it for them).
"""

from __future__ import annotations

import functools

import matplotlib as mpl

__all__ = [
    "OKABE_ITO",
    "BYTE_CMAP",
    "MONO",
    "RC_PARAMS",
    "STATE_STYLE",
    "apply",
    "keyid_color",
    "keyid_hatch",
    "keyid_label",
    "text_color_for",
    "relative_luminance",
    "contrast_ratio",
    "event_style",
]

#: Okabe & Ito (2008), "Color Universal Design". Names as in their paper.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}

#: Byte values (0..255) as colour. cividis: dark blue (0x00) to light yellow (0xff).
BYTE_CMAP = "cividis"

#: Monospace family for hex dumps and addresses.
MONO = "DejaVu Sans Mono"

# KeyID 0 is the TME key: blue. Then colours far apart from each other and from blue.
_KEYID_COLORS = [
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["yellow"],
]
# A second, independent channel: the hatch pattern. KeyID 0 is plain.
_KEYID_HATCHES = ["", "//", "\\\\", "xx", "..", "oo", "--", "++", "||", "**"]

#: How the three states of a line's bytes are drawn: colour + hatch + a word, always all three.
STATE_STYLE = {
    "plaintext": {"color": OKABE_ITO["yellow"], "hatch": "", "label": "plaintext"},
    "ciphertext": {"color": OKABE_ITO["blue"], "hatch": "//", "label": "ciphertext"},
    "garbage": {"color": OKABE_ITO["grey"], "hatch": "xx", "label": "garbage"},
}

# Event kinds of Machine.trace: (colour, marker). The marker shape carries the meaning on
# its own; the timeline also writes the kind on its y axis.
_EVENT_STYLE = {
    "store": (OKABE_ITO["orange"], "v"),
    "load": (OKABE_ITO["blue"], "^"),
    "hit": (OKABE_ITO["grey"], "o"),
    "miss": (OKABE_ITO["grey"], "X"),
    "fill": (OKABE_ITO["sky_blue"], "<"),
    "writeback": (OKABE_ITO["vermillion"], ">"),
    "evict": (OKABE_ITO["reddish_purple"], "s"),
    "invalidate": (OKABE_ITO["reddish_purple"], "D"),
    "clflush": (OKABE_ITO["black"], "P"),
    "flush": (OKABE_ITO["black"], "p"),
    "wbinvd": (OKABE_ITO["black"], "8"),
    "speculative_fill": (OKABE_ITO["sky_blue"], "*"),
    "dram_write": (OKABE_ITO["vermillion"], "H"),
    "pconfig": (OKABE_ITO["bluish_green"], "d"),
}

#: rcParams every lesson figure is drawn with.
RC_PARAMS = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=_KEYID_COLORS),
    "image.cmap": BYTE_CMAP,
    "hatch.linewidth": 0.8,
    "svg.fonttype": "none",
}


def apply() -> None:
    """Install the course's rcParams (idempotent)."""
    mpl.rcParams.update(RC_PARAMS)


def keyid_color(keyid: int | None) -> str:
    """Fill colour of a KeyID (grey for "no KeyID", e.g. raw DRAM)."""
    if keyid is None:
        return OKABE_ITO["grey"]
    return _KEYID_COLORS[keyid % len(_KEYID_COLORS)]


def keyid_hatch(keyid: int | None) -> str:
    """Hatch pattern of a KeyID: the second channel, so colour is never needed alone."""
    if keyid is None:
        return ""
    return _KEYID_HATCHES[keyid % len(_KEYID_HATCHES)]


def keyid_label(keyid: int | None) -> str:
    """The text every picture writes next to a KeyID colour: ``K0``, ``K1``, ... or ``—``."""
    return "—" if keyid is None else f"K{keyid}"


def relative_luminance(rgb: tuple[float, ...]) -> float:
    """WCAG 2 relative luminance of an sRGB colour given as floats in [0, 1] (alpha ignored)."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (float(c) for c in rgb[:3])
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast_ratio(rgb_a: tuple[float, ...], rgb_b: tuple[float, ...]) -> float:
    """WCAG 2 contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    la, lb = sorted((relative_luminance(rgb_a), relative_luminance(rgb_b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


_TEXT_RGB = {"black": (0.0, 0.0, 0.0), "white": (1.0, 1.0, 1.0)}


@functools.lru_cache(maxsize=1024)
def text_color_for(value: float) -> str:
    """Black or white: whichever contrasts more with ``cividis`` at ``value`` in [0, 1].

    The choice goes by relative luminance (WCAG 2), so every one of the 256 byte colours gets
    text with a contrast of at least 4.5:1 (tests/test_viz.py computes the worst case).
    """
    cell = mpl.colormaps[BYTE_CMAP](min(1.0, max(0.0, float(value))))
    on_black = contrast_ratio(cell, _TEXT_RGB["black"])
    on_white = contrast_ratio(cell, _TEXT_RGB["white"])
    return "black" if on_black >= on_white else "white"


def event_style(kind: str) -> tuple[str, str]:
    """(colour, marker) of a trace event kind; unknown kinds get grey circles."""
    return _EVENT_STYLE.get(kind, (OKABE_ITO["grey"], "o"))
