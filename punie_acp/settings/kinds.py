"""What a setting's value may be: how it is read from text (flags, env) and checked (every source).

TOML already has types, so a value from a file is checked as it is: `command_timeout = "60"` is a
string and is refused, not guessed at. Text from a flag or an environment variable is parsed first.
Each check raises `ValueError` with what was expected and what was given; the caller adds where.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def shown(value: object, limit: int = 60) -> str:
    """A value as it appears in a message: repr'd, and cut short (a hostile file may hold anything)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class Kind:
    def expected(self) -> str:
        return "a value"

    def from_text(self, raw: str) -> object:
        return raw

    def check(self, value: object) -> object:
        raise NotImplementedError

    def parse(self, raw: str) -> object:
        """Text from a flag or the environment, read and checked; a refusal quotes the text as given."""
        try:
            return self.check(self.from_text(raw))
        except ValueError:
            raise self._refuse(raw) from None

    def _refuse(self, value: object) -> ValueError:
        return ValueError(f"expected {self.expected()}, got {shown(value)}")


@dataclass(frozen=True)
class WholeNumber(Kind):
    """An integer of at least `minimum` (booleans are not numbers here, though Python says they are)."""

    minimum: int = 1
    maximum: int = 2**31 - 1  # what C code below (mlx, sockets) can still take

    def expected(self) -> str:
        return f"a whole number from {self.minimum} to {self.maximum}"

    def from_text(self, raw: str) -> object:
        try:
            return int(raw.strip())
        except ValueError:
            raise self._refuse(raw) from None

    def check(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not self.minimum <= value <= self.maximum:
            raise self._refuse(value)
        return value


@dataclass(frozen=True)
class Number(Kind):
    """A finite real number in a range; NaN and infinities are refused (they disable every limit)."""

    above: float | None = None  # exclusive lower bound
    at_least: float | None = None  # inclusive lower bound
    at_most: float | None = None  # inclusive upper bound

    def expected(self) -> str:
        bounds = []
        if self.above is not None:
            bounds.append(f"> {self.above:g}")
        if self.at_least is not None:
            bounds.append(f"≥ {self.at_least:g}")
        if self.at_most is not None:
            bounds.append(f"≤ {self.at_most:g}")
        return "a finite number" + (" " + " and ".join(bounds) if bounds else "")

    def from_text(self, raw: str) -> object:
        try:
            return float(raw.strip())
        except ValueError:
            raise self._refuse(raw) from None

    def check(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._refuse(value)
        number = float(value)
        if (
            not math.isfinite(number)
            or (self.above is not None and number <= self.above)
            or (self.at_least is not None and number < self.at_least)
            or (self.at_most is not None and number > self.at_most)
        ):
            raise self._refuse(value)
        return number


@dataclass(frozen=True)
class Text(Kind):
    def expected(self) -> str:
        return "a non-empty string"

    def check(self, value: object) -> str:
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise self._refuse(value)
        return value


@dataclass(frozen=True)
class Choice(Kind):
    options: tuple[str, ...] = ()
    fold_case: bool = False  # log levels: `debug` means DEBUG

    def expected(self) -> str:
        return "one of " + ", ".join(self.options)

    def check(self, value: object) -> str:
        if isinstance(value, str):
            candidate = value.strip().upper() if self.fold_case else value
            if candidate in self.options:
                return candidate
        raise self._refuse(value)


@dataclass(frozen=True)
class Switch(Kind):
    def expected(self) -> str:
        return "true or false"

    def from_text(self, raw: str) -> object:
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise self._refuse(raw)

    def check(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise self._refuse(value)
        return value
