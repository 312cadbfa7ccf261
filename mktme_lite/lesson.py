"""Helpers every lesson notebook uses: one setup call, figures with alt text, tidy printing.

A lesson starts with::

    from mktme_lite import lesson
    lesson.setup()

and shows every picture with ``lesson.show(fig)`` (the figure's alt text travels with it).

What ``setup()`` fixes, so that every learner's notebook looks the same and golden cells stay
stable: the course's matplotlib style (colour-blind-safe palette, PNG output), numpy's
print options, and the inline backend's figure format.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

from . import style
from .address import ALG_NAMES, TMEActivate, TMECapability
from .errors import ParameterError
from .params import byteslike, shown
from .viz import HTMLCard, LessonFigure, describe_bytes, hexdump, is_static, printable, show
from .viz.tables import text_columns

__all__ = ["setup", "show", "show_figure", "hexdump", "hexlist", "aes_block", "printable", "describe_bytes",
           "is_static",
           "expect_error", "tme_activate_table", "tme_capability_table", "LessonFigure", "HTMLCard"]

#: Same function under the name the course brief uses.
show_figure = show


def setup() -> None:
    """Style, print options and PNG figures for a lesson notebook. Safe to call twice; prints nothing."""
    style.apply()
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    try:
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("png")
    except Exception:  # no IPython, or no inline backend: nothing to configure
        pass


def aes_block(key: bytes, block: bytes) -> bytes:
    """AES-encrypt one 16-byte block with a 16- or 32-byte key (plain AES, ECB on one block).

    Exercises that rebuild XTS by hand need exactly this primitive and nothing more.
    """
    from Crypto.Cipher import AES

    key = byteslike(key, "key (16 or 32 bytes)", 16, 32)
    if len(key) not in (16, 32):
        raise ParameterError(f"key must be 16 or 32 bytes (AES-128 or AES-256); got {len(key)} bytes")
    block = byteslike(block, "block (one 16-byte AES block)", 16, 16)
    return AES.new(key, AES.MODE_ECB).encrypt(block)


def hexlist(values) -> str:
    """Addresses as ``[0x2000, 0x2040]``. Anything that is not a list of ints is shown as it is,
    so a not-yet-written exercise function (which returns None) prints ``None``, not a traceback."""
    if isinstance(values, (list, tuple, set)) and all(isinstance(v, int) for v in values):
        return "[" + ", ".join(f"{v:#x}" for v in values) + "]"
    return repr(values)


@contextlib.contextmanager
def expect_error(*types: type[BaseException]) -> Iterator[None]:
    """Run a block that *should* fail, and print the error instead of a traceback.

    Lessons use it to show the simulator refusing bad input::

        with lesson.expect_error(KeyIDError):
            m.hpa(0x1000, keyid=99)

    It prints ``KeyIDError: <message>``. If the block does not raise, it says so loudly
    (raising AssertionError), so a demonstration cannot silently stop demonstrating.
    """
    for t in types:
        if not (isinstance(t, type) and issubclass(t, BaseException)):
            raise ParameterError(f"expect_error takes exception classes such as KeyIDError or MKTMEError; "
                                 f"got {shown(t)}")
    types = types or (Exception,)
    try:
        yield
    except types as exc:
        print(f"{type(exc).__name__}: {exc}")
    else:
        raise AssertionError(f"expected {' or '.join(t.__name__ for t in types)}, but nothing was raised")


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    """The MSR tables are text only (they are printed): the table builder's aligned columns."""
    return text_columns(rows)


def _algs(mask: int) -> str:
    names = [name for bit, name in ALG_NAMES.items() if mask & bit]
    return " + ".join(names) or "none"


def tme_activate_table(value: int) -> str:
    """IA32_TME_ACTIVATE (MSR 0x982) decoded field by field, as a text table."""
    a = TMEActivate.decode(value)  # checks value: a whole number of 64 bits
    policy = {0: "AES-XTS-128", 2: "AES-XTS-256"}.get(a.policy, f"{a.policy} (unknown)")
    rows = [
        ("bits", "field", "value", "meaning"),
        ("0", "lock", str(int(a.lock)), "locked: the BIOS wrote it once; nobody can change it now" if a.lock
         else "not locked"),
        ("1", "enable", str(int(a.enable)), "memory encryption is on" if a.enable else "memory encryption is off"),
        ("2", "key select", str(a.key_select), "new TME key made at this boot" if a.key_select == 0
         else "TME key restored after standby"),
        ("3", "save key", str(int(a.save_key)), "keep the TME key across standby" if a.save_key else "do not save it"),
        ("7:4", "policy", str(a.policy), f"KeyID 0 uses {policy}"),
        ("31", "bypass", str(int(a.bypass)), "KeyID 0 is NOT encrypted (TME bypass)" if a.bypass
         else "KeyID 0 is encrypted with the TME key"),
        ("35:32", "KeyID bits", str(a.keyid_bits), f"{a.keyid_bits} address bits carry a KeyID: "
         f"KeyIDs 1..{(1 << a.keyid_bits) - 1} for MKTME"),
        ("63:48", "crypto algs", f"{a.crypto_algs:#06x}", f"KeyIDs >= 1 may use {_algs(a.crypto_algs)}"),
    ]
    return _table(rows)


def tme_capability_table(value: int) -> str:
    """IA32_TME_CAPABILITY (MSR 0x981) decoded field by field, as a text table."""
    c = TMECapability.decode(value)
    rows = [
        ("bits", "field", "value", "meaning"),
        ("0", "AES-XTS-128", str(int(c.aes_xts_128)), "supported" if c.aes_xts_128 else "not supported"),
        ("2", "AES-XTS-256", str(int(c.aes_xts_256)), "supported" if c.aes_xts_256 else "not supported"),
        ("31", "bypass supported", str(int(c.bypass_supported)), "TME bypass can be turned on"
         if c.bypass_supported else "no TME bypass"),
        ("35:32", "max KeyID bits", str(c.max_keyid_bits), "the most KeyID bits the BIOS may activate"),
        ("50:36", "max keys", str(c.max_keys), "KeyIDs usable besides KeyID 0"),
    ]
    return _table(rows)
