"""Physical addresses with KeyID bits, and the TME model-specific registers.

When MKTME is activated, the top ``keyid_bits`` bits of the ``phys_bits``-wide physical
address stop being address bits and carry the KeyID instead (Intel spec; Linux's
``mktme_keyid_shift = x86_phys_bits - keyid_bits``). CPUID's MAXPHYADDR is *not* reduced,
so software must subtract the KeyID bits itself. The price of every KeyID bit is half of the
addressable physical memory.

The full address, KeyID included, is called the *host physical address* (``hpa``) in this
course; the address with the KeyID stripped (``pa``) is what indexes DRAM and what the XTS
tweak is built from.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import AddressError, ConfigError, KeyIDError
from .params import flag, whole

__all__ = [
    "AddressLayout", "TMECapability", "TMEActivate", "IA32_TME_CAPABILITY", "IA32_TME_ACTIVATE",
    "IA32_TME_EXCLUDE_MASK", "IA32_TME_EXCLUDE_BASE", "ALG_AES_XTS_128", "ALG_AES_XTS_256", "ALG_NAMES",
    "ALG_KEY_BYTES", "IA32_MKTME_KEYID_PARTITIONING", "KeyIDPartition",
]

IA32_TME_CAPABILITY = 0x981
IA32_TME_ACTIVATE = 0x982
IA32_TME_EXCLUDE_MASK = 0x983
IA32_TME_EXCLUDE_BASE = 0x984
#: TDX platforms: how the BIOS split the KeyIDs between MKTME and TDX (IA32_MKTME_KEYID_PARTITIONING, MSR 0x87; Linux arch/x86/virt/vmx/tdx/tdx.c).
IA32_MKTME_KEYID_PARTITIONING = 0x87

#: Algorithm bits as they appear in IA32_TME_CAPABILITY[3:0], IA32_TME_ACTIVATE[63:48] and
#: PCONFIG's KEYID_CTRL.ENC_ALG field (bit i of ENC_ALG <-> IA32_TME_ACTIVATE bit 48+i).
ALG_AES_XTS_128 = 1 << 0
ALG_AES_XTS_256 = 1 << 2
ALG_NAMES = {ALG_AES_XTS_128: "AES-XTS-128", ALG_AES_XTS_256: "AES-XTS-256"}
ALG_KEY_BYTES = {ALG_AES_XTS_128: 16, ALG_AES_XTS_256: 32}


def _bits(value: int, lo: int, hi: int) -> int:
    return (value >> lo) & ((1 << (hi - lo + 1)) - 1)


@dataclass(frozen=True)
class AddressLayout:
    """Where the KeyID lives in a physical address, for one activated configuration."""

    phys_bits: int = 46
    keyid_bits: int = 6

    def __post_init__(self):
        # Normalised through the shared checks: True is no bit count, a numpy integer is one.
        object.__setattr__(self, "phys_bits", whole(self.phys_bits, "phys_bits (x86-64 MAXPHYADDR)", 32, 52))
        object.__setattr__(self, "keyid_bits", whole(
            self.keyid_bits, "keyid_bits (IA32_TME_ACTIVATE[35:32] is 4 bits)", 0, 15))
        if self.phys_bits - self.keyid_bits < 24:
            raise ConfigError(
                f"{self.keyid_bits} KeyID bits leave only {self.phys_bits - self.keyid_bits} address bits; keep at least 24"
            )

    @property
    def keyid_shift(self) -> int:
        """Bit position of the lowest KeyID bit (Linux: ``mktme_keyid_shift``)."""
        return self.phys_bits - self.keyid_bits

    @property
    def keyid_mask(self) -> int:
        """Mask of the KeyID bits inside a physical address (Linux: ``mktme_keyid_mask``)."""
        return ((1 << self.keyid_bits) - 1) << self.keyid_shift

    @property
    def nr_keyids(self) -> int:
        """Usable KeyIDs besides KeyID 0 (Linux: ``mktme_nr_keyids = 2^bits - 1``)."""
        return (1 << self.keyid_bits) - 1

    @property
    def addressable_bytes(self) -> int:
        """Physical memory still addressable once the KeyID bits are taken out."""
        return 1 << self.keyid_shift

    @property
    def lost_bytes(self) -> int:
        """Physical address space given up to carry KeyIDs."""
        return (1 << self.phys_bits) - self.addressable_bytes

    def check_keyid(self, keyid: int) -> int:
        """``keyid`` as an int when this machine has it; a KeyIDError naming the range if not."""
        if type(keyid) is not int:
            keyid = whole(keyid, "keyid")
        if not 0 <= keyid <= self.nr_keyids:
            need = max(1, int(keyid).bit_length()) if keyid >= 0 else None
            extra = f"; keyid {keyid} needs {need} KeyID bits" if need else ""
            raise KeyIDError(
                f"keyid {keyid} is not available{extra}: this machine activated {self.keyid_bits} "
                f"KeyID bits, so KeyIDs are 0..{self.nr_keyids}"
            )
        return keyid

    def check_pa(self, pa: int) -> int:
        """``pa`` as an int when it fits below the KeyID bits; an AddressError saying why not."""
        if type(pa) is not int:
            pa = whole(pa, "physical address")
        if pa < 0:
            raise AddressError(f"physical address {pa} is negative; addresses are 0..{hex(self.addressable_bytes - 1)}")
        if pa >= self.addressable_bytes:
            raise AddressError(
                f"physical address {pa:#x} needs bit {pa.bit_length() - 1}, but bits {self.keyid_shift}-"
                f"{self.phys_bits - 1} carry the KeyID on this machine ({self.keyid_bits} KeyID bits of "
                f"{self.phys_bits}); addresses are 0..{self.addressable_bytes - 1:#x}"
            )
        return pa

    def hpa(self, pa: int, keyid: int = 0) -> int:
        """The full physical address the CPU uses: KeyID in the top bits, ``pa`` below."""
        pa = self.check_pa(pa)
        keyid = self.check_keyid(keyid)
        return (keyid << self.keyid_shift) | pa

    def split(self, hpa: int) -> tuple[int, int]:
        """Inverse of :meth:`hpa`: ``(pa, keyid)``."""
        if type(hpa) is not int:
            hpa = whole(hpa, "hpa (a full physical address)")
        if hpa < 0:
            raise AddressError(f"an hpa must be a non-negative int; got {hpa:#x}")
        if hpa >> self.phys_bits:
            raise AddressError(
                f"hpa {hpa:#x} has bits above bit {self.phys_bits - 1}; this machine has {self.phys_bits} physical address bits"
            )
        return hpa & (self.addressable_bytes - 1), hpa >> self.keyid_shift


def _check_fields(record, cls: str, widths: dict[str, int]) -> None:
    """Every bool field a real bool, every number field a whole number that fits its MSR field
    (``widths``: the largest value; a number field not listed is a 4-bit field). A frozen dataclass:
    the checked value is stored back with ``object.__setattr__``."""
    for f in fields(record):
        value = getattr(record, f.name)
        if f.type in (bool, "bool"):
            value = flag(value, f"{cls}.{f.name}")
        else:
            most = widths.get(f.name, 0xF)
            value = whole(value, f"{cls}.{f.name}", 0, most, hex_=most > 0xF)
        object.__setattr__(record, f.name, value)


@dataclass(frozen=True)
class TMECapability:
    """IA32_TME_CAPABILITY (MSR 0x981), read-only. Field layout from Intel's tdx-module headers."""

    aes_xts_128: bool = True
    aes_xts_128_integrity: bool = False
    aes_xts_256: bool = True
    aes_xts_256_integrity: bool = False
    bypass_supported: bool = True
    max_keyid_bits: int = 6
    max_keys: int = 63

    def __post_init__(self):
        _check_fields(self, "TMECapability", {"max_keyid_bits": 0xF, "max_keys": 0x7FFF})

    @property
    def value(self) -> int:
        v = (
            int(self.aes_xts_128)
            | int(self.aes_xts_128_integrity) << 1
            | int(self.aes_xts_256) << 2
            | int(self.aes_xts_256_integrity) << 3
            | int(self.bypass_supported) << 31
            | (self.max_keyid_bits & 0xF) << 32
            | (self.max_keys & 0x7FFF) << 36
        )
        return v

    @classmethod
    def decode(cls, value: int) -> "TMECapability":
        value = whole(value, "IA32_TME_CAPABILITY value (a 64-bit MSR)", 0, (1 << 64) - 1, hex_=True)
        return cls(
            aes_xts_128=bool(_bits(value, 0, 0)),
            aes_xts_128_integrity=bool(_bits(value, 1, 1)),
            aes_xts_256=bool(_bits(value, 2, 2)),
            aes_xts_256_integrity=bool(_bits(value, 3, 3)),
            bypass_supported=bool(_bits(value, 31, 31)),
            max_keyid_bits=_bits(value, 32, 35),
            max_keys=_bits(value, 36, 50),
        )


@dataclass(frozen=True)
class TMEActivate:
    """IA32_TME_ACTIVATE (MSR 0x982), written once by the BIOS and then locked."""

    lock: bool = True
    enable: bool = True
    key_select: int = 0  # 0: new TME key generated at boot; 1: restored after standby
    save_key: bool = False
    policy: int = 0  # KeyID-0 algorithm: 0 = AES-XTS-128, 2 = AES-XTS-256
    bypass: bool = False
    keyid_bits: int = 6
    crypto_algs: int = ALG_AES_XTS_128  # algorithms allowed for KeyIDs >= 1 (bits 63:48)
    tdx_keyid_bits: int = 0  # TDX_RESERVED_KEYID_BITS (39:36): top KeyID bits kept for TDX private KeyIDs

    def __post_init__(self):
        _check_fields(self, "TMEActivate", {"key_select": 1, "policy": 0xF, "keyid_bits": 0xF,
                                            "crypto_algs": 0xFFFF})

    @property
    def value(self) -> int:
        return (
            int(self.lock)
            | int(self.enable) << 1
            | (self.key_select & 1) << 2
            | int(self.save_key) << 3
            | (self.policy & 0xF) << 4
            | int(self.bypass) << 31
            | (self.keyid_bits & 0xF) << 32
            | (self.tdx_keyid_bits & 0xF) << 36
            | (self.crypto_algs & 0xFFFF) << 48
        )

    @classmethod
    def decode(cls, value: int) -> "TMEActivate":
        value = whole(value, "IA32_TME_ACTIVATE value (a 64-bit MSR)", 0, (1 << 64) - 1, hex_=True)
        return cls(
            lock=bool(_bits(value, 0, 0)),
            enable=bool(_bits(value, 1, 1)),
            key_select=_bits(value, 2, 2),
            save_key=bool(_bits(value, 3, 3)),
            policy=_bits(value, 4, 7),
            bypass=bool(_bits(value, 31, 31)),
            keyid_bits=_bits(value, 32, 35),
            crypto_algs=_bits(value, 48, 63),
            tdx_keyid_bits=_bits(value, 36, 39),
        )


@dataclass(frozen=True)
class KeyIDPartition:
    """IA32_MKTME_KEYID_PARTITIONING (MSR 0x87) on TDX platforms: bits 31:0 the number of MKTME
    KeyIDs, bits 63:32 the number of TDX private KeyIDs. Private KeyIDs start right after the
    last MKTME KeyID (Linux ``tdx.c``: ``nr_mktme_keyids + 1``); only software in SEAM mode (the
    TDX module) may use them ("only accessible within the SEAM mode", ``Documentation/arch/x86/tdx.rst``);
    what hardware does when the host uses one is not in the course's sources, and the Machine refuses
    it with a KeyIDError (a modelling choice). Example: 6 KeyID bits, 2 of them kept for TDX, give MKTME
    KeyIDs 1-15 and the private range [16, 64), as Linux logs it."""

    mktme_keyids: int
    tdx_keyids: int = 0

    @classmethod
    def split(cls, keyid_bits: int, tdx_keyid_bits: int) -> "KeyIDPartition":
        """The split the BIOS makes when it keeps the top ``tdx_keyid_bits`` KeyID bits for TDX."""
        keyid_bits = whole(keyid_bits, "keyid_bits", 0, 15)
        tdx_keyid_bits = whole(tdx_keyid_bits, f"tdx_keyid_bits (top KeyID bits kept for TDX; keyid_bits={keyid_bits})",
                               0, keyid_bits)
        mktme = (1 << (keyid_bits - tdx_keyid_bits)) - 1
        return cls(mktme, (1 << keyid_bits) - 1 - mktme)

    @property
    def value(self) -> int:
        return (self.mktme_keyids & 0xFFFFFFFF) | (self.tdx_keyids & 0xFFFFFFFF) << 32

    @classmethod
    def decode(cls, value: int) -> "KeyIDPartition":
        value = whole(value, "IA32_MKTME_KEYID_PARTITIONING value (a 64-bit MSR)", 0, (1 << 64) - 1, hex_=True)
        return cls(_bits(value, 0, 31), _bits(value, 32, 63))

    @property
    def private_range(self) -> range:
        """The TDX private KeyIDs (empty when the BIOS kept none)."""
        first = self.mktme_keyids + 1
        return range(first, first + self.tdx_keyids)

    def is_private(self, keyid: int) -> bool:
        return keyid in self.private_range

    def __str__(self) -> str:
        if not self.tdx_keyids:
            return f"MKTME KeyIDs 1-{self.mktme_keyids}, no TDX private KeyIDs"
        r = self.private_range
        mktme = f"MKTME KeyIDs 1-{self.mktme_keyids}" if self.mktme_keyids else "no MKTME KeyIDs"
        return f"{mktme}; TDX private KeyID range: [{r.start}, {r.stop})"
