"""Lesson 05 widgets and pictures: what lands on the swap device, and what comes back.

    from mktme_lite.widgets.swap import render_swap_lab, render_swap_table, swap_lab
    swap_lab()                                        # path x flush x frame x encrypted swap
    render_swap_lab("page_keyid", encrypted=True)     # one setting, as a figure
    render_swap_table(swap.all_runs())                # all 16 settings side by side

The experiments are in :mod:`mktme_lite.scenarios.swap`; this module only draws what they return.
The lab's figure has three byte grids (the first two lines of alice's page at swap-out, of the
device slot, and of what alice reads back); whether plaintext is on the device and what alice
got are sentences over the grids, computed over the whole page, so no meaning rests on colour.
"""

from __future__ import annotations

import html as _html

from ..dump import LINE
from ..errors import ParameterError
from ..params import choose, flag, shown
from ..scenarios.swap import FRAMES, FRESH_INDEX, LINES, PATHS, SwapRun, swap_run
from ..viz import HTMLCard, LessonFigure, bytes_figure
from ..viz.tables import table
from . import LessonWidget, Telling, toggle

__all__ = ["render_swap_lab", "swap_lab", "render_swap_table"]

_SHOWN = 2 * LINE  # the grids show lines 0 and 1 (line 1 is alice's fresh write)


def _events(costs: dict) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(costs.items())) or "none"


def render_swap_lab(path: str = "keyid0", flush: bool = False, frame: str = "other",
                    encrypted: bool = False) -> LessonFigure:
    """alice's page at swap-out, the device slot and what alice reads back, with sentences saying
    whether plaintext is on the device, what alice got and what it cost."""
    choose(path, PATHS, "swap path")
    flag(flush, "flush (before swap-out)")
    choose(frame, FRAMES, "frame (the swap-in frame)")
    flag(encrypted, "encrypted (encrypted swap)")
    return _swap_figure(swap_run(path, flush, frame, encrypted))


def _verdicts(r: SwapRun) -> tuple[str, str]:
    return f"Device: {r.device_verdict}.", f"alice reads back: {r.verdict}."


def _swap_figure(r: SwapRun) -> LessonFigure:
    panels = [
        (f"alice's page at swap-out (lines 0-1; line {FRESH_INDEX} is her last write, still in the cache)",
         r.expected[:_SHOWN]),
        (f"The swap device, slot {r.slot}, lines 0-1", r.device[:_SHOWN]),
        (f"What alice reads back, frame {r.frame_in}, lines 0-1", r.read_back[:_SHOWN]),
    ]
    device, owner = _verdicts(r)
    moved = (f"The page left frame {r.frame_out}; {r.reused_by} took it; the page came back into frame {r.frame_in}."
             if r.reused_by else f"The page left frame {r.frame_out} and came back into the same frame.")
    # on a line of its own: after the events it ran past the figure's right edge (learner review, 3 Dec)
    crypto = (f"\nEncrypted swap: {r.aes_blocks} AES blocks in software each way." if r.aes_blocks else "")
    costs = f"Events: swap-out {_events(r.costs_out)}; swap-in {_events(r.costs_in)}.{crypto}"
    title = f"Swap through {PATHS[r.path]}; {'flushed' if r.flush else 'no flush'} before swap-out; " \
            f"{'encrypted' if r.encrypted else 'plain'} swap"
    fig = bytes_figure(panels, title=title, mark_changed=[1, 2],
                       note=f"{device}\n{owner}\n{moved}\n{costs}\nThe word 'differs' at the right of a row marks "
                            "a 16-byte block that differs from the top grid.")
    fig.mktme_alt = f"{device} {owner} {moved} " + costs.replace("\n", " ") + " " + fig.mktme_alt
    return fig


def swap_lab() -> LessonWidget:
    """The swap lab widget (lesson 05)."""
    controls = {
        "path": toggle("Swap path", [("KeyID 0 (direct map)", "keyid0"), ("page's own KeyID", "page_keyid")],
                       "keyid0"),
        "flush": toggle("Flush page's KeyID before swap-out", [("no", False), ("yes", True)], False),
        "frame": toggle("Swap-in frame", [("same frame", "same"), ("another frame", "other")], "other"),
        "encrypted": toggle("Encrypted swap", [("off", False), ("on", True)], False),
    }
    # A tidy grid: one control a row, every label in a column of its own width (no label runs into
    # the next control's buttons), the buttons lined up after it.
    for control in controls.values():
        control.style.button_width = "auto"
        control.style.description_width = "17em"
        control.layout.width = "100%"
    controls["path"].tooltips = [PATHS[p] for p in PATHS]
    controls["frame"].tooltips = [FRAMES[f] for f in FRAMES]
    telling = [
        Telling("Through KeyID 0, into another frame: the device holds garbage (the TME decryption of "
                "KeyID-1 ciphertext) and alice reads GARBAGE in every line.", {}),
        Telling("Through KeyID 0, back into the same frame, no flush: 63 lines come back, but line 1, "
                "alice's last write, is lost.", {"frame": "same"}),
        Telling("Through the page's own KeyID: the page comes back into any frame, and its PLAINTEXT is "
                "on the swap device.", {"path": "page_keyid", "flush": True}),
        Telling("The page's own KeyID with encrypted swap: the page comes back, and no line of it is on the "
                "device.", {"path": "page_keyid", "flush": True, "encrypted": True}),
    ]
    # render is pure (the 16 runs are cached in scenarios.swap), so the widget keeps all 16 pictures
    # and draws the ones a move away ahead.
    # png_level=6: its three byte grids are the biggest picture of the course (70 KB of PNG at zlib level 1,
    # 51 KB at 6, for ~10 ms more CPU, spent while drawing ahead rather than on the learner's move).
    # The two verdicts right under the controls (the figure repeats them under its grids), in the same
    # output as the picture, so that the page switches both at once (front=: no kernel round trip).
    def verdict(path: str, flush: bool, frame: str, encrypted: bool) -> str:
        r = swap_run(path, flush, frame, encrypted)
        return ('<div class="mktme-swap-verdict" style="margin:0.2em 0 0.4em 0">'
                + "<br>".join(f"<strong>{_html.escape(v)}</strong>" for v in _verdicts(r)) + "</div>")

    lab = LessonWidget(render_swap_lab, controls, title="Swap lab", telling=telling, cache=16, png_level=6,
                       front=tuple(controls), lead=verdict,
                       intro="swap alice's encrypted page out and back in; pick the path, the flush, the frame "
                             "it comes back into and encrypted swap.")
    return lab


def render_swap_table(runs: list[SwapRun]) -> HTMLCard:
    """Every setting in ``runs`` (a non-empty list, as ``swap.all_runs()`` returns) as one row."""
    if (not isinstance(runs, (list, tuple)) or not runs
            or not all(isinstance(r, SwapRun) for r in runs)):
        raise ParameterError(f"runs must be a non-empty list of swap runs, as swap.all_runs() returns; got "
                             f"{shown(runs)}")
    heads = ["swap path", "flush first", "swap-in frame", "encrypted swap", "plaintext on the device",
             "alice reads back"]
    body = []
    for r in runs:
        status = r.line_status
        back = ("intact" if r.intact else "GARBAGE" if set(status) == {"garbage"}
                else f"line {FRESH_INDEX} LOST" if status.count("right") == LINES - 1 else r.verdict)
        body.append([r.path, "yes" if r.flush else "no", r.frame, "on" if r.encrypted else "off",
                     "PLAINTEXT" if r.plaintext_visible else "no", back])
    return table(heads, body, strong=("PLAINTEXT", "GARBAGE", f"line {FRESH_INDEX} LOST"), ruled=True,
                 caption="Every row: Policy.fixed() with only swap_path and encrypted_swap changed.",
                 css_class="mktme-swap-table")
