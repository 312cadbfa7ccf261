"""The course's Jupyter server extension (mktme_lite_lab): kernel websockets with TCP_NODELAY.

Why it matters is measured, not tested (benchmarks/README.md, "Nagle's delay"). These tests prove
what it does: the wrapped connection sets the flag before it connects, for a plain and for a
coroutine ``connect``; a handler that refuses the flag still connects; loading the extension
replaces the server's class once; and tools/lab_settings.py (run by make install) enables it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import lab_settings
import mktme_lite_lab
from mktme_lite_lab import _load_jupyter_server_extension, nodelay_connection


class _Handler:
    def __init__(self, refuse=False):
        self.calls, self.refuse = [], refuse

    def set_nodelay(self, value):
        if self.refuse:
            raise AssertionError("ws_connection is None")  # what tornado's handler raises before open()
        self.calls.append(("set_nodelay", value))


class _Plain:
    """A stand-in for ZMQChannelsWebsocketConnection: connect() returns a future-like value."""
    log = logging.getLogger("test_lab_server")

    def __init__(self, handler):
        self.websocket_handler = handler

    def connect(self):
        self.websocket_handler.calls.append(("connect",))
        return "future"


class _Coroutine(_Plain):
    """A stand-in for the gateway's connection: connect() is a coroutine function."""

    async def connect(self):
        self.websocket_handler.calls.append(("connect",))
        return "done"


def test_the_flag_is_set_before_the_connection_connects():
    h = _Handler()
    assert nodelay_connection(_Plain)(h).connect() == "future"
    assert h.calls == [("set_nodelay", True), ("connect",)]


def test_a_coroutine_connect_is_still_awaited():
    h = _Handler()
    assert asyncio.run(nodelay_connection(_Coroutine)(h).connect()) == "done"
    assert h.calls == [("set_nodelay", True), ("connect",)]


def test_a_handler_that_refuses_the_flag_still_connects(caplog):
    h = _Handler(refuse=True)
    with caplog.at_level(logging.WARNING, logger="test_lab_server"):
        assert nodelay_connection(_Plain)(h).connect() == "future"
    assert h.calls == [("connect",)]
    assert "could not set TCP_NODELAY" in caplog.text


def test_wrapping_is_a_subclass_and_happens_once():
    wrapped = nodelay_connection(_Plain)
    assert issubclass(wrapped, _Plain) and wrapped is not _Plain
    assert wrapped.__name__ == "NoDelay_Plain" and wrapped.__module__ == "mktme_lite_lab"
    assert nodelay_connection(wrapped) is wrapped


def test_the_real_connection_class_wraps_as_a_traitlets_subclass():
    channels = pytest.importorskip("jupyter_server.services.kernels.connection.channels")
    base = channels.ZMQChannelsWebsocketConnection
    wrapped = nodelay_connection(base)
    assert issubclass(wrapped, base)
    assert "connect" in vars(wrapped)  # the override, not an inherited method


def _serverapp(settings):
    return SimpleNamespace(web_app=SimpleNamespace(settings=settings), log=logging.getLogger("test_lab_server"))


def test_loading_replaces_the_servers_class_and_loading_again_changes_nothing(caplog, monkeypatch):
    monkeypatch.delenv("MKTME_NODELAY", raising=False)
    settings = {"kernel_websocket_connection_class": _Plain}
    with caplog.at_level(logging.INFO, logger="test_lab_server"):
        _load_jupyter_server_extension(_serverapp(settings))
    first = settings["kernel_websocket_connection_class"]
    assert issubclass(first, _Plain) and first is not _Plain
    assert "TCP_NODELAY on _Plain" in caplog.text
    _load_jupyter_server_extension(_serverapp(settings))
    assert settings["kernel_websocket_connection_class"] is first


def test_mktme_nodelay_0_leaves_it_off(monkeypatch, caplog):
    monkeypatch.setenv("MKTME_NODELAY", "0")
    settings = {"kernel_websocket_connection_class": _Plain}
    with caplog.at_level(logging.INFO, logger="test_lab_server"):
        _load_jupyter_server_extension(_serverapp(settings))
    assert settings["kernel_websocket_connection_class"] is _Plain and "left off (MKTME_NODELAY=0)" in caplog.text


def test_loading_with_no_class_leaves_the_settings_alone(caplog, monkeypatch):
    monkeypatch.delenv("MKTME_NODELAY", raising=False)
    settings = {}
    with caplog.at_level(logging.WARNING, logger="test_lab_server"):
        _load_jupyter_server_extension(_serverapp(settings))
    assert settings == {} and "nothing to wrap" not in caplog.text and "no kernel websocket" in caplog.text


def test_the_extension_point_names_the_module():
    assert mktme_lite_lab._jupyter_server_extension_points() == [{"module": "mktme_lite_lab"}]


def test_lab_settings_writes_the_file_that_enables_the_extension(tmp_path):
    target = lab_settings.enable_server_extension(tmp_path)
    assert target == tmp_path / "etc/jupyter/jupyter_server_config.d/mktme_lite_lab.json"
    assert json.loads(target.read_text()) == {"ServerApp": {"jpserver_extensions": {"mktme_lite_lab": True}}}
    before = target.stat().st_mtime_ns
    assert lab_settings.enable_server_extension(tmp_path) == target and target.stat().st_mtime_ns == before


def test_lab_settings_refuses_an_extension_this_python_cannot_import(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_settings, "SERVER_EXTENSION", "mktme_lite_lab_not_here")
    with pytest.raises(ValueError, match="cannot import mktme_lite_lab_not_here"):
        lab_settings.enable_server_extension(tmp_path)
    assert not (tmp_path / "etc").exists()


def test_this_environment_has_it_enabled_and_jupyter_server_validates_it():
    """make install ran tools/lab_settings.py: the servers of this environment (make lab, the browser
    tests) load the extension."""
    pytest.importorskip("jupyter_server")
    installed = lab_settings.server_config_path(Path(sys.prefix))
    assert installed.exists(), f"{installed} is missing: make install runs tools/lab_settings.py, which writes it"
    out = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"],
                         capture_output=True, text=True, timeout=120)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in (out.stdout + out.stderr).splitlines()]
    assert "mktme_lite_lab enabled" in lines, lines
    assert "mktme_lite_lab  OK" in lines or "mktme_lite_lab OK" in lines, lines
