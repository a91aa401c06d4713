"""The messages the action can print, found in its code (tests/test_docs.py checks them).

The messages are extracted from the code, not listed by hand. An AST walk over
ssm_action/ finds the places a message leaves the program (the "sinks" below:
ActionError, runner.error/warning/notice, the config reader's fail(), the gates'
Outcome(failed|error|skipped, ...), the exceptions whose text reaches the user,
SSM pre-flight Problems, the deploy agent's step errors and validation messages) and
collects every string literal or f-string that can flow into them: directly, through
a local variable, a module-level constant (the *HINTS tables), a function parameter
(the argument of every call of that function, or of the one call whose return value
is being followed), or the return value of a function of the package. An f-string
whose placeholder is a parameter that every caller passes as a literal also yields
one text per caller (f"{action} failed" -> "SendCommand failed"). Each message becomes
its stable leading words: the first fragment of at least two words between
placeholders, cut to eight words. Those must appear in docs/troubleshooting.md
(backticks, table escapes and line breaks ignored).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "ssm_action"
DOCS = ROOT / "docs"
TROUBLESHOOTING = DOCS / "troubleshooting.md"
BIN = Path(sys.executable).parent

# Where messages leave the program: callable name -> positions and keywords that carry
# text the user reads. Positions count the call's own arguments.
SINKS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "ActionError": ((0, 1), ("title", "message")),
    "Cancelled": ((0,), ()),
    "EnvError": ((0,), ()),
    "GateTimeout": ((0,), ()),
    "ToolMissing": ((0,), ()),
    "GitHubError": ((0,), ()),
    "Problem": ((1, 2), ("why", "fix")),
    "InstanceResult": ((), ("error",)),
    "StepError": ((0,), ()),
    "Busy": ((0,), ()),
    "ParamError": ((0,), ()),
}
RUNNER_SINKS = {"error": 0, "warning": 0, "notice": 0, "annotate": 1}  # runner.<name>(..., title=...)
GATE_STATES = {"ERROR", "FAILED", "SKIPPED"}  # Outcome(STATE, message): what a gate reports when not passing
AGENT = ("ssm_action/agent/", "ssm_action/contract/")  # the agent's modules, and the checks it runs
AGENT_SINKS = {"finish": 2, "say": 0}  # Deploy.finish(status, code, error), Reporter.say(text)
# the agent's cli.validate and the contract's checks
VALIDATORS = ("validate", "parse_params", "value_checks", "_artifact_checks", "_app_checks")
PLACEHOLDER = "\0"
PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdrgfi]")  # the agent's %-formatting
FORMAT_FIELD = re.compile(r"\{[A-Za-z_]\w*\}")  # str.format fields in the hint tables
KEY_WORDS = 8
MAX_DEPTH = 6  # nested function returns followed at most


@dataclass(frozen=True)
class Message:
    where: str  # file:line of the literal
    text: str  # the literal, each placeholder as PLACEHOLDER

    @property
    def key(self) -> str:
        """The stable leading words, or '' when the message has no fixed words to look for."""
        for fragment in self.text.split(PLACEHOLDER):
            words = fragment.replace("`", "").split()
            if sum(any(c.isalpha() for c in w) for w in words) >= 2 and len(" ".join(words)) >= 10:
                return " ".join(words[:KEY_WORDS])
        return ""


class Module:
    """One parsed source file, with what the extraction needs to look things up."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.relative_to(ROOT).as_posix()
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.constants = {t.id: n.value for n in self.tree.body if isinstance(n, ast.Assign)
                          for t in n.targets if isinstance(t, ast.Name)}
        self.functions = {n.name: n for n in self.tree.body if isinstance(n, ast.FunctionDef)}
        self.methods = {(c.name, n.name): n for c in self.tree.body if isinstance(c, ast.ClassDef)
                        for n in c.body if isinstance(n, ast.FunctionDef)}
        self.module_aliases: dict[str, str] = {}  # local name -> module file (relative to ROOT)
        self.imported: dict[str, tuple[str, str]] = {}  # local name -> (module file, function name)
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ssm_action"):
                base = ROOT / node.module.replace(".", "/")
                for alias in node.names:
                    local = alias.asname or alias.name
                    if (base / f"{alias.name}.py").is_file():
                        self.module_aliases[local] = (base / f"{alias.name}.py").relative_to(ROOT).as_posix()
                    else:
                        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
                        self.imported[local] = (source.relative_to(ROOT).as_posix(), alias.name)

    def enclosing(self, node: ast.AST, kind: type) -> ast.AST | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, kind):
                return node
        return None

    def function_of(self, node: ast.AST) -> ast.FunctionDef | None:
        return self.enclosing(node, ast.FunctionDef)

    def resolve(self, call: ast.Call) -> tuple[Module, ast.FunctionDef] | None:
        """The package function a call runs, when the call names it unambiguously."""
        func = call.func
        if isinstance(func, ast.Name):
            if func.id in self.functions:
                return self, self.functions[func.id]
            if func.id in self.imported:
                owner = by_name(self.imported[func.id][0])
                function = owner.functions.get(self.imported[func.id][1]) if owner else None
                return (owner, function) if owner and function else None
            return None
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return None
        if func.value.id == "self":
            cls = self.enclosing(call, ast.ClassDef)
            method = self.methods.get((cls.name, func.attr)) if cls else None
            return (self, method) if method else None
        if func.value.id in self.module_aliases:
            owner = by_name(self.module_aliases[func.value.id])
            function = owner.functions.get(func.attr) if owner else None
            return (owner, function) if owner and function else None
        found = [m for (_, name), m in self.methods.items() if name == func.attr]  # reader.fail(...)
        if found:
            return (self, found[0]) if len(found) == 1 else None
        # a method of a class another module holds (config's Reader): when its name is the package's only one
        owners = [(mod, m) for mod in modules() for (_, name), m in mod.methods.items() if name == func.attr]
        return owners[0] if len(owners) == 1 else None


@lru_cache(maxsize=1)
def modules() -> tuple[Module, ...]:
    return tuple(Module(p) for p in sorted(PACKAGE.rglob("*.py")))


def by_name(name: str) -> Module | None:
    return next((m for m in modules() if m.name == name), None)


def call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def assignments(function: ast.FunctionDef) -> list[tuple[str, ast.AST]]:
    """(name, value) of every plain assignment in a function, tuples unpacked."""
    found = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.append((target.id, node.value))
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    found += [(t.id, v) for t, v in zip(target.elts, node.value.elts) if isinstance(t, ast.Name)]
    return found


def calls_of(owner: Module, function: ast.FunctionDef) -> list[tuple[Module, ast.Call]]:
    return [(module, node) for module in modules() for node in ast.walk(module.tree)
            if isinstance(node, ast.Call) and call_name(node) == function.name
            and module.resolve(node) == (owner, function)]


def argument_for(function: ast.FunctionDef, call: ast.Call, index: int, param: str) -> ast.AST | None:
    """The expression a call passes for a parameter (``self`` is never passed)."""
    if function.args.args and function.args.args[0].arg == "self":
        index -= 1
    for keyword in call.keywords:
        if keyword.arg == param:
            return keyword.value
    return call.args[index] if 0 <= index < len(call.args) else None


Bindings = dict[tuple[int, str], tuple[Module, ast.AST, "Bindings"]]  # (function, parameter) -> argument


class Extractor:
    """Collects the string literals that can reach a sink."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], Message] = {}
        self.seen: set[tuple[int, tuple[tuple[tuple[int, str], int], ...]]] = set()

    def literal(self, module: Module, node: ast.AST, text: str) -> None:
        if module.name.startswith(AGENT):
            text = PERCENT.sub(PLACEHOLDER, text.replace("%%", "%"))
        text = FORMAT_FIELD.sub(PLACEHOLDER, text)
        message = Message(f"{module.name}:{node.lineno}", text)
        self.found.setdefault((message.where, text), message)

    def expr(self, module: Module, node: ast.AST | None, env: Bindings | None = None) -> None:
        """Every literal in an expression whose value can become (part of) a message.
        ``env`` binds the parameters of the functions whose return value is being followed."""
        env = env or {}
        key = (id(node), tuple(sorted((k, id(v[1])) for k, v in env.items())))
        if node is None or key in self.seen or len(env) > MAX_DEPTH:
            return
        self.seen.add(key)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.literal(module, node, node.value)
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values)
            self.literal(module, node, text)
            for variant in self.variants(module, node, env):
                self.literal(module, node, variant)
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    self.expr(module, value.value, env)
        elif isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Add):
                self.concatenation(module, node, env)
            else:  # "..." % args
                self.expr(module, node.left, env)
        elif isinstance(node, ast.IfExp):
            self.expr(module, node.body, env)
            self.expr(module, node.orelse, env)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.expr(module, value, env)
        elif isinstance(node, ast.Dict):
            for value in node.values:
                self.expr(module, value, env)
        elif isinstance(node, ast.Subscript):
            self.expr(module, node.value, env)
        elif isinstance(node, ast.Name):
            self.name(module, node, env)
        elif isinstance(node, ast.Call):
            self.call_value(module, node, env)

    def variants(self, module: Module, node: ast.JoinedStr, env: Bindings) -> list[str]:
        """An f-string whose placeholder is a parameter that every caller passes as a literal,
        e.g. f"{action} failed": one text per caller ("SendCommand failed", ...)."""
        function = module.function_of(node)
        params = [a.arg for a in function.args.args] if function else []
        for i, value in enumerate(node.values):
            name = value.value if isinstance(value, ast.FormattedValue) else None
            if not (isinstance(name, ast.Name) and name.id in params and (id(function), name.id) not in env):
                continue
            arguments = [argument_for(function, call, params.index(name.id), name.id)
                         for _, call in calls_of(module, function)]
            if not arguments or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in arguments):
                continue
            return ["".join(a.value if j == i else v.value if isinstance(v, ast.Constant) else PLACEHOLDER
                            for j, v in enumerate(node.values)) for a in arguments]
        return []

    def concatenation(self, module: Module, node: ast.BinOp, env: Bindings) -> None:
        """a + "text" + b: one message with placeholders, and whatever a and b hold."""
        parts: list[ast.AST] = []

        def flatten(n: ast.AST) -> None:
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
                flatten(n.left)
                flatten(n.right)
            else:
                parts.append(n)

        flatten(node)
        text = "".join(p.value if isinstance(p, ast.Constant) and isinstance(p.value, str) else PLACEHOLDER
                       for p in parts)
        self.literal(module, node, text)
        for part in parts:
            if not isinstance(part, ast.Constant):
                self.expr(module, part, env)

    def name(self, module: Module, node: ast.Name, env: Bindings) -> None:
        """A parameter (its argument, or every caller's), a local variable (its assignments),
        or a module constant."""
        function = module.function_of(node)
        if function is not None:
            params = [a.arg for a in function.args.args]
            if node.id in params:
                bound = env.get((id(function), node.id))
                if bound is not None:
                    self.expr(*bound)
                else:
                    self.callers(module, function, params.index(node.id), node.id)
                return
            values = [v for t, v in assignments(function) if t == node.id]
            for value in values:
                self.expr(module, value, env)
            if values:
                return
        if node.id in module.constants:
            self.expr(module, module.constants[node.id], env)

    def callers(self, owner: Module, function: ast.FunctionDef, index: int, param: str) -> None:
        """The argument every call of ``function`` passes for its parameter ``index``."""
        for module, call in calls_of(owner, function):
            argument = argument_for(function, call, index, param)
            if argument is not None:
                self.expr(module, argument)

    def call_value(self, module: Module, call: ast.Call, env: Bindings) -> None:
        """What a call returns: a package function's returns (its parameters bound to this
        call's arguments), or the text a table lookup or str.format gives."""
        name = call_name(call)
        if name == "format" and isinstance(call.func, ast.Attribute):
            self.expr(module, call.func.value, env)
            return
        if name == "get" and isinstance(call.func, ast.Attribute):  # TABLE.get(key, default)
            self.expr(module, call.func.value, env)
            for arg in call.args[1:]:
                self.expr(module, arg, env)
            return
        resolved = module.resolve(call)
        if resolved is None:
            return
        owner, function = resolved
        inner = dict(env)
        for index, param in enumerate(a.arg for a in function.args.args):
            argument = argument_for(function, call, index, param)
            if argument is not None:
                inner[(id(function), param)] = (module, argument, env)
        for sub in ast.walk(function):
            if isinstance(sub, ast.Return):
                self.expr(owner, sub.value, inner)

    def sink(self, module: Module, call: ast.Call) -> None:
        name = call_name(call)
        positions: tuple[int, ...] = ()
        keywords: tuple[str, ...] = ()
        if name in SINKS:
            positions, keywords = SINKS[name]
        elif (name in RUNNER_SINKS and isinstance(call.func, ast.Attribute)
              and isinstance(call.func.value, ast.Name) and call.func.value.id == "runner"):
            positions, keywords = (RUNNER_SINKS[name],), ("title",)
        elif name == "Outcome" and call.args and isinstance(call.args[0], ast.Name) \
                and call.args[0].id in GATE_STATES:
            positions = (1,)
        elif name == "fail" and "/config/" in module.name:
            positions = (1,)
        elif module.name.startswith(AGENT) and name in AGENT_SINKS:
            positions = (AGENT_SINKS[name],)
        elif module.name.startswith(AGENT) and name == "append" and self.in_validate(module, call):
            positions = (0,)
        for position in positions:
            if position < len(call.args):
                self.expr(module, call.args[position])
        for keyword in call.keywords:
            if keyword.arg in keywords:
                self.expr(module, keyword.value)

    @staticmethod
    def in_validate(module: Module, node: ast.AST) -> bool:
        function = module.function_of(node)
        return function is not None and function.name in VALIDATORS

    def agent_checks(self, module: Module) -> None:
        """The parameter checks: their (condition, message) pairs and their lists of errors."""
        for function in (module.functions[name] for name in VALIDATORS if name in module.functions):
            self.validator(module, function)

    def validator(self, module: Module, function: ast.FunctionDef) -> None:
        for node in ast.walk(function):
            if isinstance(node, ast.Tuple) and len(node.elts) in (2, 3):  # (passed, message), (param, passed, message)
                self.expr(module, node.elts[-1])
            elif isinstance(node, ast.ListComp):  # errors = ["unknown parameter %r" % key for ...]
                self.expr(module, node.elt)


@lru_cache(maxsize=1)
def messages() -> tuple[Message, ...]:
    extractor = Extractor()
    for module in modules():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call):
                extractor.sink(module, node)
        if module.name.startswith(AGENT):
            extractor.agent_checks(module)
    return tuple(m for m in extractor.found.values() if m.key)


def normalise(text: str) -> str:
    return " ".join(text.replace("`", "").replace("\\|", "|").split())
