"""Named registries of variants: one pure function per entry, with its options declared.

Every layout, allocation, scaling (and later every V-RULER task) is a function plus one
``Registry.register`` call. An entry declares its options with defaults; options marked
``REQUIRED`` have none. ``Registry.resolve`` is the validator: it rejects unknown names and
unknown options (listing the valid ones) and missing required options, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["REQUIRED", "Entry", "Registry"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Marks an option that has no default and must be given."""


@dataclass(frozen=True)
class Entry:
    """One registered variant: ``fn`` plus its declared options and where it comes from."""

    name: str
    fn: Callable[..., Any]
    options: Mapping[str, Any]
    paper: str
    """The publication the variant comes from ("" where there is none, e.g. a model family)."""
    summary: str
    meta: Mapping[str, Any] = field(default_factory=dict)


class Registry:
    """A mapping from name to :class:`Entry` that validates options on lookup."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(
        self,
        name: str,
        *,
        paper: str = "",
        summary: str,
        options: Mapping[str, Any] | None = None,
        **meta: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: ``@LAYOUTS.register("mrope", paper=..., summary=..., options={...})``."""

        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, fn, dict(options or {}), paper, summary, dict(meta))
            return fn

        return add

    def __getitem__(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def names(self) -> list[str]:
        return list(self._entries)

    def resolve(self, name: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options of ``name`` merged over its defaults; unknown or missing ones raise."""
        entry = self[name]
        unknown = sorted(set(options) - set(entry.options))
        if unknown:
            valid = ", ".join(entry.options) or "none"
            raise ValueError(f"unknown option(s) {', '.join(unknown)} for {self.kind} {name!r}; valid options: {valid}")
        for key, value in options.items():
            _check_type(f"{self.kind} {name!r} option {key}", value, entry.options[key])
        resolved = {**entry.options, **options}
        missing = [key for key, value in resolved.items() if value is REQUIRED]
        if missing:
            raise ValueError(
                f"{self.kind} {name!r} needs option(s) {', '.join(missing)}; pass them as keyword arguments"
            )
        return resolved


def _check_type(what: str, value: Any, default: Any) -> None:
    """A given option must be of its default's kind where that is a flag or a number (texts may
    also be lists, e.g. V-NIAH's ``ask``; options without a default, or defaulting to None,
    take anything)."""
    if value is None or default is None or default is REQUIRED:
        return
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{what} must be true or false (default {default!r}), got {value!r}")
    elif isinstance(default, (int, float)) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"{what} must be a number (default {default!r}), got {value!r}")
