"""Socket activation as systemd does it, without systemd.

systemd opens the listening socket itself and starts the service with it as
file descriptor 3, ``LISTEN_FDS=1``, ``LISTEN_PID`` set to the service's
own pid, and ``LISTEN_FDNAMES`` its name.  Here the test is systemd: it
listens, connects a client before the server even runs (the connection
waits in the kernel's queue, as it would during a restart), then starts
``twistd -n mudserver --port systemd:domain=INET:index=0`` with the socket
as fd 3, and the waiting client gets its ``wel``.
"""

from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
from pathlib import Path

from .support import REPO, TWISTD, LineClient


def test_the_server_takes_its_listening_socket_from_systemd(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    host, port = listener.getsockname()
    fd = listener.fileno()
    # Connected and talking before the server exists: the kernel holds it.
    early = LineClient(host, port, timeout=20)
    early.send("con foo,1234,1")
    process = subprocess.Popen(
        # LISTEN_PID must be the server's own pid: sh exports its $$, then
        # becomes twistd with exec, keeping that pid.
        [
            *("sh", "-c", 'export LISTEN_PID=$$; exec "$@"', "sh"),
            *(TWISTD, "-n", "--pidfile=", f"--logfile={tmp_path / 'twistd.log'}", "mudserver"),
            *("--port=systemd:domain=INET:index=0", f"--data={data}", "--web=none", "--game=none"),
        ],
        cwd=tmp_path,
        # systemd 227 and later name every socket; Twisted 26 ignores unnamed
        # ones.  Without FileDescriptorName= the name is the socket unit's.
        env=dict(
            os.environ, PYTHONPATH=str(REPO), LISTEN_FDS="1", LISTEN_FDNAMES="mudserver.socket"
        ),
        # Descriptor 3 in the child, as systemd passes it.
        preexec_fn=lambda: os.dup2(fd, 3),
        close_fds=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listener.close()  # only the server holds it now
    try:
        with early:
            assert early.read_until(lambda line: line.startswith(("wel ", "bye ")))[-1] == (
                "wel 1,foo,0.00,0.00,0.00"
            )
        with LineClient(host, port, timeout=10) as later:
            assert later.login("bar", "4321").startswith("wel ")
        process.terminate()
        assert process.wait(15) == -15  # a normal stop: twistd re-raises SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_the_shipped_units_run_twistd_on_the_activated_socket() -> None:
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(REPO / "contrib" / "mudserver.service")
    socket_unit = configparser.ConfigParser(strict=False, interpolation=None)
    socket_unit.read(REPO / "contrib" / "mudserver.socket")
    start = service["Service"]["ExecStart"]
    assert "twistd -n" in start and "mudserver" in start
    assert "--port systemd:domain=INET:index=0" in start
    assert service["Service"]["User"] not in ("", "root")
    assert service["Unit"]["Requires"] == "mudserver.socket"
    assert socket_unit["Socket"]["ListenStream"]
    assert socket_unit["Install"]["WantedBy"] == "sockets.target"
