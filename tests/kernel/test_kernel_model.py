"""The kernel model's plumbing: policy API, frame allocator order, events and costs, clone, views."""

import pytest

from mktme_lite import Machine
from mktme_lite.errors import ConfigError, ParameterError
from mktme_lite.kernel import (
    COST_EVENTS,
    DIRECT_MAP_DESIGNS,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Kernel,
    Policy,
)
from mktme_lite.kernel.frames import FrameAllocator

RW = PROT_READ | PROT_WRITE


# -- Policy -------------------------------------------------------------------------------------------
def test_repairs_turn_as_proposed_into_fixed_one_at_a_time():
    p = Policy.as_proposed()
    for name, value in Policy.repairs().items():
        p = p.replace(**{name: value})
    assert p == Policy.fixed()
    assert p.name.startswith("as_proposed+flush_old_alias")
    assert set(Policy.repairs()) == {
        "flush_old_alias", "flush_new_alias", "direct_map", "swap_path", "never_rekey_live_keyid"
    }


def test_policy_presets_and_validation():
    assert Policy.preset("fixed") == Policy.fixed()
    assert Policy.core_series().differences(Policy.fixed()) == {"flush_new_alias": (False, True)}
    assert "flush_old_alias" in Policy.fixed().describe()
    assert set(Policy.switches()) >= {"encrypted_swap", "zero_through_new_keyid"}
    for bad in ({"direct_map": "everything"}, {"swap_path": "dma"}, {"flush_old_alias": 1}, {"nope": True}):
        with pytest.raises(ConfigError):
            Policy.fixed().replace(**bad)
    with pytest.raises(ParameterError, match="unknown policy preset 'secure'; choose one of as_proposed"):
        Policy.preset("secure")
    assert Policy.fixed().replace(flush_old_alias=True).name == "fixed"  # no change, no suffix


def test_kernel_accepts_a_preset_name():
    assert Kernel(Machine(dram_bytes=64 * 1024), "as_proposed").policy == Policy.as_proposed()
    with pytest.raises(ParameterError, match="policy .*must be a Policy.*; got 42"):
        Kernel(Machine(dram_bytes=64 * 1024), 42)


# -- frames ----------------------------------------------------------------------------------------------
def test_allocator_orders():
    first = FrameAllocator(8, reserved=2, order="first_free")
    lifo = FrameAllocator(8, reserved=2, order="lifo")
    for a in (first, lifo):
        taken = [a.pick() for _ in range(3)]
        assert [f.index for f in taken] == [2, 3, 4]
        for f in (taken[0], taken[2]):
            f.state = "free"
            a.release(f)
    assert first.pick().index == 2  # lowest free
    assert lifo.pick().index == 4  # most recently freed
    with pytest.raises(ConfigError):
        FrameAllocator(8, reserved=8)
    with pytest.raises(ParameterError, match="unknown frame_order 'random'"):
        FrameAllocator(8, order="random")


def test_reserved_frames_are_kernel_data_and_never_handed_out():
    k = Kernel(Machine(dram_bytes=64 * 1024), Policy.fixed(), reserved_frames=3)
    p = k.spawn("p")
    va = p.mmap(PAGE_SIZE, RW)
    p.write(va, b"x")
    assert p.pagemap(va)["frame"] == 3
    assert k.frame_info(0)["state"] == "kernel"
    assert k.frame_info(3 * PAGE_SIZE)["owner"] == (p.pid, va)


@pytest.mark.parametrize("order, expected", [("lifo", "last"), ("first_free", "middle")])
def test_lifo_reuses_the_frame_freed_last(order, expected):
    k = Kernel(Machine(dram_bytes=64 * 1024), Policy.fixed(), frame_order=order)
    p = k.spawn("p")
    a = p.mmap(3 * PAGE_SIZE, RW)
    p.write(a, bytes(3 * PAGE_SIZE))
    frames = {"middle": p.pagemap(a + PAGE_SIZE)["pa"], "last": p.pagemap(a + 2 * PAGE_SIZE)["pa"]}
    p.munmap(a + PAGE_SIZE, PAGE_SIZE)  # free the middle frame first ...
    p.munmap(a + 2 * PAGE_SIZE, PAGE_SIZE)  # ... then the last one
    b = p.mmap(PAGE_SIZE, RW)
    p.write(b, b"y")
    assert p.pagemap(b)["pa"] == frames[expected]


# -- events and costs ------------------------------------------------------------------------------------
def test_events_land_in_the_machine_trace():
    m = Machine(dram_bytes=64 * 1024)
    k = Kernel(m, Policy.fixed())
    p = k.spawn("p")
    va = p.mmap(PAGE_SIZE, RW)
    p.write(va, b"hi")
    kinds = [e.kind for e in m.trace]
    for kind in ("spawn", "syscall", "frame_alloc", "page_zeroed", "page_fault"):
        assert kind in kinds
    fault = next(e for e in m.trace if e.kind == "page_fault")
    assert fault.pa == p.pagemap(va)["pa"] and "demand-zero" in fault.detail


def test_costs_and_measure():
    k = Kernel(Machine(dram_bytes=64 * 1024), Policy.fixed())
    p = k.spawn("p")
    key = k.add_key("mktme", "k", "type=cpu algorithm=aes-xts-128")
    va = p.mmap(2 * PAGE_SIZE, RW)
    before = k.costs()
    assert set(before) == set(COST_EVENTS)
    with k.measure() as c:
        p.encrypt_mprotect(va, 2 * PAGE_SIZE, RW, key)
        p.write(va, bytes(2 * PAGE_SIZE))
    assert c["page_fault"] == 2 and c["page_zeroed"] == 2 and c["frame_alloc"] == 2
    assert c["clflush"] == 2 * 2 * 64  # old and new alias of two frames
    assert k.costs(since=before)["page_fault"] == 2
    with k.measure() as c:
        p.munmap(va, 2 * PAGE_SIZE)
    assert c["tlb_shootdown"] == 1 and c["frame_free"] == 2


def test_as_proposed_flushes_nothing():
    k = Kernel(Machine(dram_bytes=64 * 1024), Policy.as_proposed())
    p = k.spawn("p")
    key = k.add_key("mktme", "k", "type=cpu algorithm=aes-xts-128")
    va = p.mmap(2 * PAGE_SIZE, RW)
    with k.measure() as c:
        p.encrypt_mprotect(va, 2 * PAGE_SIZE, RW, key)
        p.write(va, bytes(2 * PAGE_SIZE))
        p.munmap(va, 2 * PAGE_SIZE)
    assert c["clflush"] == 0 and c["wbinvd"] == 0


@pytest.mark.parametrize("design", DIRECT_MAP_DESIGNS)
def test_every_design_runs_the_basic_flow(design):
    k = Kernel(Machine(dram_bytes=64 * 1024), Policy.fixed().replace(direct_map=design))
    p = k.spawn("p")
    key = k.add_key("mktme", "k", "type=cpu algorithm=aes-xts-128")
    va = p.mmap(PAGE_SIZE, RW)
    p.encrypt_mprotect(va, PAGE_SIZE, RW, key)
    p.write(va, b"data")
    k.swap_out(p, va)
    assert p.read(va, 4) == b"data"
    p.exit()
    assert k.frames.nr_free == len(k.frames) - k.frames.reserved
    assert all(f.dm_mapped and f.dm_keyid == 0 and f.keyid == 0 for f in k.frames.frames)


# -- clone and views --------------------------------------------------------------------------------------
def test_clone_replays_independently():
    k = Kernel(Machine(dram_bytes=64 * 1024), Policy.as_proposed())
    p = k.spawn("p")
    va = p.mmap(PAGE_SIZE, RW)
    p.write(va, b"original")
    k2 = k.clone()
    p2 = k2.processes[p.pid]
    p2.write(va, b"changed!")
    assert p.read(va, 8) == b"original" and p2.read(va, 8) == b"changed!"
    assert k2.machine is not k.machine and p2._k is k2


def test_maps_and_pagemap_views():
    k = Kernel(Machine(dram_bytes=64 * 1024), Policy.fixed())
    p = k.spawn("p")
    va = p.mmap(2 * PAGE_SIZE, PROT_READ)
    assert p.maps() == [{"start": va, "end": va + 2 * PAGE_SIZE, "prot": "r--", "pkey": 0, "keyid": 0, "kind": "anon"}]
    assert p.pagemap(va) is None  # never touched
    p.read(va, 1)
    info = p.pagemap(va)
    assert info["present"] and info["keyid"] == 0 and info["prot"] == "r--"
    assert "KeyIDs" in repr(k.keys) and "slots" in repr(k.swap) and "policy='fixed'" in repr(k)
    assert k.keys.table()[0]["state"] == "available"
