"""The secret references the action checks before sending and the agent reads on the server
(``contract.parse_secret_ref`` / ``parse_secret_lines``): accepted forms, and clear errors."""

from __future__ import annotations

import pytest

from ssm_action.agent.errors import StepError
from ssm_action.agent.secrets import refs_from
from ssm_action.contract import SecretRef, parse_secret_lines, parse_secret_ref

ARN_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/notes-AbCdEf"


@pytest.mark.parametrize("text,ref", [
    ("ssm:/app/db-url", SecretRef("ssm", "/app/db-url")),
    ("ssm:plain_name.v2", SecretRef("ssm", "plain_name.v2")),
    ("ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/shared/key",
     SecretRef("ssm", "arn:aws:ssm:eu-west-1:123456789012:parameter/shared/key")),
    ("secretsmanager:prod/notes", SecretRef("secretsmanager", "prod/notes")),
    ("secretsmanager:prod/notes#password", SecretRef("secretsmanager", "prod/notes", "password")),
    (f"secretsmanager:{ARN_SECRET}#db.url", SecretRef("secretsmanager", ARN_SECRET, "db.url")),
    ("  ssm:/app/x  ", SecretRef("ssm", "/app/x")),
])
def test_accepted_references(text: str, ref: SecretRef):
    assert parse_secret_ref(text) == ref


@pytest.mark.parametrize("text,why", [
    ("vault:/app/x", "is not a secret reference"),
    ("/app/x", "is not a secret reference"),
    ("ssm:", "is not a valid ssm reference"),
    ("ssm:/app/with space", "is not a valid ssm reference"),
    ("ssm:/app/x#key", "is not a valid ssm reference"),  # JSON keys are for Secrets Manager only
    ("secretsmanager:prod/notes#", "is not a valid secretsmanager reference"),
    ("secretsmanager:", "is not a valid secretsmanager reference"),
    ("secretsmanager:bad name", "is not a valid secretsmanager reference"),
])
def test_rejected_references_say_which_forms_work(text: str, why: str):
    with pytest.raises(ValueError) as caught:
        parse_secret_ref(text)
    assert why in str(caught.value)
    assert str(caught.value).endswith("use ssm:/path/to/parameter or secretsmanager:<name-or-arn>[#json-key]")


def test_lines_comments_duplicates_and_bad_names():
    refs, errors = parse_secret_lines(
        "# the notes app\nDB_URL=ssm:/app/db-url\n\n API_KEY = secretsmanager:app/keys#api_key \n"
        "DB_URL=ssm:/other\n1ST=ssm:/x\nno equals sign\nTOKEN=vault:x\n")
    assert refs == {"DB_URL": SecretRef("ssm", "/app/db-url"),
                    "API_KEY": SecretRef("secretsmanager", "app/keys", "api_key")}
    assert [error.line for error in errors] == [5, 6, 7, 8]  # the line number is a field: config/app.py shows the line
    assert str(errors[0]) == "line 5: DB_URL is given twice" and errors[0].message == "DB_URL is given twice"
    assert str(errors[1]).startswith("line 6: expected NAME=") and str(errors[2]).startswith("line 7: expected NAME=")
    assert str(errors[3]).startswith("line 8: TOKEN: 'vault:x' is not a secret reference")


def test_the_agent_rejects_every_bad_reference_in_its_parameter_at_once():
    with pytest.raises(StepError) as caught:
        refs_from({"A": "ssm:/ok", "B": "nope:x", "C": "secretsmanager:x#"})
    assert str(caught.value).startswith("app secrets: B: 'nope:x' is not a secret reference")
    assert "; C: 'secretsmanager:x#' is not a valid secretsmanager reference" in str(caught.value)
