"""The core's log lines, shown where Twisted's are.

The sans-IO packages log with the standard library's :mod:`logging` (loggers
named ``mudserver.core.session``, ``mudserver.core.game``, ...), so that they
need no Twisted.  ``twistd`` shows only what reaches ``twisted.logger``:
:class:`TwistedLogHandler` forwards the records of the ``mudserver`` logger
there, each as one event with the record's logger name as its namespace, so
``twistd -n mudserver`` prints them in the same file, in the same
``[namespace#level] text`` form as every other line.  :class:`LogBridge`
installs the handler for as long as the service runs.
"""

from __future__ import annotations

import logging

from twisted.logger import ILogObserver, LogLevel, globalLogPublisher
from twisted.python.failure import Failure

__all__ = ["LogBridge", "TwistedLogHandler", "twisted_level"]


def twisted_level(levelno: int) -> LogLevel:
    """The ``twisted.logger`` level for a :mod:`logging` level number.

    Levels between the named ones (``logging.INFO + 5``) round down, as
    :mod:`logging` itself compares them.
    """
    if levelno >= logging.CRITICAL:
        return LogLevel.critical
    if levelno >= logging.ERROR:
        return LogLevel.error
    if levelno >= logging.WARNING:
        return LogLevel.warn
    if levelno >= logging.INFO:
        return LogLevel.info
    return LogLevel.debug


class TwistedLogHandler(logging.Handler):
    """Forwards each :class:`logging.LogRecord` to a ``twisted.logger`` observer.

    The text is the record's message with its arguments filled in (and its
    stack, if it asked for one); an exception goes along as the event's
    ``log_failure``, so an observer renders its traceback the way it renders
    Twisted's own.  The text is passed as a field rather than as the format,
    so braces in it are never read as format fields.
    """

    def __init__(self, observer: ILogObserver = globalLogPublisher) -> None:
        super().__init__()
        self.observer = observer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.stack_info:
                text = f"{text}\n{record.stack_info}"
            event: dict[str, object] = {
                "log_namespace": record.name,
                "log_level": twisted_level(record.levelno),
                "log_format": "{log_text}",
                "log_text": text,
                "log_time": record.created,
                "log_source": None,
            }
            if record.exc_info and record.exc_info[1] is not None:
                _, value, traceback = record.exc_info
                event["log_failure"] = Failure(value, type(value), traceback)
            self.observer(event)
        except Exception:
            self.handleError(record)


class LogBridge:
    """Keeps a :class:`TwistedLogHandler` on one logger between :meth:`start` and :meth:`stop`.

    A logger whose level was never set would take the root logger's,
    ``WARNING`` by default, and drop the core's ``info`` lines before any
    handler saw them; while started, such a logger passes everything on and
    leaves the choice to Twisted's observers, as Twisted's own loggers do.
    """

    def __init__(
        self, name: str = "mudserver", observer: ILogObserver = globalLogPublisher
    ) -> None:
        self.logger = logging.getLogger(name)
        self.handler = TwistedLogHandler(observer)
        self._level_before: int | None = None

    @property
    def started(self) -> bool:
        return self.handler in self.logger.handlers

    def start(self) -> None:
        """Install the handler; a second call does nothing (no line is shown twice)."""
        if self.started:
            return
        self._level_before = self.logger.level
        if self.logger.level == logging.NOTSET:
            self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)

    def stop(self) -> None:
        """Remove the handler and give the logger back its level."""
        if not self.started:
            return
        self.logger.removeHandler(self.handler)
        if self._level_before is not None:
            self.logger.setLevel(self._level_before)
            self._level_before = None
