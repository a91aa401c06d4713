"""App secret references: ``ssm:<parameter>`` or ``secretsmanager:<id>[#json-key]``, parsed once into
``SecretRef`` values (the action reads them from ``app-secrets``, secret_lines.py; the agent from its
parameters, params.py)."""

from __future__ import annotations

import re
from typing import Dict, Mapping, NamedTuple


class SecretRef(NamedTuple):
    """Where one app secret lives: ``ssm:<parameter>`` or ``secretsmanager:<id>[#json-key]``."""

    source: str  # ssm or secretsmanager
    ident: str  # the parameter's name or ARN; the secret's name or ARN
    key: str = ""  # secretsmanager only: the JSON key to take from the secret's string

    def text(self) -> str:
        """The reference as written (what the parameters' JSON and the state files keep)."""
        return self.source + ":" + self.ident + ("#" + self.key if self.key else "")


_SECRET_SOURCES = {
    # SSM names: letters, digits, _ . - / (a path starts with /), or a parameter ARN.
    "ssm": r"(/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*|arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/\S+)",
    # Secrets Manager names: letters, digits, / _ + = . @ - (never #), or a secret ARN.
    "secretsmanager": r"([A-Za-z0-9/_+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}"
                      r":secret:[A-Za-z0-9/_+=.@-]+)",
}
REFERENCE_FORMS = "ssm:/path/to/parameter or secretsmanager:<name-or-arn>[#json-key]"
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_secret_ref(text: str) -> SecretRef:
    """The reference ``text`` names; ValueError saying what is wrong (it holds no value)."""
    source, _, rest = text.strip().partition(":")
    ident, _, key = rest.partition("#") if source == "secretsmanager" else (rest, "", "")
    if source not in _SECRET_SOURCES:
        raise ValueError("%r is not a secret reference: use %s" % (text, REFERENCE_FORMS))
    if not re.fullmatch(_SECRET_SOURCES[source], ident) or ("#" in rest and not key.strip()):
        raise ValueError("%r is not a valid %s reference: use %s" % (text, source, REFERENCE_FORMS))
    return SecretRef(source, ident, key.strip())


def ref_texts(refs: Mapping[str, SecretRef]) -> Dict[str, str]:
    """Variable -> reference as written: the JSON form of parsed references."""
    return {name: ref.text() for name, ref in refs.items()}
