"""mktme_lite: a small, faithful simulator of Intel TME / MKTME (TME-MK) for teaching.

Layers (a lower layer never imports a higher one):

    base       errors, params (argument checks), dump (bytes as text), course (the lesson list)
    hardware   xts, address, keytable, memory, cache, machine
    kernel     mktme_lite.kernel (frames, direct map, processes, syscalls, swap, XPFO)
    scenarios  mktme_lite.scenarios (the lessons' experiments, returning frozen dataclasses)
    pictures   viz, widgets
    lessons    checks, quiz, lesson

Import what you need from the submodules; the names re-exported here are the ones
every lesson uses.
"""

__version__ = "0.1.0"

from .address import ALG_AES_XTS_128, ALG_AES_XTS_256, AddressLayout, TMEActivate, TMECapability
from .errors import (
    AddressError,
    ConfigError,
    DataError,
    KeyIDError,
    KeyMaterialError,
    MKTMEError,
    PackageError,
    ParameterError,
)
from .keytable import KeyMode, PconfigCommand, PconfigStatus
from .machine import LINE, Event, Machine
from .xts import xts_decrypt, xts_encrypt

__all__ = [
    "ALG_AES_XTS_128", "ALG_AES_XTS_256", "AddressLayout", "TMEActivate", "TMECapability",
    "AddressError", "ConfigError", "DataError", "KeyIDError", "KeyMaterialError", "MKTMEError",
    "PackageError", "ParameterError", "KeyMode", "PconfigCommand", "PconfigStatus", "LINE", "Event", "Machine",
    "xts_encrypt", "xts_decrypt",
]
