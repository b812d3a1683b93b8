"""MSSP, the MUD Server Status Protocol: what MUD listing crawlers read.

A crawler connects now and then and asks for a few variables (name, player
count, start time...), either as Telnet option 70 (``IAC SB MSSP MSSP_VAR
name MSSP_VAL value ... IAC SE``) or, without any Telnet, by sending the line
``MSSP-REQUEST``; the server then answers ``MSSP-REPLY-START``, one
``NAME<TAB>VALUE`` line per variable and ``MSSP-REPLY-END``, all with CR LF.

This module only formats; the shell gathers the values when asked, so the
player count is current.  Values must not hold the markers (bytes 1 and 2),
NUL, tabs or line ends: :class:`mudserver.config.Presentation` checks the
configured ones.  Variables follow the MSSP list: ``UPTIME`` is the
Unix time the server started (not a duration), ``CRAWL DELAY`` is hours
(``-1``: the crawler's default).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "MSSP_VAR",
    "MSSP_VAL",
    "REQUEST",
    "variables",
    "telnet_payload",
    "plain_reply",
]

MSSP_VAR = 1
MSSP_VAL = 2

#: The line a crawler sends to get the plain-text form.
REQUEST = b"MSSP-REQUEST"


def variables(
    *,
    name: str,
    players: int,
    started: float,
    port: int | None,
    codebase: str,
    hostname: str | None = None,
    crawl_delay: int = -1,
) -> list[tuple[str, str]]:
    """The variables this server reports, in a stable order."""
    found = [
        ("NAME", name),
        ("PLAYERS", str(players)),
        ("UPTIME", str(int(started))),
        ("CODEBASE", codebase),
        ("CRAWL DELAY", str(crawl_delay)),
        ("CHARSET", "UTF-8"),
        ("UTF-8", "1"),
        ("GMCP", "1"),
        ("FAMILY", "Custom"),
    ]
    if port is not None:
        found.append(("PORT", str(port)))
    if hostname:
        found.append(("HOSTNAME", hostname))
    return found


def telnet_payload(found: Sequence[tuple[str, str]]) -> bytes:
    """The body of ``IAC SB MSSP ... IAC SE`` (wrap it with ``telnet.subnegotiation``)."""
    out = bytearray()
    for var, val in found:
        out += bytes([MSSP_VAR]) + var.encode() + bytes([MSSP_VAL]) + val.encode()
    return bytes(out)


def plain_reply(found: Sequence[tuple[str, str]]) -> bytes:
    """The answer to an ``MSSP-REQUEST`` line."""
    body = "".join(f"{var}\t{val}\r\n" for var, val in found)
    return f"\r\nMSSP-REPLY-START\r\n{body}MSSP-REPLY-END\r\n".encode()
