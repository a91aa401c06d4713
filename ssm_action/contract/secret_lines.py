"""``app-secrets``: ``NAME=reference`` lines, parsed by the action at config time (the agent gets the
references in its parameters, never these lines, so this module is not shipped in its zipapp)."""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Tuple

from ssm_action.contract.secret_refs import REFERENCE_FORMS, VARIABLE, SecretRef, parse_secret_ref


class LineError(NamedTuple):
    """A line of ``NAME=reference`` lines that is refused: its number (from 1) and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return "line %d: %s" % (self.line, self.message)


def parse_secret_lines(text: str) -> Tuple[Dict[str, SecretRef], List[LineError]]:
    """``NAME=reference`` lines (blank lines and # comments skipped): the references, the errors."""
    refs: Dict[str, SecretRef] = {}
    errors: List[LineError] = []
    for number, line in enumerate(text.splitlines(), 1):
        name, sep, ref = line.strip().partition("=")
        name = name.strip()
        if not line.strip() or line.strip().startswith("#"):
            continue
        if not sep or not VARIABLE.fullmatch(name):
            errors.append(LineError(number, "expected NAME=%s, NAME a variable name" % REFERENCE_FORMS))
        elif name in refs:
            errors.append(LineError(number, "%s is given twice" % name))
        else:
            try:
                refs[name] = parse_secret_ref(ref)
            except ValueError as exc:
                errors.append(LineError(number, "%s: %s" % (name, exc)))
    return refs, errors
