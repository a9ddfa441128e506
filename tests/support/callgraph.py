"""What a Lambda function can do, read from its code: a static call graph from ``functions/<job>/app.py`` through the
composition root's builders and the use cases down to the adapters' AWS and finAPI calls.

It is an abstract interpreter over the AST, no code of the application runs:

* **Reachability** starts at every top-level function of the handler module (the Lambda handler, the routes and record
  handlers the framework calls) and follows calls. A receiver's class comes from where the value was made (a
  constructor call, a property of the composition root, a dataclass field filled at a construction site), else from
  its annotation; a call on a port (a ``Protocol``) goes to every class implementing it that the function constructs
  (rapid type analysis). Callables handed around (``callback_base_url=a.api_base_url``, a lambda for the Web Form
  client's tokens, ``Clock.sleep``) are followed to where they were made.
* **AWS calls** are method calls on a botocore client: ``stores.aws.client("svc")`` or a ``ServiceClient("svc")``
  class attribute (its ``__get__`` is read like any other code). Their keyword arguments are evaluated as far as the
  code determines them: literals, f-strings, attributes set in ``__init__`` from the construction site's arguments,
  and ``Settings`` fields, taken from the function's own settings (its environment). A library class that is given a
  botocore client (Powertools' idempotency persistence) is read too: every call its methods make on that client
  counts.
* **finAPI calls** are requests on an ``httpx.Client``.
* **Worst paths**: for each function, the most finAPI requests and AWS calls any path through the code makes.
  Branches take the larger side; a ``return`` or ``raise`` ends a path; a loop over ``range(n)`` counts ``n`` times
  for finAPI requests (retries are the slow case) and once for AWS calls (optimistic-concurrency retries and paging
  are rare); any other loop around a finAPI request is unbounded.

What it cannot follow, it does not guess: an AWS call whose resource it cannot determine keeps ``None`` there, and the
checks that use it fail naming the call.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from botocore.session import Session

INF = math.inf
_MAX_DEPTH = 40
AWS_CLIENT_FACTORY = "bankupdate.stores.aws.client"  # the one place botocore clients are made
HTTP_CLIENT = "httpx.Client"
HTTP_METHODS = {"request", "get", "post", "put", "patch", "delete", "head", "send", "stream"}
_PROPERTY_DECORATORS = {"property", "cached_property", "functools.cached_property"}


# ------------------------------------------------------------------------------------------------ the program


class Module:
    def __init__(self, name: str, path: Path, *, ours: bool) -> None:
        self.name, self.path, self.ours = name, path, ours
        self.tree = ast.parse(path.read_text(), filename=str(path))
        self.names: dict[str, str] = {}  # local name -> qualified name ("pkg.mod.Name" or a module)
        self.defs: dict[str, ast.AST] = {}  # top-level functions, classes and assignments
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _module_level(self.tree.body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.names[local] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, package)
                for alias in node.names:
                    self.names[alias.asname or alias.name] = f"{base}.{alias.name}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.defs[node.name] = node
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.defs[target.id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self.defs[node.target.id] = node.value

    def where(self, node: ast.AST) -> str:
        return f"{self.path.name}:{getattr(node, 'lineno', 0)}"


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements at module level, those under ``if TYPE_CHECKING:`` and ``try:`` included."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _module_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            yield from _module_level(node.body + [s for h in node.handlers for s in h.body] + node.orelse)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    anchor = parts[: len(parts) - node.level + 1]
    return ".".join([*anchor, node.module] if node.module else anchor)


@dataclass(eq=False)
class Func:
    qualname: str
    module: Module
    node: ast.FunctionDef | ast.AsyncFunctionDef
    owner: Klass | None = None
    outer: Func | None = None  # the function a nested one is defined in (its closure)

    @cached_property
    def params(self) -> list[ast.arg]:
        args = self.node.args
        return [*args.posonlyargs, *args.args, *args.kwonlyargs]

    @cached_property
    def decorators(self) -> set[str]:
        found = set()
        for decorator in self.node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            found.add(ast.unparse(target))
        return found

    @property
    def is_property(self) -> bool:
        return bool(self.decorators & _PROPERTY_DECORATORS)

    def default(self, name: str) -> ast.expr | None:
        args = self.node.args
        positional = [*args.posonlyargs, *args.args]
        for arg, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True):
            if arg.arg == name:
                return default
        for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            if arg.arg == name:
                return kw_default
        return None

    def __repr__(self) -> str:
        return self.qualname


@dataclass(eq=False)
class Klass:
    qualname: str
    module: Module
    node: ast.ClassDef
    program: Program

    @cached_property
    def bases(self) -> list[Klass | str]:
        found: list[Klass | str] = []
        for base in self.node.bases:
            target = base.value if isinstance(base, ast.Subscript) else base
            resolved = self.program.resolve_expr_name(self.module, target)
            found.append(resolved if isinstance(resolved, Klass) else str(resolved or ast.unparse(target)))
        return found

    @cached_property
    def mro(self) -> list[Klass]:
        order: list[Klass] = [self]
        for base in self.bases:
            if isinstance(base, Klass):
                order += [k for k in base.mro if k not in order]
        return order

    @cached_property
    def is_protocol(self) -> bool:
        return any(isinstance(b, str) and b.rsplit(".", 1)[-1] == "Protocol" for b in self.bases)

    @cached_property
    def is_dataclass(self) -> bool:
        return any("dataclass" in ast.unparse(d) for d in self.node.decorator_list)

    @cached_property
    def methods(self) -> dict[str, Func]:
        return {
            n.name: Func(f"{self.qualname}.{n.name}", self.module, n, self)
            for n in self.node.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }

    @cached_property
    def class_values(self) -> dict[str, ast.expr]:
        found: dict[str, ast.expr] = {}
        for n in self.node.body:
            if isinstance(n, ast.Assign):
                found |= {t.id: n.value for t in n.targets if isinstance(t, ast.Name)}
            elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.value is not None:
                found[n.target.id] = n.value
        return found

    @cached_property
    def fields(self) -> list[tuple[str, ast.expr]]:
        """Dataclass fields (name, annotation), in order."""
        found = []
        for k in reversed(self.mro):
            for n in k.node.body:
                if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
                    found.append((n.target.id, n.annotation))
        return found

    def field_default(self, name: str) -> ast.expr | None:
        for k in self.mro:
            for n in k.node.body:
                if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == name:
                    value = n.value
                    if isinstance(value, ast.Call) and ast.unparse(value.func).endswith("field"):
                        return None  # field(default_factory=...): not followed
                    return value
        return None

    def lookup(self, name: str) -> Func | None:
        for k in self.mro:
            if name in k.methods:
                return k.methods[name]
        return None

    def class_value(self, name: str) -> tuple[Klass, ast.expr] | None:
        for k in self.mro:
            if name in k.class_values:
                return k, k.class_values[name]
        return None

    def method_names(self) -> set[str]:
        return {name for k in self.mro for name in k.methods}

    def __repr__(self) -> str:
        return self.qualname


class Program:
    """The sources: ``bankupdate`` under ``core``, handlers by path, libraries when a botocore client reaches them."""

    def __init__(self, core: Path) -> None:
        self.core = core
        self.modules: dict[str, Module | None] = {}
        self.symbols: dict[tuple[str, str], Any] = {}
        self.reading_libraries = False

    def library_class(self, qualname: str) -> Klass | None:
        """A library's class, read only because a botocore client is handed to it."""
        self.reading_libraries = True
        try:
            found = self.resolve(qualname)
        finally:
            self.reading_libraries = False
        return found if isinstance(found, Klass) else None

    def module(self, name: str) -> Module | None:
        if name not in self.modules or (self.modules[name] is None and self.reading_libraries):
            self.modules[name] = self._load(name)
        return self.modules[name]

    def _load(self, name: str) -> Module | None:
        parts = name.split(".")
        for candidate in (self.core.joinpath(*parts).with_suffix(".py"), self.core.joinpath(*parts, "__init__.py")):
            if candidate.exists():
                return Module(name, candidate, ours=True)
        if parts[0] == "bankupdate" or not self.reading_libraries:
            return None
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        return Module(name, Path(spec.origin), ours=False)

    def handler(self, path: Path) -> Module:
        module = Module(f"handler:{path.parent.name}", path, ours=True)
        self.modules[module.name] = module
        return module

    def resolve(self, qualname: str, *, depth: int = 0) -> Any:
        """A qualified name as a Klass, a Func, a Module, an expression (module-level value) or the name itself
        (something outside what is read)."""
        parts = qualname.split(".")
        for cut in range(len(parts), 0, -1):
            module = self.module(".".join(parts[:cut])) if not qualname.startswith("handler:") else None
            if module is None:
                continue
            target: Any = module
            for name in parts[cut:]:
                target = self.member(target, name, depth=depth)
                if target is None:
                    return qualname
            return target
        return qualname

    def member(self, module: Any, name: str, *, depth: int = 0) -> Any:
        if not isinstance(module, Module):
            return None
        key = (module.name, name)
        if key in self.symbols and (self.symbols[key] is not None or not self.reading_libraries):
            found_before = self.symbols[key]
            if not (isinstance(found_before, str) and self.reading_libraries):
                return found_before
        found: Any = None
        node = module.defs.get(name)
        if isinstance(node, ast.ClassDef):
            found = Klass(f"{module.name}.{name}", module, node, self)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found = Func(f"{module.name}.{name}", module, node)
        elif node is not None:
            found = (module, node)
        elif name in module.names and depth < 10:
            found = self.resolve(module.names[name], depth=depth + 1)
        else:
            submodule = self.module(f"{module.name}.{name}")
            found = submodule
        self.symbols[key] = found
        return found

    def resolve_expr_name(self, module: Module, expr: ast.expr) -> Any:
        """A dotted name (``Protocol``, ``typing.Protocol``, ``bankupdate.x.Y``) seen from ``module``."""
        if isinstance(expr, ast.Name):
            return self.member(module, expr.id) or expr.id
        if isinstance(expr, ast.Attribute):
            base = self.resolve_expr_name(module, expr.value)
            if isinstance(base, Module):
                return self.member(base, expr.attr) or f"{base.name}.{expr.attr}"
            if isinstance(base, str):
                return f"{base}.{expr.attr}"
        return None


# ------------------------------------------------------------------------------------------------ values


class Value:
    pass


@dataclass(frozen=True)
class Unknown(Value):
    pass


UNKNOWN = Unknown()
HOLE = "\ue000"  # an unknown part of a string


@dataclass(frozen=True)
class Const(Value):
    value: Any


@dataclass(frozen=True)
class DictV(Value):
    items: tuple[tuple[str, frozenset[Value]], ...]


@dataclass(frozen=True)
class ListV(Value):
    items: tuple[frozenset[Value], ...]


@dataclass(frozen=True)
class Site:
    """Where an instance was made: the call node, in which function."""

    node: ast.Call
    caller: Func


@dataclass(frozen=True)
class Inst(Value):
    klass: Klass
    site: Site | None = None


@dataclass(frozen=True)
class ClassV(Value):
    klass: Klass


@dataclass(frozen=True)
class FuncV(Value):
    func: Func
    self_value: Inst | None = None


@dataclass(frozen=True)
class LambdaV(Value):
    node: ast.Lambda
    frame: Frame


@dataclass(frozen=True)
class ModuleV(Value):
    module: Module


@dataclass(frozen=True)
class Client(Value):
    service: str


@dataclass(frozen=True)
class External(Value):
    """Something outside the code read: a library class or function (``instance``: an object it made)."""

    qualname: str
    instance: bool = False


@dataclass(frozen=True)
class Frame:
    func: Func
    self_value: Inst | None = None


Values = frozenset[Value]
NOTHING: Values = frozenset()
ONLY_UNKNOWN: Values = frozenset({UNKNOWN})


# ------------------------------------------------------------------------------------------------ what is found


@dataclass(frozen=True)
class AwsCall:
    service: str  # the service as IAM and botocore's signer name it ("dynamodb", "states")
    operation: str  # the API operation ("UpdateItem")
    params: Mapping[str, Any]  # what the code determines; HOLE marks unknown parts of strings, None unknown values
    where: str
    frame: Frame | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class HttpCall:
    where: str


Sink = AwsCall | HttpCall


@dataclass
class Reach:
    frames: set[Frame] = field(default_factory=set)
    aws: list[AwsCall] = field(default_factory=list)
    http: list[HttpCall] = field(default_factory=list)
    finapi_requests: float = 0  # most finAPI requests on one path (INF: unbounded)
    aws_calls: float = 0  # most AWS calls on one path (each loop counted once)
    callers: dict[Frame, Frame] = field(default_factory=dict)  # a shortest way in to each frame

    @property
    def functions(self) -> set[str]:
        return {f.func.qualname for f in self.frames}

    def chain(self, frame: Frame | None) -> list[str]:
        """How the handler gets to ``frame``: the functions on one shortest call chain."""
        found: list[str] = []
        while frame is not None:
            found.append(frame.func.qualname.replace("bankupdate.", ""))
            frame = self.callers.get(frame)
        return found[::-1]


# ------------------------------------------------------------------------------------------------ the analysis


@dataclass
class _Resolved:
    targets: set[Frame] = field(default_factory=set)
    sinks: list[Sink] = field(default_factory=list)


class Analysis:
    """One Lambda function: its handler, and the concrete objects its code reads (its ``Settings``)."""

    def __init__(self, program: Program, concrete: Mapping[str, object]) -> None:
        self.program = program
        self.concrete = concrete  # class qualname -> the object every instance of it is (Settings)
        self.frames: set[Frame] = set()
        self.sites: dict[Klass, set[Site]] = {}
        self.call_sites: dict[Func, set[tuple[ast.Call, Frame]]] = {}
        self.resolved: dict[tuple[Frame, int], _Resolved] = {}
        self.library_classes: set[Klass] = set()
        self._evaluating: set[tuple[int, Frame | None, tuple[Any, ...]]] = set()
        self._memo: dict[tuple[int, Frame | None, tuple[Any, ...]], Values] = {}
        self._changed = True
        self.passes = 0

    # -------------------------------------------------------------------------------------------- reachability

    def run(self, handler: Path) -> Reach:
        module = self.program.handler(handler)
        roots = [
            Frame(self.program.member(module, name))
            for name, node in module.defs.items()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        self.frames.update(roots)
        # Passes until nothing new is found; values are remembered within a round of passes and forgotten between
        # rounds (what a value is grows with the call sites found), until a fresh round finds nothing new.
        fresh = False
        while self._changed or not fresh:
            fresh = not self._changed
            if fresh:
                self._memo.clear()
            self._changed = False
            self.passes += 1
            for frame in list(self.frames):
                self._visit(frame)
            for klass in list(self.library_classes):
                for k in klass.mro:
                    for method in k.methods.values():
                        self._reach(Frame(method, Inst(klass)))
        reach = Reach(frames=set(self.frames))
        seen: set[tuple[str, str]] = set()
        for resolved in self.resolved.values():
            for sink in resolved.sinks:
                if isinstance(sink, AwsCall) and (sink.where, repr(sorted(sink.params.items()))) not in seen:
                    seen.add((sink.where, repr(sorted(sink.params.items()))))
                    reach.aws.append(sink)
                elif isinstance(sink, HttpCall) and sink not in reach.http:
                    reach.http.append(sink)
        queue = list(roots)
        while queue:  # breadth first: each frame's first caller is on a shortest chain
            frame = queue.pop(0)
            for call in _calls_in(frame.func.node):
                found = self.resolved.get((frame, id(call)))
                for target in found.targets if found else ():
                    if target not in reach.callers and target not in roots:
                        reach.callers[target] = frame
                        queue.append(target)
        costs = _Costs(self)
        for root in roots:
            finapi, aws = costs.total(root)
            reach.finapi_requests = max(reach.finapi_requests, finapi)
            reach.aws_calls = max(reach.aws_calls, aws)
        return reach

    def _reach(self, frame: Frame) -> None:
        if frame not in self.frames:
            self.frames.add(frame)
            self._changed = True

    def _live_calls(self, frame: Frame) -> list[ast.Call]:
        """The calls of a function's body, leaving out branches its values rule out (``if token is not None`` where
        every token that reaches it is None)."""
        found: list[ast.Call] = []
        parts = list(_structure(frame.func.node))
        while parts:
            part = parts.pop()
            if isinstance(part, ast.Call):
                found.append(part)
                continue
            test, body, orelse = part
            truth = self._truth(test, frame)
            if truth is not False:
                parts.extend(body)
            if truth is not True:
                parts.extend(orelse)
        return found

    def _truth(self, test: ast.expr, frame: Frame) -> bool | None:
        """Whether a test is always true or always false for the values that reach it (None: it depends)."""
        if isinstance(test, ast.BoolOp):
            truths = [self._truth(v, frame) for v in test.values]
            if isinstance(test.op, ast.And):
                return False if False in truths else True if all(t is True for t in truths) else None
            return True if True in truths else False if all(t is False for t in truths) else None
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inner = self._truth(test.operand, frame)
            return None if inner is None else not inner
        if isinstance(test, ast.Name):
            values = self.value(test, frame)
            if values and all(isinstance(v, Const) and isinstance(v.value, bool) for v in values):
                booleans = {bool(v.value) for v in values if isinstance(v, Const)}
                return booleans.pop() if len(booleans) == 1 else None
            return None
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is | ast.IsNot):
            right = test.comparators[0]
            if isinstance(right, ast.Constant) and right.value is None:
                values = self.value(test.left, frame)
                if not values or any(isinstance(v, Unknown) for v in values):
                    return None
                nones = {isinstance(v, Const) and v.value is None for v in values}
                if len(nones) != 1:
                    return None
                is_none = nones.pop()
                return is_none if isinstance(test.ops[0], ast.Is) else not is_none
        return None

    def _visit(self, frame: Frame) -> None:
        for node in self._live_calls(frame):
            key = (frame, id(node))
            before = self.resolved.get(key)
            resolved = self._resolve_call(node, frame)
            if before is None or before.targets != resolved.targets or len(before.sinks) != len(resolved.sinks):
                self.resolved[key] = resolved
                self._changed = True
            for target in resolved.targets:
                self._reach(target)
                sites = self.call_sites.setdefault(target.func, set())
                if (node, frame) not in sites:
                    sites.add((node, frame))
                    self._changed = True
        # Properties read (not called) run their getter too.
        for load in _loads(frame.func.node):
            for owner in self.value(load.value, frame):
                getter = self._property(owner, load.attr)
                if getter is not None:
                    self._reach(getter)

    def _property(self, owner: Value, name: str) -> Frame | None:
        if isinstance(owner, Inst):
            method = owner.klass.lookup(name)
            if method is not None and method.is_property:
                return Frame(method, owner)
        return None

    def _resolve_call(self, node: ast.Call, frame: Frame) -> _Resolved:
        resolved = _Resolved()
        func = node.func
        if isinstance(func, ast.Attribute):
            receivers = self.value(func.value, frame)
            for receiver in receivers:
                self._method_call(receiver, func.attr, node, frame, resolved)
        callees = self.value(func, frame) if not isinstance(func, ast.Attribute) else NOTHING
        for callee in callees:
            self._call_value(callee, node, frame, resolved)
        return resolved

    def _method_call(self, receiver: Value, name: str, node: ast.Call, frame: Frame, out: _Resolved) -> None:
        if isinstance(receiver, Client):
            out.sinks.append(self._aws_call(receiver.service, name, node, frame))
        elif isinstance(receiver, External) and receiver.instance and receiver.qualname == HTTP_CLIENT:
            if name in HTTP_METHODS:
                out.sinks.append(HttpCall(f"{frame.func.qualname} ({frame.func.module.where(node)})"))
        elif isinstance(receiver, Inst):
            for target in self._dispatch(receiver, name):
                if target.func.is_property:
                    continue
                out.targets.add(target)
            # An attribute holding a callable (a field, or set in __init__).
            if receiver.klass.lookup(name) is None:
                for callee in self._attribute(receiver, name):
                    self._call_value(callee, node, frame, out)
        elif isinstance(receiver, ModuleV):
            target = self.program.member(receiver.module, name)
            for callee in self._as_values(target, frame):
                self._call_value(callee, node, frame, out)
        elif isinstance(receiver, ClassV):
            method = receiver.klass.lookup(name)
            if method is not None:
                out.targets.add(Frame(method, None))
        elif isinstance(receiver, External) and not receiver.instance:
            for callee in self._as_values(self.program.resolve(f"{receiver.qualname}.{name}"), frame):
                self._call_value(callee, node, frame, out)

    def _call_value(self, callee: Value, node: ast.Call, frame: Frame, out: _Resolved) -> None:
        if isinstance(callee, FuncV):
            if callee.func.qualname == AWS_CLIENT_FACTORY:
                return
            out.targets.add(Frame(callee.func, callee.self_value))
        elif isinstance(callee, ClassV):
            site = Site(node, frame.func)
            klass = callee.klass
            made = self.sites.setdefault(klass, set())
            if site not in made:
                made.add(site)
                self._changed = True
            instance = Inst(klass, site)
            for name in ("__init__", "__post_init__"):
                method = klass.lookup(name)
                if method is not None:
                    out.targets.add(Frame(method, instance))
            if not klass.module.ours and any(
                isinstance(v, Client) for arg in _arguments(node) for v in self.value(arg, frame)
            ):
                self.library_classes.add(klass)
        elif isinstance(callee, Inst):
            method = callee.klass.lookup("__call__")
            if method is not None:
                out.targets.add(Frame(method, callee))
        elif isinstance(callee, LambdaV):
            # The lambda's body runs where it is called: its calls are resolved in the frame it was made in.
            for inner in _calls_in(callee.node):
                nested = self._resolve_call(inner, callee.frame)
                out.targets |= nested.targets
                out.sinks += nested.sinks
        elif (
            isinstance(callee, External)
            and not callee.instance
            and any(isinstance(v, Client) for arg in _arguments(node) for v in self.value(arg, frame))
        ):
            library = self.program.library_class(callee.qualname)
            if library is not None:
                self._call_value(ClassV(library), node, frame, out)
                self.library_classes.add(library)

    def _dispatch(self, receiver: Inst, name: str) -> set[Frame]:
        klass = receiver.klass
        found: set[Frame] = set()
        if klass.is_protocol:
            wanted = klass.method_names()
            for concrete, sites in self.sites.items():
                if concrete.is_protocol or not wanted <= concrete.method_names():
                    continue
                method = concrete.lookup(name)
                if method is not None:
                    found |= {Frame(method, Inst(concrete, site)) for site in sites}
            return found
        method = klass.lookup(name)
        if method is not None:
            found.add(Frame(method, receiver))
        for concrete, sites in self.sites.items():  # overrides in subclasses made somewhere
            if concrete is not klass and klass in concrete.mro and name in concrete.methods:
                found |= {Frame(concrete.methods[name], Inst(concrete, site)) for site in sites}
        return found

    def _aws_call(self, service: str, method: str, node: ast.Call, frame: Frame) -> AwsCall:
        operation, service = _operation(service, method)
        params: dict[str, Any] = {}
        for keyword in node.keywords:
            values = self.value(keyword.value, frame)
            if keyword.arg is None:
                for value in values:
                    if isinstance(value, DictV):
                        params |= {k: _concrete(v) for k, v in value.items}
            else:
                params[keyword.arg] = _concrete(values)
        return AwsCall(service, operation, params, f"{frame.func.qualname} ({frame.func.module.where(node)})", frame)

    # -------------------------------------------------------------------------------------------- values

    def value(self, expr: ast.expr | None, frame: Frame | None, bindings: Mapping[str, Values] | None = None) -> Values:
        if expr is None:
            return ONLY_UNKNOWN
        bound = tuple(sorted(bindings.items())) if bindings else ()
        key = (id(expr), frame, bound)
        if key in self._memo:
            return self._memo[key]
        if key in self._evaluating or len(self._evaluating) > _MAX_DEPTH:
            return ONLY_UNKNOWN
        self._evaluating.add(key)
        try:
            found = self._value(expr, frame, bindings or {})
        finally:
            self._evaluating.discard(key)
        self._memo[key] = found
        return found

    def _value(self, expr: ast.expr, frame: Frame | None, bindings: Mapping[str, Values]) -> Values:
        module = frame.func.module if frame else None
        if isinstance(expr, ast.Constant):
            return frozenset({Const(expr.value)})
        if isinstance(expr, ast.JoinedStr):
            return _join([self._formatted(part, frame, bindings) for part in expr.values])
        if isinstance(expr, ast.BinOp):
            return _binop(expr.op, self.value(expr.left, frame, bindings), self.value(expr.right, frame, bindings))
        if isinstance(expr, ast.Dict):
            items = []
            for k, v in zip(expr.keys, expr.values, strict=True):
                if k is None:
                    for merged in self.value(v, frame, bindings):
                        if isinstance(merged, DictV):
                            items += list(merged.items)
                elif isinstance(k, ast.Constant) and isinstance(k.value, str):
                    items.append((k.value, self.value(v, frame, bindings)))
            return frozenset({DictV(tuple(items))})
        if isinstance(expr, ast.List | ast.Tuple):
            return frozenset({ListV(tuple(self.value(e, frame, bindings) for e in expr.elts))})
        if isinstance(expr, ast.ListComp | ast.GeneratorExp):
            return frozenset({ListV((self.value(expr.elt, frame, bindings),))})
        if isinstance(expr, ast.IfExp):
            return self.value(expr.body, frame, bindings) | self.value(expr.orelse, frame, bindings)
        if isinstance(expr, ast.BoolOp):
            return frozenset().union(*(self.value(v, frame, bindings) for v in expr.values))
        if isinstance(expr, ast.Lambda) and frame is not None:
            return frozenset({LambdaV(expr, frame)})
        if isinstance(expr, ast.NamedExpr):
            return self.value(expr.value, frame, bindings)
        if isinstance(expr, ast.Name):
            return self._name(expr.id, frame, bindings, module)
        if isinstance(expr, ast.Attribute):
            found: set[Value] = set()
            for owner in self.value(expr.value, frame, bindings):
                found |= self._attribute(owner, expr.attr)
            return frozenset(found) or ONLY_UNKNOWN
        if isinstance(expr, ast.Call):
            return self._call_result(expr, frame, bindings)
        return ONLY_UNKNOWN

    def _formatted(self, part: ast.expr, frame: Frame | None, bindings: Mapping[str, Values]) -> Values:
        if isinstance(part, ast.FormattedValue):
            return self.value(part.value, frame, bindings)
        return self.value(part, frame, bindings)

    def _name(self, name: str, frame: Frame | None, bindings: Mapping[str, Values], module: Module | None) -> Values:
        if name in bindings:
            return bindings[name]
        if frame is not None:
            func = frame.func
            if name == "self" and frame.self_value is not None:
                return frozenset({frame.self_value})
            if any(p.arg == name for p in func.params):
                return self._parameter(func, name, frame)
            assigned = _assignments(func.node, name)
            if assigned:
                found: set[Value] = set()
                for value_expr in assigned:
                    found |= self.value(value_expr, frame, bindings)
                return frozenset(found)
            local_import = _local_import(func, name)
            if local_import is not None:
                return self._as_values(self.program.resolve(local_import), frame)
            nested = _nested_def(func.node, name)
            if nested is not None:
                return frozenset({FuncV(_nested_func(func, nested), frame.self_value)})
            if func.outer is not None:
                return self._name(name, Frame(func.outer, frame.self_value), {}, module)
        if module is not None:
            return self._as_values(self.program.member(module, name), frame)
        return ONLY_UNKNOWN

    def _parameter(self, func: Func, name: str, frame: Frame) -> Values:
        """A parameter: what its callers pass (every call site reached), else its default, else its annotation."""
        found: set[Value] = set()
        index = next(i for i, p in enumerate(func.params) if p.arg == name)
        if func.node.name == "__init__" and frame.self_value is not None:
            sites: Iterable[tuple[ast.Call, Frame]] = self._construction_sites(frame.self_value)
        else:
            sites = self.call_sites.get(func, set())
        bound_self = func.owner is not None and "staticmethod" not in func.decorators
        for call, caller in sites:
            argument = _argument(call, name, index - (1 if bound_self else 0))
            if argument is not None:
                found |= self.value(argument, caller)
            else:
                found |= self.value(func.default(name), Frame(func)) if func.default(name) else ONLY_UNKNOWN
        if not found and func.default(name) is not None:
            found |= self.value(func.default(name), Frame(func))
        if any(not isinstance(v, Unknown) for v in found):
            return frozenset(found)
        typed = self._annotation(func.params[index].annotation, func.module)
        return typed | frozenset(found) if typed else ONLY_UNKNOWN

    def _construction_sites(self, instance: Inst) -> Iterable[tuple[ast.Call, Frame]]:
        sites = {instance.site} if instance.site else self.sites.get(instance.klass, set())
        for site in sites:
            yield site.node, Frame(site.caller, Inst(site.caller.owner) if site.caller.owner else None)

    def _annotation(self, annotation: ast.expr | None, module: Module) -> Values:
        if annotation is None:
            return NOTHING
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            annotation = ast.parse(annotation.value, mode="eval").body
        if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
            return self._annotation(annotation.left, module) | self._annotation(annotation.right, module)
        if isinstance(annotation, ast.Subscript):
            return NOTHING
        target = self.program.resolve_expr_name(module, annotation)
        if isinstance(target, Klass):
            return frozenset({Inst(target)})
        return NOTHING

    def _as_values(self, target: Any, frame: Frame | None) -> Values:
        if isinstance(target, Klass):
            return frozenset({ClassV(target)})
        if isinstance(target, Func):
            return frozenset({FuncV(target)})
        if isinstance(target, Module):
            return frozenset({ModuleV(target)})
        if isinstance(target, tuple):
            module, node = target
            return self.value(node, Frame(_module_func(module)))
        if isinstance(target, str):
            return frozenset({External(target)})
        return ONLY_UNKNOWN

    def _attribute(self, owner: Value, name: str) -> set[Value]:
        if isinstance(owner, Inst):
            concrete = self.concrete.get(owner.klass.qualname)
            if concrete is not None:
                return {Const(getattr(concrete, name, None))}
            method = owner.klass.lookup(name)
            if method is not None:
                if method.is_property:
                    return set(self._returns(Frame(method, owner), {}))
                return {FuncV(method, owner)}
            found = self._instance_attribute(owner, name)
            if found:
                return found
            held = owner.klass.class_value(name)
            if held is not None:
                klass, expr = held
                values = self.value(expr, Frame(_class_func(klass), None))
                return {r for v in values for r in self._descriptor(v)}
            return {UNKNOWN}
        if isinstance(owner, ModuleV):
            return set(self._as_values(self.program.member(owner.module, name), None))
        if isinstance(owner, ClassV):
            method = owner.klass.lookup(name)
            if method is not None:
                return {FuncV(method)}
            held = owner.klass.class_value(name)
            return set(self.value(held[1], None)) if held else {UNKNOWN}
        if isinstance(owner, External) and not owner.instance:
            return set(self._as_values(self.program.resolve(f"{owner.qualname}.{name}"), None))
        if isinstance(owner, Const) and isinstance(owner.value, str):
            return {Const(("str-method", name, owner.value))}
        return {UNKNOWN}

    def _descriptor(self, value: Value) -> set[Value]:
        if isinstance(value, Inst):
            getter = value.klass.lookup("__get__")
            if getter is not None:
                return set(self._returns(Frame(getter, value), {}))
        return {value}

    def _instance_attribute(self, owner: Inst, name: str) -> set[Value]:
        klass = owner.klass
        if klass.is_dataclass and any(f == name for f, _ in klass.fields):
            index = [f for f, _ in klass.fields].index(name)
            found: set[Value] = set()
            default = klass.field_default(name)
            for call, caller in self._construction_sites(owner):
                argument = _argument(call, name, index)
                if argument is not None:
                    found |= set(self.value(argument, caller))
                elif default is not None:
                    found |= set(self.value(default, Frame(_class_func(klass))))
            if any(not isinstance(v, Unknown) for v in found):
                return found
            typed = self._annotation(dict(klass.fields)[name], klass.module)
            return set(typed) | found if typed else found or {UNKNOWN}
        for k in klass.mro:
            for method in k.methods.values():
                for value_expr in _self_assignments(method.node, name):
                    return set(self.value(value_expr, Frame(method, owner)))
        return set()

    def _call_result(self, expr: ast.Call, frame: Frame | None, bindings: Mapping[str, Values]) -> Values:
        func = expr.func
        found: set[Value] = set()
        if isinstance(func, ast.Attribute):
            receivers = self.value(func.value, frame, bindings)
            for receiver in receivers:
                if isinstance(receiver, Const) and isinstance(receiver.value, str):
                    found |= _string_method(receiver.value, func.attr, expr, self, frame, bindings)
                    continue
                if isinstance(receiver, Client | External) and isinstance(receiver, External) and receiver.instance:
                    found.add(UNKNOWN)
                    continue
                for callee in self._attribute(receiver, func.attr):
                    found |= self._result_of(callee, expr, frame, bindings)
        else:
            for callee in self.value(func, frame, bindings):
                found |= self._result_of(callee, expr, frame, bindings)
        return frozenset(found) or ONLY_UNKNOWN

    def _result_of(
        self, callee: Value, expr: ast.Call, frame: Frame | None, bindings: Mapping[str, Values]
    ) -> set[Value]:
        if isinstance(callee, ClassV):
            if frame is None:
                return {Inst(callee.klass)}
            return {Inst(callee.klass, Site(expr, frame.func))}
        if isinstance(callee, FuncV):
            if callee.func.qualname == AWS_CLIENT_FACTORY:
                services = self.value(expr.args[0] if expr.args else None, frame, bindings)
                return {Client(v.value) if isinstance(v, Const) else UNKNOWN for v in services}
            typed = self._annotation(callee.func.node.returns, callee.func.module)
            if typed and not any(isinstance(t, Inst) and t.klass.is_protocol for t in typed):
                return set(typed)  # a class of ours: what it is matters, not which one
            callee_frame = Frame(callee.func, callee.self_value)
            params = _bind(callee.func, expr, lambda a: self.value(a, frame, bindings))
            returned = self._returns(callee_frame, params)
            if returned - {UNKNOWN}:
                return set(returned)
            return set(typed) or {UNKNOWN}
        if isinstance(callee, External):
            if callee.qualname == HTTP_CLIENT:
                return {External(HTTP_CLIENT, instance=True)}
            return {External(callee.qualname, instance=True)}
        if isinstance(callee, LambdaV):
            return set(self.value(callee.node.body, callee.frame))
        return {UNKNOWN}

    def _returns(self, frame: Frame, bindings: Mapping[str, Values]) -> Values:
        found: set[Value] = set()
        for node in _own_nodes(frame.func.node):
            if isinstance(node, ast.Return) and node.value is not None:
                found |= self.value(node.value, frame, bindings)
        return frozenset(found) or ONLY_UNKNOWN


_MODULE_FUNC = ast.FunctionDef(
    name="<module>", args=ast.arguments([], [], None, [], [], None, []), body=[], decorator_list=[]
)


_Branch = tuple[ast.expr, tuple[Any, ...], tuple[Any, ...]]


@functools.cache
def _structure(node: ast.AST) -> tuple[ast.Call | _Branch, ...]:
    """A function's own calls, with those under an ``if`` kept apart by branch: (test, body, orelse)."""
    found: list[ast.Call | _Branch] = []
    stack: list[ast.AST] = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                stack.extend(child.decorator_list)
            continue
        if isinstance(child, ast.If):
            stack.append(child.test)
            body = tuple(p for n in child.body for p in _structure_of_statement(n))
            orelse = tuple(p for n in child.orelse for p in _structure_of_statement(n))
            found.append((child.test, body, orelse))
            continue
        if isinstance(child, ast.Call):
            found.append(child)
        stack.extend(ast.iter_child_nodes(child))
    return tuple(found)


def _structure_of_statement(statement: ast.stmt) -> tuple[ast.Call | _Branch, ...]:
    wrapper = ast.Module(body=[statement], type_ignores=[])
    return _structure(wrapper)


@functools.cache
def _calls_in(node: ast.AST) -> tuple[ast.Call, ...]:
    """Calls in a function's own body (nested functions and lambdas run when they are called, not here)."""
    return tuple(child for child in _own_nodes(node) if isinstance(child, ast.Call))


@functools.cache
def _own_nodes(node: ast.AST) -> tuple[ast.AST, ...]:
    found: list[ast.AST] = []
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                stack.extend(child.decorator_list)
            continue
        found.append(child)
        stack.extend(ast.iter_child_nodes(child))
    return tuple(found)


@functools.cache
def _loads(node: ast.AST) -> tuple[ast.Attribute, ...]:
    return tuple(n for n in _own_nodes(node) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load))


@functools.cache
def _assignments(func: ast.AST, name: str) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in _own_nodes(func):
        if isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found.append(node.value)
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and isinstance(node.target, ast.Name):
            if node.target.id == name and node.value is not None:
                found.append(node.value)
        elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
            if node.optional_vars.id == name:
                found.append(node.context_expr)
        elif isinstance(node, ast.For | ast.comprehension) and _binds(node.target, name):
            found.append(ast.Constant(value=None))  # a loop variable: nothing known
    return found


def _binds(target: ast.expr, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target))


@functools.cache
def _local_import(func: Func, name: str) -> str | None:
    package = func.module.name if func.module.path.name == "__init__.py" else func.module.name.rpartition(".")[0]
    for node in _own_nodes(func.node):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return f"{_absolute(node, package)}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    return alias.name if alias.asname else alias.name.split(".")[0]
    return None


@functools.cache
def _nested_func(outer: Func, node: ast.FunctionDef) -> Func:
    return Func(f"{outer.qualname}.<locals>.{node.name}", outer.module, node, outer.owner, outer)


@functools.cache
def _module_func(module: Module) -> Func:
    return Func(f"{module.name}.<module>", module, _MODULE_FUNC)


@functools.cache
def _class_func(klass: Klass) -> Func:
    return Func(f"{klass.qualname}.<class>", klass.module, _MODULE_FUNC)


@functools.cache
def _nested_def(func: ast.AST, name: str) -> ast.FunctionDef | None:
    for node in ast.walk(func):
        if isinstance(node, ast.FunctionDef) and node.name == name and node is not func:
            return node
    return None


@functools.cache
def _self_assignments(func: ast.AST, name: str) -> tuple[ast.expr, ...]:
    return tuple(
        node.value
        for node in _own_nodes(func)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Attribute)
        and target.attr == name
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    )


def _arguments(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(k.value for k in call.keywords)]


def _argument(call: ast.Call, name: str, position: int) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    positional = [a for a in call.args if not isinstance(a, ast.Starred)]
    if 0 <= position < len(positional):
        return positional[position]
    return None


def _bind(func: Func, call: ast.Call, evaluate: Callable[[ast.expr], Values]) -> dict[str, Values]:
    bound_self = func.owner is not None and "staticmethod" not in func.decorators
    params = func.params[1:] if bound_self else func.params
    bindings: dict[str, Values] = {}
    for index, param in enumerate(params):
        argument = _argument(call, param.arg, index)
        if argument is not None:
            bindings[param.arg] = evaluate(argument)
    return bindings


def _join(parts: list[Values]) -> Values:
    text = ""
    for part in parts:
        strings = [v.value for v in part if isinstance(v, Const) and isinstance(v.value, str | int | float)]
        text += str(strings[0]) if len(strings) == 1 and len(part) == 1 else HOLE
    return frozenset({Const(text)})


def _binop(op: ast.operator, left: Values, right: Values) -> Values:
    found: set[Value] = set()
    for a in left:
        for b in right:
            if isinstance(a, Const) and isinstance(b, Const) and not isinstance(a.value, tuple):
                try:
                    found.add(Const(_OPERATORS[type(op)](a.value, b.value)))
                    continue
                except (KeyError, TypeError, ValueError, ZeroDivisionError, OverflowError):
                    pass
            if isinstance(op, ast.Add) and (_is_text(a) or _is_text(b)):
                found.add(Const(_text(a) + _text(b)))
            elif isinstance(op, ast.BitOr) and isinstance(a, DictV) and isinstance(b, DictV):
                found.add(DictV(a.items + b.items))
            else:
                found.add(UNKNOWN)
    return frozenset(found)


_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Pow: lambda a, b: a**b,
    ast.Mod: lambda a, b: a % b,
}


def _is_text(value: Value) -> bool:
    return isinstance(value, Const) and isinstance(value.value, str)


def _text(value: Value) -> str:
    return str(value.value) if isinstance(value, Const) and isinstance(value.value, str) else HOLE


_STRING_METHODS = {"replace", "rstrip", "lstrip", "strip", "lower", "upper", "removeprefix", "removesuffix"}


def _string_method(
    text: str, name: str, call: ast.Call, analysis: Analysis, frame: Frame | None, bindings: Mapping[str, Values]
) -> set[Value]:
    if name not in _STRING_METHODS:
        return {UNKNOWN}
    arguments = [analysis.value(a, frame, bindings) for a in call.args]
    concrete = []
    for values in arguments:
        strings = [v.value for v in values if isinstance(v, Const) and isinstance(v.value, str)]
        if len(strings) != 1:
            return {Const(HOLE)}
        concrete.append(strings[0])
    return {Const(getattr(text, name)(*concrete))}


def _concrete(values: Values) -> Any:
    """One value the code determines (a string with HOLEs where it does not), or None."""
    known = [v for v in values if not isinstance(v, Unknown)]
    if len(known) != 1:
        texts = {_concrete(frozenset({v})) for v in known if _is_text(v)}
        return texts.pop() if len(texts) == 1 else None
    value = known[0]
    if isinstance(value, Const):
        return value.value if not isinstance(value.value, tuple) else None
    if isinstance(value, DictV):
        return {k: _concrete(v) for k, v in value.items}
    if isinstance(value, ListV):
        return [_concrete(v) for v in value.items]
    return None


_SERVICE_MODELS: dict[str, tuple[str, dict[str, str]]] = {}


def _operation(service: str, method: str) -> tuple[str, str]:
    """botocore's operation name for a client method (``update_item`` -> ``UpdateItem``), and the service's signing
    name (what IAM's actions start with: ``stepfunctions`` -> ``states``)."""
    if service not in _SERVICE_MODELS:
        from botocore import xform_name

        model = Session().get_service_model(service)
        _SERVICE_MODELS[service] = (model.signing_name, {xform_name(op): op for op in model.operation_names})
    signing_name, operations = _SERVICE_MODELS[service]
    operation = operations.get(method)
    if operation is None:
        raise ValueError(f"{service} has no operation for the client method {method}")
    return operation, signing_name


# ------------------------------------------------------------------------------------------------ worst paths


Pair = tuple[float, float]  # (finAPI requests, AWS calls)
_ZERO: Pair = (0.0, 0.0)


def _add(a: Pair, b: Pair) -> Pair:
    return (a[0] + b[0], a[1] + b[1])


def _max(*pairs: Pair | None) -> Pair | None:
    present = [p for p in pairs if p is not None]
    if not present:
        return None
    return (max(p[0] for p in present), max(p[1] for p in present))


def _plus(a: Pair | None, b: Pair | None) -> Pair | None:
    return None if a is None or b is None else _add(a, b)


@dataclass(frozen=True)
class _Cost:
    """The most finAPI requests and AWS calls on the paths through some code that go on past it (``fall``), leave
    it by ``return`` (``ret``), or by an exception (``exc``: it may come from any call, so any prefix counts).
    None: no path leaves that way."""

    fall: Pair | None
    ret: Pair | None
    exc: Pair | None

    @property
    def normal(self) -> Pair | None:
        return _max(self.fall, self.ret)

    @property
    def most(self) -> Pair:
        return _max(self.fall, self.ret, self.exc) or _ZERO


_NOTHING = _Cost(_ZERO, None, None)


def _then(first: _Cost, second: _Cost) -> _Cost:
    """``second`` after ``first``."""
    return _Cost(
        _plus(first.fall, second.fall),
        _max(first.ret, _plus(first.fall, second.ret)),
        _max(first.exc, _plus(first.fall, second.exc)),
    )


class _Costs:
    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.memo: dict[Frame, _Cost] = {}
        self.active: set[Frame] = set()

    def total(self, frame: Frame) -> Pair:
        return self.of_frame(frame).most

    def of_frame(self, frame: Frame) -> _Cost:
        """A call's cost: the caller goes on after a normal return, an exception leaves the caller too."""
        if frame in self.memo:
            return self.memo[frame]
        if frame in self.active:  # recursion: unbounded, for the kinds of call it can reach
            reaches = self.reaches(frame)
            bound = (INF if HttpCall in reaches else 0.0, INF if AwsCall in reaches else 0.0)
            return _Cost(bound, None, bound)
        self.active.add(frame)
        try:
            body = self.block(frame.func.node.body, frame)
        finally:
            self.active.discard(frame)
        result = _Cost(body.normal, None, body.exc)
        self.memo[frame] = result
        return result

    def reaches(self, start: Frame) -> set[type]:
        """The kinds of sink reachable from a frame."""
        kinds: set[type] = set()
        seen, stack = {start}, [start]
        while stack:
            frame = stack.pop()
            for call in _calls_in(frame.func.node):
                resolved = self.analysis.resolved.get((frame, id(call)))
                if resolved is None:
                    continue
                kinds |= {type(sink) for sink in resolved.sinks}
                for target in resolved.targets - seen:
                    seen.add(target)
                    stack.append(target)
        return kinds

    def call(self, call: ast.Call, frame: Frame) -> _Cost:
        resolved = self.analysis.resolved.get((frame, id(call)))
        if resolved is None:
            return _NOTHING
        own: Pair = _ZERO
        for sink in resolved.sinks:
            counted = (1.0, 0.0) if isinstance(sink, HttpCall) else (0.0, 1.0)
            own = _max(own, counted) or _ZERO
        normal: Pair | None = own if resolved.sinks or not resolved.targets else None
        exc: Pair | None = own if resolved.sinks else None
        for target in resolved.targets:
            cost = self.of_frame(target)
            library = target.func.owner if target.func.node.name == "__init__" else None
            if library is not None and library in self.analysis.library_classes:
                # A library object given a botocore client (Powertools' idempotency records): every call it can make
                # with it counts once, from where it is made.
                calls = self.library_calls(library)
                cost = _Cost(_plus(cost.fall, (0.0, calls)), None, _plus(cost.exc, (0.0, calls)))
            normal = _max(normal, cost.fall)
            exc = _max(exc, cost.exc)
        return _Cost(normal if normal is not None else _ZERO, None, exc)

    def library_calls(self, klass: Klass) -> float:
        return float(
            sum(
                isinstance(sink, AwsCall)
                for (frame, _), resolved in self.analysis.resolved.items()
                if frame.func.owner in klass.mro
                for sink in resolved.sinks
            )
        )

    def calls(self, node: ast.AST, frame: Frame) -> _Cost:
        """Every call in an expression or simple statement, one after the other."""
        cost = _NOTHING
        for call in _calls_in_expr(node):
            cost = _then(cost, self.call(call, frame))
        # A comprehension that calls finAPI per item is a loop over data: unbounded.
        for comprehension in _comprehensions(node):
            if any(self.call(c, frame).most[0] for c in _calls_in_expr(comprehension)):
                cost = _Cost(_plus(cost.fall, (INF, 0.0)), cost.ret, _plus(cost.exc, (INF, 0.0)) or (INF, 0.0))
        return cost

    def block(self, body: list[ast.stmt], frame: Frame) -> _Cost:
        cost = _NOTHING
        for statement in body:
            if cost.fall is None:
                break
            cost = _then(cost, self.statement(statement, frame))
        return cost

    def statement(self, node: ast.stmt, frame: Frame) -> _Cost:
        if isinstance(node, ast.Return):
            cost = self.calls(node, frame)
            return _Cost(None, cost.fall, cost.exc)
        if isinstance(node, ast.Raise):
            cost = self.calls(node, frame)
            return _Cost(None, None, _max(cost.fall, cost.exc))
        if isinstance(node, ast.If):
            test = self.calls(node.test, frame)
            then, other = self.block(node.body, frame), self.block(node.orelse, frame)
            return _then(test, _Cost(_max(then.fall, other.fall), _max(then.ret, other.ret), _max(then.exc, other.exc)))
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            head = self.calls(node.iter if isinstance(node, ast.For | ast.AsyncFor) else node.test, frame)
            body = self.block(node.body, frame).most
            times = self.iterations(node, frame)
            loop: Pair = (body[0] * times if body[0] else 0.0, body[1])  # AWS calls: each loop once
            after = self.block(node.orelse, frame)
            looped = _then(head, _Cost(loop, loop, loop))
            return _then(looped, after)
        if isinstance(node, ast.Try):
            tried = self.block(node.body, frame)
            handlers = [self.block(h.body, frame) for h in node.handlers]
            orelse = self.block(node.orelse, frame)
            final = self.block(node.finalbody, frame)
            raised = _max(tried.exc, tried.fall) or _ZERO  # an exception may come from anywhere in the body
            cost = _Cost(
                _max(_plus(tried.fall, orelse.fall), *(_plus(raised, h.fall) for h in handlers)),
                _max(tried.ret, _plus(tried.fall, orelse.ret), *(_plus(raised, h.ret) for h in handlers)),
                _max(tried.exc, _plus(tried.fall, orelse.exc), *(_plus(raised, h.exc) for h in handlers)),
            )
            return _then(cost, final) if node.finalbody else cost
        if isinstance(node, ast.With | ast.AsyncWith):
            head = _NOTHING
            for item in node.items:
                head = _then(head, self.calls(item.context_expr, frame))
            return _then(head, self.block(node.body, frame))
        if isinstance(node, ast.Match):
            subject = self.calls(node.subject, frame)
            cases = [self.block(c.body, frame) for c in node.cases]
            either = _Cost(
                _max(_ZERO, *(c.fall for c in cases)), _max(*(c.ret for c in cases)), _max(*(c.exc for c in cases))
            )
            return _then(subject, either)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return _NOTHING
        return self.calls(node, frame)

    def iterations(self, node: ast.For | ast.AsyncFor | ast.While, frame: Frame) -> float:
        if isinstance(node, ast.While):
            return INF
        iterator = node.iter
        if isinstance(iterator, ast.Call) and isinstance(iterator.func, ast.Name) and iterator.func.id == "range":
            bounds = [self.analysis.value(a, frame) for a in iterator.args]
            numbers = [[v.value for v in b if isinstance(v, Const) and isinstance(v.value, int)] for b in bounds]
            if all(len(n) >= 1 for n in numbers):
                values = [max(n) for n in numbers]
                return float(len(range(*values)))
        if isinstance(iterator, ast.Tuple | ast.List):
            return float(len(iterator.elts))
        return INF


def _calls_in_expr(node: ast.AST) -> Iterator[ast.Call]:
    """Calls in a simple statement or expression, comprehensions included (their bodies are costed apart)."""
    stack = [node]
    while stack:
        child = stack.pop()
        if isinstance(child, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(child, ast.Call):
            yield child
        stack.extend(ast.iter_child_nodes(child))


def _comprehensions(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.walk(node):
        if isinstance(child, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            yield child


def analyse(program: Program, handler: Path, concrete: Mapping[str, object]) -> Reach:
    return Analysis(program, concrete).run(handler)
