"""The layering the package names promise: the sans-IO parts import no Twisted.

The wire format, the core, the limits, the store, the settings and the GC
schedule are plain Python that tests drive with plain numbers; only
``mudserver/shell`` wires bytes, time and threads to them.  Every import is
checked, those inside functions too, by reading the source: importing the
modules would prove nothing, as Twisted is installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mudserver"

#: Packages and modules that must not import Twisted.
SANS_IO = ["wire", "core", "limits", "store", "account.py", "config.py", "gcschedule.py"]

#: Floors and what each may not import: the account value stands below the
#: core, the limits and the stores, so none of those reach into a store for
#: it; the core is driven by the shell, never the other way round.
FORBIDDEN = {
    "account.py": ["mudserver"],
    "wire": ["mudserver.core", "mudserver.store", "mudserver.shell", "mudserver.limits"],
    "limits": ["mudserver.core", "mudserver.store", "mudserver.shell"],
    "core": ["mudserver.store", "mudserver.shell", "mudserver.tools", "mudserver.client"],
    "store": ["mudserver.core", "mudserver.shell", "mudserver.limits"],
}


def sans_io_modules() -> list[Path]:
    modules: list[Path] = []
    for name in SANS_IO:
        path = PACKAGE / name
        modules += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return modules


def imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from ... import`` names, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def twisted_imports(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """``file:line: imports ...`` for each import of Twisted in *path* (named from *root*)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(root)
    return [
        f"{where}:{line}: imports {name}"
        for line, name in sorted(imported_names(tree))
        if name.split(".")[0] == "twisted"
    ]


def test_the_list_of_sans_io_modules_is_not_empty() -> None:
    """A renamed package must not make the check below pass by finding nothing."""
    modules = {p.relative_to(PACKAGE).as_posix() for p in sans_io_modules()}
    for name in SANS_IO:
        assert any(m == name or m.startswith(f"{name}/") for m in modules), name
    assert {"core/session.py", "wire/commands.py", "limits/ratelimit.py"} <= modules


@pytest.mark.parametrize("path", sans_io_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_sans_io_module_imports_no_twisted(path: Path) -> None:
    found = twisted_imports(path)
    assert not found, "\n".join(found)


def modules_of(name: str) -> list[Path]:
    path = PACKAGE / name
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


@pytest.mark.parametrize("floor", sorted(FORBIDDEN))
def test_each_floor_imports_only_what_stands_below_it(floor: str) -> None:
    found = []
    for path in modules_of(floor):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in sorted(imported_names(tree)):
            for banned in FORBIDDEN[floor]:
                if name == banned or name.startswith(banned + "."):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {name}")
    assert modules_of(floor), floor
    assert not found, "\n".join(found)


def test_the_check_finds_every_kind_of_import(tmp_path: Path) -> None:
    """Top-level, aliased, dotted, from-imports and imports inside functions."""
    source = tmp_path / "mudserver" / "sample.py"
    source.parent.mkdir()
    source.write_text(
        "import os, twisted.internet as ti\n"
        "from twisted.logger import Logger\n"
        "from . import twisted\n"  # a sibling module named twisted: not Twisted
        "import twistedish\n"
        "def later():\n"
        "    from twisted import logger\n"
        "    import twisted\n"
    )
    assert twisted_imports(source, root=tmp_path) == [
        "mudserver/sample.py:1: imports twisted.internet",
        "mudserver/sample.py:2: imports twisted.logger",
        "mudserver/sample.py:6: imports twisted",
        "mudserver/sample.py:7: imports twisted",
    ]


def test_the_server_starts_without_the_postgresql_extra(tmp_path: Path) -> None:
    """README's run command installs no extra: psycopg must only load for a database store.

    A subprocess with psycopg made unimportable parses `twistd mudserver`'s options and
    builds its service tree, as `twistd -n mudserver` does before it listens.
    """
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from mudserver.shell import tap\n"
        "options = tap.Options()\n"
        f"options.parseOptions(['--data', {str(tmp_path)!r}, '--port', 'tcp:0',"
        " '--web', 'none', '--admin', 'none'])\n"
        "tap.makeService(options)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
