"""The "mktme" key type: strict payload parsing, KeyID allocation, PCONFIG on every package, retries."""

import pytest

from mktme_lite import ALG_AES_XTS_256, Machine
from mktme_lite.keytable import KeyMode, PconfigStatus
from mktme_lite.kernel import (
    EACCES,
    EBUSY,
    EINVAL,
    ENODEV,
    ENOKEY,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Kernel,
    Policy,
    SyscallError,
    parse_mktme_payload,
)

RW = PROT_READ | PROT_WRITE
KEY = "00112233445566778899aabbccddeeff"
TWEAK = "ffeeddccbbaa99887766554433221100"


def boot(policy=None, **kw):
    kw.setdefault("dram_bytes", 128 * 1024)
    m = Machine(**kw)
    return m, Kernel(m, policy or Policy.fixed())


@pytest.mark.parametrize(
    "payload, reason",
    [
        ("", "empty payload"),
        ("   ", "empty payload"),
        ("type=cpu algorithm=aes-xts-128 colour=blue", "unknown option 'colour=blue'"),
        ("type=cpu algorithm=aes-xts-128 key", "unknown option 'key'"),
        ("type=cpu type=cpu algorithm=aes-xts-128", "duplicate option type="),
        ("type=cpu algorithm=aes-xts-128 algorithm=aes-xts-128", "duplicate option algorithm="),
        ("algorithm=aes-xts-128", "missing type="),
        ("type=dram algorithm=aes-xts-128", "unknown key type 'dram'"),
        ("type= algorithm=aes-xts-128", "option type= has no value"),
        ("type=cpu", "type=cpu needs algorithm=aes-xts-128"),
        ("type=user key=%s tweak=%s" % (KEY, TWEAK), "type=user needs algorithm=aes-xts-128"),
        ("type=cpu algorithm=aes-xts-256", "unknown algorithm 'aes-xts-256'"),
        ("type=user algorithm=aes-xts-128 key=%s" % KEY, "missing tweak="),
        ("type=user algorithm=aes-xts-128 tweak=%s" % TWEAK, "missing key="),
        ("type=user algorithm=aes-xts-128 key=%s tweak=%s" % (KEY[:30], TWEAK), "got 30 characters"),
        ("type=user algorithm=aes-xts-128 key=%s tweak=%s" % (KEY + "00", TWEAK), "got 34 characters"),
        ("type=user algorithm=aes-xts-128 key=%s tweak=%s" % ("zz" + KEY[2:], TWEAK), "key= is not hexadecimal"),
        ("type=cpu algorithm=aes-xts-128 tweak=%s" % ("g" * 32), "tweak= is not hexadecimal"),
        ("type=no-encrypt key=%s" % KEY, "type=no-encrypt takes no key material; remove key="),
        ("type=clear tweak=%s" % TWEAK, "type=clear takes no key material; remove tweak="),
        ("type=no-encrypt key=00", "type=no-encrypt takes no key material; remove key="),
        ("x" * 1025, "at most 1024"),
        (b"type=cpu \xff", "ASCII"),
        (42, "must be a string"),
    ],
)
def test_malformed_payloads_are_einval_with_the_reason(payload, reason):
    m, k = boot()
    with pytest.raises(SyscallError) as e:
        k.add_key("mktme", "bad", payload)
    assert e.value.errno == EINVAL
    assert reason in e.value.reason
    assert all(s.state == "available" for s in k.keys.slots.values())
    assert m.counters["pconfig"] == 0  # rejected before any PCONFIG


@pytest.mark.parametrize(
    "payload, mode",
    [
        ("type=cpu algorithm=aes-xts-128", KeyMode.KEY),
        ("type=cpu\talgorithm=aes-xts-128  key=%s tweak=%s" % (KEY, TWEAK), KeyMode.KEY),  # entropy
        ("type=user algorithm=aes-xts-128 key=%s tweak=%s" % (KEY, TWEAK), KeyMode.KEY),
        ("type=clear", KeyMode.TME),
        ("type=no-encrypt", KeyMode.NO_ENCRYPT),
        ("type=no-encrypt algorithm=aes-xts-128", KeyMode.NO_ENCRYPT),
    ],
)
def test_valid_payloads_program_every_package(payload, mode):
    m, k = boot(packages=2)
    serial = k.add_key("mktme", "good", payload)
    keyid = k.keys.keyid_of(serial)
    assert keyid == 1
    assert [m.key_mode(p, keyid) for p in range(2)] == [mode, mode]
    assert m.counters["pconfig"] == 2


def test_user_key_gives_the_same_key_on_every_package_cpu_key_does_not():
    m, k = boot(packages=2)
    user = k.keys.keyid_of(k.add_key("mktme", "u", "type=user algorithm=aes-xts-128 key=%s tweak=%s" % (KEY, TWEAK)))
    cpu = k.keys.keyid_of(k.add_key("mktme", "c", "type=cpu algorithm=aes-xts-128"))
    views = [m.key_table_view(p) for p in range(2)]
    assert views[0][user] == views[1][user]
    assert views[0][cpu] != views[1][cpu]


def test_parse_returns_the_key_bytes():
    parsed = parse_mktme_payload("type=user algorithm=aes-xts-128 key=%s tweak=%s" % (KEY, TWEAK))
    assert parsed.key == bytes.fromhex(KEY) and parsed.tweak == bytes.fromhex(TWEAK)


def test_algorithm_not_activated_is_einval():
    with pytest.raises(SyscallError) as e:
        parse_mktme_payload("type=cpu algorithm=aes-xts-128", activated_algs=ALG_AES_XTS_256)
    assert e.value.errno == EINVAL and "not activated" in e.value.reason


def test_wrong_key_type_description_and_capability():
    m, k = boot()
    with pytest.raises(SyscallError) as e:
        k.add_key("user", "x", "type=cpu algorithm=aes-xts-128")
    assert e.value.errno == ENODEV
    with pytest.raises(SyscallError) as e:
        k.add_key("mktme", "", "type=cpu algorithm=aes-xts-128")
    assert e.value.errno == EINVAL
    nobody = k.spawn("nobody", privileged=False)
    with pytest.raises(SyscallError) as e:
        nobody.add_key("mktme", "x", "type=cpu algorithm=aes-xts-128")
    assert e.value.errno == EACCES


def test_keyids_are_first_free_and_run_out_with_enokey():
    m, k = boot(keyid_bits=2)  # KeyIDs 1..3
    serials = [k.add_key("mktme", f"k{i}", "type=cpu algorithm=aes-xts-128") for i in range(3)]
    assert [k.keys.keyid_of(s) for s in serials] == [1, 2, 3]
    with pytest.raises(SyscallError) as e:
        k.add_key("mktme", "one too many", "type=cpu algorithm=aes-xts-128")
    assert e.value.errno == ENOKEY and "all 3 hardware KeyIDs" in e.value.reason
    k.keyctl_invalidate(serials[1])  # unused: released at once under any policy
    assert k.keys.keyid_of(k.add_key("mktme", "again", "type=cpu algorithm=aes-xts-128")) == 2


@pytest.mark.parametrize("status", [PconfigStatus.DEVICE_BUSY, PconfigStatus.ENTROPY_ERROR])
@pytest.mark.parametrize("times, ok", [(1, True), (9, True), (10, False)])
def test_transient_pconfig_failures_are_retried_up_to_10_rounds(status, times, ok):
    m, k = boot(packages=2)
    m.inject_pconfig_status(1, status, times=times)
    if ok:
        serial = k.add_key("mktme", "k", "type=cpu algorithm=aes-xts-128")
        assert k.keys.keyid_of(serial) == 1
        assert m.key_mode(0, 1) is m.key_mode(1, 1) is KeyMode.KEY
        assert m.counters["pconfig"] == 2 * (times + 1)  # every round programs every package
    else:
        with pytest.raises(SyscallError) as e:
            k.add_key("mktme", "k", "type=cpu algorithm=aes-xts-128")
        assert e.value.errno == ENOKEY and status.name in e.value.reason and "10 rounds" in e.value.reason
        assert m.counters["pconfig"] == 2 * 10
        assert k.keys.slots[1].state == "available"


def test_a_fatal_pconfig_code_is_enokey_without_retry():
    # A platform that activated only AES-XTS-256: the key service asks for AES-XTS-128 and
    # PCONFIG answers INVALID_ENC_ALG (4), which is fatal.
    m, k = boot(packages=2, crypto_algs=ALG_AES_XTS_256)
    with pytest.raises(SyscallError) as e:
        k.add_key("mktme", "plain", "type=no-encrypt")
    assert e.value.errno == ENOKEY and "INVALID_ENC_ALG" in e.value.reason and "fatal" in e.value.reason
    assert m.counters["pconfig"] == 2  # one round, no retries
    assert k.keys.slots[1].state == "available"


def test_keyctl_update_refuses_a_keyid_in_use():
    m, k = boot()
    p = k.spawn("p")
    s = k.add_key("mktme", "k", "type=cpu algorithm=aes-xts-128")
    assert k.keyctl_update(s, "type=no-encrypt") == 0
    assert m.key_mode(0, 1) is KeyMode.NO_ENCRYPT
    va = p.mmap(PAGE_SIZE, RW)
    p.encrypt_mprotect(va, PAGE_SIZE, RW, s)
    with pytest.raises(SyscallError) as e:
        k.keyctl_update(s, "type=cpu algorithm=aes-xts-128")
    assert e.value.errno == EBUSY


@pytest.mark.parametrize("policy", [Policy.as_proposed(), Policy.fixed()], ids=lambda p: p.name)
def test_key_lifetime_follows_never_rekey_live_keyid(policy):
    m, k = boot(policy, keyid_bits=2)
    p = k.spawn("p")
    s = k.add_key("mktme", "k", "type=cpu algorithm=aes-xts-128")
    va = p.mmap(2 * PAGE_SIZE, RW)
    p.encrypt_mprotect(va, 2 * PAGE_SIZE, RW, s)
    p.write(va, b"x" * (2 * PAGE_SIZE))
    assert k.keys.refs(1) == {"vmas": 1, "pages": 2, "swapped": 0}
    k.keyctl_invalidate(s)
    state = k.keys.slots[1].state
    if policy.never_rekey_live_keyid:
        assert state == "dying"
        k.swap_out(p, va)
        p.munmap(va + PAGE_SIZE, PAGE_SIZE)
        assert k.keys.slots[1].state == "dying"  # a swapped page still holds it
        before = m.counters["pconfig"]
        p.munmap(va, PAGE_SIZE)
        assert k.keys.slots[1].state == "available"
        assert m.counters["pconfig"] == before + m.packages  # CLEAR_KEY on every package
        assert m.key_mode(0, 1) is KeyMode.TME
    else:
        assert state == "available"  # free for the next add_key while pages still use it
        assert m.key_mode(0, 1) is KeyMode.KEY  # ... and never de-programmed
