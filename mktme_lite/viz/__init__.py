"""Pictures the lessons share, each one a pure function from data to a figure with alt text.

How a lesson calls them::

    from mktme_lite import viz
    viz.show(viz.bytes_figure([("plaintext", secret), ("DRAM", m.dram(pa))], base=pa, mark_changed=True))
    viz.show(viz.trace_timeline(m.trace, hide=("hit", "miss")))
    viz.differing_blocks(secret, m.dram(pa))          # text helpers too: hexdump, describe_bytes ...

Every picture is a :class:`LessonFigure` whose ``mktme_alt`` is a sentence computed from the
data ("the second grid differs from the first in block 2 only"), never a generic caption;
:func:`show` (also ``mktme_lite.lesson.show``) puts the PNG and its alt text in the notebook.

Where each part lives (import from ``mktme_lite.viz``; the modules are the map):

``figure``     LessonFigure, HTMLCard, show, to_bundle, live_html, figure_png, is_static
``bytes``      bytes_figure (heat map + hex grid), line_changes (which 64-byte lines differ)
``maps``       memory_map (frames and their KeyIDs), alias_map (which addresses reach a frame)
``timeline``   trace_timeline (``Machine.trace`` as a timeline)
``races``      outcome_histogram, replay_timeline, race_figure (lesson 06: every interleaving of a race)
``diagrams``   claim_matrix (claims x lessons), tme_boundary (the TME threat model)
``tables``     table, Cell, card, text_columns: every HTML table, each with a plain-text twin
``cachelines`` cache_state (every cache line of each package and the frame's DRAM), corruption_plot
``use_cases``  keyid_partition (the KeyIDs split MKTME / TDX private), outcome_table (lesson 08)
``glyphs``     Glyphs: figure text as cached outlines (why the widgets redraw in milliseconds)
``costs``      overhead_bars (slowdown per design), security_grid (design x threat, a word per cell),
               cost_and_security (both, for one design: lesson 07's explorer)

The text helpers (hexdump, printable, describe_bytes, differing_blocks, changed_lines, BLOCK,
LINE) live in :mod:`mktme_lite.dump`, below every layer; they are re-exported here because the
lessons have always called them as ``viz.hexdump``.

Layer: pictures. Imports the base layer (errors, params, dump), the hardware and ``style``;
never widgets, checks or lesson helpers (tests/test_viz_layout.py checks it).
"""

from __future__ import annotations

from ..dump import BLOCK, LINE, changed_lines, describe_bytes, differing_blocks, hexdump, printable
from .bytes import bytes_figure, line_changes
from .cachelines import cache_state, corruption_plot
from .costs import cost_and_security, overhead_bars, security_grid
from .diagrams import claim_matrix, tme_boundary
from .figure import HTMLCard, LessonFigure, figure_png, is_static, live_html, show, to_bundle
from .maps import alias_map, memory_map
from .races import outcome_histogram, race_figure, replay_timeline
from .tables import Cell, card, table, text_columns
from .timeline import trace_timeline
from .use_cases import keyid_partition, outcome_table

__all__ = [
    # figure
    "LessonFigure", "HTMLCard", "is_static", "figure_png", "show", "to_bundle", "live_html",
    # pictures
    "bytes_figure", "line_changes", "cache_state", "corruption_plot", "memory_map", "alias_map", "trace_timeline",
    "claim_matrix", "tme_boundary", "keyid_partition", "outcome_table", "outcome_histogram", "replay_timeline",
    "race_figure", "overhead_bars", "security_grid", "cost_and_security",
    # tables
    "Cell", "table", "card", "text_columns",
    # text helpers, from mktme_lite.dump
    "BLOCK", "LINE", "hexdump", "printable", "describe_bytes", "differing_blocks", "changed_lines",
]
