"""A project that configures ruff (not flake8): lines up to 120 characters are its rule."""


def describe(values: list[int]) -> str:
    return f"{len(values)} values, the smallest {min(values)}, the largest {max(values)}, total {sum(values)}"


def planted(items=[]):  # B006: mutable default, a rule the project selects
    return items
