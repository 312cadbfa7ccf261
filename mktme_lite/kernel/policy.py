"""What the kernel does in every place the 2018 RFC left open: one switch per decision.

The course runs the same programs under two presets:

* :meth:`Policy.as_proposed` is the kernel Andy Lutomirski read on 4 Dec 2018: no cache
  flushes when a frame changes KeyID ("the patches do no flushing"), one direct map at
  KeyID 0 that aliases every encrypted page, swap through that KeyID-0 alias, and a KeyID that
  can be reprogrammed as soon as its key is invalidated.
* :meth:`Policy.fixed` applies the spec's page-eviction procedure and what the thread agreed
  on: flush the old alias (spec EvictPage; Kirill Shutemov's ``free_encrypted_page`` and
  ``prep_encrypted_page``), flush the new alias too (Andy, 5 Dec: it may have been filled
  speculatively), zero through the new KeyID (spec AddPage step 4), kernel access through the
  page's own KeyID (Kirill's per-KeyID direct maps), swap through the page's own KeyID, and
  never reprogram a KeyID while anything still uses it (Dave Hansen, 5 Dec).

Each switch can be flipped alone with :meth:`Policy.replace`, so a lesson can turn on one
repair at a time and watch one symptom go away. Nothing in the kernel model tests the preset
*name*: every behaviour is decided by a switch, and every symptom is computed by the hardware
model from what the kernel did.

Zeroing (``zero_through_new_keyid``) is ``True`` in BOTH presets. Kirill's
``prep_encrypted_page()`` (the core series the RFC was built on) sets ``page_ext->keyid``
*before* zeroing, so ``clear_page`` already went through the new key. Had the as-proposed
preset zeroed through KeyID 0 instead, every fresh encrypted page would read as garbage from
its first touch: a bug nobody in the thread reported, and one that would swamp the symptoms the
thread did argue about (C2 would not even look like MADV_DONTNEED). What the RFC lacked was
the *flushes* around that zeroing; that is what ``flush_old_alias``/``flush_new_alias`` model.
Turning ``zero_through_new_keyid`` off shows why Kirill's order matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from dataclasses import replace as _dc_replace

from ..errors import ConfigError
from ..params import choose, instance

DIRECT_MAP_DESIGNS = ("keyid0", "per_keyid", "rekey", "xpfo", "unmapped")
SWAP_PATHS = ("direct_map_keyid0", "page_keyid")
PRESETS = ("as_proposed", "fixed", "core_series")

_SWITCH_DOCS = {
    "flush_old_alias": "clflush the frame through the KeyID it leaves (spec EvictPage step d)",
    "flush_new_alias": "clflush the frame through the KeyID it joins, before use (Andy, 5 Dec: speculative fills)",
    "zero_through_new_keyid": "clear a newly allocated page through its own KeyID (spec AddPage step 4)",
    "direct_map": "how the kernel reaches a user frame: " + " | ".join(DIRECT_MAP_DESIGNS),
    "swap_path": "which alias swap I/O reads and writes: " + " | ".join(SWAP_PATHS),
    "never_rekey_live_keyid": "keep a KeyID (and its key) until no VMA, page or unflushed line uses it (Dave Hansen, 5 Dec)",
    "encrypted_swap": "encrypt swap slots with a kernel swap key (recommended, never enforced: Dave Hansen, 4 Dec)",
}


@dataclass(frozen=True)
class Policy:
    """The kernel's choice at every point the RFC left open (see the module docstring).

    ``direct_map`` designs (how the kernel touches a user page, e.g. for ``get_user_pages``):

    * ``"keyid0"``: one direct map, every frame at KeyID 0 (as proposed; Andy's C8 alias).
    * ``"per_keyid"``: Kirill's per-KeyID direct maps; the kernel uses the page's own KeyID.
    * ``"rekey"``: one direct map whose entry for a frame is re-keyed (``pageattr.c`` style)
      whenever the frame changes KeyID: a flush of the old alias plus a TLB shootdown each time.
    * ``"xpfo"``: user frames leave the direct map while a process owns them (XPFO); the kernel
      reaches them through a temporary ``kmap`` whose unmap costs a TLB shootdown.
    * ``"unmapped"``: encrypted user frames are dropped from the direct map and
      ``get_user_pages()`` fails with EFAULT for them (Andy's first suggested fix).
    """

    flush_old_alias: bool = True
    flush_new_alias: bool = True
    zero_through_new_keyid: bool = True
    direct_map: str = "per_keyid"
    swap_path: str = "page_keyid"
    never_rekey_live_keyid: bool = True
    encrypted_swap: bool = False
    name: str = field(default="custom", compare=False)

    def __post_init__(self):
        for f in fields(self):
            if f.type in (bool, "bool") and not isinstance(getattr(self, f.name), bool):
                raise ConfigError(f"Policy.{f.name} must be True or False; got {getattr(self, f.name)!r}")
        if not isinstance(self.direct_map, str) or self.direct_map not in DIRECT_MAP_DESIGNS:
            raise ConfigError(
                f"Policy.direct_map {self.direct_map!r} is not a design the model knows; "
                f"choose one of {', '.join(DIRECT_MAP_DESIGNS)}"
            )
        if not isinstance(self.swap_path, str) or self.swap_path not in SWAP_PATHS:
            raise ConfigError(
                f"Policy.swap_path {self.swap_path!r} is not known; choose one of {', '.join(SWAP_PATHS)}"
            )
        if not isinstance(self.name, str):
            raise ConfigError("Policy.name must be a string")

    # -- presets ---------------------------------------------------------------------------------
    @classmethod
    def as_proposed(cls) -> "Policy":
        """The RFC as Andy Lutomirski read it on 4 Dec 2018 (claims C4-C8 happen by themselves)."""
        return cls(
            flush_old_alias=False,
            flush_new_alias=False,
            zero_through_new_keyid=True,  # Kirill's prep_encrypted_page order; see module docstring
            direct_map="keyid0",
            swap_path="direct_map_keyid0",
            never_rekey_live_keyid=False,
            encrypted_swap=False,
            name="as_proposed",
        )

    @classmethod
    def fixed(cls) -> "Policy":
        """Every repair the thread and the spec call for (nothing is lost; see the property test)."""
        return cls(
            flush_old_alias=True,
            flush_new_alias=True,
            zero_through_new_keyid=True,
            direct_map="per_keyid",
            swap_path="page_keyid",
            never_rekey_live_keyid=True,
            encrypted_swap=False,
            name="fixed",
        )

    @classmethod
    def core_series(cls) -> "Policy":
        """Kirill Shutemov's core MKTME series (2018-19) plus Dave Hansen's key-lifetime plan.

        Old aliases are flushed (``free_encrypted_page`` / ``prep_encrypted_page``), the page is
        cleared through its new KeyID, the direct map is per KeyID and DMA carries the page's KeyID;
        the *new* alias is not flushed. Both sides of the thread on that last point: Andy (5 Dec)
        wanted both the old and the new mapping clflushed, because of speculative reads; Dave
        Hansen answered (6 Dec) that MKTME CPUs never write back lines that were only filled
        speculatively or by prefetch; Andy then proposed to "clflush the old mapping and then ...
        zero the new mapping" (6 Dec), which is what this preset does. Whether a clean line filled
        speculatively under the new KeyID before the page was cleared can still be read stale is the
        question the preset leaves open (``flush_new_alias=False``) for lesson 04 to test.
        """
        return cls(
            flush_old_alias=True,
            flush_new_alias=False,
            zero_through_new_keyid=True,
            direct_map="per_keyid",
            swap_path="page_keyid",
            never_rekey_live_keyid=True,
            encrypted_swap=False,
            name="core_series",
        )

    @classmethod
    def preset(cls, name: str) -> "Policy":
        """A preset by name: "as_proposed", "fixed" or "core_series"."""
        presets = {"as_proposed": cls.as_proposed, "fixed": cls.fixed, "core_series": cls.core_series}
        return presets[choose(name, PRESETS, "policy preset")]()

    # -- one switch at a time ----------------------------------------------------------------------
    def replace(self, **changes) -> "Policy":
        """A copy with some switches changed, named after what changed (``as_proposed+flush_old_alias``)."""
        unknown = set(changes) - set(_SWITCH_DOCS) - {"name"}
        if unknown:
            raise ConfigError(
                f"Policy has no switch {', '.join(sorted(unknown))}; switches are {', '.join(_SWITCH_DOCS)}"
            )
        name = changes.pop("name", None)
        new = _dc_replace(self, **changes)  # __post_init__ checks every switch before it is compared
        if name is None:
            parts = []
            for key in changes:
                value = getattr(new, key)
                if getattr(self, key) == value:
                    continue
                parts.append(key if value is True else f"no_{key}" if value is False else f"{key}={value}")
            name = self.name + "".join("+" + p for p in parts)
        return _dc_replace(new, name=name)

    @staticmethod
    def switches() -> dict[str, str]:
        """Every switch with a one-line description of what it does."""
        return dict(_SWITCH_DOCS)

    def differences(self, other: "Policy") -> dict[str, tuple]:
        """Switches on which ``self`` and ``other`` disagree: ``{name: (self value, other value)}``."""
        other = instance(other, Policy, "other (the Policy to compare with)", "Policy.fixed()")
        return {
            k: (getattr(self, k), getattr(other, k))
            for k in _SWITCH_DOCS
            if getattr(self, k) != getattr(other, k)
        }

    @classmethod
    def repairs(cls) -> dict[str, object]:
        """The switches that turn ``as_proposed`` into ``fixed``, with their fixed values."""
        return {k: v[1] for k, v in cls.as_proposed().differences(cls.fixed()).items()}

    def describe(self) -> str:
        """A small table of the switches, for printing in a lesson."""
        width = max(len(k) for k in _SWITCH_DOCS)
        rows = [f"Policy {self.name!r}"]
        rows += [f"  {k:<{width}}  {getattr(self, k)!s:<18} {doc}" for k, doc in _SWITCH_DOCS.items()]
        return "\n".join(rows)
