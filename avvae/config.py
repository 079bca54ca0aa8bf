"""YAML configs checked against dataclass schemas: an unknown or mistyped key is an error naming the file."""

from __future__ import annotations

import dataclasses
import operator
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from avvae.errors import AvvaeError
from avvae.fileio.atomic import write_text_atomic

T = TypeVar("T")


class ConfigError(AvvaeError):
    """A config file has an unknown key, a value of the wrong type, or is not valid YAML."""


class ConfigValueError(AvvaeError):
    """A config value out of range or at odds with another, found by its dataclass's own checks (__post_init__,
    check_ranges); from_dict turns it into a ConfigError that names the file and the section."""


def _coerce(value: Any, kind: Any, where: str) -> Any:
    """Check `value` against the annotation `kind` (dataclass, list, tuple, union, scalar) and build it."""
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(kind, value, where)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0])
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(kind)[:1] or (Any,)
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if kind is Any:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str):
        # YAML 1.1 reads 1e-3 (no dot) as a string: accept what Python reads as a number
        try:
            return float(value)
        except ValueError:
            pass
    if kind in (int, float, str, bool) and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def from_dict(schema: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Build dataclass `schema` from a mapping, rejecting unknown keys, wrong types and values out of range (the
    dataclass's own checks, reported with `where`)."""
    hints = typing.get_type_hints(schema)
    fields = {field.name for field in dataclasses.fields(schema)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(fields))})")
    built = {key: _coerce(value, hints[key], f"{where}.{key}") for key, value in values.items()}
    try:
        return schema(**built)
    except ConfigError:
        raise
    except AvvaeError as error:  # the dataclass's own checks: ConfigValueError, or a corpus config's CorpusLayoutError
        raise ConfigError(f"{where}: {error}") from error


_BOUND = re.compile(r"^(>=|>|<=|<)\s*(-?[0-9.e+-]+)$")
_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def check_ranges(config: Any, ranges: dict[str, str]) -> None:
    """Check the fields of a config dataclass against bounds such as {"epochs": ">= 1", "dev_fraction": "> 0, < 1"};
    the first violation is a ConfigValueError naming the key, the bound and the value. One mechanism for every
    config, called from each dataclass's __post_init__."""
    for name, bounds in ranges.items():
        value = getattr(config, name)
        for bound in bounds.split(","):
            match = _BOUND.match(bound.strip())
            if match is None:
                raise ValueError(f"bad bound {bound!r} for {name}")
            if not _COMPARE[match[1]](value, float(match[2])):
                raise ConfigValueError(f"{name} must be {bounds}, got {value!r}")


def load_config(path: str | Path, schema: type[T], overrides: dict[str, Any] | None = None) -> T:
    """Read YAML `path` into `schema`; `overrides` (e.g. from the command line) win over the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    values.update(overrides or {})
    return from_dict(schema, values, str(path))


def save_config(config: Any, path: str | Path) -> None:
    """Write a dataclass config as YAML (atomically), e.g. the copy kept in exp/<model>/."""
    write_text_atomic(path, yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))
