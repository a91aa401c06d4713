"""The documentation is checked against the code: every message the action can print is
in docs/troubleshooting.md, every link resolves, every input is documented, and the
issue templates are valid issue forms.

The messages are extracted from the code, not listed by hand (tests/doc_messages.py says how).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.doc_messages import BIN, DOCS, TROUBLESHOOTING, call_name, messages, modules, normalise


# ---------------------------------------------------------------- (1) messages in the doc

def test_the_extraction_finds_every_kind_of_message():
    """A guard on the extractor itself: one message of each kind it must reach."""
    keys = {m.key for m in messages()}
    for expected in (
        "No environment for this branch",  # ActionError title
        "is not a branch=environment pair, e.g. dev=development.",  # config error
        "give exactly one of instance-ids or targets to deploy",  # config error with a placeholder
        "use dotted module names, e.g. app or app.main.",  # config hint passed through a parameter
        "DescribeInstanceInformation failed",  # title built from a caller's argument
        "the AWS identity lacks this permission: allow ssm:DescribeInstanceInformation,",  # hint table
        "could not audit",  # gate error
        "not registered with SSM in",  # pre-flight reason
        "start the SSM Agent, attach an instance profile with",  # pre-flight fix (module constant)
        "GitHub refused the token (expired or invalid): leave",  # deployments hint table
        "Could not create the GitHub deployment:",  # warning through a helper's parameter
        "GitHub deployment status not posted",  # warning title (also the post step's)
        "another deploy",  # agent: busy
        "sha must be a full 40-hex commit id",  # agent: parameter validation
        "(nothing was changed)",  # agent: failure suffix
        "the command ended",  # deploy.report through a local variable
        "The previous version was put back.",
        "SSM cut the output at 24,000 characters before the",  # a package function's return value
    ):
        assert any(k.startswith(expected) or expected.startswith(k) for k in keys), expected
    assert len(messages()) >= 150


def test_every_message_the_action_prints_is_in_troubleshooting():
    doc = normalise(TROUBLESHOOTING.read_text(encoding="utf-8"))
    missing = sorted({f"{m.where}: {m.key}" for m in messages() if normalise(m.key) not in doc})
    assert not missing, "not in docs/troubleshooting.md:\n" + "\n".join(missing)


# ---------------------------------------------------------------- (2) links and doc= targets

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def markdown_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    files += [ROOT / n for n in ("CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md", "RELEASING.md")]
    return [f for f in files if f.is_file()]


def without_code(text: str) -> str:
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    found |= set(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", path.read_text(encoding="utf-8")))
    return found


def broken(target: str, source: Path) -> str:
    """Why a relative link from ``source`` does not resolve, or ''."""
    path, _, anchor = target.partition("#")
    resolved = (source.parent / path).resolve() if path else source
    if not resolved.exists():
        return f"{target}: no such file"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}"
    return ""


def relative_links(path: Path) -> list[str]:
    targets = LINK.findall(without_code(path.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path):
    problems = [why for why in (broken(t, path) for t in relative_links(path)) if why]
    assert not problems, "\n".join(problems)


def error_anchors() -> list[tuple[str, object]]:
    """(where, anchor) of every ActionError raised in the package: the anchor= it is given."""
    found = []
    for module in modules():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and call_name(node) == "ActionError":
                anchor = next((k.value for k in node.keywords if k.arg == "anchor"), None)
                found.append((f"{module.name}:{node.lineno}",
                              ast.literal_eval(anchor) if isinstance(anchor, ast.Constant) else anchor))
    return found


def test_every_error_links_a_section_of_troubleshooting_that_exists():
    found = error_anchors()
    assert len(found) >= 8, found  # the extraction reaches the errors
    known = anchors(TROUBLESHOOTING)
    problems = [f"{where}: anchor {anchor!r}" for where, anchor in found
                if not isinstance(anchor, str) or anchor not in known]
    assert not problems, "ActionError without an anchor of docs/troubleshooting.md:\n" + "\n".join(problems)


def test_the_code_links_docs_where_this_repository_keeps_them():
    from ssm_action import DOCS_URL, PROJECT_URL

    assert DOCS_URL.startswith(PROJECT_URL + "/blob/") and DOCS_URL.endswith("/docs")


# ---------------------------------------------------------------- (3) inputs

def test_every_input_is_in_customization():
    text = (DOCS / "customization.md").read_text(encoding="utf-8")
    inputs = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))["inputs"]
    missing = [name for name in inputs if f"`{name}`" not in text]
    assert not missing, f"inputs not in docs/customization.md: {missing}"


def test_every_output_is_in_the_docs():
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    outputs = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))["outputs"]
    missing = [name for name in outputs if f"`{name}`" not in text]
    assert not missing, f"outputs not in docs/: {missing}"


# ---------------------------------------------------------------- (4) issue templates

TEMPLATES = ROOT / ".github/ISSUE_TEMPLATE"
FORMS = ("bug_report.yml", "feature_request.yml")
FIELD_TYPES = {"markdown", "textarea", "input", "dropdown", "checkboxes"}


def load(name: str) -> dict:
    data = yaml.safe_load((TEMPLATES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    return data


@pytest.mark.parametrize("name", FORMS)
def test_issue_forms_have_what_github_needs(name):
    form = load(name)
    assert isinstance(form.get("name"), str) and form["name"].strip()
    assert isinstance(form.get("description"), str) and form["description"].strip()
    body = form.get("body")
    assert isinstance(body, list) and body
    ids = [item["id"] for item in body if "id" in item]
    assert len(ids) == len(set(ids)), "ids are unique"
    assert any(item["type"] != "markdown" for item in body), "at least one field"
    for item in body:
        assert item.get("type") in FIELD_TYPES, item
        attributes = item.get("attributes")
        assert isinstance(attributes, dict), item
        if item["type"] == "markdown":
            assert attributes.get("value"), item
            continue
        assert isinstance(attributes.get("label"), str) and attributes["label"].strip(), item
        if item["type"] == "dropdown":
            assert attributes.get("options") and all(isinstance(o, str) for o in attributes["options"]), item
        if item["type"] == "checkboxes":
            assert all(isinstance(o, dict) and o.get("label") for o in attributes.get("options", [])), item


def test_the_bug_form_asks_for_what_a_diagnosis_needs():
    form = load("bug_report.yml")
    fields = {item.get("id"): item for item in form["body"]}
    for needed in ("version", "log", "platform", "transport"):
        assert needed in fields, needed
        assert fields[needed].get("validations", {}).get("required") is True, needed
    assert set(fields["platform"]["attributes"]["options"]) >= {"windows", "linux"}
    assert set(fields["transport"]["attributes"]["options"]) >= {"ssm", "local"}


def test_the_issue_chooser_config():
    config = load("config.yml")
    assert isinstance(config.get("blank_issues_enabled"), bool)
    for link in config.get("contact_links", []):
        assert {"name", "url", "about"} <= set(link), link
        assert link["url"].startswith("https://"), link


@pytest.mark.parametrize("name,schema", [*((n, "vendor.github-issue-forms") for n in FORMS),
                                         ("config.yml", "vendor.github-issue-config")])
def test_issue_templates_match_githubs_schemas(name, schema):
    tool = BIN / "check-jsonschema"
    done = subprocess.run([str(tool), "--builtin-schema", schema, str(TEMPLATES / name)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
