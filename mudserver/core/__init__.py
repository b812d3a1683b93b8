"""The game core: the world, who sees whom, the game, and each connection's session.

Plain Python with no Twisted import (``tests/test_architecture.py`` checks
it).  Time comes in as ``step(dt)`` and ``now`` arguments, bytes go out
through the :class:`~mudserver.core.session.Peer` each session is given.
"""
