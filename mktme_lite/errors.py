"""One error family for the whole simulator.

Every message says what was wrong *and* what is allowed, because the reader is usually a
learner who typed a value into a notebook cell or a widget, not a developer with a debugger.
"""

from __future__ import annotations


class MKTMEError(Exception):
    """Base class of every error the simulator raises on bad input or a forbidden operation."""


class AddressError(MKTMEError):
    """A physical address is out of range, misaligned, or collides with the KeyID bits."""


class KeyIDError(MKTMEError):
    """A KeyID does not fit in the activated KeyID bits (or is otherwise not usable)."""


class KeyMaterialError(MKTMEError):
    """A key has the wrong length or type for the chosen algorithm."""


class PackageError(MKTMEError):
    """A package (socket) number that this machine does not have."""


class ConfigError(MKTMEError):
    """A machine or cache was configured with impossible parameters."""


class DataError(MKTMEError):
    """Data of the wrong type or length was handed to a load, store or cipher."""


class ParameterError(MKTMEError, ValueError):
    """An argument of the wrong kind or out of its range, raised by :mod:`mktme_lite.params`.

    One class for every "you passed the wrong thing" across the hardware, the kernel, the
    scenarios and the widgets, so a lesson (or a widget shell) catches one family. It is also a
    ``ValueError``, as Python's own argument checks are."""
