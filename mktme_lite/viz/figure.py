"""Figures that carry their alt text, and how they reach the notebook.

Every picture of the course is a :class:`LessonFigure` whose ``mktme_alt`` is a sentence about
what the data shows; a table is an :class:`HTMLCard` (HTML plus a plain-text twin). A lesson
hands either to :func:`show`::

    from mktme_lite import viz
    viz.show(viz.tme_boundary())          # PNG + alt text, then the figure is freed
    png = viz.figure_png(fig)             # the bytes a test or a static page stores
    viz.live_html(fig)                    # what a live widget puts in its output, in place

Why a Figure subclass and no pyplot: nothing here touches pyplot's global figure list, so a
figure never appears twice and a failed render never leaves a stray picture behind.
"""

from __future__ import annotations

import base64
import html as _html
import io
import os
from dataclasses import dataclass

from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.transforms import Affine2D

from .. import style

__all__ = ["LessonFigure", "HTMLCard", "is_static", "figure_png", "to_bundle", "live_html", "show", "new_figure"]


class LessonFigure(Figure):
    """A matplotlib Figure with alt text.

    ``mktme_alt`` holds the alt text. If a learner leaves one as the last expression of a
    cell, Jupyter shows the PNG with its alt text instead of ``<Figure size ...>``.
    """

    mktme_alt: str = ""

    def _repr_mimebundle_(self, include=None, exclude=None):
        data, metadata = to_bundle(self)
        return data, metadata


def new_figure(width: float, height: float, **kwargs) -> LessonFigure:
    """A course-styled figure of ``width`` x ``height`` inches with constrained layout."""
    style.apply()
    return LessonFigure(figsize=(width, height), layout="constrained", **kwargs)


@dataclass(frozen=True)
class HTMLCard:
    """A small block of HTML with a plain-text twin, for widgets that show text not pictures.

    The twin is what a screen reader, a terminal or ``print()`` gets, so it says everything the
    HTML says, in words."""

    html: str
    text: str

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html, "text/plain": self.text}


def is_static() -> bool:
    """True when no live front end is expected (``MKTME_STATIC=1``: CI, nbconvert, book builds)."""
    return os.environ.get("MKTME_STATIC", "").strip().lower() not in ("", "0", "false", "no")


def figure_png(fig: Figure, *, palette: bool = False, level: int = 1) -> bytes:
    """Encode ``fig`` as PNG bytes (the only image format the course stores).

    ``palette=True`` is for a live widget's redraw: the same pixels reduced to at most 256 colours
    (no dithering), a third of the bytes to send, base64 and decode, in no more time. A course
    figure has a few thousand distinct colours, nearly all of them anti-aliasing between a few
    dozen; a pixel moves by about 1/255 on average. Stored pictures (static twins, ``show``) keep
    every colour.

    ``level`` is the palette PNG's zlib level (1-9): 1 is the fastest; 6 makes a byte grid's picture about
    a quarter smaller for some 10 ms more, worth it where the picture is drawn ahead of the move.
    """
    if level not in range(1, 10) or isinstance(level, bool):
        from ..errors import ParameterError
        raise ParameterError(f"level is a zlib level, a whole number 1-9; got {level!r}")
    buf = io.BytesIO()
    if not palette:
        fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})  # fast: 1/6 of the default cost
        return buf.getvalue()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    rgb = rgb.convert("RGB")  # course figures are opaque (white face colour)
    rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        buf, format="png", compress_level=level)
    return buf.getvalue()


def to_bundle(obj, alt: str | None = None) -> tuple[dict, dict]:
    """The (data, metadata) mime bundle for a figure, an :class:`HTMLCard` or a string.

    Figures become ``image/png`` with the alt text in the metadata and as ``text/plain``;
    a figure without alt text is refused, so a lesson cannot ship one by accident.
    """
    if isinstance(obj, Figure):
        alt = alt if alt is not None else getattr(obj, "mktme_alt", "")
        if not isinstance(alt, str) or not alt.strip():
            # ValueError, not ParameterError: the figure comes from lesson or widget code, so this is
            # the author's bug; the widget shell reports MKTMEError as the learner's input instead.
            raise ValueError("every figure needs alt text: pass alt='a sentence about what it shows' "
                             "or set fig.mktme_alt")
        b64 = base64.b64encode(figure_png(obj)).decode("ascii")
        # Three forms of one picture. image/png carries the alt text in its metadata (what the
        # course convention asks for), but JupyterLab's nbconvert template ignores that metadata;
        # the text/html twin is an <img> with the alt attribute, which JupyterLab and nbconvert
        # both prefer to the PNG. text/plain is what a screen reader gets with no images at all.
        data = {
            "image/png": b64,
            "text/html": f'<img src="data:image/png;base64,{b64}" alt="{_html.escape(alt)}">',
            "text/plain": f"[Figure: {alt}]",
        }
        return data, {"image/png": {"alt": alt}}
    if isinstance(obj, HTMLCard):
        return {"text/html": obj.html, "text/plain": obj.text}, {}
    if isinstance(obj, str):
        return {"text/plain": obj}, {}
    raise TypeError(f"cannot show a {type(obj).__name__}; give a Figure, an HTMLCard or a str")


def live_html(obj, alt: str | None = None, *, level: int = 1, lead: str = "") -> str:
    """The HTML a live widget puts into its output area in place of the last picture.

    A figure becomes one ``<img>`` with its alt text (a palette PNG, see :func:`figure_png`), an
    :class:`HTMLCard` its HTML, a string a ``<pre>``. The whole is wrapped in JupyterLab's
    ``jp-RenderedHTMLCommon`` class, so a card's tables look as they do in a cell's output. One
    copy of the picture, not three: this is what travels to the browser on every update. ``level``:
    the PNG's zlib level (see :func:`figure_png`). ``lead``: HTML put before the picture, inside the
    same wrapper (a widget's verdict line that must change with the picture).
    """
    if isinstance(obj, Figure):
        alt = alt if alt is not None else getattr(obj, "mktme_alt", "")
        if not isinstance(alt, str) or not alt.strip():
            raise ValueError("every figure needs alt text: pass alt='a sentence about what it shows' "
                             "or set fig.mktme_alt")
        b64 = base64.b64encode(figure_png(obj, palette=True, level=level)).decode("ascii")
        inner = f'<img src="data:image/png;base64,{b64}" alt="{_html.escape(alt)}">'
    elif isinstance(obj, HTMLCard):
        inner = obj.html
    elif isinstance(obj, str):
        inner = f"<pre>{_html.escape(obj)}</pre>"
    else:
        raise TypeError(f"cannot show a {type(obj).__name__}; give a Figure, an HTMLCard or a str")
    return f'<div class="jp-RenderedHTMLCommon mktme-live">{lead}{inner}</div>'


def show(obj, alt: str | None = None) -> None:
    """Display a figure (PNG + alt text), an :class:`HTMLCard` or text, and free the figure.

    Outside IPython (a plain script, the test suite) the bundle is built and discarded, so
    the same lesson code runs everywhere.
    """
    data, metadata = to_bundle(obj, alt)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with every course environment
        return
    if get_ipython() is not None:
        display(data, raw=True, metadata=metadata)


class Inches:
    """Draw straight on a figure in inches, y growing downwards, with no Axes: building one (its
    axis, ticks and spines, all unused by these pictures) costs more than drawing the whole
    picture. Pictures pass it where matplotlib code expects an Axes' ``add_artist``/``add_patch``."""

    def __init__(self, fig: Figure, height: float):
        self.fig = fig
        self.transform = Affine2D().scale(1, -1).translate(0, height) + fig.dpi_scale_trans

    def add_artist(self, artist):
        artist.set_transform(self.transform)
        self.fig.add_artist(artist)
        return artist

    add_patch = add_collection = add_artist

    def vlines(self, xs, y0, y1, colors, linewidth, zorder=0):
        self.add_artist(LineCollection([[(x, y0), (x, y1)] for x in xs], colors=colors, linewidths=linewidth,
                                       zorder=zorder))

    def hlines(self, ys, x0, x1, colors, linewidth):
        self.add_artist(LineCollection([[(x0, y), (x1, y)] for y in ys], colors=colors, linewidths=linewidth))
