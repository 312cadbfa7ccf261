"""tools/check_env.py's kernel, Chromium and pending-reinstall checks, each shown failing too."""
from __future__ import annotations

import os
import sys
import time

import pytest

import check_env


def test_a_real_kernel_runs_code_and_imports_the_course():
    detail = check_env.check_kernel_runs()
    assert detail.startswith("1+1 = 2 and mktme_lite ")


def test_a_kernel_error_is_a_failure():
    with pytest.raises(RuntimeError, match="ModuleNotFoundError"):
        check_env.run_in_kernel("import no_such_module_anywhere")


def test_no_chromium_is_a_warning_not_a_failure(capsys):
    failures = []
    check_env.step("Chromium (make test)",
                   lambda: check_env.check_chromium({"MKTME_CHROMIUM": "/nonexistent/chromium", "PATH": ""}),
                   failures)
    out = capsys.readouterr().out
    assert failures == []
    assert out.startswith("  warn  Chromium (make test):") and "only `make test` needs one" in out


def test_chromium_found(tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    assert check_env.check_chromium({"MKTME_CHROMIUM": str(browser)}) == str(browser)


@pytest.fixture
def venv(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    stamp = tmp_path / ".venv" / ".installed"
    stamp.parent.mkdir()
    return tmp_path, stamp


def test_pyproject_newer_than_the_stamp_is_a_pending_reinstall(venv):
    root, stamp = venv
    stamp.touch()
    old = time.time() - 60
    os.utime(stamp, (old, old))
    why = check_env.pending_reinstall(root, stamp, prefix=str(stamp.parent))
    assert why and "pyproject.toml is newer" in why


def test_a_fresh_stamp_or_another_environment_is_not(venv):
    root, stamp = venv
    stamp.touch()
    assert check_env.pending_reinstall(root, stamp, prefix=str(stamp.parent)) is None
    os.utime(stamp, (time.time() - 60,) * 2)
    assert check_env.pending_reinstall(root, stamp, prefix=sys.base_prefix) is None  # conda, Binder


def test_a_missing_stamp_is_a_pending_install(venv):
    root, stamp = venv
    assert "missing" in check_env.pending_reinstall(root, stamp, prefix=str(stamp.parent))


def test_the_pending_reinstall_warns_and_the_environment_stays_ok(monkeypatch, capsys):
    monkeypatch.setattr(check_env, "pending_reinstall", lambda: "pyproject.toml is newer than the install")
    failures = []
    check_env.step("install up to date", check_env.check_install_stamp, failures)
    out = capsys.readouterr().out
    assert failures == [] and out.startswith("  warn  install up to date:")
    assert "WHEELHOUSE=dir" in out
