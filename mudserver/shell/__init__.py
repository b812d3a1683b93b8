"""The Twisted shell: sockets, WebSocket, time, threads and ``twistd``.

Everything here wires bytes, the reactor's clock and thread pools to the
sans-IO packages (:mod:`mudserver.wire`, :mod:`mudserver.core`,
:mod:`mudserver.limits`, :mod:`mudserver.store`); no game rule lives here.
"""
