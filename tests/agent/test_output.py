"""What the agent prints: redaction of URL credentials and secrets, the stdout budget, short lists."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from ssm_action.agent import output
from ssm_action.contract import RESULT_PREFIX


def test_redactor_strips_url_credentials_and_secrets():
    redact = output.Redactor(["hunter2-secret", "8080"])
    text = "fetch https://x-access-token:ghs_abc@github.com/o/r.git port 8080 pw hunter2-secret"
    assert redact(text) == "fetch https://***@github.com/o/r.git port 8080 pw ***"


def test_a_secret_url_is_replaced_whole_before_url_credentials_are_stripped():
    url = "postgresql://notes:s3cr3t-pw@db.internal:5432/notes"
    redact = output.Redactor([url])
    assert redact(f"connecting to {url} failed") == "connecting to *** failed"  # not postgresql://***@db...
    redact.add(["later-added-key"])
    assert redact("key later-added-key, url " + url) == "key ***, url ***"


def test_every_form_a_program_prints_a_secret_in_is_redacted():
    """As is, JSON- and repr()-escaped (also twice, as JSON in JSON), URL-encoded, base64 at any
    byte alignment, hex escapes in either case; a value under 6 characters is not searched for."""
    secret = 'p@ss "wörd"/\\x?'
    redact = output.Redactor([secret, "short"])
    printed = [secret, json.dumps(secret), json.dumps(secret, ensure_ascii=False), json.dumps(json.dumps(secret)),
               repr(secret), repr(secret.encode()), repr(repr(secret)), quote(secret), quote(secret, safe=""),
               quote_plus(secret), quote(secret).lower(), json.dumps(secret).upper()]
    printed += [base64.b64encode(prefix + secret.encode()).decode() for prefix in (b"", b"x", b"xy", b"xyz")]
    printed += [base64.urlsafe_b64encode(b"key=" + secret.encode() + b";").decode()]
    for text in printed:
        redacted = redact(f"got {text} here")
        assert text not in redacted and "***" in redacted, (text, redacted)
    assert redact("a short value") == "a short value"


def test_result_line_is_redacted_before_json_escaping(capsys: pytest.CaptureFixture):
    secret = 'pa"ss\u00e9word'
    output.Reporter(output.Redactor([secret])).result({"error": "bad " + secret, "n": [secret]})
    assert capsys.readouterr().out == RESULT_PREFIX + '{"error":"bad ***","n":["***"]}\n'


def test_output_stays_within_the_ssm_budget(capsys: pytest.CaptureFixture):
    reporter = output.Reporter(output.Redactor())
    for _ in range(100):
        reporter.say("x" * 1000)
    reporter.result({"status": "failed"})
    out = capsys.readouterr().out
    assert len(out) < output.STDOUT_BUDGET + 200
    assert out.splitlines()[-2] == "... (more in the log file)"
    assert out.splitlines()[-1] == RESULT_PREFIX + '{"status":"failed"}'


def test_cap_list():
    assert output.cap_list(["a", "b"], 2) == ["a", "b"]
    assert output.cap_list(list("abcd"), 3) == ["a", "b", "... and 2 more (see the log file)"]


def test_tail_short_and_cap_error():
    assert output.tail("a\n\n  \nb\n" + "c" * 400, 2) == ["b", "c" * 300]
    assert output.short("0123456789abcdef") == "0123456789ab" and output.short(None) == "none"
    assert output.cap_error("x" * 700) == "x" * output.ERROR_LIMIT and output.cap_error("") is None
