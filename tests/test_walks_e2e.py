"""Both protocol versions on one real server (``twistd -n mudserver``), over sockets."""

from __future__ import annotations

from pathlib import Path

from tests.support import LineClient, running_server


def test_version_1_and_version_2_clients_see_each_other(tmp_path: Path) -> None:
    with (
        running_server(tmp_path) as server,
        LineClient(server.host, server.port) as one,
        LineClient(server.host, server.port) as two,
    ):
        one.send("con foo,1234,1")
        one_id = int(one.read_until(lambda line: line.startswith("wel "))[-1][4:].split(",")[0])
        two.send("con bar,4321,2")
        two_id = int(two.read_until(lambda line: line.startswith("wel "))[-1][4:].split(",")[0])
        two.read_until(lambda line: line.startswith(f"ent {one_id},player,foo,"))
        one.read_until(lambda line: line.startswith(f"ent {two_id},player,bar,"))

        # Version 2 walks: one wlk to everybody who follows walks, a pos at the end.
        two.send("mov 1,0,0")
        walk = two.read_until(lambda line: line.startswith(f"wlk {two_id},"))[-1]
        assert walk.endswith(",1.00,0.00,0.00,5.00"), walk
        assert two.read_line() == f"pos {two_id},1.00,0.00,0.00"
        # The version 1 client is told every step of the same walk.
        steps = one.read_until(lambda line: line == f"pos {two_id},1.00,0.00,0.00")
        assert [line for line in steps if line.startswith("wlk")] == []
        assert len([line for line in steps if line.startswith(f"pos {two_id},")]) >= 2

        # A version 1 walker is a wlk and a pos to the version 2 client.
        one.send("mov 0,1,0")
        seen = two.read_until(lambda line: line == f"pos {one_id},0.00,1.00,0.00")
        assert [line.split(",")[0] for line in seen if line.split(" ")[0] in ("wlk", "pos")] == [
            f"wlk {one_id}",
            f"pos {one_id}",
        ]

        two.send("con bar,4321,3")
        assert two.read_line() == "err already,already logged in"


def test_an_unknown_version_is_badproto_naming_both(tmp_path: Path) -> None:
    with running_server(tmp_path) as server, LineClient(server.host, server.port) as client:
        client.send("con foo,1234,3")
        assert client.read_line() == "err badproto,this server speaks protocol 1 and 2"
        client.send("con foo,1234,2")
        assert client.read_line().startswith("wel ")
