"""The ``"mktme"`` key type: user keys <-> hardware KeyIDs, programmed with PCONFIG.

This follows Alison Schofield's RFC v2 10/13 (Dec 2018, ``security/keys/mktme_keys.c``) and
the later kas tree where the RFC left something open:

* Payload: ``type=user|cpu|clear|no-encrypt``, ``algorithm=aes-xts-128`` (the only algorithm),
  ``key=``/``tweak=`` as 32 hex characters (the 128-bit data and tweak keys for ``user``;
  optional extra entropy for ``cpu``). Parsing is strict and every rejection is EINVAL with the
  reason, as ``mktme_get_options()``/``mktme_check_options()`` return -EINVAL. Modelling
  choice: ``clear`` and ``no-encrypt`` refuse ``key=``/``tweak=`` (the RFC code ignored them).
* One key holds one hardware KeyID, handed out first-free (``mktme_map_get_free_keyid``);
  none left -> ENOKEY. Creating a key needs CAP_SYS_RESOURCE (EACCES otherwise).
* Programming runs PCONFIG on EVERY package (one lead CPU per package). The whole round is
  retried while a package answers ENTROPY_ERROR or DEVICE_BUSY, 10 rounds at most (the kas
  tree's ``int retries = 10; while (retries--)``); INVALID_PROG_CMD / INVALID_KEYID /
  INVALID_ENC_ALG are fatal; both endings give ENOKEY.
* ``type=cpu``: the kernel XORs its own random bytes into both entropy fields (as
  ``mktme_program_keyid`` did) and PCONFIG's KEYID_SET_KEY_RANDOM mixes in the CPU's RNG, so
  every package ends up with a *different* key for the same KeyID.

Key lifetime is the policy switch ``never_rekey_live_keyid``:

* ``False`` (as proposed): invalidating or revoking a key frees its KeyID at once, even while
  VMAs, pages and dirty cache lines still use it; the next ``add_key`` reprograms it. That is
  the situation of Andy's C7 point. (RFC v2 already counted VMAs per KeyID; this models the
  reading in which nothing holds the KeyID back. Modelling choice.)
* ``True`` (fixed, Dave Hansen 5 Dec): the KeyID stays reserved ("dying") until no VMA, present
  page or swapped page uses it. Before it is reused, lines of frames freed from it without a
  flush are flushed and the KeyID is reprogrammed to CLEAR_KEY on every package (the
  "de-program the key" mitigation of Documentation/x86/mktme/mktme_mitigations.rst).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..address import ALG_AES_XTS_128
from ..keytable import PconfigCommand, PconfigStatus
from .constants import EACCES, EBUSY, EINVAL, EKEYREVOKED, ENODEV, ENOKEY, PAGE_SIZE
from ..params import instance, is_whole, shown, whole
from .errors import SyscallError

if TYPE_CHECKING:  # pragma: no cover
    from .kernel import Kernel

KEY_TYPES = ("user", "cpu", "clear", "no-encrypt")
OPTIONS = ("type", "algorithm", "key", "tweak")
ALGORITHMS = {"aes-xts-128": ALG_AES_XTS_128}
MAX_PAYLOAD = 1024  # mktme_preparse_key: datalen > 1024 -> -EINVAL
PCONFIG_ROUNDS = 10
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")

COMMAND_OF_TYPE = {
    "user": PconfigCommand.KEYID_SET_KEY_DIRECT,
    "cpu": PconfigCommand.KEYID_SET_KEY_RANDOM,
    "clear": PconfigCommand.KEYID_CLEAR_KEY,
    "no-encrypt": PconfigCommand.KEYID_NO_ENCRYPT,
}


@dataclass(frozen=True)
class MKTMEPayload:
    """A parsed ``"mktme"`` payload."""

    type: str
    algorithm: str | None
    key: bytes | None
    tweak: bytes | None

    @property
    def command(self) -> PconfigCommand:
        return COMMAND_OF_TYPE[self.type]


def _einval(reason: str) -> SyscallError:
    return SyscallError(EINVAL, "add_key", reason)


def parse_mktme_payload(payload, activated_algs: int = ALG_AES_XTS_128) -> MKTMEPayload:
    """Parse an ``add_key("mktme", ...)`` payload strictly; raise EINVAL with the reason.

    ``activated_algs`` is IA32_TME_ACTIVATE[63:48]: an algorithm the BIOS did not activate is
    refused here, before any PCONFIG (as the 2019 ``mktme_get_options`` did).
    """
    activated_algs = whole(activated_algs, "activated_algs (IA32_TME_ACTIVATE[63:48])", 0, 0xFFFF, hex_=True)
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = bytes(payload).decode("ascii")
        except UnicodeDecodeError:
            raise _einval("the payload must be ASCII text such as 'type=cpu algorithm=aes-xts-128'") from None
    if not isinstance(payload, str):
        raise _einval(f"the payload must be a string such as 'type=cpu algorithm=aes-xts-128'; got {type(payload).__name__}")
    if not payload.strip():
        raise _einval("empty payload; give at least type= and, for user/cpu keys, algorithm=aes-xts-128")
    if len(payload) > MAX_PAYLOAD:
        raise _einval(f"payload is {len(payload)} bytes; the key service accepts at most {MAX_PAYLOAD}")
    seen: dict[str, str] = {}
    for token in re.split(r"[ \t]+", payload.strip()):
        name, sep, value = token.partition("=")
        if not sep or name not in OPTIONS:
            raise _einval(f"unknown option {token!r}; options are type=, algorithm=, key=, tweak=")
        if name in seen:
            raise _einval(f"duplicate option {name}=; give each option once")
        if not value:
            raise _einval(f"option {name}= has no value")
        seen[name] = value
    if "type" not in seen:
        raise _einval("missing type=; choose type=" + "|".join(KEY_TYPES))
    ktype = seen["type"]
    if ktype not in KEY_TYPES:
        raise _einval(f"unknown key type {ktype!r}; choose one of {', '.join(KEY_TYPES)}")
    alg = seen.get("algorithm")
    if alg is not None:
        if alg not in ALGORITHMS:
            raise _einval(f"unknown algorithm {alg!r}; the only algorithm is aes-xts-128")
        if not ALGORITHMS[alg] & activated_algs:
            raise _einval(f"algorithm {alg} is not activated on this platform (IA32_TME_ACTIVATE[63:48])")
    if ktype in ("clear", "no-encrypt"):
        given = [n + "=" for n in ("key", "tweak") if n in seen]
        if given:
            raise _einval(f"type={ktype} takes no key material; remove {' and '.join(given)}")
    keys: dict[str, bytes | None] = {"key": None, "tweak": None}
    for name in keys:
        text = seen.get(name)
        if text is None:
            continue
        if len(text) != 32:
            raise _einval(f"{name}= must be 32 hex characters (16 bytes for AES-XTS-128); got {len(text)} characters")
        if not _HEX32.fullmatch(text):
            raise _einval(f"{name}= is not hexadecimal: {text!r}")
        keys[name] = bytes.fromhex(text)
    if ktype in ("user", "cpu") and alg is None:
        raise _einval(f"type={ktype} needs algorithm=aes-xts-128")
    if ktype == "user" and (keys["key"] is None or keys["tweak"] is None):
        missing = " and ".join(n + "=" for n in ("key", "tweak") if keys[n] is None)
        raise _einval(f"type=user needs both key= and tweak= (32 hex characters each); missing {missing}")
    return MKTMEPayload(ktype, alg, keys["key"], keys["tweak"])


@dataclass
class MKTMEKey:
    """A key in the kernel's key service (what ``keyctl show`` would list)."""

    serial: int
    description: str
    payload: MKTMEPayload
    keyid: int
    state: str = "valid"  # "valid" | "revoked" | "invalidated"

    def info(self) -> dict:
        return {
            "serial": self.serial,
            "description": self.description,
            "type": self.payload.type,
            "keyid": self.keyid,
            "state": self.state,
        }


@dataclass
class KeyIDSlot:
    """One hardware KeyID as the key service sees it."""

    keyid: int
    state: str = "available"  # "available" | "assigned" | "dying"
    serial: int | None = None
    unflushed: set[int] = field(default_factory=set)  # frames freed from this KeyID without a flush
    programmed: int = 0  # how many times add_key/update programmed it


class KeyService:
    """The ``"mktme"`` key type and the KeyID table behind it."""

    def __init__(self, kernel: "Kernel"):
        self.kernel = kernel
        machine = kernel.machine
        usable = min(machine.nr_keyids, machine.capability.max_keys)
        self.slots = {k: KeyIDSlot(k) for k in range(1, usable + 1)}
        self.keys: dict[int, MKTMEKey] = {}
        self._next_serial = 1001

    # -- lookups -------------------------------------------------------------------------------------
    def lookup(self, serial, syscall: str) -> MKTMEKey:
        """The live key with this serial, or ENOKEY / EKEYREVOKED like ``lookup_user_key``."""
        if not is_whole(serial):
            raise SyscallError(ENOKEY, syscall, f"key serial must be a whole number (from add_key); got {shown(serial)}")
        serial = int(serial)
        key = self.keys.get(serial)
        if key is None:
            raise SyscallError(ENOKEY, syscall, f"no key with serial {serial} (never created, or invalidated)")
        if key.state == "revoked":
            raise SyscallError(EKEYREVOKED, syscall, f"key {serial} has been revoked")
        return key

    def keyid_of(self, serial: int) -> int:
        """The hardware KeyID behind a key serial."""
        return self.lookup(serial, "keyid_of").keyid

    def refs(self, keyid: int) -> dict[str, int]:
        """Who still uses ``keyid``: VMAs, present pages and swapped-out pages."""
        keyid = self.kernel.machine.layout.check_keyid(keyid)
        vmas = pages = swapped = 0
        for proc in self.kernel.processes.values():
            vmas += sum(1 for v in proc.vmas if v.keyid == keyid)
            for pte in proc.ptes.values():
                if pte.keyid != keyid:
                    continue
                if pte.frame is not None:
                    pages += 1
                elif pte.swap_slot is not None:
                    swapped += 1
        return {"vmas": vmas, "pages": pages, "swapped": swapped}

    def in_use(self, keyid: int) -> bool:
        return any(self.refs(keyid).values())

    def table(self) -> list[dict]:
        """The KeyID table: state, owning key and references of every KeyID."""
        out = []
        for keyid, slot in self.slots.items():
            row = {"keyid": keyid, "state": slot.state, "serial": slot.serial, "programmed": slot.programmed}
            row.update(self.refs(keyid))
            row["unflushed_frames"] = len(slot.unflushed)
            out.append(row)
        return out

    # -- add_key -----------------------------------------------------------------------------------------
    def add_key(self, key_type: str, description: str, payload, proc=None) -> int:
        """``add_key(key_type, description, payload)`` -> key serial."""
        if not isinstance(key_type, str) or key_type != "mktme":
            raise SyscallError(ENODEV, "add_key", f"key type {shown(key_type)} is not registered; this kernel has 'mktme'")
        if not isinstance(description, str) or not description:
            raise SyscallError(EINVAL, "add_key", f"the description must be a non-empty string; got {shown(description)}")
        if proc is not None:
            from .mm import Process

            instance(proc, Process, "proc (the calling process)")
        if proc is not None and not proc.privileged:
            raise SyscallError(
                EACCES, "add_key", f"process {proc.name!r} lacks CAP_SYS_RESOURCE (needed to create mktme keys)"
            )
        parsed = parse_mktme_payload(payload, self.kernel.machine.activate.crypto_algs)
        slot = next((s for s in self.slots.values() if s.state == "available"), None)
        if slot is None:
            dying = [s.keyid for s in self.slots.values() if s.state == "dying"]
            extra = f"; KeyIDs {dying} wait until nothing uses them" if dying else ""
            raise SyscallError(
                ENOKEY, "add_key", f"all {len(self.slots)} hardware KeyIDs are taken{extra}"
            )
        self._program(slot.keyid, parsed, "add_key")
        serial = self._next_serial
        self._next_serial += 1
        self.keys[serial] = MKTMEKey(serial, description, parsed, slot.keyid)
        slot.state, slot.serial = "assigned", serial
        slot.programmed += 1
        return serial

    def _entropy(self) -> bytes:
        return self.kernel.rng.bytes(16)

    def _program(self, keyid: int, parsed: MKTMEPayload, syscall: str) -> None:
        command = parsed.command
        data_key = tweak_key = None
        if command is PconfigCommand.KEYID_SET_KEY_DIRECT:
            data_key, tweak_key = parsed.key, parsed.tweak
        elif command is PconfigCommand.KEYID_SET_KEY_RANDOM:
            kern = self._entropy()  # mktme_program_keyid: the same kernel bytes XORed into both fields
            data_key = bytes(a ^ b for a, b in zip(parsed.key or bytes(16), kern))
            tweak_key = bytes(a ^ b for a, b in zip(parsed.tweak or bytes(16), kern))
        status = self.program_all(keyid, command, data_key, tweak_key)
        if status is not PconfigStatus.PROG_SUCCESS:
            raise SyscallError(
                ENOKEY,
                syscall,
                f"PCONFIG could not program KeyID {keyid}: {status.name} ({int(status)})"
                + (f" after {PCONFIG_ROUNDS} rounds" if status.retryable else ", a fatal code"),
            )

    def program_all(self, keyid: int, command: PconfigCommand, data_key=None, tweak_key=None) -> PconfigStatus:
        """Run PCONFIG on every package, retrying whole rounds on ENTROPY_ERROR/DEVICE_BUSY.

        Returns PROG_SUCCESS, the first fatal status, or the transient status of the last round.
        Modelling choice: AES-XTS-128 is passed as ENC_ALG for every command, including CLEAR_KEY
        and NO_ENCRYPT (the hardware model checks ENC_ALG for all of them).
        """
        machine = self.kernel.machine
        status = PconfigStatus.PROG_SUCCESS
        for _ in range(PCONFIG_ROUNDS):
            statuses = [
                machine.pconfig(p, keyid, command, data_key, tweak_key, ALG_AES_XTS_128)
                for p in range(machine.packages)
            ]
            if all(s is PconfigStatus.PROG_SUCCESS for s in statuses):
                return PconfigStatus.PROG_SUCCESS
            fatal = [s for s in statuses if s is not PconfigStatus.PROG_SUCCESS and not s.retryable]
            if fatal:
                return fatal[0]
            status = (
                PconfigStatus.DEVICE_BUSY if PconfigStatus.DEVICE_BUSY in statuses else PconfigStatus.ENTROPY_ERROR
            )
        return status

    # -- keyctl ----------------------------------------------------------------------------------------
    def keyctl_update(self, serial: int, payload) -> int:
        """``keyctl(KEYCTL_UPDATE)``: reprogram the key's KeyID (RFC v2 ``mktme_update_key``).

        Refused with EBUSY while anything else uses the KeyID (the RFC counted VMAs; with
        ``never_rekey_live_keyid`` pages count too).
        """
        key = self.lookup(serial, "keyctl_update")
        parsed = parse_mktme_payload(payload, self.kernel.machine.activate.crypto_algs)
        refs = self.refs(key.keyid)
        busy = refs["vmas"] + (refs["pages"] + refs["swapped"] if self.kernel.policy.never_rekey_live_keyid else 0)
        if busy:
            raise SyscallError(EBUSY, "keyctl_update", f"KeyID {key.keyid} is in use ({refs}); unmap it first")
        self._program(key.keyid, parsed, "keyctl_update")
        key.payload = parsed
        self.slots[key.keyid].programmed += 1
        return 0

    def keyctl_invalidate(self, serial: int) -> int:
        """``keyctl(KEYCTL_INVALIDATE)``: the key disappears; its KeyID is released per policy."""
        key = self.keys.get(int(serial)) if is_whole(serial) else None
        if key is None:
            raise SyscallError(ENOKEY, "keyctl_invalidate", f"no key with serial {shown(serial)}")
        serial = key.serial
        key.state = "invalidated"
        del self.keys[serial]
        self._kill(key)
        return 0

    def keyctl_revoke(self, serial: int) -> int:
        """``keyctl(KEYCTL_REVOKE)``: the serial stays but every use gets EKEYREVOKED."""
        key = self.lookup(serial, "keyctl_revoke")
        key.state = "revoked"
        self._kill(key)
        return 0

    def _kill(self, key: MKTMEKey) -> None:
        slot = self.slots[key.keyid]
        if slot.serial == key.serial:
            slot.state, slot.serial = "dying", None
        self.maybe_release()

    # -- KeyID release ----------------------------------------------------------------------------------
    def note_unflushed(self, keyid: int, frame_index: int) -> None:
        """A frame left ``keyid`` without its lines being flushed (recorded for a safe release)."""
        slot = self.slots.get(keyid)
        if slot is not None:
            slot.unflushed.add(frame_index)

    def maybe_release(self) -> None:
        """Release every dying KeyID that the policy allows to be reused now."""
        for slot in self.slots.values():
            if slot.state != "dying":
                continue
            if self.kernel.policy.never_rekey_live_keyid and self.in_use(slot.keyid):
                continue
            self._release(slot)

    def _release(self, slot: KeyIDSlot) -> None:
        kernel = self.kernel
        machine = kernel.machine
        if kernel.policy.never_rekey_live_keyid:
            for index in sorted(slot.unflushed):
                machine.flush_range(machine.hpa(index * PAGE_SIZE, slot.keyid), PAGE_SIZE)
            self.program_all(slot.keyid, PconfigCommand.KEYID_CLEAR_KEY)
            how = "flushed and reprogrammed to CLEAR_KEY"
        else:
            how = "released at once (still in use: %s)" % self.refs(slot.keyid)
        slot.unflushed.clear()
        slot.state, slot.serial = "available", None
        machine.emit("keyid_release", None, None, slot.keyid, how)

    def describe(self, serial: int) -> dict:
        return self.lookup(serial, "describe").info()

    def __repr__(self) -> str:
        used = sum(1 for s in self.slots.values() if s.state != "available")
        return f"KeyService({len(self.keys)} keys, {used}/{len(self.slots)} KeyIDs in use)"

