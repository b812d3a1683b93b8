"""The terminal client's command line: options, passwords asked for, the reactor run.

``mudserver-client`` and ``python -m mudserver.client`` start here.  A
password not given with ``--password`` is asked for without echo before the
reactor starts; with ``--new`` (sign up) it is asked twice, and two that
differ end the program before anything is sent.  Exit status: 0 after
``/quit`` (or ``bye``, or Ctrl-D), 1 when the server is unreachable, refuses
the login or sign-up, or closes the connection, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from mudserver.client.protocol import DEFAULT_VERSION, VERSIONS
from mudserver.client.terminal import Terminal

__all__ = ["main", "parse_args"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mudserver-client",
        description="Talk to a mudserver: events are shown as they happen, while you type.",
        epilog="Type /help once connected for the commands.",
    )
    parser.add_argument("--host", default="localhost", help="server host (default: localhost)")
    parser.add_argument("--port", type=int, default=4000, help="server port (default: 4000)")
    parser.add_argument("--user", help="log in as this account right away")
    parser.add_argument(
        "--new",
        action="store_true",
        help="create the account --user names (sign up), then play as it",
    )
    parser.add_argument(
        "--password", help="password for --user (asked for if omitted; visible to ps if given)"
    )
    parser.add_argument(
        "--protocol",
        choices=VERSIONS,
        default=DEFAULT_VERSION,
        help=f"protocol version for --user's login (default: {DEFAULT_VERSION}; "
        "2 says where walks go, 1 sends positions every tick)",
    )
    parser.add_argument("--raw", action="store_true", help="show and send wire lines as they are")
    parser.add_argument(
        "--tls", action="store_true", help="connect over TLS, verifying the server's certificate"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="with --tls: do not verify the certificate (a self-signed test server only)",
    )
    parser.add_argument(
        "--cafile", help="with --tls: trust this PEM certificate (or CA) instead of the system's"
    )
    args = parser.parse_args(argv)
    if (args.insecure or args.cafile) and not args.tls:
        parser.error("--insecure and --cafile need --tls")
    if args.password is not None and not args.user:
        parser.error("--password needs --user")
    if args.new and not args.user:
        parser.error("--new needs --user: the name of the account to create")
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    return args


def ask_password(user: str, new: bool) -> str:
    """The password, typed without echo; for a new account twice (``ValueError`` if they differ)."""
    if not new:
        return getpass.getpass(f"password for {user}: ")
    password = getpass.getpass(f"password for the new account {user}: ")
    if getpass.getpass("the same password again: ") != password:
        raise ValueError("the two passwords differ; no account was made")
    return password


def main(argv: list[str] | None = None) -> int:
    """Run the interactive client; return the exit status."""
    args = parse_args(argv)
    if args.user and args.password is None:
        try:
            args.password = ask_password(args.user, args.new)
        except (EOFError, KeyboardInterrupt):
            print("no password given", file=sys.stderr)
            return 1
        except ValueError as e:
            print(e, file=sys.stderr)
            return 1
    from twisted.internet import reactor

    # StandardIO makes the terminal non-blocking; the shell must not inherit that.
    modes = {}
    for fd in (0, 1):
        try:
            modes[fd] = os.get_blocking(fd)
        except OSError:
            pass
    try:
        terminal = Terminal(reactor, args)
        reactor.callWhenRunning(terminal.start)
        reactor.run()
    finally:
        for fd, blocking in modes.items():
            try:
                os.set_blocking(fd, blocking)
            except OSError:
                pass
    if terminal.status is None:
        print("interrupted", file=sys.stderr)
        return 130
    return terminal.status
