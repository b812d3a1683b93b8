"""Makes ``twistd mudserver`` available; the work lives in :mod:`mudserver.tap`."""

from twisted.application.service import ServiceMaker

mudserver = ServiceMaker(
    "mudserver",
    "mudserver.tap",
    "A small positional game server speaking a line protocol.",
    "mudserver",
)
