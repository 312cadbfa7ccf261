"""Lesson 01 widget: the DRAM probe.

    from mktme_lite.widgets.tme_basics import dram_probe, render_dram_probe
    dram_probe()                       # the widget: message, address, key mode -> DRAM
    render_dram_probe(key_mode="bypass")   # the same picture, as a pure function

Type a message, pick a physical address and a key mode; see what the program stored (the
plaintext in the cache) and what a bus probe or a cold-boot attacker reads from the DIMM. The
experiment is :func:`mktme_lite.scenarios.tme_basics.probe`; this module only draws it.
"""

from __future__ import annotations

from ..scenarios.tme_basics import ADDRESSES, DEFAULT_MESSAGE, KEY_MODES, check_address, parse_message, probe
from ..params import choose
from ..viz import LessonFigure, bytes_figure
from . import LessonWidget, Telling, dropdown, slider, text

__all__ = ["render_dram_probe", "dram_probe"]


def render_dram_probe(message: str = DEFAULT_MESSAGE, address: int = 0x1040, key_mode: str = "tme",
                      fmt: str = "text") -> LessonFigure:
    """Plaintext stored by the program above, DRAM as a probe reads it below."""
    check_address(address)  # the controls first, so a bad address is named even with a bad message
    choose(key_mode, KEY_MODES, "key mode")
    result = probe(parse_message(message, fmt), address, key_mode)
    label = KEY_MODES[key_mode][0]
    fig = bytes_figure(
        [("What the program stored (plaintext in the cache)", result.plaintext),
         ("What a bus probe / cold-boot attack reads from DRAM", result.dram)],
        base=address,
        title=f"{label} · line {address:#x}",
        note=result.note,
    )
    fig.mktme_alt = f"{result.verdict} " + fig.mktme_alt
    return fig


def dram_probe() -> LessonWidget:
    """The DRAM probe widget (lesson 01)."""
    controls = {
        "address": slider("Address", [(f"{a:#x}", a) for a in ADDRESSES], 0x1040),
        "key_mode": dropdown("Key", [(label, mode) for mode, (label, _, _) in KEY_MODES.items()], "tme"),
        "message": text("Message", DEFAULT_MESSAGE, placeholder="up to 64 bytes"),
        "fmt": dropdown("Message is", [("text (UTF-8)", "text"), ("hex bytes", "hex")], "text"),
    }
    telling = [
        Telling("Default, the TME key: DRAM holds ciphertext; a probe learns nothing readable.", {}),
        Telling("Same message one line further (0x1080): completely different ciphertext, because the tweak is "
                "the physical address.", {"address": 0x1080}),
        Telling("TME bypass: KeyID 0 is not encrypted, so the probe reads the message.", {"key_mode": "bypass"}),
        Telling("KeyID 2 programmed NO_ENCRYPT: plaintext on the DIMM again, even with TME on.",
                {"key_mode": "no_encrypt"}),
    ]
    return LessonWidget(render_dram_probe, controls, title="DRAM probe", telling=telling, cache=64, front=("address",),
                        intro="store a message, flush it to DRAM, and look at what a physical attacker reads.")
