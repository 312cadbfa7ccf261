"""Every public entry point, called with odd values, answers with the MKTMEError family.

What counts as an entry point is found by introspection, so a new public function is covered
without anyone remembering to list it:

* every function (and every class in :data:`CONSTRUCTED`) in the ``__all__`` of the modules in
  :data:`MODULES`: hardware, kernel, scenarios, viz, lesson helpers, quiz, course, and the
  ``check_*`` functions of every lesson's checks; from the widget modules only ``render_*``;
* every public method of the objects a lesson holds (:data:`INSTANCES`: a Machine, a Kernel, a
  Process, the key service, the swap device, a Policy, a Page, an XTSCipher, an AddressLayout).

A public name that is none of these must be in :data:`NOT_ENTRY_POINTS` with the reason.

Each call gets valid values for every parameter (:data:`VALID`, by parameter name, with
:data:`OVERRIDES` per entry point) except ONE, which hypothesis replaces with an odd value
(wrong types, huge, negative, empty, NaN, inf, a lone surrogate, numpy scalars, bools where
numbers belong, a class instead of an instance). :func:`problem` then fails the call when

* it raises anything outside :class:`~mktme_lite.errors.MKTMEError`;
* it takes more than :data:`LIMIT` seconds (an alarm interrupts it, so a hang fails too);
* it ACCEPTS a value that is not of the parameter's kind (:data:`KINDS`): a string or 0 for a
  flag, a float/bool/str for a whole number, text for bytes, ... because such a value is then
  silently taken to mean something (``"False"`` is truthy).

``tests/fixtures/broken_entry_points.py`` holds entry points that break each rule on purpose;
:func:`test_the_checker_catches_a_broken_entry_point` proves :func:`problem` fails on them.
"""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
import signal
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mktme_lite import Machine, PconfigCommand, PconfigStatus
from mktme_lite.address import AddressLayout, TMEActivate, TMECapability
from mktme_lite.errors import MKTMEError
from mktme_lite.kernel import MADV_DONTNEED, PAGE_SIZE, Kernel, Policy, Process
from mktme_lite.scenarios.pages import CPU_KEY, OLD_LINE, RW, Page, encrypted_page
from mktme_lite.xts import XTSCipher

LIMIT = 2.0  # seconds a single call may take

MODULES = [
    "mktme_lite", "mktme_lite.machine", "mktme_lite.address", "mktme_lite.keytable", "mktme_lite.xts",
    "mktme_lite.memory", "mktme_lite.cache", "mktme_lite.dump", "mktme_lite.kernel", "mktme_lite.kernel.mm",
    "mktme_lite.scenarios.pages", "mktme_lite.scenarios.tme_basics", "mktme_lite.scenarios.aliasing",
    "mktme_lite.scenarios.multi_key", "mktme_lite.scenarios.use_cases", "mktme_lite.scenarios.races",
    "mktme_lite.scenarios.promela", "mktme_lite.scenarios.swap", "mktme_lite.scenarios.incoherence", "mktme_lite.viz", "mktme_lite.lesson", "mktme_lite.quiz",
    "mktme_lite.scenarios.promela", "mktme_lite.scenarios.swap", "mktme_lite.scenarios.costs",
    "mktme_lite.scenarios.ret2dir", "mktme_lite.viz", "mktme_lite.lesson", "mktme_lite.quiz",
    "mktme_lite.course",
]
#: scenario modules not (yet) in MODULES, and why: test_every_scenario_module_is_judged keeps this honest
UNCOVERED_SCENARIOS: dict[str, str] = {}
#: modules of which only some functions take learner input: (module, name prefix)
PREFIXED = [
    ("mktme_lite.widgets.aliasing", "render_"), ("mktme_lite.widgets.multi_key", "render_"),
    ("mktme_lite.widgets.start_here", "render_"), ("mktme_lite.widgets.tme_basics", "render_"),
    ("mktme_lite.checks.aliasing", "check_"), ("mktme_lite.checks.multi_key", "check_"),
    ("mktme_lite.checks.tme_basics", "check_"),
    ("mktme_lite.widgets.cache_incoherence", "render_"), ("mktme_lite.checks.cache_incoherence", "check_"),
    ("mktme_lite.widgets.pconfig_races", "render_"), ("mktme_lite.checks.pconfig_races", "check_"),
    ("mktme_lite.widgets.xpo_comparison", "render_"), ("mktme_lite.checks.xpo_comparison", "check_"),
]
#: classes whose constructor a learner calls
CONSTRUCTED = {"Machine", "Kernel", "Policy", "AddressLayout", "TMEActivate", "TMECapability", "XTSCipher"}

#: public names that are not entry points, and why
NOT_ENTRY_POINTS = {
    # the error family and enums: raised or named, never called with learner input
    **{n: "an exception class" for n in ("AddressError", "ConfigError", "DataError", "KeyIDError",
                                         "KeyMaterialError", "MKTMEError", "PackageError", "ParameterError",
                                         "SyscallError", "SegmentationFault", "KernelPageFault", "QuizError",
                                         "CourseError", "PriceError")},
    **{n: "an IntEnum/Enum: the learner names a member" for n in ("KeyMode", "PconfigCommand", "PconfigStatus")},
    # records the engine returns (frozen dataclasses), never built by a learner
    **{n: "a record the engine returns" for n in ("Event", "Trace", "VMA", "PTE", "Frame", "MKTMEPayload",
                                                  "Page", "ProbeResult", "AliasRead", "AliasResult", "DesignRow",
                                                  "AliasName", "Budget", "ConsoleResult", "Option", "Question",
                                                  "Lesson", "Claim", "Course", "KeyEntry", "CacheLine",
                                                  "PmemResult", "Partition", "Group", "Exploration", "Step",
                                                  "SwapRun", "IdentityRow", "OutliveRun", "DeviceDump",
                                                  "MSRRow", "CoherenceResult", "Requirement",
                                                  "LessonFigure", "HTMLCard", "Cell",
                                                  # lesson 04 (scenarios/incoherence.py)
                                                  "Lab", "LineView", "DramView", "ReadView", "Snapshot", "C5Result",
                                                  "HandoverResult", "SpeculativeResult", "ProtocolStep",
                                                  "InstructionRow", "CoherentRow", "StatPoint", "FreePathResult",
                                                  # lesson 07 (scenarios/costs.py, scenarios/ret2dir.py)
                                                  "Price", "PriceTable", "Measured", "Design", "Workload",
                                                  "WorkloadRun", "Estimate", "ReferencePoint", "Ret2dirResult",
                                                  "Outcome", "SecurityRow", "SecurityMatrix", "VerdictCell")},
    "Stepper": "built by incoherence.stepper() and by exercise 3's given cell, from fixed ops",
    # building blocks a Machine or Kernel makes for itself (their arguments come checked from it)
    **{n: "a scenario record built by races.scenario() and its op builders, which check every field"
       for n in ("Op", "Thread", "Check", "Scenario")},
    **{n: "built by Machine/Kernel from checked arguments" for n in (
        "DRAM", "EncryptionEngine", "KeyTable", "Cache", "FrameAllocator", "KeyService", "SwapDevice",
        "Process", "make_key_entry", "KeyIDPartition")},
    # viz/figure.py: display plumbing; takes the figures the pictures return
    "figure_png": "display plumbing for a LessonFigure (viz/figure.py)",
    "to_bundle": "display plumbing for a LessonFigure (viz/figure.py)",
    "show": "display plumbing for a LessonFigure (viz/figure.py)",
    "show_figure": "the same function as show",
    "live_html": "display plumbing: the live widgets' HTML form of a LessonFigure (viz/figure.py)",
    "is_static": "takes no arguments",
    "setup": "takes no arguments",
}

#: public methods that are plumbing between the kernel's parts, not system calls a lesson makes
INTERNAL_METHODS = {
    "Machine.emit": "the kernel model records its events with it",
    "Machine.clone": "takes no arguments", "Kernel.clone": "takes no arguments", "Page.clone": "takes no arguments",
    "Kernel.measure": "a context manager without arguments",
    "Process.exit": "takes no arguments", "Process.maps": "takes no arguments",
    "Machine.reset_trace": "takes no arguments", "Machine.seam": "a context manager without arguments",
    "KeyService.lookup": "the system calls' own lookup (they pass the serial through)",
    "KeyService.note_unflushed": "called by the kernel's frame code",
    "KeyService.maybe_release": "takes no arguments",
    "KeyService.program_all": "called by add_key/keyctl_update with a parsed payload",
    "KeyService.table": "takes no arguments",
    "SwapDevice.alloc": "takes no arguments", "SwapDevice.write": "called by swap_out",
    "SwapDevice.free": "called by the kernel's zap and swap-in", "SwapDevice.used": "takes no arguments",
    "SwapDevice.device_bytes": "takes no arguments", "SwapDevice.info": "takes no arguments",
    "Policy.as_proposed": "takes no arguments", "Policy.fixed": "takes no arguments",
    "Policy.core_series": "takes no arguments", "Policy.repairs": "takes no arguments",
    "Policy.switches": "takes no arguments", "Policy.describe": "takes no arguments",
}


# -- the world every call starts from --------------------------------------------------------------
@lru_cache(maxsize=1)
def _template() -> Page:
    """An encrypted page (as proposed) of alice's, two packages, plus a second mapped buffer."""
    page = encrypted_page("as_proposed", OLD_LINE, packages=2)
    return page


@lru_cache(maxsize=1)
def _race():
    """Lesson 06's smallest race (two CPUs, one mutex): its exploration, one replay and the lanes."""
    races = importlib.import_module("mktme_lite.scenarios.races")
    scen = races.SCENARIOS["busy_mutex"]
    ex = races.explored(scen, "home")
    return ex, races.replay(scen, ex.groups[0].example, "home"), [t.name for t in scen.threads]


@lru_cache(maxsize=1)
def _design_rows() -> list:
    return importlib.import_module("mktme_lite.scenarios.aliasing").compare_designs(("keyid0",))


class World:
    """Fresh objects for one call: a clone of the template, made on first use (a call that needs
    no kernel costs no clone), so nothing leaks from one call into the next."""

    @property
    def page(self) -> Page:
        if "_page" not in self.__dict__:
            self._page = _template().clone()
        return self._page

    kernel = property(lambda self: self.page.kernel)
    m = property(lambda self: self.page.kernel.machine)
    alice = property(lambda self: self.page.owner)
    gdb = property(lambda self: self.page.debugger)
    buf = property(lambda self: self.page.va)
    pa = property(lambda self: self.page.pa)
    keyid = property(lambda self: self.page.keyid)
    serial = property(lambda self: self.page.serial)


@dataclass
class Param:
    name: str
    valid: Callable[[World], Any]
    kind: str
    none_ok: bool = False
    positional: bool = False  # for *args


@dataclass
class Entry:
    id: str
    target: Callable[[World], Callable]
    params: list[Param] = field(default_factory=list)
    examples: int = 12


def W(value):  # a constant valid value
    return lambda w: value


#: parameter name -> (valid value, kind). Kinds: flag, whole, bytes, text, choice, proc, any.
VALID: dict[str, tuple[Callable[[World], Any], str]] = {
    # hardware
    "packages": (W(2), "whole"), "keyid_bits": (W(6), "whole"), "phys_bits": (W(46), "whole"),
    "dram_bytes": (W(16384), "whole"), "cache_sets": (W(16), "whole"), "cache_ways": (W(4), "whole"),
    "seed": (W(1), "whole"), "tme_bypass": (W(False), "flag"), "crypto_algs": (W(1), "whole"),
    "max_keyid_bits": (W(None), "whole"), "trace": (W(True), "flag"), "keytable_scope": (W("writer"), "choice"),
    "coherent_keyids": (W(False), "flag"), "tdx_keyid_bits": (W(0), "whole"), "pmem_bytes": (W(0), "whole"),
    "instruction": (W("clwb"), "choice"), "flushed": (W(True), "flag"), "move": (W("raw"), "choice"),
    "rebooted": (W(True), "flag"), "trace_cap": (W(100), "whole?"),
    "hpa": (lambda w: w.m.hpa(w.pa, w.keyid), "whole"), "pa": (lambda w: w.pa, "whole"),
    "n": (W(16), "whole"), "package": (W(0), "whole"), "keyid": (lambda w: w.keyid, "whole"),
    "msr": (W(0x981), "whole"), "data": (W(b"hello"), "bytes"), "status": (W(PconfigStatus.DEVICE_BUSY), "whole"),
    "times": (W(1), "whole"), "command": (W(PconfigCommand.KEYID_SET_KEY_RANDOM), "whole"),
    "data_key": (W(None), "bytes"), "tweak_key": (W(None), "bytes"), "enc_alg": (W(1), "whole"),
    "key1": (W(bytes(range(16))), "bytes"), "key2": (W(bytes(range(16, 32))), "bytes"),
    "tweak": (W(0x40), "whole"), "t": (W(0x87), "whole"), "nblocks": (W(4), "whole"),
    "tweaks": (W(np.arange(2, dtype=np.uint64)), "any"),
    "lock": (W(True), "flag"), "enable": (W(True), "flag"), "key_select": (W(0), "whole"),
    "save_key": (W(False), "flag"), "bypass": (W(False), "flag"),
    "aes_xts_128": (W(True), "flag"), "aes_xts_128_integrity": (W(False), "flag"), "aes_xts_256": (W(True), "flag"),
    "aes_xts_256_integrity": (W(False), "flag"), "bypass_supported": (W(True), "flag"),
    "max_keys": (W(63), "whole"), "value": (W(0x0006_0000_0000_0003), "whole"),
    "tweak_key_bytes": (W(bytes(16)), "bytes"),
    # kernel
    "machine": (lambda w: Machine(dram_bytes=65536, packages=1), "any"), "reserved_frames": (W(4), "whole"),
    "frame_order": (W("lifo"), "choice"), "swap_slots": (W(8), "whole"),
    "proc": (lambda w: w.alice, "proc"), "target": (lambda w: w.alice, "proc"),
    "vaddr": (lambda w: w.buf, "whole"), "addr": (lambda w: w.buf, "whole"), "length": (W(PAGE_SIZE), "whole"),
    "nr_pages": (W(1), "whole"), "write": (W(False), "flag"), "zero": (W(True), "flag"),
    "serial": (lambda w: w.serial, "whole"), "payload": (W(CPU_KEY), "any"), "key_type": (W("mktme"), "text"),
    "description": (W("bob-key"), "text"), "name": (W("bob"), "text"), "privileged": (W(True), "flag"),
    "since": (W(None), "any"), "slot": (W(0), "whole"), "needle": (W(b"old:"), "bytes"),
    "prot": (W(RW), "whole"), "advice": (W(MADV_DONTNEED), "whole"), "pkey": (W(1), "whole"),
    "flags": (W(0), "whole"), "access_rights": (W(0), "whole"), "file": (W(None), "bytes"),
    "other": (W(Policy.fixed()), "any"), "activated_algs": (W(1), "whole"),
    "flush_old_alias": (W(True), "flag"), "flush_new_alias": (W(True), "flag"),
    "zero_through_new_keyid": (W(True), "flag"), "direct_map": (W("keyid0"), "choice"),
    "swap_path": (W("page_keyid"), "choice"), "never_rekey_live_keyid": (W(True), "flag"),
    "encrypted_swap": (W(False), "flag"), "check_pa_pa": (W(0), "whole"),
    # scenarios
    "policy": (W("fixed"), "any"), "kernel": (lambda w: w.kernel, "any"), "pages": (W(1), "whole"),
    "page": (lambda w: w.page, "any"), "message": (W(b"new: balance 250 EUR"), "bytes"),
    "fmt": (W("hex"), "choice"), "address": (W(0x1040), "whole"), "key_mode": (W("tme"), "choice"),
    "design": (W("per_keyid"), "choice"), "base": (W("as_proposed"), "any"), "writer": (W("debugger"), "choice"),
    "written_back": (W(True), "flag"), "designs": (W(("keyid0",)), "any"), "got": (W(b"abc"), "bytes"),
    "expected": (W(b"abd"), "bytes"), "old": (W(None), "bytes"), "written": (W(b""), "bytes"),
    "error": (W(None), "text"), "key": (W("none"), "choice"), "failure": (W("none"), "choice"),
    # dump and viz
    "a": (W(b"0123456789abcdef" * 2), "bytes"), "b": (W(b"0123456789abcdeF" * 2), "bytes"),
    "block": (W(16), "whole"), "before": (W(bytes(128)), "bytes"), "after": (W(bytes(64) + b"x" * 64), "bytes"),
    "width": (W(16), "whole"), "panels": (W([("plain", b"attack at dawn"), ("DRAM", bytes(16))]), "any"),
    "title": (W("A title"), "text"), "mark_changed": (W(True), "any"), "hex_labels": (W(True), "flag"),
    "ascii_column": (W(True), "flag"), "note": (W("a note"), "text"), "per_row": (W(8), "whole"),
    "frames": (W({0: 0, 1: 1, 2: None}), "any"), "n_frames": (W(4), "whole"), "frame_bytes": (W(4096), "whole"),
    "base_pa": (W(0), "whole"), "labels": (W(None), "any"), "aliases": (
        W([{"label": "alice", "keyid": 1, "frame": 5}, {"label": "direct map", "keyid": 0, "frame": 5}]), "any"),
    "last": (W(5), "whole"), "kinds": (W(None), "any"), "hide": (W(("hit", "miss")), "any"),
    "claims": (W([("C1", "one"), ("C2", "two")]), "any"), "lessons": (W([("01", "TME basics")]), "any"),
    "covers": (W({"01": ["C1"]}), "any"), "highlight": (W(None), "text"),
    "columns": (W(["a", "b"]), "any"), "rows": (W([["1", "2"], ["3", "4"]]), "any"), "strong": (W(()), "any"),
    "caption": (W("cap"), "text"), "footer": (W("foot"), "text"), "row_heads": (W(False), "flag"),
    "ruled": (W(False), "flag"), "css_class": (W("mktme-table"), "text"), "text": (W("columns"), "any"),
    # lesson helpers, quiz, course, checks
    "values": (W([0x2000, 0x2040]), "any"), "types": (W(MKTMEError), "any"),
    "stem": (W("01_tme_basics"), "any"), "qid": (W("unflushed-secret"), "any"), "choice": (W(0), "whole"),
    "q": (lambda w: importlib.import_module("mktme_lite.quiz").question("01", "unflushed-secret"), "any"),
    "path": (W(None), "any"), "cid": (W("C3"), "any"), "answer": (W(None), "any"), "claim": (W("C3"), "any"),
    "view": (W("costs"), "choice"),
    # lesson 07: costs, ret2dir, viz/costs, widgets/xpo_comparison
    "w": (W("alloc_heavy"), "choice"), "workload": (W("alloc_heavy"), "choice"), "cpus": (W(8), "whole"),
    "prices": (W(None), "any"), "overrides": (W(None), "any"), "price": (W("gup"), "choice"),
    "run": (lambda w: importlib.import_module("mktme_lite.scenarios.costs").run_workload("xpfo", "alloc_heavy"),
            "any"),
    "required": (W(("stray_read",)), "any"), "matrix": (W(None), "any"),
    "estimates": (lambda w: importlib.import_module("mktme_lite.scenarios.costs").compare("alloc_heavy"), "any"),
    "bars": (W([("a", 1.5, "", "XPO"), ("b", 1.0, "a note", "none")]), "any"), "references": (W(()), "any"),
    "cells": (W([[("w", True), ("v", False)], [("x", False), ("y", True)]]), "any"), "row": (W("a"), "text"),
    "ipi_ns": (W("200"), "any"), "clflush_ns": (W("34"), "any"), "fault_ns": (W("1000"), "any"),
}

#: (entry id, parameter) -> (valid value, kind) where the name means something else there
OVERRIDES: dict[tuple[str, str], tuple[Callable[[World], Any], str]] = {
    ("TMEActivate", "policy"): (W(0), "whole"),
    ("TMEActivate", "keyid_bits"): (W(6), "whole"),
    ("TMECapability", "max_keyid_bits"): (W(6), "whole"),
    ("Kernel", "policy"): (W("fixed"), "any"),
    ("Policy", "name"): (W("custom"), "text"),
    ("Policy.preset", "name"): (W("fixed"), "choice"),
    ("run_path", "name"): (W("process_vm_readv"), "choice"),
    ("run_path", "data"): (W(OLD_LINE), "bytes"),
    ("alias_names", "data"): (W(OLD_LINE), "bytes"),
    ("compare_designs", "data"): (W(OLD_LINE), "bytes"),
    ("Machine.pconfig", "keyid"): (W(3), "whole"),
    ("Machine.load", "n"): (W(16), "whole"),
    ("Machine.dram", "pa"): (W(0x40), "whole"),
    ("Machine.write_dram", "pa"): (W(0x40), "whole"),
    ("Machine.home_package", "pa"): (W(0x40), "whole"),
    ("Machine.hpa", "pa"): (W(0x40), "whole"),
    ("Machine.split", "hpa"): (W(0x40), "whole"),
    ("AddressLayout.hpa", "pa"): (W(0x40), "whole"), ("AddressLayout.hpa", "keyid"): (W(1), "whole"),
    ("AddressLayout.check_pa", "pa"): (W(0x40), "whole"),
    ("AddressLayout.check_keyid", "keyid"): (W(1), "whole"),
    ("AddressLayout.split", "hpa"): (W(0x40), "whole"),
    ("Kernel.spawn", "name"): (W("bob"), "text"),
    ("Kernel.change_frame_keyid", "keyid"): (W(2), "whole"),
    ("KeyService.in_use", "keyid"): (W(1), "whole"), ("KeyService.refs", "keyid"): (W(1), "whole"),
    ("Process.pkey_free", "pkey"): (W(1), "whole"), ("Process.pkey_get", "pkey"): (W(1), "whole"),
    ("Process.pkey_mprotect", "pkey"): (W(-1), "whole"),
    ("Process.find_vma", "addr"): (lambda w: w.buf, "whole"),
    ("Process.process_vm_readv", "target"): (lambda w: w.alice, "proc"),
    ("XTSCipher.encrypt", "data"): (W(bytes(32)), "bytes"), ("XTSCipher.decrypt", "data"): (W(bytes(32)), "bytes"),
    ("XTSCipher.encrypt_lines", "data"): (W(bytes(128)), "bytes"),
    ("XTSCipher.decrypt_lines", "data"): (W(bytes(128)), "bytes"),
    ("xts_encrypt", "data"): (W(bytes(32)), "bytes"), ("xts_decrypt", "data"): (W(bytes(32)), "bytes"),
    ("parse_message", "message"): (W("41 42"), "text"),
    ("render_dram_probe", "message"): (W("attack"), "text"), ("render_dram_probe", "fmt"): (W("text"), "choice"),
    ("render_alias_explorer", "message"): (W("hello"), "text"),
    ("render_design_table", "rows"): (lambda w: _design_rows(), "any"),
    ("render_pconfig_console", "package"): (W(0), "any"), ("pconfig_run", "package"): (W(0), "any"),
    ("render_pconfig_console", "command"): (W(1), "whole"), ("pconfig_run", "command"): (W(1), "whole"),
    ("render_pconfig_console", "enc_alg"): (W("aes128"), "choice"), ("pconfig_run", "enc_alg"): (W("aes128"), "choice"),
    ("render_pconfig_console", "keyid"): (W(3), "whole"), ("pconfig_run", "keyid"): (W(3), "whole"),
    ("budget", "dram_bytes"): (W(1 << 38), "whole"), ("render_keyid_budget", "dram_bytes"): (W(1 << 38), "whole"),
    ("format_bytes", "n"): (W(4096), "whole"),
    ("describe_bytes", "data"): (W(b"abc"), "bytes"), ("printable", "data"): (W(b"abc"), "bytes"),
    ("hexdump", "data"): (W(b"abc"), "bytes"), ("hexdump", "base"): (W(0x1000), "whole"),
    ("changed_lines", "base"): (W(0), "whole"), ("line_changes", "base"): (W(0), "whole"),
    ("bytes_figure", "base"): (W(0x2000), "whole"),
    ("key_fingerprint", "data_key"): (W(bytes(16)), "bytes"), ("key_fingerprint", "tweak_key"): (W(bytes(16)), "bytes"),
    ("tme_activate_table", "value"): (W(TMEActivate().value), "whole"),
    ("tme_capability_table", "value"): (W(TMECapability().value), "whole"),
    ("TMEActivate.decode", "value"): (W(TMEActivate().value), "whole"),
    ("TMECapability.decode", "value"): (W(TMECapability().value), "whole"),
    ("aes_block", "key"): (W(bytes(16)), "bytes"), ("aes_block", "block"): (W(bytes(16)), "bytes"),
    ("line_tweak", "pa"): (W(0x1040), "whole"),
    ("prot_str", "prot"): (W(3), "whole"),
    ("quiz_path", "key"): (W("01"), "any"), ("load", "key"): (W("01"), "any"), ("question", "key"): (W("01"), "any"),
    ("lesson", "key"): (W("01"), "any"), ("read", "path"): (W("quizzes/01_tme_basics.json"), "any"),
    ("card", "title"): (W("Card"), "text"), ("card", "rows"): (W([("a", "b")]), "any"),
    ("text_columns", "rows"): (W([["a", "b"], ["c", "d"]]), "any"),
    ("claim_matrix", "lessons"): (W([("01", "TME basics")]), "any"),
    ("tme_boundary", "title"): (W("Where TME encrypts"), "text?"),
    ("verdict", "got"): (W(b"abc"), "bytes?"),
    ("feedback", "choice"): (W(0), "any"),  # any bad choice gets "Pick one of the options A to D."
    ("trace_timeline", "trace"): (lambda w: w.m.trace, "any"),
    ("encrypt_pages", "data"): (W(b"secret"), "bytes"), ("encrypt_pages", "serial"): (lambda w: w.serial, "whole"),
    ("encrypt_pages", "proc"): (lambda w: w.alice, "any"),
    ("encrypted_page", "data"): (W(b"secret"), "bytes"), ("plain_page", "data"): (W(b"secret"), "bytes"),
    ("encrypted_page", "packages"): (W(1), "whole"), ("plain_page", "packages"): (W(1), "whole"),
    ("boot", "packages"): (W(1), "whole"),
    ("SwapDevice.contains", "needle"): (W(b"old:"), "bytes"),
    ("pmem_run", "key"): (W("cpu"), "choice"), ("partition", "tdx_keyid_bits"): (W(2), "whole"),
    # lesson 06: the race explorer and its Promela export
    ("store", "line"): (W("L"), "choice"), ("store", "keyid"): (W(1), "whole"), ("store", "value"): (W("v"), "text"),
    ("load", "line"): (W("L"), "choice"), ("load", "keyid"): (W(1), "whole"), ("load", "label"): (W("r"), "text"),
    ("clflush", "line"): (W("L"), "choice"), ("clflush", "keyid"): (W(1), "whole"),
    ("evict", "line"): (W("L"), "choice"), ("evict", "keyid"): (W(1), "whole"),
    ("evict", "package"): (W(None), "whole?"), ("wbinvd", "package"): (W(None), "whole?"),
    ("pconfig", "keyid"): (W(1), "whole"), ("pconfig", "key"): (W("B"), "text"),
    ("pconfig", "package"): (W(None), "whole?"), ("pconfig", "retries"): (W(2), "whole"),
    ("lock", "name"): (W("m"), "text"), ("unlock", "name"): (W("m"), "text"),
    ("signal", "name"): (W("e"), "text"), ("wait", "name"): (W("e"), "text"),
    ("scenario", "name"): (W("mine"), "text"), ("scenario", "title"): (W("a race"), "text"),
    ("scenario", "threads"): (lambda w: [("t", 0, [_races().wbinvd()])], "any"),
    ("scenario", "values"): (W({"v": "a value"}), "any"), ("scenario", "setup"): (W(((1, "A"),)), "any"),
    ("scenario", "checks"): (W(()), "any"), ("scenario", "reads"): (W({}), "any"),
    ("scenario", "keys"): (W(("A", "B")), "any"), ("scenario", "note"): (W(""), "text"),
    ("explore", "scen"): (lambda w: _races().SCENARIOS["busy_mutex"], "any"),
    ("explore", "scope"): (W("home"), "choice"),
    ("replay", "scen"): (lambda w: _races().SCENARIOS["busy_mutex"], "any"),
    ("replay", "path"): (W([0, 0, 0, 0, 1, 1, 1, 1]), "any"), ("replay", "scope"): (W("home"), "choice"),
    ("model", "scen"): (lambda w: _races().SCENARIOS["busy_mutex"], "any"), ("model", "scope"): (W("home"), "choice"),
    ("explored", "scen"): (lambda w: _races().SCENARIOS["busy_mutex"], "any"), ("explored", "scope"): (W("home"), "choice"),
    ("rotation", "kernel_p0"): (lambda w: [_races().wait("freed"), _races().signal("rekeyed P0")], "any"),
    ("rotation", "kernel_p1"): (lambda w: [_races().wait("freed"), _races().signal("rekeyed P1")], "any"),
    ("rotation", "name"): (W("mine"), "text"), ("rotation", "title"): (W("a rotation"), "text"),
    ("rotation", "note"): (W(""), "text"),
    ("key_service", "cpus"): (W(2), "whole"), ("key_service", "retries"): (W(1), "whole"),
    ("key_service", "mutex"): (W(False), "flag"),
    # lesson 05: swap
    ("policy_for", "path"): (W("keyid0"), "choice"), ("policy_for", "encrypted"): (W(True), "flag"),
    ("swap_run", "path"): (W("page_keyid"), "choice"), ("swap_run", "flush"): (W(True), "flag"),
    ("swap_run", "frame"): (W("same"), "choice"), ("swap_run", "encrypted"): (W(False), "flag"),
    ("leaking_lines", "device"): (W(bytes(8192)), "bytes"), ("leaking_lines", "page"): (W(bytes(64)), "bytes"),
    ("seal", "key"): (W(bytes(32)), "bytes"), ("seal", "page"): (W(bytes(4096)), "bytes"),
    ("unseal", "key"): (W(bytes(32)), "bytes"), ("unseal", "data"): (W(bytes(4096)), "bytes"),
    ("roundtrip", "cipher"): (W(XTSCipher(bytes(16), bytes(range(16)))), "any"),
    ("roundtrip", "tweak"): (W(lambda pa: pa), "any"), ("roundtrip", "c"): (W(bytes(64)), "bytes"),
    ("roundtrip", "out_pa"): (W(0x4040), "whole"), ("roundtrip", "in_pa"): (W(0x5040), "whole"),
    ("identity_rows", "out_pa"): (W(0x4040), "whole"), ("identity_rows", "in_pa"): (W(0x5040), "whole"),
    ("outlive_vma", "count"): (W("page"), "choice"), ("device_dump", "seed"): (W(505), "whole"),
    # lesson 08: use cases
    ("msr_rows", "p"): (lambda w: importlib.import_module("mktme_lite.scenarios.use_cases").partition(), "any"),
    ("coherence_run", "case"): (W("late_writeback"), "choice"), ("coherence_run", "coherent"): (W(True), "flag"),
    ("option", "key"): (W("cpu"), "choice"), ("option", "design"): (W("per_keyid"), "choice"),
    ("requirements", "use_case"): (W("pmem"), "choice"), ("_unused", "x"): (lambda w: importlib.import_module("mktme_lite.scenarios.use_cases").C11_USE_CASES[0]
                                   if isinstance(importlib.import_module("mktme_lite.scenarios.use_cases").C11_USE_CASES,
                                                 (list, tuple)) else
                                   next(iter(importlib.import_module("mktme_lite.scenarios.use_cases").C11_USE_CASES)),
                                   "choice"),
    ("meets", "use_case"): (lambda w: next(iter(importlib.import_module("mktme_lite.scenarios.use_cases").C11_USE_CASES)),
                            "choice"),
    ("meets", "key"): (W("cpu"), "choice"), ("meets", "design"): (W("per_keyid"), "choice"),
    ("finding", "use_case"): (W("pmem"), "choice"), ("finding", "key"): (W("cpu"), "choice"),
    ("finding", "design"): (W("per_keyid"), "choice"),
    ("finding", "requirement"): (W("reads back after a reboot"), "choice"),
    ("keyid_partition", "keyid_bits"): (W(6), "whole"), ("keyid_partition", "mktme_keyids"): (W(15), "whole"),
    ("keyid_partition", "tdx_keyids"): (W(48), "whole"), ("keyid_partition", "facts"): (W((("a", "b"),)), "any"),
    ("keyid_partition", "title"): (W("KeyIDs"), "text?"),
    # lesson 04: cache incoherence
    ("lab", "keys"): (W("cpu"), "choice"), ("lab", "coherent"): (W(False), "flag"), ("lab", "packages"): (W(2), "whole"),
    ("payload", "who"): (W("alice"), "choice"), ("payload", "line"): (W(3), "whole"),
    ("payload", "version"): (W(2), "whole"),
    ("current", "m"): (lambda w: w.m, "any"), ("current", "h"): (lambda w: w.m.hpa(w.pa, w.keyid), "whole"),
    ("apply", "lab_"): (lambda w: _inc().lab(), "any"), ("apply", "op"): (lambda w: _inc().Op("load", "new", 1), "any"),
    ("time_passes", "m"): (lambda w: w.m, "any"), ("time_passes", "pa"): (lambda w: w.pa, "whole"),
    ("time_passes", "keyids"): (W((0, 1)), "any"), ("time_passes", "order"): (W("old_first"), "choice"),
    ("time_passes", "lines"): (W(4), "whole"),
    ("classify", "got"): (W(bytes(64)), "bytes"), ("classify", "line"): (W(0), "whole"),
    ("classify", "fresh"): (W(bytes(64)), "bytes"),
    ("write_then_read", "keys"): (W("no-encrypt"), "choice"),
    ("handover", "order"): (W("old_first"), "choice"), ("handover", "dirty"): (W((1,)), "any"),
    ("handover", "flush_old"): (W(False), "flag"), ("handover", "keys"): (W("cpu"), "choice"),
    ("handover", "coherent"): (W(False), "flag"),
    ("speculative", "keys"): (W("cpu"), "choice"), ("speculative", "flush_new"): (W(False), "flag"),
    ("speculative", "zero_new"): (W(True), "flag"), ("protocol", "keys"): (W("cpu"), "choice"),
    ("corruption_stats", "sets"): (W((2,)), "any"), ("corruption_stats", "ways"): (W(2), "whole"),
    ("corruption_stats", "dirty"): (W((0.5,)), "any"), ("corruption_stats", "delays"): (W((0,)), "any"),
    ("corruption_stats", "runs"): (W(1), "whole"), ("corruption_stats", "base_sets"): (W(2), "whole"),
    ("corruption_stats", "base_dirty"): (W(0.5), "any"), ("corruption_stats", "base_delay"): (W(0), "whole"),
    ("corruption_stats", "seed"): (W(0), "whole"),
    ("stepper", "name"): (W("c6"), "choice"),
    ("run_free_path", "path"): (lambda w: ["unmap", "tlb_shootdown", "flush_keyid_k", "reset_keyid", "free_list"],
                                "any"),
    ("price_ns", "counts"): (W({"clflush": 64}), "any"),
    ("cache_state", "caches"): (W([[], []]), "any"),
    ("cache_state", "dram"): (W([{"line": 0, "pa": 0x40, "stored": bytes(64), "views": {"K1": bytes(64)}}]), "any"),
    ("cache_state", "events"): (W(["#1 P0 store"]), "any"), ("cache_state", "read"): (W("a read"), "text"),
    ("cache_state", "read_strong"): (W(False), "flag"), ("cache_state", "highlight"): (W(None), "whole?"),
    ("corruption_plot", "points"): (W([{"sweep": "delay", "x": 0, "fraction": 0.5, "runs": 2}]), "any"),
    ("corruption_plot", "title"): (W("t"), "text"), ("corruption_plot", "reference"): (W(""), "text"),
    ("render_cache_stepper", "scenario"): (W("c6"), "choice"), ("render_cache_stepper", "step"): (W(3), "whole"),
    ("render_cache_stepper", "mode"): (W("predict"), "choice"),
    ("render_cache_stepper", "prediction"): (W("garbage"), "choice"),
    ("render_protocol_table", "rows"): (lambda w: _inc().protocol(), "any"),
    ("render_instruction_table", "rows"): (lambda w: _inc().instruction_table(), "any"),
    ("render_coherent_table", "rows"): (lambda w: _inc().coherent_rerun(), "any"),
    ("render_corruption_plot", "points"): (lambda w: _inc().corruption_stats((2,), 2, (0.5,), (0,), 1, base_sets=2),
                                           "any"),
    # lesson 06: the race pictures and the race explorer
    ("outcome_histogram", "explorations"): (lambda w: _race()[0], "any"),
    ("outcome_histogram", "highlight"): (W(None), "whole"),
    ("replay_timeline", "steps"): (lambda w: _race()[1], "any"), ("replay_timeline", "lanes"): (lambda w: _race()[2], "any"),
    ("replay_timeline", "at"): (W(None), "whole"),
    ("race_figure", "exploration"): (lambda w: _race()[0], "any"), ("race_figure", "steps"): (lambda w: _race()[1], "any"),
    ("race_figure", "lanes"): (lambda w: _race()[2], "any"), ("race_figure", "group"): (W(0), "whole"),
    ("race_figure", "at"): (W(None), "whole"),
    ("render_race_explorer", "scenario"): (W("busy_mutex"), "choice"),
    ("render_race_explorer", "scope"): (W("home"), "choice"),
    ("render_race_explorer", "group"): (W(0), "whole"),
    ("render_race_explorer", "step"): (W("end"), "any"),  # a step number, or "end"
    ("security_grid", "rows"): (W(["r1", "r2"]), "any"),
    ("cost_and_security", "cells"): (W([("w", True), ("v", False)]), "any"),
    ("ret2dir", "choice"): (W("plain"), "choice"), ("solve_price", "target"): (W(2.0), "any"),
    ("solve_price", "design"): (W("xpfo"), "choice"),
}


@lru_cache(maxsize=1)
def _inc():
    return importlib.import_module("mktme_lite.scenarios.incoherence")


def _races():
    return importlib.import_module("mktme_lite.scenarios.races")
#: entry points whose parameters inspect cannot list (``*args``, ``**kwargs``)
SIGNATURES: dict[str, list[tuple[str, Any, str]]] = {
    "Policy.replace": [("flush_old_alias", True, "flag"), ("direct_map", "keyid0", "choice")],
    "lesson.expect_error": [("types", MKTMEError, "any")],
    "scenarios.costs.workload": [("base", "kernel_build", "choice"), ("pages", 4, "whole")],
}
#: entry points that are slow per call (a kernel boot per design, a figure): fewer examples
EXAMPLES = {"compare_designs": 4, "render_design_table": 6, "corruption_stats": 4, "instruction_table": 4,
            "render_protocol_table": 4, "render_instruction_table": 4, "render_coherent_table": 4,
            "render_corruption_plot": 4, "run_free_path": 4, "check_change_keyid": 3, "check_free_path": 4}
EXAMPLES = {"compare_designs": 4, "render_design_table": 6, "compare": 6, "reference_points": 4, "solve_price": 6,
            "security_matrix": 6, "render_xpo_explorer": 6, "render_security_matrix": 6}

#: known crashes in code another helper owns: entry id -> reason (xfail, strict)
KNOWN_BROKEN: dict[str, str] = {}


# -- discovery ---------------------------------------------------------------------------------------
def _param_list(eid: str, fn: Callable) -> list[Param]:
    if eid in SIGNATURES:
        out = []
        for name, valid, kind in SIGNATURES[eid]:
            out.append(Param(name, W(valid), kind, positional=eid.endswith("expect_error")))
        return out
    out = []
    sig = inspect.signature(fn)
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            continue
        short = eid.rsplit(".", 1)[-1]
        if eid.count(".") == 1 and eid.split(".")[0] in INSTANCES:
            short = eid  # a method: "Machine.load", overridden by that full name only
        key = (eid, p.name) if (eid, p.name) in OVERRIDES else (short, p.name)
        spec = OVERRIDES.get(key) or VALID.get(p.name)
        if spec is None:
            raise LookupError(f"{eid}: no strategy for parameter {p.name!r}; add it to VALID or OVERRIDES")
        valid, kind = spec
        out.append(Param(p.name, valid, kind.rstrip("?"), none_ok=p.default is None or kind.endswith("?")))
    return out


def _instances() -> dict[str, Callable[[World], Any]]:
    return {
        "Machine": lambda w: w.m, "Kernel": lambda w: w.kernel, "Process": lambda w: w.gdb,
        "KeyService": lambda w: w.kernel.keys, "SwapDevice": lambda w: w.kernel.swap,
        "Policy": lambda w: Policy.as_proposed(), "Page": lambda w: w.page,
        "XTSCipher": lambda w: XTSCipher(bytes(16), bytes(range(16))), "AddressLayout": lambda w: AddressLayout(),
        "TMEActivate": lambda w: TMEActivate, "TMECapability": lambda w: TMECapability,
    }


INSTANCES = _instances()


def _method_entries() -> list[Entry]:
    w = World()
    out = []
    for cname, make in INSTANCES.items():
        obj = make(w)
        for name in dir(obj):
            if name.startswith("_"):
                continue
            attr = getattr(obj, name)
            if not callable(attr) or inspect.isclass(attr):
                continue
            eid = f"{cname}.{name}"
            if eid in INTERNAL_METHODS:
                continue
            if cname in ("TMEActivate", "TMECapability") and name != "decode":
                continue  # the classes themselves are constructed entries; decode is their one method
            out.append(Entry(eid, (lambda make, name: lambda w: getattr(make(w), name))(make, name),
                             _param_list(eid, attr), EXAMPLES.get(eid, 12)))
    return out


def _module_entries() -> list[Entry]:
    seen: dict[int, str] = {}
    out = []
    names = [(m, n) for m in MODULES for n in importlib.import_module(m).__all__]
    names += [(m, n) for m, prefix in PREFIXED for n in importlib.import_module(m).__all__ if n.startswith(prefix)]
    for modname, name in names:
        obj = getattr(importlib.import_module(modname), name)
        if not callable(obj) or name in NOT_ENTRY_POINTS or id(obj) in seen:
            continue
        if inspect.isclass(obj) and name not in CONSTRUCTED:
            raise LookupError(f"{modname}.{name} is a public class: add it to CONSTRUCTED (a learner builds it) or "
                              "to NOT_ENTRY_POINTS with the reason")
        seen[id(obj)] = name
        eid = f"{obj.__module__.removeprefix('mktme_lite.')}.{name}"
        out.append(Entry(eid, (lambda obj: lambda w: obj)(obj), _param_list(eid, obj), EXAMPLES.get(name, 12)))
    return out


@lru_cache(maxsize=1)
def entries() -> tuple[Entry, ...]:
    found = [e for e in _module_entries() + _method_entries() if e.params]
    return tuple(found)


# -- odd values ------------------------------------------------------------------------------------------
class _Opaque:
    def __repr__(self):
        return "<an object>"


ODD_FIXED = [
    None, True, False, 0, 1, -1, -5, 1.5, 2.0, -0.0, math.nan, math.inf, -math.inf, 2**64, 10**9, 1 << 36, -(2**63),
    "", "x", "False", "0x981", "1", "\ud800", "a\x00b", b"", b"\x00" * 3, bytearray(b"ab"), bytes(1 << 20),
    [], [1], [None], {}, (), {1, 2}, np.int64(3), np.uint64(2**63), np.int8(-1), np.float64(1.0),
    np.float32(math.nan), np.bool_(True), np.bool_(False), np.array([1, 2]), _Opaque(), Machine, Process, int, str,
    bytes, complex(1, 1),
]
ODD = st.one_of(
    st.sampled_from(ODD_FIXED),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.binary(max_size=8),
)


def conforms(kind: str, value: Any, none_ok: bool) -> bool:
    """Whether ``value`` is of the parameter's kind (so accepting it is not a silent guess)."""
    if value is None and none_ok:
        return True
    if kind == "flag":
        return isinstance(value, (bool, np.bool_))
    if kind == "whole":
        return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if kind == "bytes":
        return isinstance(value, (bytes, bytearray, memoryview))
    if kind in ("text", "choice"):
        return isinstance(value, str)
    if kind == "proc":
        return isinstance(value, Process) or conforms("whole", value, False)
    return True  # "any"


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def call_limited(fn: Callable, args: list, kwargs: dict, limit: float = LIMIT):
    """``("ok", result, seconds)`` or ``("raised", exc, seconds)`` or ``("timeout", None, seconds)``."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
        if isinstance(result, AbstractContextManager) and not isinstance(result, PurePath):
            # a context manager (lesson.expect_error): use it the way a lesson does
            with result:
                raise MKTMEError("a demonstration error")
        return "ok", result, time.perf_counter() - start
    except _Timeout:
        return "timeout", None, time.perf_counter() - start
    except BaseException as exc:  # noqa: BLE001 - every escape is what is being judged
        return "raised", exc, time.perf_counter() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def build_call(entry: Entry, w: World, odd_param: str | None, odd_value: Any) -> tuple[Callable, list, dict]:
    fn = entry.target(w)
    args, kwargs = [], {}
    for p in entry.params:
        value = odd_value if p.name == odd_param else p.valid(w)
        if p.positional:
            args.append(value)
        else:
            kwargs[p.name] = value
    return fn, args, kwargs


_WARM: set[str] = set()


def _warm_up(entry: Entry) -> None:
    """Call ``entry`` once with valid values, untimed: its first call may build caches (a booted
    kernel per design, fonts) that are not what the 2 s guard is about."""
    if entry.id in _WARM:
        return
    _WARM.add(entry.id)
    fn, args, kwargs = build_call(entry, World(), None, None)
    call_limited(fn, args, kwargs, 10 * LIMIT)


def problem(entry: Entry, odd_param: str | None, odd_value: Any, limit: float = LIMIT) -> str | None:
    """What is wrong with calling ``entry`` with ``odd_value`` for ``odd_param`` (None: nothing)."""
    _warm_up(entry)
    w = World()
    fn, args, kwargs = build_call(entry, w, odd_param, odd_value)
    outcome, got, seconds = call_limited(fn, args, kwargs, limit)
    where = f"{entry.id}({odd_param}={odd_value!r:.60})"
    if outcome == "timeout":
        return f"{where} took more than {limit} s"
    if seconds > limit:
        return f"{where} took {seconds:.2f} s (limit {limit} s)"
    if outcome == "raised":
        if isinstance(got, MKTMEError):
            return None
        return f"{where} raised {type(got).__name__} outside the MKTMEError family: {str(got)[:200]}"
    param = next((p for p in entry.params if p.name == odd_param), None)
    if param is not None and not conforms(param.kind, odd_value, param.none_ok):
        return (f"{where} accepted {odd_value!r:.60} (a {type(odd_value).__name__}) for a {param.kind} "
                "parameter: it silently means something")
    return None


def _entry_id(e: Entry) -> str:
    return e.id


def _cases():
    out = []
    for e in entries():
        marks = []
        if e.id in KNOWN_BROKEN:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[e.id]))
        out.append(pytest.param(e, id=e.id, marks=marks))
    return out


# -- the tests -------------------------------------------------------------------------------------------
def test_every_scenario_module_is_judged():
    """A new scenario module is either called here or listed with the reason it is not (yet)."""
    import pkgutil

    import mktme_lite.scenarios as scenarios

    found = {info.name for info in pkgutil.iter_modules(scenarios.__path__)}
    covered = {m.rsplit(".", 1)[-1] for m in MODULES if m.startswith("mktme_lite.scenarios.")}
    assert found - covered == set(UNCOVERED_SCENARIOS) & found, sorted(found - covered - set(UNCOVERED_SCENARIOS))


def test_every_public_name_is_judged():
    """Discovery itself: every public callable has a strategy for each parameter or a reason to be left out."""
    found = {e.id for e in entries()}
    assert {"machine.Machine", "kernel.kernel.Kernel", "Machine.load", "Process.read", "Process.process_vm_readv",
            "viz.bytes.bytes_figure", "dump.hexdump", "lesson.aes_block", "quiz.ask", "scenarios.tme_basics.probe",
            "scenarios.aliasing.alias_experiment", "checks.aliasing.check_kernel_read",
            "widgets.tme_basics.render_dram_probe", "Policy.preset", "Kernel.kernel_read_direct_map"} <= found
    assert len(found) > 120


@pytest.mark.parametrize("entry", _cases())
@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_odd_arguments_get_a_sentence(entry, data):
    param = data.draw(st.sampled_from([p.name for p in entry.params]), label="parameter")
    value = data.draw(ODD, label="value")
    found = problem(entry, param, value)
    assert found is None, found


def test_the_checker_catches_a_broken_entry_point():
    """The same :func:`problem` fails on the fixture's deliberately broken entry points."""
    broken = _fixture()

    leak = Entry("broken_read", lambda w: broken.broken_read,
                 [Param("vaddr", W(0x1000), "whole"), Param("n", W(16), "whole")])
    assert problem(leak, "n", 16) is None  # it works on good input
    msg = problem(leak, "n", "16")
    assert msg is not None and "TypeError outside the MKTMEError family" in msg
    silent = Entry("broken_flag", lambda w: broken.broken_flag, [Param("verbose", W(True), "flag")])
    assert problem(silent, "verbose", True) is None
    assert "silently" in problem(silent, "verbose", "False")
    slow = Entry("broken_hang", lambda w: broken.broken_hang, [Param("n", W(1), "whole")])
    assert problem(slow, "n", 1) is None
    assert "more than" in problem(slow, "n", 10**9, limit=0.3)
    # and discovery finds a fixture module's public function by its __all__
    assert broken.__all__ == ["broken_read", "broken_flag", "broken_hang"]


def test_the_fixture_fails_the_hypothesis_test_itself():
    """Run the real hypothesis test body on the leaking entry point: it must fail."""
    broken = _fixture()

    leak = Entry("broken_read", lambda w: broken.broken_read,
                 [Param("vaddr", W(0x1000), "whole"), Param("n", W(16), "whole")])
    with pytest.raises(AssertionError, match="outside the MKTMEError family|silently"):
        test_odd_arguments_get_a_sentence.hypothesis.inner_test(entry=leak, data=_FixedData(["n", "16"]))


def _fixture():
    """tests/fixtures/fixture_entry_points.py, loaded by path (conftest keeps fixtures out of collection)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "fixtures" / "fixture_entry_points.py"
    spec = importlib.util.spec_from_file_location("fixture_entry_points", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _FixedData:
    """Stands in for hypothesis' ``data`` so the test body can be run on chosen draws."""

    def __init__(self, draws):
        self.draws = list(draws)

    def draw(self, strategy, label=None):
        return self.draws.pop(0)
