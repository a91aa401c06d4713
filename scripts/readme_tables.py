#!/usr/bin/env python3
"""Write the README's inputs and outputs tables from action.yml (--check: fail if stale)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssm_action import spec  # noqa: E402

BEGIN, END = "<!-- action-tables:begin -->", "<!-- action-tables:end -->"


def tables() -> str:
    action = spec.load()
    rows = ["| input | default | description |", "|---|---|---|"]
    for item in action.inputs:
        default = f"`{item.default}`" if item.default else ""
        rows.append(f"| `{item.name}` | {default} | {item.description} |")
    rows += ["", "| output | description |", "|---|---|"]
    rows += [f"| `{name}` | {text} |" for name, text in action.outputs.items()]
    return "\n".join(rows)


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    wanted = f"{head}{BEGIN}\n{tables()}\n{END}{tail}"
    if "--check" in sys.argv:
        if wanted != text:
            print("README.md tables differ from action.yml: run scripts/readme_tables.py")
            return 1
        return 0
    readme.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
