"""A Jupyter server extension for the course: kernel websockets that send each frame at once.

    jupyter server extension list        # "mktme_lite_lab enabled ... OK"

Why it exists. A widget move that the kernel answers comes back as a burst of small websocket
frames (the kernel's "busy" status, one comm message per changed output, "idle"). Tornado leaves
Nagle's algorithm on for websockets unless the handler calls ``set_nodelay(True)`` (tornado's own
``WebSocketHandler.set_nodelay`` docstring warns of the delays), and jupyter_server does not call
it. With Nagle on, the server holds each small frame until the browser has acknowledged the one
before, and the browser delays that acknowledgement (Linux's delayed ACK, tens of ms). Measured in
Chromium on 127.0.0.1 (benchmarks/README.md, "Nagle's delay"): after a price typed into lesson 07's
explorer, the last frame reached the page 40-51 ms after the kernel had finished without this
extension and 15-35 ms after with it; across the lessons, the kernel-answered moves that took
p50 49-60 ms took 14-32 ms.

What it does. When the server loads it, it wraps whichever kernel-websocket connection class the
server is configured with (the default ZMQ one, or a gateway's) in a subclass whose ``connect()``
first sets TCP_NODELAY on the websocket. Nothing else about the server changes. It is enabled by
``PREFIX/etc/jupyter/jupyter_server_config.d/mktme_lite_lab.json``, which ``tools/lab_settings.py``
writes (``make install`` and ``make lab`` run it, as do Binder's postBuild and the hub's
install.sh); a server started from another environment simply does not have it, and the course
works the same, a little slower.

``MKTME_NODELAY=0`` in the server's environment leaves it off (the extension loads and says so),
for measuring with and without it (``benchmarks/bench_browser.py --no-nodelay``).

It imports nothing of the simulator (``mktme_lite``): the server process stays as it was.
"""
from __future__ import annotations

import os

__all__ = ["nodelay_connection"]

#: Marks a connection class this module made, so that loading twice does not wrap twice.
_MARK = "_mktme_nodelay"


def nodelay_connection(base: type) -> type:
    """A subclass of the kernel-websocket connection class ``base`` whose ``connect()`` first turns
    Nagle's algorithm off on the websocket (``set_nodelay(True)``), then connects as ``base`` does.

    ``base.connect`` may be a plain method returning a future (the ZMQ connection) or a coroutine
    function (the gateway's); the subclass returns whatever it returns, so the handler's ``await``
    works for both. A handler that cannot set the flag (no stream yet, an odd transport) is logged
    and left as it is: the connection works, only without the gain."""
    if getattr(base, _MARK, False):
        return base

    class NoDelayConnection(base):  # type: ignore[misc, valid-type]
        #: Whether a connection of this class has set the flag yet (logged once, not per notebook).
        _told = False

        def connect(self):
            try:
                self.websocket_handler.set_nodelay(True)
            except Exception as exc:  # the flag is an optimisation: never fail a connection for it
                self.log.warning("mktme_lite_lab: could not set TCP_NODELAY on the kernel websocket: %r", exc)
            else:
                if not NoDelayConnection._told:
                    NoDelayConnection._told = True
                    self.log.info("mktme_lite_lab: TCP_NODELAY set on a kernel websocket (the first; the "
                                  "others are not logged)")
            return super().connect()

    setattr(NoDelayConnection, _MARK, True)
    NoDelayConnection.__name__ = NoDelayConnection.__qualname__ = f"NoDelay{base.__name__}"
    NoDelayConnection.__module__ = __name__
    return NoDelayConnection


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp) -> None:
    """Wrap the server's kernel-websocket connection class. The handler reads the class from the
    web application's settings at each connection (jupyter_server's ``KernelWebsocketHandler``),
    and extensions load after those settings are made, so replacing it here is enough."""
    if os.environ.get("MKTME_NODELAY", "1").strip() == "0":
        serverapp.log.info("mktme_lite_lab: left off (MKTME_NODELAY=0): kernel websockets keep Nagle's algorithm")
        return
    settings = serverapp.web_app.settings
    base = settings.get("kernel_websocket_connection_class")
    if base is None:
        serverapp.log.warning("mktme_lite_lab: no kernel websocket connection class to wrap; left as it is")
        return
    settings["kernel_websocket_connection_class"] = nodelay_connection(base)
    serverapp.log.info("mktme_lite_lab: kernel websockets send each frame at once (TCP_NODELAY on %s)",
                       base.__name__)
