"""One check per kind of argument, shared by every layer (hardware, kernel, scenarios, widgets).

Each check returns the value it accepted (normalised: a numpy integer becomes an ``int``) or
raises :class:`~mktme_lite.errors.ParameterError` naming the argument, what it got and what is
allowed::

    from mktme_lite.params import choose, flag, whole, text_bytes

    design = choose(design, DESIGNS, "direct-map design")   # one of a set of names
    written_back = flag(written_back, "written_back")       # True or False, nothing else
    keyid = whole(keyid, "KEYID", 0, 0xFFFF)                # a whole number in a range
    data = text_bytes(message, "message", most=64)          # UTF-8 text -> 1..64 bytes
    name = text(name, "name", most=64)                      # a str, never bytes or a number
    machine = instance(machine, Machine, "machine")         # an object, never its class

Why one module: pyca/cryptography checks every mode's tweak with the same helper, so the same
mistake gets the same sentence everywhere. Here ``True`` is never a number, ``"False"`` is never
a flag, and a list never meets Python's "unhashable type" instead of a sentence.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

from .errors import ParameterError

__all__ = ["shown", "is_whole", "choose", "flag", "whole", "address", "byteslike", "text_bytes", "text", "instance",
           "items", "ParameterError"]

_SHOWN_MAX = 40


def shown(value: Any) -> str:
    """A refused value for a message: a short repr, with its type when the type is the problem."""
    try:
        text = repr(value)
    except Exception:  # a repr that raises is still a value the learner passed
        text = f"<{type(value).__name__}>"
    if len(text) > _SHOWN_MAX:
        text = text[: _SHOWN_MAX - 3] + "..."
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return text
    return f"{text} (a {type(value).__name__})"


def choose(value: Any, allowed: Iterable[str], what: str) -> str:
    """``value`` when it is one of the names ``allowed`` (a dict's keys, a tuple, ...)."""
    names = list(allowed)
    if not isinstance(value, str) or value not in names:
        raise ParameterError(f"unknown {what} {shown(value)}; choose one of {', '.join(map(str, names))}")
    return value


def flag(value: Any, what: str) -> bool:
    """A real bool: ``"False"``, ``0`` and ``None`` are refused, because each would silently mean
    something (``"False"`` is truthy)."""
    if not isinstance(value, bool):
        import numpy as np  # numpy's bool is a bool a learner may well hand over

        if isinstance(value, np.bool_):
            return bool(value)
        raise ParameterError(f"{what} must be True or False; got {shown(value)}")
    return value


def is_whole(value: Any) -> bool:
    """A Python or numpy integer that is not a bool (``True``, ``2.0`` and ``"2"`` are not whole numbers).

    For checks whose refusal must say something domain-specific ("KEYID is a 16-bit field")."""
    if type(value) is int:  # the common case, without the slower abstract-class check
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def whole(value: Any, what: str, low: int | None = None, high: int | None = None, *, hex_: bool = False) -> int:
    """A whole number (a Python or numpy integer, never a bool or a float) in ``[low, high]``.

    ``hex_`` shows the bounds and the value in hex, for addresses and register fields."""
    if not is_whole(value):
        raise ParameterError(f"{what} must be a whole number; got {shown(value)}")
    value = int(value)
    fmt = (lambda n: f"{n:#x}") if hex_ else str
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            allowed = f"{fmt(low)} to {fmt(high)}"
        elif low is not None:
            allowed = f"at least {fmt(low)}"
        else:
            allowed = f"at most {fmt(high)}"
        raise ParameterError(f"{what} must be {allowed}; got {fmt(value)}")
    return value


def address(value: Any, what: str = "address", low: int = 0, high: int | None = None, *, align: int = 1) -> int:
    """A physical or virtual address: a whole number in range (shown in hex), optionally aligned."""
    value = whole(value, what, low, high, hex_=True)
    if align > 1 and value % align:
        raise ParameterError(f"{what} {value:#x} is not a multiple of {align:#x}; "
                             f"e.g. {value - value % align:#x}")
    return value


def byteslike(value: Any, what: str, least: int = 0, most: int | None = None) -> bytes:
    """Bytes (``bytes``, ``bytearray`` or ``memoryview``) of ``least`` to ``most`` bytes."""
    if isinstance(value, str):
        raise ParameterError(f"{what} must be bytes, e.g. b'...' or '...'.encode(); got text {shown(value)}")
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ParameterError(f"{what} must be bytes; got {shown(value)}")
    data = bytes(value)
    _length(data, what, least, most)
    return data


def text_bytes(value: Any, what: str = "message", least: int = 1, most: int | None = None) -> bytes:
    """UTF-8 text as bytes: a lone surrogate or an empty message gets a sentence, not a codec error."""
    if not isinstance(value, str):
        raise ParameterError(f"{what} must be text; got {shown(value)}")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParameterError(f"character {exc.start + 1} of the {what} ({ascii(value[exc.start])}) cannot be "
                             "stored as UTF-8 (a lone surrogate, usually from a bad copy and paste); delete it "
                             "or retype that part") from None
    _length(data, what, least, most)
    return data


def text(value: Any, what: str, least: int = 0, most: int | None = None) -> str:
    """A ``str`` of ``least`` to ``most`` characters (a name, a title, a description).

    Bytes, numbers and None are refused rather than shown as ``"b'...'"`` or ``"None"``; so is a
    lone surrogate, which no font draws and no terminal prints (the same sentence as text_bytes)."""
    if not isinstance(value, str):
        raise ParameterError(f"{what} must be text (a str); got {shown(value)}")
    if not value.isascii():
        text_bytes(value, what, 0)
    if len(value) < least:
        raise ParameterError(f"{what} must not be empty" if least == 1 else
                             f"{what} must be at least {least} characters; got {len(value)}")
    if most is not None and len(value) > most:
        raise ParameterError(f"{what} is {len(value)} characters, at most {most} are allowed; got {shown(value)}")
    return value


def instance(value: Any, kind: type | tuple[type, ...], what: str, example: str | None = None) -> Any:
    """An instance of ``kind`` (a class or a tuple of classes).

    The class itself (``Kernel(Machine, ...)`` instead of ``Kernel(Machine(), ...)``) gets its own
    sentence: it is the commonest slip, and ``isinstance`` alone would only say "wrong type"."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, kinds):
        return value
    names = " or ".join(k.__name__ for k in kinds)
    hint = f", e.g. {example}" if example else ""
    if isinstance(value, type) and issubclass(value, kinds):
        raise ParameterError(f"{what} must be a {names} object; got the class {value.__name__} itself: "
                             f"call it to make one, {example or value.__name__ + '()'}")
    raise ParameterError(f"{what} must be a {names}{hint}; got {shown(value)}")


def items(value: Any, what: str, least: int = 0, most: int | None = None) -> list:
    """A list or tuple of ``least`` to ``most`` items, as a list (a str, a dict or a generator is refused:
    each would be iterated as something else than the learner meant)."""
    if not isinstance(value, (list, tuple)):
        raise ParameterError(f"{what} must be a list; got {shown(value)}")
    if len(value) < least:
        raise ParameterError(f"{what} needs at least {least} item(s); got {len(value)}")
    if most is not None and len(value) > most:
        raise ParameterError(f"{what} has {len(value)} items; at most {most} are allowed")
    return list(value)


def _length(data: bytes, what: str, least: int, most: int | None) -> None:
    if len(data) < least:
        if least == 1:
            span = f"1 to {most} bytes" if most is not None else "at least 1 byte"
            raise ParameterError(f"the {what} is empty: type a {what} of {span}")
        raise ParameterError(f"the {what} is {len(data)} bytes; it needs at least {least}")
    if most is not None and len(data) > most:
        raise ParameterError(f"the {what} is {len(data)} bytes, at most {most} are allowed; shorten it by "
                             f"{len(data) - most} byte(s)")
