"""The action's public contract, read from action.yml (the single source of truth)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

ACTION_YML = Path(__file__).resolve().parent.parent / "action.yml"


@dataclass(frozen=True)
class InputSpec:
    name: str
    description: str
    default: str

    @property
    def env_name(self) -> str:
        """The variable the runner sets: upper-cased, spaces to _, hyphens kept."""
        return "INPUT_" + self.name.replace(" ", "_").upper()

    @property
    def is_expression(self) -> bool:
        """Defaults like ${{ github.token }} are filled in by the runner only."""
        return self.default.startswith("${{")


@dataclass(frozen=True)
class ActionSpec:
    inputs: tuple[InputSpec, ...]
    outputs: dict[str, str]  # name -> description


@lru_cache(maxsize=1)
def load(path: Path = ACTION_YML) -> ActionSpec:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    inputs = tuple(
        InputSpec(name, str(item.get("description", "")), str(item.get("default", "")))
        for name, item in data["inputs"].items()
    )
    outputs = {name: str(item["description"]) for name, item in data["outputs"].items()}
    return ActionSpec(inputs, outputs)
