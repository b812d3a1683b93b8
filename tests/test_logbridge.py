"""The logging bridge: the core's ``logging`` records arrive as ``twisted.logger`` events.

Each test captures the events with a ``twisted.logger`` observer and renders
them with ``formatEventAsClassicLogText``, the form ``twistd`` writes to its
log file, so what is asserted is what an operator reads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.logger import LogLevel, formatEventAsClassicLogText

from mudserver.config import Settings
from mudserver.shell.logbridge import LogBridge, TwistedLogHandler, twisted_level
from mudserver.shell.service import GameService
from mudserver.store.files import FileStore
from tests.harness import CHEAP, log_events

Event = dict[str, Any]


@pytest.fixture
def events() -> Iterator[list[Event]]:
    """Every event published to Twisted's global log while the test runs."""
    with log_events() as found:
        yield found


@pytest.fixture
def bridge() -> Iterator[LogBridge]:
    started = LogBridge()
    started.start()
    yield started
    started.stop()


def from_mudserver(events: list[Event]) -> list[Event]:
    return [e for e in events if str(e.get("log_namespace", "")).startswith("mudserver.core")]


def as_text(event: Event) -> str:
    """The line twistd writes, without its time stamp."""
    return formatEventAsClassicLogText(event, formatTime=lambda _: "-")


def test_a_core_line_reads_as_twisted_lines_do(bridge: LogBridge, events: list[Event]) -> None:
    logging.getLogger("mudserver.core.session").info("%s logged in from %s", "foo", "1.2.3.4:5")
    [event] = from_mudserver(events)
    assert as_text(event) == "- [mudserver.core.session#info] foo logged in from 1.2.3.4:5\n"
    assert event["log_level"] is LogLevel.info


def test_braces_in_a_message_are_text_not_format_fields(
    bridge: LogBridge, events: list[Event]
) -> None:
    logging.getLogger("mudserver.core.game").warning("say from %s: %s", "foo", "{oops} {0}")
    [event] = from_mudserver(events)
    assert as_text(event) == "- [mudserver.core.game#warn] say from foo: {oops} {0}\n"


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (logging.DEBUG, LogLevel.debug),
        (logging.DEBUG + 1, LogLevel.debug),
        (logging.INFO, LogLevel.info),
        (logging.WARNING, LogLevel.warn),
        (logging.ERROR, LogLevel.error),
        (logging.ERROR + 5, LogLevel.error),
        (logging.CRITICAL, LogLevel.critical),
    ],
)
def test_levels_map_onto_twisted_levels(
    bridge: LogBridge, events: list[Event], level: int, expected: LogLevel
) -> None:
    assert twisted_level(level) is expected
    logging.getLogger("mudserver.core.game").log(level, "something")
    [event] = from_mudserver(events)
    assert event["log_level"] is expected


def test_an_exception_goes_along_as_a_failure(bridge: LogBridge, events: list[Event]) -> None:
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger("mudserver.core.game").exception("tick failed")
    [event] = from_mudserver(events)
    assert event["log_level"] is LogLevel.error
    assert event["log_failure"].check(KeyError)
    text = as_text(event)
    assert text.startswith("- [mudserver.core.game#error] tick failed\n")
    assert "Traceback" in text and "KeyError: 'missing'" in text


def test_only_the_mudserver_loggers_are_forwarded(bridge: LogBridge, events: list[Event]) -> None:
    logging.getLogger("somebody.else").error("not ours")
    logging.getLogger("mudserverish").error("not ours either")
    assert not [e for e in events if e.get("log_text", "").startswith("not ours")]


def test_start_twice_shows_a_line_once_and_stop_ends_forwarding(events: list[Event]) -> None:
    logger = logging.getLogger("mudserver")
    level = logger.level
    bridge = LogBridge()
    bridge.start()
    bridge.start()
    logging.getLogger("mudserver.core.session").info("once")
    assert len(from_mudserver(events)) == 1
    bridge.stop()
    bridge.stop()
    logging.getLogger("mudserver.core.session").info("after stop")
    assert len(from_mudserver(events)) == 1
    assert logger.level == level
    assert not any(isinstance(h, TwistedLogHandler) for h in logger.handlers)


def test_a_level_set_on_the_logger_is_kept(events: list[Event]) -> None:
    """An operator who set the level (say, to WARNING) keeps it while the bridge runs."""
    logger = logging.getLogger("mudserver")
    logger.setLevel(logging.WARNING)
    bridge = LogBridge()
    try:
        bridge.start()
        logging.getLogger("mudserver.core.session").info("hidden")
        logging.getLogger("mudserver.core.session").warning("shown")
        bridge.stop()
        assert [e["log_text"] for e in from_mudserver(events)] == ["shown"]
        assert logger.level == logging.WARNING
    finally:
        logger.setLevel(logging.NOTSET)


def test_a_broken_record_is_reported_by_logging_not_raised(events: list[Event]) -> None:
    class Reporting(TwistedLogHandler):
        def handleError(self, record: logging.LogRecord) -> None:
            reported.append(record)

    reported: list[logging.LogRecord] = []
    record = logging.LogRecord(
        "mudserver.core.game", logging.INFO, __file__, 1, "%d players", ("many",), None
    )
    Reporting().emit(record)
    assert reported == [record] and not from_mudserver(events)


def test_the_service_bridges_while_it_runs(tmp_path: Path, events: list[Event]) -> None:
    service = GameService(Settings(), FileStore(tmp_path, CHEAP), Clock())
    core = logging.getLogger("mudserver.core.game")
    core.info("before start")
    service.startService()
    core.info("while running")
    service.stopService()
    core.info("after stop")
    assert [e["log_text"] for e in from_mudserver(events)] == ["while running"]
