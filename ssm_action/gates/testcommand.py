"""How the project runs its tests, first found: the test-command input; its own
declarations (Hatch scripts, tox, nox, a Makefile `test` target, the CI workflow's test
step); Django (manage.py); unittest discovery when it declares no pytest; pytest.
Declarations are read, never run as a whole: only their test step runs, under coverage.py."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ssm_action.gates import hatch, projectfiles, testsources

PYTEST, UNITTEST, DJANGO, COMMAND = "pytest", "unittest", "django", "command"
PYTHON = re.compile(r"^(?:python(?:\d(?:\.\d+)?)?(?:\.exe)?|py)$")
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
SEPARATORS = ("&&", ";", "||")
WRAPPERS = ("uv", "poetry", "pipenv", "pdm", "rye")  # `<tool> run cmd` runs cmd in the project's environment
WRAPPER_VALUES = ("--group", "--extra", "--with", "--python", "-p", "--package", "--env-file", "--directory")
PYTHON_VALUES = ("-W", "-X")
COVERAGE_VALUES = ("--source", "--omit", "--include", "--rcfile", "--context", "--data-file", "--concurrency")
HATCH_TEST_FLAGS = ("-c", "--cover", "--cover-quiet", "-a", "--all", "-p", "--parallel", "-r", "--randomize")
HATCH_TEST_VALUES = ("-py", "--python", "-i", "--include", "-x", "--exclude")
SCRIPT_NAMES = ("test", "tests", "cov", "test-cov", "unit")
SETTINGS = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*f?["']([\w.]+)["']""")
DECLARING = ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "pytest.ini", "Pipfile", "hatch.toml",
             "requirements*.txt", "requirements/*.txt", "requirements/*.in", "requirements*.in")
TEST_FILES = ("test*.py", "*/test*.py", "*/*/test*.py", "*/*/*/test*.py", "*_test.py", "*/*_test.py")
SKIPPED = frozenset({"node_modules", "site-packages", "venv", "build", "dist"})
IMPORTS_PYTEST = re.compile(r"^\s*(?:import|from) pytest\b", re.MULTILINE)
MAX_DEPTH = 6  # declarations naming declarations (CI -> tox -> make...)


@dataclass(frozen=True)
class TestCommand:
    runner: str  # pytest, unittest, django (manage.py test) or command (run as given)
    args: tuple[str, ...]  # pytest's or unittest's arguments; manage.py and its; the whole command
    why: str  # where it comes from, for the summary
    cwd: str = ""  # the folder it runs in, relative to the project (`cd svc && ...`)
    env: tuple[tuple[str, str], ...] = ()  # variables it sets (`X=1 pytest`, Django's settings)
    coverage: tuple[str, ...] = ()  # `coverage run` options it gives (--source, --omit, --rcfile...)
    hatch_env: str = ""  # the Hatch environment it runs in

    def shown(self) -> str:
        prefix = {PYTEST: ["pytest"], UNITTEST: ["python", "-m", "unittest"], DJANGO: ["python"]}.get(self.runner, [])
        covered = ["coverage", "run", *self.coverage] if self.coverage else []
        if covered and prefix[:1] == ["python"]:
            prefix = prefix[1:]
        words = shlex.join([*covered, *prefix, *self.args])
        return f"cd {self.cwd} && {words}" if self.cwd else words

    def describe(self) -> str:
        return f"`{self.shown()}` ({self.why})"


def choose(root: Path, given: tuple[str, ...] = ()) -> TestCommand:
    """The first way of running the tests found, in the order the module docstring gives."""
    if given:
        found = _Reader(root).lines([shlex.join(given)], "the test-command input")
        return found or _as_given(given)
    for lines, why in _declared(root):
        found = _Reader(root).lines(lines, why)
        if found:
            return _with_settings(root, found)
    if (root / "manage.py").is_file():
        return _django(root)
    if not declares_pytest(root) and _unittest_style(root):
        return TestCommand(UNITTEST, ("discover",), "unittest discovery: unittest tests, no pytest declared")
    return TestCommand(PYTEST, (), "pytest: the default")


def _as_given(given: tuple[str, ...]) -> TestCommand:
    words, cwd = list(given), ""
    while len(words) > 2 and words[0] == "cd" and words[2] in SEPARATORS:
        cwd, words = _join(cwd, words[1]), words[3:]
    return TestCommand(COMMAND, tuple(words), "the test-command input, run as given", cwd)


def _declared(root: Path) -> list[tuple[list[str], str]]:
    """Each declaration's lines, in order: Hatch, tox, nox, the Makefile, the CI workflows."""
    ci = testsources.workflows(root)
    hatch_lines = [line for line in ci if re.search(r"\bhatch\s+(run|test)\b", line)] or _hatch_default(root)
    tox = (testsources.tox(root), f"{projectfiles.tox(root)[1]} [testenv] commands")
    return [(hatch_lines, "the project's Hatch script"), tox,
            (testsources.nox(root), "noxfile.py's test session"),
            (testsources.makefile(root), "the Makefile's test target"),
            (ci, "the CI workflow's test step")]


def _hatch_default(root: Path) -> list[str]:
    declared = hatch.names(root)
    for name in ("test", "tests", "default"):
        environment = hatch.env(root, name) if name in declared else None
        script = next((s for s in SCRIPT_NAMES if environment and s in environment.scripts), "")
        if script:
            return [f"hatch run {name}:{script}"]
    return ["hatch test"] if hatch.HATCH_TEST in declared else []


def _with_settings(root: Path, found: TestCommand) -> TestCommand:
    """A declared pytest run of a Django project gets manage.py's settings, as pytest-django needs them."""
    if found.runner != PYTEST or not (root / "manage.py").is_file() or _pytest_settings(root, found.args) or any(
            name == "DJANGO_SETTINGS_MODULE" for name, _ in found.env):
        return found
    return replace(found, env=(*found.env, *_settings(root)))


def _settings(root: Path) -> tuple[tuple[str, str], ...]:
    """manage.py's default DJANGO_SETTINGS_MODULE (the workflow's own value still wins)."""
    match = SETTINGS.search((root / "manage.py").read_text(encoding="utf-8", errors="replace"))
    return (("DJANGO_SETTINGS_MODULE", match.group(1)),) if match else ()


def _pytest_settings(root: Path, args: tuple[str, ...] = ()) -> bool:
    """pytest-django's settings given by its configuration or --ds (an environment variable would override them)."""
    configured = any("DJANGO_SETTINGS_MODULE" in (root / name).read_text(encoding="utf-8", errors="replace")
                     for name in ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini") if (root / name).is_file())
    return configured or any(arg.startswith("--ds") for arg in args)


def _django(root: Path) -> TestCommand:
    env = _settings(root)
    if uses(root, "pytest-django", "pytest_django"):
        return TestCommand(PYTEST, (), "Django with pytest-django", env=() if _pytest_settings(root) else env)
    return TestCommand(DJANGO, ("manage.py", "test"), "Django: manage.py, no pytest-django declared", env=env)


def declares_pytest(root: Path) -> bool:
    return (root / "conftest.py").is_file() or uses(root, "pytest")


def _unittest_style(root: Path) -> bool:
    """Test modules written for unittest (TestCase), none of them importing pytest."""
    texts = []
    for pattern in TEST_FILES:
        for path in root.glob(pattern):
            if not any(part.startswith(".") or part in SKIPPED for part in path.relative_to(root).parts):
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return any("TestCase" in text for text in texts) and not any(IMPORTS_PYTEST.search(text) for text in texts)


def uses(root: Path, *words: str) -> bool:
    """Whether a file that declares the project's dependencies or tools names one of the words."""
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, words)) + r")(?![\w-])", re.IGNORECASE)
    for glob in DECLARING:
        for path in root.glob(glob):
            try:
                if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                    return True
            except OSError:
                continue
    return False


def _join(cwd: str, folder: str) -> str:
    joined = PurePosixPath(cwd or ".") / folder
    parts: list[str] = []
    for part in joined.parts:
        if part == "..":
            parts = parts[:-1]
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


class _Reader:
    """Reads command lines the way a shell would run them, without running them."""

    def __init__(self, root: Path, depth: int = 0):
        self.root, self.depth = root, depth

    def lines(self, lines: list[str], why: str) -> TestCommand | None:
        """The first test step in the lines (`cd` followed within a line, as each line is a
        shell of its own; setup and report steps skipped)."""
        for line in lines:
            cwd = ""
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                continue
            for command in _commands(words):
                if command[0] == "cd" and len(command) > 1:
                    cwd = _join(cwd, command[1])
                    continue
                found = self.command(command, why) if self.depth < MAX_DEPTH else None
                if found:
                    return replace(found, cwd=_join(cwd, found.cwd) if cwd else found.cwd)
        return None

    def command(self, words: list[str], why: str) -> TestCommand | None:
        env = []
        while words and ASSIGNMENT.match(words[0]):
            name, value = words.pop(0).split("=", 1)
            env.append((name, value))
        found = self._runner(words, why) if words else None
        return replace(found, env=(*found.env, *env)) if found else None

    def _runner(self, words: list[str], why: str) -> TestCommand | None:
        head, rest = PurePosixPath(words[0]).name, words[1:]
        if head in WRAPPERS and rest[:1] == ["run"]:
            return self.command(_skip_options(rest[1:], WRAPPER_VALUES), why)
        if head == "hatch":
            return self._hatch(rest, why)
        if head in ("tox", "nox", "make"):
            return self._other_tool(head, rest, why)
        if head == "coverage":
            return self._coverage(rest, why)
        if head in ("pytest", "py.test"):
            return TestCommand(PYTEST, tuple(rest), why)
        if head == "django-admin" and rest[:1] == ["test"]:
            return TestCommand(DJANGO, ("-m", "django", *rest), why)
        if PYTHON.match(head):
            return self._python(_skip_options(rest, PYTHON_VALUES), why)
        return None

    def _python(self, rest: list[str], why: str) -> TestCommand | None:
        if rest[:1] == ["-m"] and len(rest) > 1:
            module, args = rest[1], rest[2:]
            if module == "pytest":
                return TestCommand(PYTEST, tuple(args), why)
            if module == "unittest":
                return TestCommand(UNITTEST, tuple(args), why)
            if module == "coverage":
                return self._coverage(args, why)
            if module == "django" and args[:1] == ["test"]:
                return TestCommand(DJANGO, ("-m", "django", *args), why)
            return None
        if rest and rest[0].endswith("manage.py") and rest[1:2] == ["test"]:
            return TestCommand(DJANGO, tuple(rest), why)
        if rest and re.fullmatch(r"(?:.*/)?(?:run_?tests?|tests?)\.py", rest[0]):
            return TestCommand(COMMAND, ("python", *rest), why)
        return None

    def _coverage(self, rest: list[str], why: str) -> TestCommand | None:
        if rest[:1] != ["run"]:
            return None  # report, combine, xml...: not the test step
        options, index = [], 1
        while index < len(rest) and rest[index].startswith("-") and rest[index] != "-m":
            word = rest[index]
            takes_value = word in COVERAGE_VALUES
            options += [word, rest[index + 1]] if takes_value and index + 1 < len(rest) else [word]
            index += 2 if takes_value else 1
        found = self._python(rest[index:], why)
        return replace(found, coverage=tuple(options)) if found else None

    def _hatch(self, rest: list[str], why: str) -> TestCommand | None:
        env_name = ""
        while rest and rest[0].startswith("-"):
            if rest[0] in ("-e", "--env") and len(rest) > 1:
                env_name = rest[1]
                rest = rest[1:]
            rest = rest[1:]
        if rest[:1] == ["test"]:
            return TestCommand(PYTEST, tuple(_hatch_test_args(rest[1:])), why, hatch_env=hatch.HATCH_TEST)
        if rest[:1] != ["run"] or len(rest) < 2:
            return None
        args = [word for word in rest[1:] if not word.startswith("+")]  # +py=3.12: matrix choices
        name, script = hatch.split_target(args[0])
        environment = hatch.env(self.root, env_name or name)
        if environment is None:
            return None
        found = _Reader(self.root, self.depth + 1).lines(hatch.expand(environment, [script, *args[1:]]), why)
        return replace(found, hatch_env=environment.name) if found else None

    def _other_tool(self, head: str, rest: list[str], why: str) -> TestCommand | None:
        value = next((rest[i + 1] for i, word in enumerate(rest[:-1]) if word in ("-e", "-s", "--session")), "")
        if head == "tox":
            lines = testsources.tox(self.root, value.split(",")[0])
        elif head == "nox":
            lines = testsources.nox(self.root, value.split(",")[0])
        else:
            targets = [word for word in rest if not word.startswith("-") and "=" not in word]
            lines = testsources.makefile(self.root, targets[0]) if targets else []
        return _Reader(self.root, self.depth + 1).lines(lines, why)


def _commands(words: list[str]) -> list[list[str]]:
    """The commands of one line, split at &&, ; and || (what follows a pipe is dropped)."""
    commands: list[list[str]] = [[]]
    for word in words:
        if word in SEPARATORS:
            commands.append([])
        elif word == "|":
            commands.append(["|"])
        elif word.endswith(";") and len(word) > 1:
            commands[-1].append(word[:-1])
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command and command[0] != "|"]


def _skip_options(words: list[str], with_value: tuple[str, ...]) -> list[str]:
    """The words after a wrapper's (or python's) leading options and a `--`."""
    index = 0
    while index < len(words) and words[index].startswith("-") and words[index] not in ("-m", "--"):
        index += 2 if words[index] in with_value else 1
    return words[index + (words[index:index + 1] == ["--"]):]


def _hatch_test_args(words: list[str]) -> list[str]:
    """pytest's arguments in `hatch test [options] [-- args]`: Hatch's own options left out."""
    kept: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            return kept + words[index + 1:]
        if word in HATCH_TEST_VALUES:
            index += 2
            continue
        if word not in HATCH_TEST_FLAGS:
            kept.append(word)
        index += 1
    return kept
