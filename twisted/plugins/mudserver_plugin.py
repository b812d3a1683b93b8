"""Makes ``twistd mudserver`` available; the work lives in :mod:`mudserver.shell.tap`."""

from twisted.application.service import ServiceMaker

mudserver = ServiceMaker(
    "mudserver",
    "mudserver.shell.tap",
    "A small positional game server speaking a line protocol.",
    "mudserver",
)
