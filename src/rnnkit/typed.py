"""Build a frozen config dataclass from JSON (a run's config.json, a checkpoint's metadata),
checking every field's type first, so that a wrong or planted value is one line naming the
field, never a failure deep inside PyTorch."""

from __future__ import annotations

import dataclasses
import types
import typing

from rnnkit.errors import RnnkitError


def _fits(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple or hint is tuple:
        return isinstance(value, (list, tuple))
    return True                               # anything else: the class checks it


def config_from(cls, values: object, where: str, **changes):
    """``cls(**values, **changes)`` with each field's type checked; one-line RnnkitError naming
    ``where`` when ``values`` is not an object, has unknown or missing fields, or a wrong type."""
    if not isinstance(values, dict):
        raise RnnkitError(f"{where}: expected an object of {cls.__name__} settings")
    values = {**values, **changes}
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise RnnkitError(f"{where} does not fit this version (unknown settings {unknown})")
    for key, value in values.items():
        if not _fits(value, hints.get(key)):
            raise RnnkitError(f"{where}: {key} = {value!r} is not a valid {cls.__name__} value")
    try:
        return cls(**values)
    except TypeError as e:
        raise RnnkitError(f"{where} does not fit this version ({e})") from None
