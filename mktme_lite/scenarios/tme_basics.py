"""Lesson 01's experiment: what a physical attacker reads from DRAM.

    from mktme_lite.scenarios import tme_basics

    r = tme_basics.probe(b"attack at dawn", 0x1040, "tme")     # store, clflush, read DRAM
    r.plaintext, r.dram, r.readback, r.probe_sees_plaintext, r.note
    tme_basics.parse_message("41 42 43", "hex")                # -> b"ABC"

The machines are prepared once (boot, PCONFIG) and *cloned* for every probe, so a probe costs
one clone (~50 µs), one store + clflush + load. Bad input raises
:class:`~mktme_lite.errors.ParameterError` with a sentence the learner can act on.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ParameterError
from ..keytable import PconfigCommand, PconfigStatus
from ..machine import LINE, Machine
from ..params import choose

__all__ = ["KEY_MODES", "ADDRESSES", "SEED", "DRAM_BYTES", "DEFAULT_MESSAGE", "ProbeResult", "parse_message",
           "check_address", "probe"]


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

DRAM_BYTES = 256 * 1024  # the probe machine's installed memory (Machine's default)

DEFAULT_MESSAGE = "attack at dawn"


@lru_cache(maxsize=2)
def _prepared(bypass: bool) -> Machine:
    """A booted one-package machine: KeyID 1 has a random key, KeyID 2 is NO_ENCRYPT.

    Never modified: every probe works on a clone.
    """
    m = Machine(packages=1, seed=SEED, tme_bypass=bypass, trace=False, dram_bytes=DRAM_BYTES)
    for keyid, command in ((1, PconfigCommand.KEYID_SET_KEY_RANDOM), (2, PconfigCommand.KEYID_NO_ENCRYPT)):
        status = m.pconfig(0, keyid, command)
        assert status is PconfigStatus.PROG_SUCCESS, status
    return m


def parse_message(message: str, fmt: str = "text") -> bytes:
    """The bytes of ``message``: UTF-8 text, or hex bytes. At least one byte, at most one line (64).

    In hex mode, whitespace separates nothing in particular (``41 42`` and ``4142`` are the same
    two bytes), and every whitespace-separated group may carry its own ``0x`` prefix
    (``0x41 0x42``); a ``0x`` with no digits after it is refused like any other empty input.
    """
    if not isinstance(message, str):
        raise ParameterError(f"the message must be text; got {type(message).__name__}")
    choose(fmt, ("text", "hex"), "input format")
    if fmt == "text":
        try:
            data = message.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = message[exc.start]
            raise ParameterError(f"character {exc.start + 1} of the message ({ascii(bad)}) cannot be stored as "
                                   "UTF-8 (a lone surrogate, usually from a bad copy and paste); delete it or "
                                   "type the bytes in hex mode.") from None
    elif fmt == "hex":
        groups = message.split()
        digits = "".join(g[2:] if g[:2].lower() == "0x" else g for g in groups)
        bad = sorted({ch for ch in digits if ch not in "0123456789abcdefABCDEF"})
        if bad:
            shown = ", ".join(ascii(ch) for ch in bad[:5])
            what = "is not a hex digit" if len(bad) == 1 else "are not hex digits"
            raise ParameterError(f"{shown} {what}. In hex mode type pairs of 0-9 and a-f, e.g. 41 42 43 "
                                   "(or 0x41 0x42 0x43) for 'ABC'.")
        if len(digits) % 2:
            raise ParameterError(f"{len(digits)} hex digits is an odd number; every byte needs two digits "
                                   "(write 0a, not a).")
        data = binascii.unhexlify(digits)
    else:
        raise ParameterError(f"unknown input format {fmt!r}; choose 'text' or 'hex'")
    if not data:
        how = " as hex bytes, e.g. 41 42 43" if fmt == "hex" else ""
        raise ParameterError(f"the message is empty: type a message{how} (1 to 64 bytes), then press Enter.")
    if len(data) > LINE:
        raise ParameterError(f"the message is {len(data)} bytes, but the probe shows one 64-byte cache line; "
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

    @property
    def verdict(self) -> str:
        """Can the probe read the message? One sentence."""
        if self.probe_sees_plaintext:
            return "The probe reads the message: DRAM holds PLAINTEXT."
        return "The probe reads only CIPHERTEXT: nothing of the message is visible."

    @property
    def note(self) -> str:
        """The sentences under the picture: the verdict, the read-back, and (if the engine encrypted
        anything) the modelling choice the ciphertext depends on."""
        back = "the same bytes" if self.readback == self.plaintext else "DIFFERENT bytes (unexpected)"
        note = f"{self.verdict} The CPU reads back {back}."
        if not self.probe_sees_plaintext:  # the tweak only matters when the engine encrypted something
            note += ("\nModelling choice: the XTS tweak is the line's physical address (Intel does not publish "
                     "the real tweak).")
        return note


def check_address(address: int) -> int:
    """``address`` if it starts a cache line of the probe machine's DRAM, else a ParameterError."""
    last = ADDRESSES[-1]
    if isinstance(address, bool) or not isinstance(address, int):
        raise ParameterError(f"the address must be an int such as 0x1040; got {type(address).__name__}")
    if not 0 <= address <= DRAM_BYTES - LINE:
        raise ParameterError(f"the address {address:#x} is outside the probe machine's DRAM: use 0x0 to "
                               f"{DRAM_BYTES - LINE:#x} (the slider offers {ADDRESSES[0]:#x} to {last:#x}).")
    if address % LINE:
        raise ParameterError(f"the address {address:#x} is not the start of a cache line; use a multiple of "
                               f"64 (0x40), e.g. {address - address % LINE:#x}.")
    return address


def probe(message: bytes, address: int = 0x1040, key_mode: str = "tme") -> ProbeResult:
    """Store ``message`` (zero-padded to a line) at ``address`` with ``key_mode``, flush, read DRAM.

    The line must reach DRAM before a probe can see it: a store only changes the cache,
    and the encryption engine works when the line is written back (here: ``clflush``).
    """
    choose(key_mode, KEY_MODES, "key mode")
    if not isinstance(message, (bytes, bytearray)):
        raise ParameterError(f"probe() takes the message as bytes, e.g. b'attack at dawn' or "
                               f"parse_message('attack at dawn'); got {type(message).__name__}")
    if len(message) > LINE:
        raise ParameterError(f"the message is {len(message)} bytes; the probe shows one 64-byte cache line")
    check_address(address)
    _, keyid, bypass = KEY_MODES[key_mode]
    m = _prepared(bypass).clone()
    plaintext = bytes(message).ljust(LINE, b"\0")
    hpa = m.hpa(address, keyid)
    m.store(hpa, plaintext)
    m.clflush(hpa)
    return ProbeResult(address, keyid, bypass, plaintext, m.dram(address), m.load(hpa))
