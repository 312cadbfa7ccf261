"""Lesson 01 widget: the DRAM probe.

Type a message, pick a physical address and a key mode; see what the program stored (the
plaintext in the cache) and what a bus probe or a cold-boot attacker reads from the DIMM.

* :func:`probe` runs the experiment on the engine and returns the raw bytes (tested).
* :func:`render_dram_probe` draws them (tested, benchmarked).
* :func:`dram_probe` is the widget.

Speed: the machines are prepared once (boot, PCONFIG) and *cloned* for every update, so an
update costs one clone (~50 µs), one store + clflush + load, and one figure.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from functools import lru_cache

from ..keytable import PconfigCommand, PconfigStatus
from ..machine import LINE, Machine
from ..viz import LessonFigure, bytes_figure
from . import LessonWidget, Telling, WidgetInputError, dropdown, slider, text

__all__ = ["KEY_MODES", "ADDRESSES", "ProbeResult", "parse_message", "probe", "render_dram_probe", "dram_probe"]

#: key mode -> (label shown to the learner, KeyID used, TME bypass on?)
KEY_MODES: dict[str, tuple[str, int, bool]] = {
    "tme": ("KeyID 0, TME key (made by the CPU at boot)", 0, False),
    "bypass": ("KeyID 0, TME bypass (BIOS turned encryption off)", 0, True),
    "own_key": ("KeyID 1, its own key (PCONFIG, random)", 1, False),
    "no_encrypt": ("KeyID 2, programmed NO_ENCRYPT", 2, False),
}

#: The 64 cache lines of the page at 0x1000: enough to see that every address encrypts differently.
ADDRESSES: list[int] = [0x1000 + LINE * i for i in range(64)]

SEED = 2018
DEFAULT_MESSAGE = "attack at dawn"


@lru_cache(maxsize=2)
def _prepared(bypass: bool) -> Machine:
    """A booted one-package machine: KeyID 1 has a random key, KeyID 2 is NO_ENCRYPT.

    Never modified: every probe works on a clone.
    """
    m = Machine(packages=1, seed=SEED, tme_bypass=bypass, trace=False)
    for keyid, command in ((1, PconfigCommand.KEYID_SET_KEY_RANDOM), (2, PconfigCommand.KEYID_NO_ENCRYPT)):
        status = m.pconfig(0, keyid, command)
        assert status is PconfigStatus.PROG_SUCCESS, status
    return m


def parse_message(message: str, fmt: str = "text") -> bytes:
    """The bytes of ``message``: UTF-8 text, or hex digits (spaces allowed). At most one line (64 bytes)."""
    if not isinstance(message, str):
        raise WidgetInputError(f"the message must be text; got {type(message).__name__}")
    if fmt == "text":
        data = message.encode("utf-8")
    elif fmt == "hex":
        digits = "".join(message.split())
        if digits.lower().startswith("0x"):
            digits = digits[2:]
        bad = sorted({ch for ch in digits if ch not in "0123456789abcdefABCDEF"})
        if bad:
            shown = ", ".join(repr(ch) for ch in bad[:5])
            what = "is not a hex digit" if len(bad) == 1 else "are not hex digits"
            raise WidgetInputError(f"{shown} {what}. In hex mode type pairs of 0-9 and a-f, e.g. 41 42 43 "
                                   "for 'ABC'.")
        if len(digits) % 2:
            raise WidgetInputError(f"{len(digits)} hex digits is an odd number; every byte needs two digits "
                                   "(write 0a, not a).")
        data = binascii.unhexlify(digits)
    else:
        raise WidgetInputError(f"unknown input format {fmt!r}; choose 'text' or 'hex'")
    if len(data) > LINE:
        raise WidgetInputError(f"the message is {len(data)} bytes, but the probe shows one 64-byte cache line; "
                               f"shorten it by {len(data) - LINE} byte(s).")
    return data


@dataclass(frozen=True)
class ProbeResult:
    """What one probe experiment produced, all computed by the engine."""

    address: int
    keyid: int
    bypass: bool
    plaintext: bytes  # the 64-byte line the program stored (message, zero-padded)
    dram: bytes  # what DRAM holds after the line was flushed: what a probe reads
    readback: bytes  # what the CPU reads back through the same address

    @property
    def probe_sees_plaintext(self) -> bool:
        return self.dram == self.plaintext


def probe(message: bytes, address: int = 0x1040, key_mode: str = "tme") -> ProbeResult:
    """Store ``message`` (zero-padded to a line) at ``address`` with ``key_mode``, flush, read DRAM.

    The line must reach DRAM before a probe can see it: a store only changes the cache,
    and the encryption engine works when the line is written back (here: ``clflush``).
    """
    if key_mode not in KEY_MODES:
        raise WidgetInputError(f"unknown key mode {key_mode!r}; choose one of {', '.join(KEY_MODES)}")
    if not isinstance(message, (bytes, bytearray)) or len(message) > LINE:
        raise WidgetInputError("the message must be at most 64 bytes")
    if not isinstance(address, int) or address % LINE:
        raise WidgetInputError(f"the address must be a multiple of 64 (a cache line); got {address!r}")
    _, keyid, bypass = KEY_MODES[key_mode]
    m = _prepared(bypass).clone()
    plaintext = bytes(message).ljust(LINE, b"\0")
    hpa = m.hpa(address, keyid)
    m.store(hpa, plaintext)
    m.clflush(hpa)
    return ProbeResult(address, keyid, bypass, plaintext, m.dram(address), m.load(hpa))


def render_dram_probe(message: str = DEFAULT_MESSAGE, address: int = 0x1040, key_mode: str = "tme",
                      fmt: str = "text") -> LessonFigure:
    """Plaintext stored by the program above, DRAM as a probe reads it below."""
    result = probe(parse_message(message, fmt), address, key_mode)
    label = KEY_MODES[key_mode][0]
    if result.probe_sees_plaintext:
        verdict = "The probe reads the message: DRAM holds PLAINTEXT."
    else:
        verdict = "The probe reads only CIPHERTEXT: nothing of the message is visible."
    back = "the same bytes" if result.readback == result.plaintext else "DIFFERENT bytes (unexpected)"
    fig = bytes_figure(
        [("What the program stored (plaintext in the cache)", result.plaintext),
         ("What a bus probe / cold-boot attack reads from DRAM", result.dram)],
        base=address,
        title=f"{label} · line {address:#x}",
        note=f"{verdict} The CPU reads back {back}.\nModelling choice: the XTS tweak is the line's physical "
             "address (Intel does not publish the real tweak).",
    )
    fig.mktme_alt = f"{verdict} " + fig.mktme_alt
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
    return LessonWidget(render_dram_probe, controls, title="DRAM probe", telling=telling,
                        intro="store a message, flush it to DRAM, and look at what a physical attacker reads.")
