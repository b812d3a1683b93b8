"""TLS for the client library: the same rules for the blocking and the Twisted client.

The server's certificate is verified by default, against the system's
certificate authorities or a given CA file, and its name must match the host
connected to.  ``verify=False`` (``--insecure``) skips both, for a test
server with a self-signed certificate; it still encrypts, but anybody on
the path could pose as the server.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

__all__ = ["blocking_context", "twisted_options"]


def blocking_context(verify: bool = True, cafile: str | Path | None = None) -> ssl.SSLContext:
    """An :class:`ssl.SSLContext` for :class:`~mudserver.client.BlockingClient`."""
    context = ssl.create_default_context(cafile=None if cafile is None else str(cafile))
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def twisted_options(host: str, verify: bool = True, cafile: str | Path | None = None) -> Any:
    """A Twisted client TLS policy for :func:`twisted.internet.endpoints.wrapClientTLS`.

    Imported late: the plain TCP client does not need pyOpenSSL.
    """
    from twisted.internet import ssl as tssl

    if not verify:
        return tssl.CertificateOptions(verify=False)
    trust = (
        tssl.platformTrust()
        if cafile is None
        else tssl.Certificate.loadPEM(Path(cafile).read_bytes())
    )
    return tssl.optionsForClientTLS(host, trustRoot=trust)
