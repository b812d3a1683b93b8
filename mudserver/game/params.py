"""What a world file may set on a thing (or on the rules): its class's annotated attributes.

A game author declares a parameter the way Python declares a field, with a
type and a default on the class::

    class Greeter(Thing):
        greeting: str = "Welcome, {player}!"
        radius: float = 8.0

and a world file sets it per thing (``greeting = "Hello"``).  Reading the
annotations rather than a second list keeps one description of each
parameter; checking each value against its type at start (and at reload)
turns a typo in the world file into one clear line, not a crash in a hook an
hour later.  Understood types: ``str``, ``int``, ``float`` (an int is
accepted), ``bool``, and ``list[T]``, ``tuple[T, ...]`` and ``tuple[A, B]``
of those, nested.
"""

from __future__ import annotations

import typing
from typing import Any, ClassVar

__all__ = ["check", "parameters"]


def parameters(cls: type, base: type) -> dict[str, tuple[Any, Any]]:
    """Name -> (type, default) of every parameter *cls* declares, *base*'s own included.

    A parameter is an annotated class attribute with a default, not a
    ``ClassVar`` and not starting with ``_``; *base* lists in its
    ``INTERNAL`` the annotated names that are not parameters.
    """
    internal: frozenset[str] = getattr(base, "INTERNAL", frozenset())
    hints = typing.get_type_hints(cls)
    found: dict[str, tuple[Any, Any]] = {}
    for klass in reversed(cls.__mro__):
        if not issubclass(klass, base):
            continue
        for name in vars(klass).get("__annotations__", {}):
            if name.startswith("_") or name in internal:
                continue
            hint = hints.get(name)
            if typing.get_origin(hint) is ClassVar or not hasattr(cls, name):
                continue
            found[name] = (hint, getattr(cls, name))
    return found


def check(value: Any, hint: Any, where: str = "value") -> Any:
    """*value* (as TOML gave it) converted to *hint*, or ``ValueError`` saying what is wrong."""
    origin = typing.get_origin(hint)
    if hint is float:
        if type(value) in (int, float):
            return float(value)
        raise ValueError(f"{where} must be a number, not {_shown(value)}")
    if hint in (str, int, bool):
        if type(value) is hint:
            return value
        raise ValueError(f"{where} must be {_article(hint)}, not {_shown(value)}")
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        if not isinstance(value, list):
            raise ValueError(f"{where} must be a list, not {_shown(value)}")
        return [check(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where} must be a list, not {_shown(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(check(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{where} must have {len(args)} items, not {len(value)}")
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(check(v, a, f"{where}[{i}]") for i, (v, a) in pairs)
    if hint is Any:
        return value
    raise ValueError(f"{where}: the game declares a type the world file cannot give ({hint})")


def _article(hint: type) -> str:
    return {str: "text", int: "a whole number", bool: "true or false"}[hint]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
