"""Exercise checks: tell the learner where they stand, never crash their notebook.

Every exercise ends with ``check_<name>(answer)``. A check returns a :class:`CheckResult`
whose ``status`` is one of three outcomes, and whose message is what the notebook shows:

``not_attempted``
    The answer is still the generated placeholder (``...`` or ``None``). An untouched
    exercise notebook therefore runs from top to bottom without an error.
``hint``
    The answer was tried and is wrong. The message says *what* is wrong, specifically
    enough to act on ("the KeyID lands in the low bits; it belongs in the top bits").
    An answer that raises while being checked also gets a hint naming the exception.
``passed``
    "These checks passed": the checks we wrote found nothing wrong. We never claim more.

Writing a check::

    @check("keyid_of", examples=Examples(
        placeholder=...,
        wrong=[(lambda hpa: hpa & 0x3F, "top bits")],
        correct=lambda: reference_keyid_of,
    ))
    def check_keyid_of(answer):
        if answer(0x3 << 40, ...) != 3:
            return hint("... the KeyID sits in the top bits ...")
        return passed("keyid_of() finds the KeyID in every address we tried.")

``@check`` registers the function in :data:`REGISTRY` (tests/test_checks_contract.py runs
the examples of every registered check), turns a placeholder answer into ``not_attempted``
before the body runs (and so does :func:`attempted` inside it), turns any exception into a
hint, and, when the environment variable ``MKTME_CHECK_LOG`` names a file, appends one JSON
line ``{"check": name, "status": status}`` per call (the tests use this to prove that every
solution passes and every generated exercise is "not attempted").

The missing-``return`` rule (docs/CONVENTIONS.md, "Exercises") lives here, once for the
course: pass what the learner's function returned through :func:`returned`::

    got = returned(answer(t), "mul_alpha", "`return t`, the product as an int")

An untouched stub returns ``...`` (or a tuple of them) and stops the check as "not
attempted"; ``None`` raises :class:`MissingReturn`, which ``@check`` turns into the one
"missing `return`?" hint, naming the function and what it must return.

Each lesson's checks are in ``mktme_lite/checks/<stem>.py`` (``tme_basics``, ``multi_key``,
``aliasing``, ...); a lesson imports them from there, this module only holds the machinery.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from ..params import ParameterError, choose

__all__ = [
    "STATUSES", "CheckResult", "not_attempted", "hint", "passed", "is_placeholder", "NotAttempted",
    "attempted", "is_stub_return", "MissingReturn", "returned", "Examples", "RegisteredCheck",
    "REGISTRY", "check",
]

STATUSES = ("not_attempted", "hint", "passed")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; its repr is the message the learner reads."""

    status: str
    message: str

    def __post_init__(self) -> None:
        choose(self.status, STATUSES, "check status")

    def __repr__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return self.message

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def not_attempted(what: str) -> CheckResult:
    return CheckResult("not_attempted",
                       f"Not attempted yet: replace the `...` for {what} with your answer.")


def hint(msg: str) -> CheckResult:
    return CheckResult("hint", f"Not yet. Hint: {msg}")


def passed(msg: str = "") -> CheckResult:
    text = "These checks passed."
    return CheckResult("passed", f"{text} {msg}".rstrip())


def is_placeholder(x: Any) -> bool:
    """True for the values a generated exercise leaves behind: ``...`` and ``None``."""
    return x is Ellipsis or x is None


class NotAttempted(Exception):
    """Raised by :func:`attempted` inside a check body; the wrapper reports "not attempted"."""


def attempted(value: Any) -> Any:
    """Return ``value``, or stop the check as "not attempted" if it is a placeholder.

    Use it on what a learner's *function* returns: a generated exercise function whose
    body is only ``...`` returns ``None``::

        keyid = attempted(answer(hpa))
    """
    if is_placeholder(value):
        raise NotAttempted
    return value


def is_stub_return(value: Any) -> bool:
    """True for what an untouched generated function returns: ``...``, or a tuple of them.

    ``make_exercises`` keeps the solution's final ``return name`` (or ``return a, b``) and turns
    ``name = <answer>`` into ``name = ...``, so the stub hands back ``...`` (or ``(..., ...)``).
    A tuple with only *some* ``...`` left is a half-finished answer and gets a hint instead.
    """
    return value is Ellipsis or (isinstance(value, tuple) and bool(value)
                                 and all(x is Ellipsis for x in value))


class MissingReturn(Exception):
    """The learner's function returned ``None``: a body they edited and left without ``return``.

    Raised by :func:`returned`. :func:`check` turns it into :meth:`hint_text`, so every lesson
    states the rule in the same words and only adds what this function must return.
    """

    def __init__(self, fname: str, must: str | None = None, case: str | None = None):
        self.fname, self.must, self.case = fname, must, case
        super().__init__(self.hint_text())

    def hint_text(self) -> str:
        where = f" for {self.case}" if self.case else ""
        must = self.must or "a `return` of the value it computed"
        return f"{self.fname}() returned None{where}: missing `return`? It must end with {must}."


def _phrase(value: Any, what: str, *, optional: bool = False) -> None:
    if (value is None and optional) or (isinstance(value, str) and value.strip()):
        return
    raise ParameterError(f"{what} must be a non-empty str{' or None' if optional else ''}; got {value!r}")


def returned(got: Any, fname: str, must: str | None = None, *, case: str | None = None) -> Any:
    """``got``, what the learner's function ``fname`` returned, once it is a real answer.

    Inside a check body, for exercises whose stub keeps its ``return name``:

    - ``...`` or a tuple of ``...`` (the untouched stub) raises :class:`NotAttempted`;
    - ``None`` raises :class:`MissingReturn`: the learner edited the body and lost the
      ``return``. ``must`` says what the function must end with ("`return wrong`, the list of
      names"), ``case`` which input returned nothing ("bob's page"); both are optional.

    An exercise whose region assigns nothing has a stub that returns ``None`` itself: check its
    effect instead, or use :func:`attempted`.
    """
    _phrase(fname, "fname")
    _phrase(must, "must", optional=True)
    _phrase(case, "case", optional=True)
    if is_stub_return(got):
        raise NotAttempted
    if got is None:
        raise MissingReturn(fname, must, case)
    return got


class Examples(NamedTuple):
    """Test cases every registered check must carry.

    ``placeholder`` must give ``not_attempted``; each ``(answer, substring)`` in ``wrong``
    must give a hint whose message contains ``substring``; ``correct()`` builds an answer
    that must pass.
    """

    placeholder: Any
    wrong: list[tuple[Any, str]]
    correct: Callable[[], Any]


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    func: Callable[[Any], CheckResult]
    examples: Examples | None


REGISTRY: dict[str, RegisteredCheck] = {}


def _log(name: str, result: CheckResult) -> None:
    path = os.environ.get("MKTME_CHECK_LOG")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"check": name, "status": result.status}) + "\n")
    except OSError:
        pass  # logging is for the test suite; it must never break a learner's notebook


def check(name: str, examples: Examples | tuple | None = None):
    """Register a check function and make it safe to call with any answer."""
    _phrase(name, "check name")
    if examples is not None and not isinstance(examples, Examples):
        examples = Examples(*examples)

    def decorate(func: Callable[[Any], CheckResult]):
        @functools.wraps(func)
        def wrapper(answer: Any) -> CheckResult:
            if is_placeholder(answer):
                result = not_attempted(name)
            else:
                try:
                    result = func(answer)
                except NotAttempted:
                    result = not_attempted(name)
                except MissingReturn as lost:
                    result = hint(lost.hint_text())
                except Exception as exc:  # the learner's code raised: explain, do not crash
                    result = hint(f"checking your answer raised {type(exc).__name__}: {exc}")
                if not isinstance(result, CheckResult):
                    result = hint(f"the check for {name} got no verdict (returned {result!r}); "
                                  "please report this")
            _log(name, result)
            return result

        if name in REGISTRY and REGISTRY[name].func.__qualname__ != func.__qualname__:
            raise ParameterError(f"two checks are registered as {name!r}; give each check its own name")
        REGISTRY[name] = RegisteredCheck(name, wrapper, examples)
        return wrapper

    return decorate
