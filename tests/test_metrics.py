"""The ``--metrics`` endpoint: what an operator's Prometheus would scrape."""

from __future__ import annotations

import itertools
import json
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mudserver.config import Settings
from mudserver.core.stats import Stats
from mudserver.game import Thing
from mudserver.shell.metrics import Metrics
from tests.gamekit import Playground
from tests.support import LineClient, free_port, running_server


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        sample.name + "".join(f"[{v}]" for v in sample.labels.values()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_logins_lines_and_disconnects(tmp_path: Path) -> None:
    port = free_port()
    with running_server(tmp_path, f"--metrics=tcp:{port}:interface=127.0.0.1") as server:
        with LineClient(server.host, server.port) as foo:
            assert foo.login("foo", "wrong").startswith("err badlogin")
            assert foo.login("foo", "1234").startswith("wel ")
            foo.send("mov 1,0,0")
            foo.read_until(lambda line: line.startswith("pos 1,1.00,"))
            during = scrape(port)
            foo.send("bye")
            foo.read_until(lambda line: line == "bye quit")
        with LineClient(server.host, server.port) as bar:
            bar.login("bar", "4321")
            after = scrape(port)
    assert during["mudserver_players"] == 1 and during["mudserver_connections"] == 1
    assert after["mudserver_logins_total"] == 2
    assert after["mudserver_failed_logins_total"] == 1
    assert after["mudserver_disconnects_total[quit]"] == 1
    assert after["mudserver_lines_received_total"] == 5  # con, con, mov, bye, con
    assert after["mudserver_lines_sent_total"] >= 7  # err, wel, ent, 2 pos, bye, wel...
    assert after["mudserver_bytes_sent_total"] > after["mudserver_lines_sent_total"] * 10
    assert after["mudserver_tick_duration_seconds_count"] > 0
    assert "mudserver_tick_overruns_total" in after  # zero unless the machine stalls us


def test_metrics_count_saves_and_autosave_steps(tmp_path: Path) -> None:
    """An operator sees saves land: how many, how long each write took, what is pending."""
    port = free_port()
    options = (f"--metrics=tcp:{port}:interface=127.0.0.1", "--autosave=1")
    with running_server(tmp_path, *options) as server:
        with LineClient(server.host, server.port) as foo:
            foo.login("foo", "1234")
            foo.send("mov 2,0,0")
            foo.read_until(lambda line: line.startswith("pos 1,2.00,"))
            deadline = time.monotonic() + 10
            samples = scrape(port)
            while samples["mudserver_saves_total"] < 2 and time.monotonic() < deadline:
                time.sleep(0.1)  # polling a real server's page; the autosave is due in 1 s
                samples = scrape(port)
    # One save as foo joined, one (or two, if one fell mid-walk) by the autosave.
    assert samples["mudserver_saves_total"] >= 2
    # Each write held one account: nobody else was there to batch with.
    assert samples["mudserver_save_write_seconds_count"] == samples["mudserver_saves_total"]
    assert samples["mudserver_autosave_step_seconds_count"] >= 1
    assert samples["mudserver_save_failures_total"] == 0
    assert samples["mudserver_saves_pending"] in (0, 1)
    saved = json.loads((server.data / "users" / "foo.json").read_text())
    assert saved["position"][0] == 2.0


def test_tick_buckets_are_fine_where_p99_figures_lie() -> None:
    """A p99 between 20 and 60 ms is interpolated in a bucket 2.5 ms wide, not read off
    a coarse bound; the bench's long-tick threshold stays a bound."""
    from mudserver.bench.runner import LONG_TICK
    from mudserver.shell.metrics import TICK_BUCKETS

    bounds = [b for b in TICK_BUCKETS if 0.02 <= b <= 0.06]
    assert bounds[0] == 0.02 and bounds[-1] == 0.06
    assert max(b - a for a, b in itertools.pairwise(bounds)) <= 0.0025 + 1e-12
    assert LONG_TICK in TICK_BUCKETS
    assert list(TICK_BUCKETS) == sorted(set(TICK_BUCKETS))


def test_metrics_show_the_game(tmp_path: Path) -> None:
    """The sample's things, their timers, and game code's time per class."""
    port = free_port()
    options = (f"--metrics=tcp:{port}:interface=127.0.0.1", "--game=sample")
    with running_server(tmp_path, *options):
        deadline = time.monotonic() + 10
        samples = scrape(port)
        while samples.get("mudserver_game_seconds_count[Dog]", 0) < 5:  # the dog steps
            assert time.monotonic() < deadline
            time.sleep(0.1)  # pacing the scrapes; the loop ends on what they show
            samples = scrape(port)
    assert samples["mudserver_things"] >= 10  # the world file's, and a fallen apple or more
    assert samples["mudserver_game_timers"] >= 5  # sheep, the tree, the guard
    assert samples["mudserver_game_hooks_switched_off_total"] == 0


class Broken(Thing):
    def step(self, dt: float) -> None:
        raise ValueError("no")


def test_metrics_count_game_code_failures_by_class_and_hook(tmp_path: Path) -> None:
    game = Playground(tmp_path, (Broken,), '[things.b]\nclass = "Broken"\nat = [0, 0]\n')
    game.tick(5)
    metrics = Metrics(Stats(), lambda: 0, lambda: 0, 0.1, runtime=game.runtime)
    metrics.game_tick({"Broken": 0.002})
    families = {
        s.name + "".join(f"[{v}]" for v in s.labels.values()): s.value
        for f in text_string_to_metric_families(metrics.text().decode())
        for s in f.samples
    }
    assert families["mudserver_game_errors_total[step][Broken]"] == Settings().hook_failures
    assert families["mudserver_game_hooks_switched_off_total"] == 1
    assert families["mudserver_things"] == 1
    assert families["mudserver_game_seconds_count[Broken]"] == 1
