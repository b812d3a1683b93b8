"""Tests for the mudserver.tools.mkuser command-line tool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mudserver.store.files import FileStore
from mudserver.store.passwords import ScryptParams
from mudserver.tools.mkuser import main

REPO_ROOT = Path(__file__).resolve().parents[1]
CHEAP = ScryptParams(n=2**4)


def test_creates_account(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["Foo", "1234", "--data", str(data)]) == 0
    out, err = capsys.readouterr()
    assert out == f"created account Foo in {data / 'users' / 'foo.json'}\n"
    assert err == ""
    store = FileStore(data, CHEAP)
    account = store.authenticate("foo", "1234")
    assert account is not None
    assert account.name == "Foo"
    assert (account.x, account.y, account.z) == (0.0, 0.0, 0.0)
    assert store.authenticate("foo", "4321") is None


def test_existing_account(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["foo", "1234", "--data", str(tmp_path)]) == 0
    before = (tmp_path / "users" / "foo.json").read_bytes()
    capsys.readouterr()
    assert main(["FOO", "other", "--data", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "mkuser: account 'FOO' already exists\n"
    assert (tmp_path / "users" / "foo.json").read_bytes() == before


@pytest.mark.parametrize("name", ["../x", "a/b", "x" * 25, "ｆｏｏ"])
def test_invalid_name(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    data = tmp_path / "data"
    assert main([name, "pw", "--data", str(data)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"mkuser: invalid name {name!r}: names are 1-24 characters of A-Z, a-z, 0-9 and _\n"
    )
    assert not data.exists()  # nothing created at all
    assert list(tmp_path.iterdir()) == []


def test_empty_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["foo", "", "--data", str(tmp_path / "d")]) == 1
    assert "empty password" in capsys.readouterr().err
    assert not (tmp_path / "d" / "users" / "foo.json").exists()


def test_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["onlyname"])
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_unwritable_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["foo", "pw", "--data", str(blocker)]) == 1
    assert capsys.readouterr().err.startswith("mkuser: cannot write account:")


def test_default_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["bar", "4321"]) == 0
    assert capsys.readouterr().out == "created account bar in data/users/bar.json\n"
    assert (tmp_path / "data" / "users" / "bar.json").is_file()


def test_module_entry_point(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "mudserver.tools.mkuser", "Baz", "pw", "--data", str(data)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"created account Baz in {data / 'users' / 'baz.json'}\n"
    assert FileStore(data, CHEAP).authenticate("BAZ", "pw") is not None

    again = subprocess.run(
        [sys.executable, "-m", "mudserver.tools.mkuser", "baz", "pw", "--data", str(data)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_hash_cost_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["foo", "pw", "--data", str(tmp_path), "--hash-memory=32768", "--hash-time=3"]) == 0
    record = json.loads((tmp_path / "users" / "foo.json").read_text())["password"]
    assert record["hash"].startswith("$argon2id$v=19$m=32768,t=3,p=1$")
    assert main(["bar", "pw", "--data", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "users" / "bar.json").read_text())["password"]
    assert record["hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    capsys.readouterr()
    assert main(["baz", "pw", "--data", str(tmp_path), "--hash-time=1"]) == 1
    assert "below the OWASP minimum" in capsys.readouterr().err
    assert main(["baz", "pw", "--data", str(tmp_path), "--hash-parallelism=0"]) == 1
    assert not (tmp_path / "users" / "baz.json").exists()
