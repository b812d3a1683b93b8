"""README.md's promises: CI runs exactly the documented test command."""

from __future__ import annotations

import re

from tests.support import REPO


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    test_command = next(b.strip() for b in _code_blocks(readme) if "pytest" in b)
    ci_lines = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci_lines[-1] == test_command


def test_readme_starts_with_run_and_test_commands() -> None:
    readme = (REPO / "README.md").read_text()
    first, second = _code_blocks(readme)[:2]
    assert "twistd -n mudserver" in first
    assert "python -m pytest" in second


def test_every_twistd_option_is_in_the_options_table() -> None:
    from mudserver.shell.tap import Options

    readme = (REPO / "README.md").read_text()
    table = readme.split("## Options", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `--([a-z-]+)`", table, flags=re.M))
    options = Options()
    names = {name for name, *_ in options.optParameters} | {name for name, *_ in options.optFlags}
    names |= {name[4:].replace("_", "-") for name in dir(options) if name.startswith("opt_")}
    names -= {"help", "version", "p", "d"}
    assert names - listed == set()


def _options_table() -> dict[str, str]:
    """README's options table: option name -> its default cell, backticks removed."""
    readme = (REPO / "README.md").read_text()
    table = readme.split("## Options", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `--([a-z-]+)` \| ([^|]+) \|", table, flags=re.M)
    return {name: cell.strip().strip("`") for name, cell in rows}


def test_the_options_table_shows_each_options_default() -> None:
    """Every default in README's table is the option's own (derived from config.py)."""
    from mudserver.shell.tap import DEFAULT_PORT, DEFAULT_WEB, Options

    table = _options_table()
    options = Options()
    defaults = {name: default for name, _, default, *_ in options.optParameters}
    defaults |= {name: "(off)" for name, *_ in options.optFlags}
    defaults |= {"port": DEFAULT_PORT, "web": DEFAULT_WEB, "admin": "DATA/admin.sock"}
    assert set(table) == set(defaults) - {"help", "version"}
    for name, cell in table.items():
        default = defaults[name]
        if default is None:  # not given: "(none)", "(off)", or what the server does then
            assert cell.startswith("(") and cell.endswith(")"), name
        elif isinstance(default, int | float):
            assert float(cell) == float(default), name
        else:
            assert cell == str(default), name
