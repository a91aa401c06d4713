"""What is read from the project's files, without building anything: a Pipfile without its lock,
pip-tools' .in files, the markers of declared requirements, and the linter versions the
project pins in dependency groups, Poetry groups, tox lint environments and pre-commit."""

from __future__ import annotations

import pytest

from ssm_action.gates import declared, lintdefaults, lintpins, missing, pipenv


def test_a_pipfile_without_a_lock_installs_its_packages_and_dev_packages(tmp_path):
    (tmp_path / "Pipfile").write_text('[packages]\nflask = "*"\nrequests = {version = ">=2", extras = ["socks"]}\n'
                                      'mylib = {path = ".", editable = true}\n\n[dev-packages]\npytest = "==8.0.0"\n'
                                      '\n[requires]\npython_version = "3.12"\n')
    found = declared.plan(tmp_path, "requirements.txt", ())
    assert found.args == ["flask", "requests[socks]>=2", "-e", ".", "pytest==8.0.0"]
    assert found.hashed_lines == [] and "no Pipfile.lock" in found.reasons[-1]
    assert pipenv.python_version(tmp_path) == "3.12"


def test_a_broken_lock_is_an_error_naming_it(tmp_path):
    (tmp_path / "Pipfile.lock").write_text("{not json")
    with pytest.raises(declared.DeclarationError, match="Pipfile.lock cannot be read"):
        declared.plan(tmp_path, "requirements.txt", ())


def test_pip_tools_sources_without_a_compiled_file_are_installed_as_they_are(tmp_path):
    (tmp_path / "requirements.in").write_text("flask\n")
    (tmp_path / "requirements.txt").write_text("flask==3.0.0\n")
    (tmp_path / "dev-requirements.in").write_text("pytest\n")
    (tmp_path / "docs-requirements.in").write_text("sphinx\n")
    found = declared.plan(tmp_path, "requirements.txt", ())
    assert found.args == ["-r", "requirements.txt", "-r", "dev-requirements.in"]


def test_only_requirements_for_this_python_are_missing(tmp_path):
    (tmp_path / "requirements.txt").write_text("-c constraints.txt\nsix==1.0 ; python_version >= '3.99'\n"
                                               "attrs==1 ; python_version >= '3.0' and python_version != '3.1'\n"
                                               "pywin32 ; sys_platform == 'win32'\nidna\n")
    (tmp_path / "constraints.txt").write_text("urllib3==1\n")
    site = tmp_path / "site"
    (site / "idna-3.0.dist-info").mkdir(parents=True)
    names = missing.declared_names(tmp_path, "requirements.txt")
    assert missing.missing(site, names, (3, 11)) == [("attrs", "requirements.txt")]


@pytest.mark.parametrize("files, tool, expected", [
    ({"pyproject.toml": '[dependency-groups]\nlint = ["ruff==0.4.1"]\n'}, "ruff",
     ("0.4.1", "pyproject.toml [dependency-groups]")),
    ({"pyproject.toml": '[tool.poetry.group.dev.dependencies]\nflake8 = "6.1.0"\nflake8-bugbear = "^24"\n'},
     "flake8",
     ("6.1.0", "pyproject.toml [tool.poetry] groups", "flake8-bugbear")),
    ({"tox.ini": "[testenv:lint]\ndeps =\n    flake8==5.0.4\n    flake8-docstrings\n"}, "flake8",
     ("5.0.4", "tox.ini [testenv:lint]", "flake8-docstrings")),
    ({".pre-commit-config.yaml": "repos:\n- repo: https://github.com/pycqa/flake8\n  rev: 7.0.0\n  hooks:\n"
                                 "  - id: flake8\n    additional_dependencies: [flake8-bugbear==24.2.6]\n"}, "flake8",
     ("7.0.0", "pre-commit config", "flake8-bugbear==24.2.6")),
    ({"requirements-dev.txt": "ruff>=0.4\n"}, "ruff", ("", "")),  # a range is not a pin
])
def test_the_linter_versions_the_project_pins_anywhere(tmp_path, files, tool, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    found = lintpins.pinned(tmp_path, tool)
    assert (found.version, found.source, *found.plugins) == expected


@pytest.mark.parametrize("files, length", [
    ({"pyproject.toml": "[tool.black]\n"}, (88, "[tool.black]")),
    ({"pyproject.toml": "[tool.ruff]\nline-length = 100\n[tool.ruff.format]\n"}, (100, "ruff format ([tool.ruff])")),
    ({".pre-commit-config.yaml": "repos:\n- repo: https://github.com/psf/black\n  rev: 24.1.0\n  hooks:\n"
                                 "  - id: black\n    args: [--line-length, '110']\n"},
     (110, "black's pre-commit hook")),
    ({"pyproject.toml": "[tool.ruff]\nline-length = 100\n"}, (0, "")),  # ruff without its formatter
])
def test_the_formatters_line_length(tmp_path, files, length):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert lintdefaults.formatter_length(tmp_path) == length
