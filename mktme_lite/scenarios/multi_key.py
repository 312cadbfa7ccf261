"""Lesson 02's experiments: the KeyID-bit budget and one PCONFIG run on the two-package console.

    from mktme_lite.scenarios import multi_key

    b = multi_key.budget(phys_bits=46, keyid_bits=6)      # -> Budget: 63 KeyIDs, 1 TiB each ...
    r = multi_key.pconfig_run(package="every", keyid=3, command=1)
    r.statuses, r.after[(3, 1)], r.dram[(3, 0)], r.disagreeing()

:func:`budget` computes from the engine's :class:`~mktme_lite.address.AddressLayout` and MSR
encodings, and refuses configurations that cannot exist (a BIOS writing them gets #GP, or loses
memory). :func:`pconfig_run` runs PCONFIG on a clone of a prepared two-package machine, then
stores a probe line through every KeyID shown into memory homed on each package and classifies
what DRAM got. The key tables are described with the simulator's key *fingerprints*: a debugging
aid that exists only in the simulator; on real hardware no software can read a key table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..address import (
    ALG_AES_XTS_128,
    ALG_AES_XTS_256,
    ALG_NAMES,
    AddressLayout,
    TMEActivate,
    TMECapability,
)
from ..errors import ParameterError
from ..keytable import KeyMode, PconfigCommand, PconfigStatus
from ..machine import LINE, Machine
from ..dump import format_bytes
from ..params import is_whole, shown, whole

__all__ = [
    "GIB", "TIB", "PHYS_BITS_MIN", "PHYS_BITS_MAX", "Budget", "budget", "dram_address_bits", "keyid_bits_allowed",
    "COMMANDS", "KEY_MATERIAL", "ENC_ALGS", "FAILURES", "STATUS_MEANING", "CONSOLE_SEED", "EVERY", "ConsoleResult",
    "pconfig_run",
]


GIB = 1 << 30

TIB = 1 << 40

#: Physical address widths (MAXPHYADDR) the widget offers and :func:`budget` accepts: one range for both.
PHYS_BITS_MIN, PHYS_BITS_MAX = 36, 52


@dataclass(frozen=True)
class Budget:
    """What ``keyid_bits`` of a ``phys_bits``-wide physical address buy and cost."""

    phys_bits: int
    keyid_bits: int
    max_keyid_bits: int
    dram_bytes: int
    keyid_shift: int  # lowest KeyID bit (Linux: mktme_keyid_shift)
    nr_keyids: int  # usable KeyIDs besides KeyID 0
    bytes_per_keyid: int  # what the address bits left over can reach
    lost_bytes: int  # address space given up to carry KeyIDs
    activate_value: int  # what the BIOS writes into IA32_TME_ACTIVATE
    capability_value: int  # what IA32_TME_CAPABILITY reads on this CPU
    example_keyid: int
    example_pa: int
    example_hpa: int

    @property
    def total_bytes(self) -> int:
        return 1 << self.phys_bits

    @property
    def dram_bits(self) -> int:
        """Address bits the installed DRAM needs (256 GiB: 38)."""
        return dram_address_bits(self.dram_bytes)

    @property
    def most_keyid_bits(self) -> int:
        """The most KeyID bits this machine could activate: the CPU's limit, or what the DRAM leaves."""
        return min(self.max_keyid_bits, self.phys_bits - self.dram_bits)

    @property
    def lost_fraction(self) -> float:
        return self.lost_bytes / self.total_bytes


def dram_address_bits(dram_bytes: int) -> int:
    """How many address bits reach ``dram_bytes`` of DRAM (16 GiB: 34; 17 GiB: 35)."""
    whole(dram_bytes, "dram_bytes")
    if dram_bytes <= 0:
        raise ParameterError(f"installed DRAM must be positive; got {dram_bytes}")
    return (dram_bytes - 1).bit_length()


def keyid_bits_allowed(phys_bits: int = 46, max_keyid_bits: int = 6, dram_bytes: int = 256 * GIB) -> int:
    """The most KeyID bits :func:`budget` accepts for this CPU and DRAM (0 when MKTME must stay off).

    The smaller of what the CPU enumerates (IA32_TME_CAPABILITY[35:32]) and what the address bits
    left over after the installed DRAM's can carry. :class:`ParameterError` when the DRAM does not
    fit into the physical address space at all, whatever the KeyID bits.
    """
    budget(phys_bits, 0, max_keyid_bits, dram_bytes)  # every check, with the one KeyID-bit count always allowed
    return min(max_keyid_bits, phys_bits - dram_address_bits(dram_bytes))


def budget(phys_bits: int = 46, keyid_bits: int = 6, max_keyid_bits: int = 6,
           dram_bytes: int = 256 * GIB) -> Budget:
    """The KeyID budget of one configuration, or :class:`ParameterError` if it cannot exist.

    Refused: more KeyID bits than the 4-bit field holds or than the CPU enumerates (a BIOS
    writing them gets #GP on WRMSR), and configurations whose remaining address bits cannot
    reach the installed DRAM.
    """
    for name, value in (("phys_bits", phys_bits), ("keyid_bits", keyid_bits), ("max_keyid_bits", max_keyid_bits),
                        ("dram_bytes", dram_bytes)):
        whole(value, name)
    if not PHYS_BITS_MIN <= phys_bits <= PHYS_BITS_MAX:
        raise ParameterError(f"physical address bits (MAXPHYADDR) must be {PHYS_BITS_MIN} to {PHYS_BITS_MAX} "
                               f"here ({PHYS_BITS_MAX} is the most x86-64 allows); got {phys_bits}")
    if not 0 <= keyid_bits <= 15:
        raise ParameterError(f"IA32_TME_ACTIVATE[35:32] is a 4-bit field: 0 to 15 KeyID bits; got {keyid_bits}")
    if not 1 <= max_keyid_bits <= 15:
        raise ParameterError(f"IA32_TME_CAPABILITY[35:32] is a 4-bit field: 1 to 15; got {max_keyid_bits}")
    if keyid_bits > max_keyid_bits:
        raise ParameterError(
            f"this CPU enumerates at most {max_keyid_bits} KeyID bits (IA32_TME_CAPABILITY[35:32] = "
            f"{max_keyid_bits}); a BIOS that writes {keyid_bits} into IA32_TME_ACTIVATE[35:32] gets #GP. "
            f"Choose at most {max_keyid_bits} KeyID bits, or a CPU that allows more (max_keyid_bits).")
    need = dram_address_bits(dram_bytes)
    if need > phys_bits:  # no KeyID bit count helps: the machine cannot address its own DRAM
        raise ParameterError(
            f"the {format_bytes(dram_bytes)} of installed DRAM needs {need} address bits, but a {phys_bits}-bit "
            f"physical address reaches only {format_bytes(1 << phys_bits)}, even with no KeyID bits: no machine "
            f"has more DRAM than its physical address space. Choose at most {format_bytes(1 << phys_bits)} of "
            f"DRAM, or at least {need} physical address bits.")
    left = phys_bits - keyid_bits
    if need > left:
        most = phys_bits - need
        can = (f"it can activate at most {most} KeyID bit{'s' if most != 1 else ''} on this machine" if most else
               "it cannot activate any KeyID bit on this machine: MKTME stays off, only KeyID 0 (TME)")
        raise ParameterError(
            f"{keyid_bits} KeyID bit{'s' if keyid_bits != 1 else ''} leave {left} address bits, which reach "
            f"{format_bytes(1 << left)}; the {format_bytes(dram_bytes)} of installed DRAM needs {need}. The BIOS "
            f"would lose memory, so {can}.")
    try:
        layout = AddressLayout(phys_bits, keyid_bits)
    except Exception as exc:  # the engine's own limits, said in its own words
        raise ParameterError(str(exc)) from None
    example_keyid = min(5, layout.nr_keyids)
    example_pa = 0x1040
    return Budget(
        phys_bits=phys_bits,
        keyid_bits=keyid_bits,
        max_keyid_bits=max_keyid_bits,
        dram_bytes=dram_bytes,
        keyid_shift=layout.keyid_shift,
        nr_keyids=layout.nr_keyids,
        bytes_per_keyid=layout.addressable_bytes,
        lost_bytes=layout.lost_bytes,
        activate_value=TMEActivate(keyid_bits=keyid_bits).value,
        capability_value=TMECapability(max_keyid_bits=max_keyid_bits, max_keys=(1 << max_keyid_bits) - 1).value,
        example_keyid=example_keyid,
        example_pa=example_pa,
        example_hpa=layout.hpa(example_pa, example_keyid),
    )

#: Command choices: KEYID_CTRL[7:0]. 4 is not a command (to see INVALID_PROG_CMD).
COMMANDS: dict[int, str] = {
    0: "0 KEYID_SET_KEY_DIRECT",
    1: "1 KEYID_SET_KEY_RANDOM",
    2: "2 KEYID_CLEAR_KEY",
    3: "3 KEYID_NO_ENCRYPT",
    4: "4 (no such command)",
}

#: Key material for KEY_FIELD_1/KEY_FIELD_2: a key (SET_KEY_DIRECT) or extra entropy (SET_KEY_RANDOM).
KEY_MATERIAL: dict[str, tuple[str, bytes | None, bytes | None]] = {
    "none": ("none (fields left empty)", None, None),
    "key_a": ("software key A", bytes.fromhex("000102030405060708090a0b0c0d0e0f"),
              bytes.fromhex("f0e0d0c0b0a090807060504030201000")),
    "key_b": ("software key B", bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"),
              bytes.fromhex("3243f6a8885a308d313198a2e0370734")),
}

#: ENC_ALG choices: KEYID_CTRL[23:8] (bit i <-> IA32_TME_ACTIVATE bit 48 + i).
ENC_ALGS: dict[str, tuple[str, int]] = {
    "aes128": ("AES-XTS-128 (activated)", ALG_AES_XTS_128),
    "none": ("none: 0, like the RFC's clear/no-encrypt payloads", 0),
    "aes256": ("AES-XTS-256 (not activated on this machine)", ALG_AES_XTS_256),
}

#: Transient failures a lesson can inject before the PCONFIG runs.
FAILURES: dict[str, tuple[str, PconfigStatus | None]] = {
    "none": ("none", None),
    "busy": ("DEVICE_BUSY once (key-table lock held)", PconfigStatus.DEVICE_BUSY),
    "entropy": ("ENTROPY_ERROR once (the RNG ran dry)", PconfigStatus.ENTROPY_ERROR),
}

#: One line per return code (2018 semantics), and what today's SDM does instead.
STATUS_MEANING: dict[PconfigStatus, str] = {
    PconfigStatus.PROG_SUCCESS: "the KeyID is programmed on this package.",
    PconfigStatus.INVALID_PROG_CMD: "no such command; nothing changed. Today's SDM raises #GP(0) instead.",
    PconfigStatus.ENTROPY_ERROR: "the RNG had too little entropy; nothing changed. Retry.",
    PconfigStatus.INVALID_KEYID: "KeyID 0 (always TME) or a KeyID this machine does not have; nothing changed. "
                                 "Today's SDM raises #GP(0) instead.",
    PconfigStatus.INVALID_ENC_ALG: "ENC_ALG is not exactly one algorithm activated in IA32_TME_ACTIVATE[63:48]; "
                                   "nothing changed. Today's SDM raises #GP(0) instead.",
    PconfigStatus.DEVICE_BUSY: "another logical processor holds the key-table lock; nothing changed. Retry.",
}

CONSOLE_SEED = 2019

_CONSOLE_DRAM = 2 * 4096  # one page homed on each package

_PROBE = b"probe line: is this readable?".ljust(LINE, b".")

EVERY = "every"


@lru_cache(maxsize=1)
def _console_machine() -> Machine:
    """Two packages; KeyID 1 has a CPU key on both (one per package), KeyID 2 is NO_ENCRYPT on both.

    Never modified: every console run works on a clone.
    """
    m = Machine(packages=2, dram_bytes=_CONSOLE_DRAM, seed=CONSOLE_SEED, trace=False)
    for p in range(m.packages):
        for keyid, command in ((1, PconfigCommand.KEYID_SET_KEY_RANDOM), (2, PconfigCommand.KEYID_NO_ENCRYPT)):
            status = m.pconfig(p, keyid, command)
            assert status is PconfigStatus.PROG_SUCCESS, status
    return m


def _probe_pa(m: Machine, package: int) -> int:
    """A line homed on ``package`` (its memory controller encrypts it)."""
    pa = package * (m.dram_bytes // m.packages) + LINE
    assert m.home_package(pa) == package
    return pa


@dataclass(frozen=True)
class ConsoleResult:
    """One console run: what PCONFIG returned on each package, and the tables before and after."""

    packages: tuple[int, ...]  # where PCONFIG ran, in order
    keyid: int
    command: int
    enc_alg: int
    keyid_ctrl: int
    statuses: tuple[PconfigStatus, ...]  # one per entry of ``packages``
    rows: tuple[int, ...]  # KeyIDs shown
    before: dict  # (keyid, package) -> entry description
    after: dict
    modes: dict  # (keyid, package) -> KeyMode after the run
    dram: dict  # (keyid, package) -> "plaintext" | "tme" | "own key", computed by a store + flush

    @property
    def changed(self) -> set:
        return {kp for kp in self.after if self.after[kp] != self.before[kp]}

    def disagreeing(self) -> list[int]:
        """KeyIDs whose packages would store their memory differently (the danger of one package)."""
        pk = sorted({p for _, p in self.dram})
        return [k for k in self.rows if len({self.dram[(k, p)] for p in pk}) > 1]


def _describe(m: Machine, keyid: int, package: int) -> str:
    if keyid == 0:
        return "the TME key (KeyID 0 is never programmed)"
    entry = m.tables[package].entry(keyid)
    if entry.mode is KeyMode.KEY:
        return f"own key #{entry.fingerprint} ({ALG_NAMES.get(entry.alg, '?')}, {entry.source})"
    if entry.mode is KeyMode.NO_ENCRYPT:
        return "no encryption"
    return "TME behaviour (as KeyID 0)"


def pconfig_run(package: int | str = 0, keyid: int = 3, command: int = 1, key: str = "none",
                enc_alg: str = "aes128", failure: str = "none") -> ConsoleResult:
    """Run PCONFIG on ``package`` (0, 1 or ``"every"``) on a clone of the console machine.

    Then, for every KeyID shown and every package, store a probe line through that KeyID into
    memory homed on that package, flush it, and classify what DRAM holds by comparing it with
    the plaintext and with what KeyID 0 (the TME key) stores at the same address.
    """
    base = _console_machine()
    if isinstance(package, str) and package == EVERY:
        targets = tuple(range(base.packages))
    elif is_whole(package) and 0 <= package < base.packages:
        targets = (package,)
    else:
        raise ParameterError(f"package must be 0, 1 or {EVERY!r}; got {shown(package)}")
    if not is_whole(keyid) or not 0 <= keyid <= 0xFFFF:
        raise ParameterError(f"KEYID is a 16-bit field: a whole number from 0 to 65535; got {shown(keyid)}")
    if not is_whole(command) or command not in COMMANDS:
        raise ParameterError(f"command must be one of the whole numbers {', '.join(map(str, COMMANDS))} "
                               f"(KEYID_CTRL[7:0]); got {shown(command)}")
    for what, value, allowed in (("key material", key, KEY_MATERIAL), ("ENC_ALG", enc_alg, ENC_ALGS),
                                 ("failure", failure, FAILURES)):
        if not isinstance(value, str) or value not in allowed:
            raise ParameterError(f"{what} must be one of the names {', '.join(map(repr, allowed))}; "
                                   f"got {shown(value)}")
    _, data_key, tweak_key = KEY_MATERIAL[key]
    alg = ENC_ALGS[enc_alg][1]
    if command == PconfigCommand.KEYID_SET_KEY_DIRECT and data_key is None:
        raise ParameterError("KEYID_SET_KEY_DIRECT programs the key you give it; choose 'software key A' or "
                               "'B' as key material (KEY_FIELD_1 is the data key, KEY_FIELD_2 the tweak key).")
    if command in (PconfigCommand.KEYID_CLEAR_KEY, PconfigCommand.KEYID_NO_ENCRYPT, 4):
        data_key = tweak_key = None  # these commands ignore the key fields
    m = base.clone()
    keyids = sorted({0, 1, 2} | ({keyid} if 1 <= keyid <= m.nr_keyids else set()))
    before = {(k, p): _describe(m, k, p) for k in keyids for p in range(m.packages)}
    status_fail = FAILURES[failure][1]
    if status_fail is not None:
        m.inject_pconfig_status(targets[-1], status_fail)
    statuses = tuple(m.pconfig(p, keyid, command, data_key, tweak_key, enc_alg=alg) for p in targets)
    after = {(k, p): _describe(m, k, p) for k in keyids for p in range(m.packages)}
    modes = {(k, p): m.tables[p].entry(k).mode for k in keyids for p in range(m.packages)}
    dram = {}
    for p in range(m.packages):
        pa = _probe_pa(m, p)
        tme = m.hpa(pa, 0)
        m.store(tme, _PROBE)
        m.clflush(tme)
        tme_ct = m.dram(pa)
        for k in keyids:
            hpa = m.hpa(pa, k)
            m.store(hpa, _PROBE)
            m.clflush(hpa)
            got = m.dram(pa)
            dram[(k, p)] = "plaintext" if got == _PROBE else "tme" if got == tme_ct else "own key"
    return ConsoleResult(targets, keyid, int(command), alg, (int(command) & 0xFF) | (alg << 8), statuses,
                         tuple(keyids), before, after, modes, dram)
