"""TLS on the line protocol: a real server with a plain and a TLS port at once.

The certificate is made in the test (:mod:`tests.tlscert`); clients trust it
as a CA file, so verification is real.  The same game, the same limits: each
limit that depends on the transport is checked over TLS too.
"""

from __future__ import annotations

import select
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mudserver.client import BlockingClient
from tests.support import (
    REPO,
    SHARED_SERVER,
    TWISTD,
    UNLIMITED_CHAT,
    LineClient,
    ServerProcess,
    free_port,
    running_server,
    say_until_dropped,
    small_buffer_socket,
)
from tests.tlscert import ServerCertificate, make_certificate

OPENSSL = shutil.which("openssl")
pexpect = pytest.importorskip("pexpect")


@dataclass
class TlsServer:
    server: ServerProcess
    tls_port: int
    cert: ServerCertificate

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert.cert))

    def line_client(self, timeout: float = 5.0) -> LineClient:
        return LineClient("localhost", self.tls_port, timeout=timeout, tls=self.context())


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    tmp = tmp_path_factory.mktemp("tls")
    cert = make_certificate(tmp)
    port = free_port()
    with running_server(tmp, f"--port={cert.endpoint(port)}", *SHARED_SERVER) as server:
        yield TlsServer(server, port, cert)


def test_client_library_over_tls_verifies_the_certificate(tls_server: TlsServer) -> None:
    with BlockingClient(
        "localhost", tls_server.tls_port, tls=True, cafile=tls_server.cert.cert, timeout=5
    ) as client:
        assert isinstance(client.sock, ssl.SSLSocket)
        welcome = client.login("foo", "1234")
        assert welcome.name == "foo"
        client.quit()


def test_an_untrusted_certificate_is_refused_unless_insecure(tls_server: TlsServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        BlockingClient("localhost", tls_server.tls_port, tls=True, timeout=5)
    with BlockingClient(
        "localhost", tls_server.tls_port, tls=True, verify=False, timeout=5
    ) as client:
        assert client.login("bar", "4321").name == "bar"
        client.quit()


def test_plain_and_tls_players_meet_in_one_world(tls_server: TlsServer) -> None:
    plain = LineClient(tls_server.server.host, tls_server.server.port)
    secure = tls_server.line_client()
    with plain, secure:
        assert plain.login("foo", "1234").startswith("wel ")
        assert secure.login("bar", "4321").startswith("wel ")
        secure.send("say over tls")
        said = plain.read_until(lambda line: line.startswith("say "))[-1]
        assert said.endswith(",bar,over tls")


def test_plain_text_on_the_tls_port_is_not_a_login(tls_server: TlsServer) -> None:
    with socket.create_connection(("127.0.0.1", tls_server.tls_port), timeout=5) as sock:
        sock.sendall(b"con foo,1234,1\n")
        data = b""
        try:
            while chunk := sock.recv(4096):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    assert b"wel " not in data


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl binary (apt-get install openssl)")
def test_openssl_s_client_logs_in(tls_server: TlsServer) -> None:
    assert OPENSSL is not None
    process = subprocess.Popen(
        [
            OPENSSL,
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-CAfile",
            str(tls_server.cert.cert),
            "-verify_hostname",
            "localhost",
            "-connect",
            f"127.0.0.1:{tls_server.tls_port}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(b"con foo,1234,1\n")
        process.stdin.flush()
        seen = b""
        deadline = time.monotonic() + 10
        while b"\nwel " not in b"\n" + seen and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.2)
            if ready:
                chunk = process.stdout.read1(4096)
                if not chunk:
                    break
                seen += chunk
        assert b"wel " in seen and b",foo," in seen, seen
        process.stdin.write(b"bye\n")
        process.stdin.flush()
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def test_limits_hold_on_tls_connections(tmp_path: Path) -> None:
    """Line length, idle timeout and the per-address cap, over TLS."""
    cert = make_certificate(tmp_path)
    port = free_port()
    options = (
        f"--port={cert.endpoint(port)}",
        "--idle-timeout=1",
        "--max-line=64",
        "--max-connections-per-ip=3",
    )
    with running_server(tmp_path, *options) as server:
        context = ssl.create_default_context(cafile=str(cert.cert))
        with LineClient("localhost", port, tls=context) as client:
            client.send("x" * 200)
            assert client.read_line() == "bye toolong"
        with LineClient("localhost", port, tls=context) as client:
            started = time.monotonic()
            assert client.read_line(timeout=5) == "bye timeout"
            assert time.monotonic() - started < 4
        # Plain and TLS connections share one count per address.
        held = [LineClient(server.host, server.port) for _ in range(3)]
        try:
            for client in held:
                client.send("")
            time.sleep(0.3)  # the server has counted them (no line to wait for)
            with LineClient("localhost", port, tls=context) as refused:
                assert refused.read_line() == "bye full"
        finally:
            for client in held:
                client.close()


def test_flood_control_holds_on_tls(tmp_path: Path) -> None:
    cert = make_certificate(tmp_path)
    port = free_port()
    options = (f"--port={cert.endpoint(port)}", "--flood-time=1", "--line-rate=5")
    with running_server(tmp_path, *options):
        context = ssl.create_default_context(cafile=str(cert.cert))
        with LineClient("localhost", port, tls=context) as client:
            assert client.login("foo", "1234").startswith("wel ")
            deadline = time.monotonic() + 10
            lines: list[str] = []
            try:
                while time.monotonic() < deadline and "bye flood" not in lines:
                    client.sock.sendall(b"\n" * 50)
                    client.sock.settimeout(0.01)
                    try:
                        client.buffer += client.sock.recv(65536)
                    except (TimeoutError, ssl.SSLWantReadError):
                        pass
                    lines = client.buffer.decode().split("\n")
                    time.sleep(0.02)
            except OSError:
                pass
            assert "bye flood" in lines


def test_a_tls_client_that_never_reads_is_dropped(tmp_path: Path) -> None:
    """TLS buffers are not TCP's: the unread-output limit must still trip."""
    cert = make_certificate(tmp_path)
    port = free_port()
    options = (f"--port={cert.endpoint(port)}", "--max-output=262144", *UNLIMITED_CHAT)
    with running_server(tmp_path, *options) as server:
        raw = small_buffer_socket(port)
        context = ssl.create_default_context(cafile=str(cert.cert))
        sleeper = context.wrap_socket(raw, server_hostname="localhost")
        sleeper.sendall(b"con bar,4321,1\n")
        welcome = b""
        while b"\n" not in welcome:
            welcome += sleeper.recv(1)
        bar_id = welcome.decode().split(" ", 1)[1].split(",", 1)[0]
        # From here on the sleeper reads nothing.
        assert f"\ndel {bar_id}\n".encode() in say_until_dropped(server, bar_id)
        sleeper.close()
    assert "dropping 127.0.0.1" in server.log_text() and "output not read" in server.log_text()


@pytest.mark.parametrize(
    ("make_files", "expected"),
    [
        (lambda cert, other: (cert.key.with_name("missing.key"), cert.cert), "No such file"),
        (lambda cert, other: (other.key, cert.cert), "do not match"),
        (lambda cert, other: (cert.cert, cert.cert), ""),
    ],
    ids=["missing key", "key of another certificate", "certificate as key"],
)
def test_a_bad_key_or_certificate_stops_the_server_with_one_line(
    tmp_path: Path, make_files: object, expected: str
) -> None:
    cert, other = make_certificate(tmp_path), make_certificate(tmp_path, "other")
    key, certificate = make_files(cert, other)  # type: ignore[operator]
    result = subprocess.run(
        [
            TWISTD,
            "-n",
            "--pidfile=",
            f"--logfile={tmp_path / 'twistd.log'}",
            "mudserver",
            f"--port=ssl:{free_port()}:interface=127.0.0.1:privateKey={key}:certKey={certificate}",
            f"--data={tmp_path / 'data'}",
            "--web=none",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    last = output.strip().splitlines()[-1]
    assert "twistd -n: --port ssl:" in last and expected in last, output


def _terminal(tls_server: TlsServer, *args: str) -> Any:
    """``mudserver-client`` on the TLS port, in a pseudo-terminal."""
    where = ["--host", "localhost", "--port", str(tls_server.tls_port)]
    return pexpect.spawn(
        sys.executable,
        ["-m", "mudserver.client", *where, *args],
        env={"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent)},
        encoding="utf-8",
        timeout=10,
    )


LOGIN = ("--user", "foo", "--password", "1234")


def test_terminal_client_over_tls(tls_server: TlsServer) -> None:
    child = _terminal(tls_server, "--tls", "--cafile", str(tls_server.cert.cert), *LOGIN)
    try:
        child.expect(r"logged in as foo \(entity \d+\)")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_terminal_client_refuses_an_untrusted_certificate(tls_server: TlsServer) -> None:
    child = _terminal(tls_server, "--tls", *LOGIN)
    try:
        child.expect(pexpect.EOF)
        output = child.before
    finally:
        child.close(force=True)
    assert child.exitstatus == 1
    assert "certificate verify failed" in output and "Traceback" not in output
    child = _terminal(tls_server, "--tls", "--insecure", *LOGIN)
    try:
        child.expect(r"logged in as foo")
    finally:
        child.close(force=True)


def test_a_refused_tls_connection_without_handshake_does_not_linger(tmp_path: Path) -> None:
    """Over the caps, 'bye full' waits for a handshake: --close-grace bounds the wait."""
    cert = make_certificate(tmp_path)
    port = free_port()
    options = (f"--port={cert.endpoint(port)}", "--max-connections-per-ip=1", "--close-grace=1")
    with running_server(tmp_path, *options) as server:
        time.sleep(0.5)  # the start-up probe's connection has been closed and released
        with LineClient(server.host, server.port) as held:
            held.send("")
            time.sleep(0.3)
            with socket.create_connection(("127.0.0.1", port), timeout=6) as silent:
                started = time.monotonic()
                with pytest.raises((ConnectionResetError, EOFError)):
                    if not silent.recv(100):
                        raise EOFError
                assert time.monotonic() - started < 4
