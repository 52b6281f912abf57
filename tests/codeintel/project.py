"""A small Python project for the code-intelligence tests, and how to read the tools' results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHAPES = """from abc import ABC, abstractmethod


class Shape(ABC):
    @abstractmethod
    def area(self) -> float: ...


class Square(Shape):
    def __init__(self, side: float) -> None:
        self.side = side

    def area(self) -> float:
        return self.side * self.side


def total_area(shapes: list[Shape]) -> float:
    return sum(s.area() for s in shapes)
"""

MAIN = """from pkg.shapes import Square, total_area


def report() -> float:
    return total_area([Square(2.0)])
"""


def make_project(base: Path) -> Path:
    root = base / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "shapes.py").write_text(SHAPES)
    (root / "pkg" / "main.py").write_text(MAIN)
    return root.resolve()


def outputs(finals: list[Any]) -> list[str]:
    """Each finished tool call's output text, in order (failed ones too)."""
    texts = []
    for event in finals:
        raw = event.raw_output
        texts.append(raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False))
    return texts
