"""The expression grammar of the command language: names, indexing, slicing, calls, arithmetic.

No ``eval``: text is tokenized and parsed here into a small tree, and evaluated against a
resolver that maps names to arrays. Grammar (loosest binding first)::

    compare := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
    sum     := product (('+' | '-') product)*
    product := unary (('*' | '/') unary)*
    unary   := '-' unary | postfix
    postfix := atom ('[' index (',' index)* ']')*
    atom    := NUMBER | NAME | NAME '(' args ')' | '(' compare ')' | '[' list ']'
    index   := sum | sum? ':' sum? (':' sum?)?
"""
from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np


class ExprError(ValueError):
    """A malformed expression or one that cannot be evaluated; the message says why."""


TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|==|!=|[-+*/<>\[\](),:])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise ExprError(f"unexpected character {text[pos]!r} at position {pos + 1} in {text!r}")
        if m.lastgroup != "ws":
            tokens.append(Token(m.lastgroup, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# -- the tree ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Slice:
    start: object
    stop: object
    step: object


@dataclass(frozen=True)
class Index:
    base: object
    items: tuple


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple


@dataclass(frozen=True)
class BinOp:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Neg:
    operand: object


@dataclass(frozen=True)
class ListLit:
    items: tuple


COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
MAX_DEPTH = 64        # nesting of parentheses, brackets, calls and signs
MAX_TREE_DEPTH = 256  # deeper trees could exhaust Python's stack when evaluated


class Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self, text: str | None = None, kind: str | None = None) -> Token | None:
        t = self.tok
        if (text is None or t.text == text) and (kind is None or t.kind == kind) and t.kind != "end":
            self.i += 1
            return t
        return None

    def expect(self, text: str, what: str) -> Token:
        t = self.take(text)
        if t is None:
            raise self.error(f"expected {what}")
        return t

    def error(self, msg: str) -> ExprError:
        t = self.tok
        got = "the end" if t.kind == "end" else repr(t.text)
        return ExprError(f"{msg} at position {t.pos + 1} of {self.text!r}, got {got}")

    def parse(self, allow_compare: bool = False):
        if self.tok.kind == "end":
            raise ExprError("expected an expression, got nothing")
        node = self.compare() if allow_compare else self.sum()
        if self.tok.kind != "end":
            raise self.error("unexpected text after the expression")
        return node

    def compare(self):
        left = self.sum()
        if self.tok.text in COMPARISONS:
            op = self.take().text
            return BinOp(op, left, self.sum())
        return left

    def sum(self):
        node = self.product()
        while self.tok.text in ("+", "-"):
            op = self.take().text
            node = BinOp(op, node, self.product())
        return node

    def product(self):
        node = self.unary()
        while self.tok.text in ("*", "/"):
            op = self.take().text
            node = BinOp(op, node, self.unary())
        return node

    def unary(self):
        self.depth += 1  # every nesting (parentheses, brackets, calls, signs) passes here
        if self.depth > MAX_DEPTH:
            raise self.error(f"the expression is nested more than {MAX_DEPTH} deep")
        try:
            if self.take("-"):
                operand = self.unary()
                return Num(-operand.value) if isinstance(operand, Num) else Neg(operand)
            if self.take("+"):
                return self.unary()
            return self.postfix()
        finally:
            self.depth -= 1

    def postfix(self):
        node = self.atom()
        while self.take("["):
            items = [self.index_item()]
            while self.take(","):
                items.append(self.index_item())
            self.expect("]", "',' or ']' to close the index")
            node = Index(node, tuple(items))
        return node

    def index_item(self):
        start = None if self.tok.text in (":", ",", "]") else self.sum()
        if not self.take(":"):
            if start is None:
                raise self.error("expected an index")
            return start
        stop = None if self.tok.text in (":", ",", "]") else self.sum()
        step = None
        if self.take(":"):
            step = None if self.tok.text in (",", "]") else self.sum()
        return Slice(start, stop, step)

    def atom(self):
        t = self.tok
        if self.take(kind="num"):
            return Num(float(t.text))
        if self.take(kind="name"):
            if t.text in ("nan", "inf"):
                return Num(float(t.text))
            if self.take("("):
                args = []
                if not self.take(")"):
                    args.append(self.compare())
                    while self.take(","):
                        args.append(self.compare())
                    self.expect(")", "',' or ')' to close the call")
                return Call(t.text, tuple(args))
            return Name(t.text)
        if self.take("("):
            node = self.compare()
            self.expect(")", "')'")
            return node
        if self.take("["):
            items = []
            if not self.take("]"):
                items.append(self.sum())
                while self.take(","):
                    items.append(self.sum())
                self.expect("]", "',' or ']' to close the list")
            return ListLit(tuple(items))
        raise self.error("expected a number, a name, '(' or '['")


def parse(text: str, allow_compare: bool = False):
    try:
        tree = Parser(text).parse(allow_compare)
    except RecursionError:  # ((((…1…)))) thousands deep: an error, not a crash
        raise ExprError(f"the expression is nested too deeply ({len(text)} characters)") from None
    if tree_depth(tree) > MAX_TREE_DEPTH:  # 1+1+…+1: a long chain is a deep tree for evaluate
        raise ExprError(f"the expression is too long to evaluate: more than {MAX_TREE_DEPTH} operations in a chain")
    return tree


def tree_depth(node) -> int:
    """Depth of a parsed tree, found without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        for value in vars(n).values():
            for child in value if isinstance(value, tuple) else (value,):
                if hasattr(child, "__dataclass_fields__"):
                    stack.append((child, d + 1))
    return deepest


def names_in(node) -> list[str]:
    """Every Name in a tree, in order (for the TUI and for 'not computed yet' messages)."""
    if isinstance(node, Name):
        return [node.name]
    if isinstance(node, (Index,)):
        return names_in(node.base) + [n for item in node.items for n in names_in(item)]
    if isinstance(node, Slice):
        return [n for part in (node.start, node.stop, node.step) if part is not None for n in names_in(part)]
    if isinstance(node, Call):
        return [n for a in node.args for n in names_in(a)]
    if isinstance(node, BinOp):
        return names_in(node.left) + names_in(node.right)
    if isinstance(node, Neg):
        return names_in(node.operand)
    if isinstance(node, ListLit):
        return [n for a in node.items for n in names_in(a)]
    return []


def to_text(node) -> str:
    """Canonical text of a tree: what the user meant, normalized (``W1[0, 1]`` → ``W1[0,1]``)."""
    if isinstance(node, Num):
        v = node.value
        return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Slice):
        parts = ["" if p is None else to_text(p) for p in (node.start, node.stop, node.step)]
        return ":".join(parts[:2] if node.step is None else parts)
    if isinstance(node, Index):
        loose = isinstance(node.base, (BinOp, Neg)) or (isinstance(node.base, Num) and node.base.value < 0)
        return f"{_paren(node.base, loose)}[{','.join(to_text(i) for i in node.items)}]"
    if isinstance(node, Call):
        return f"{node.func}({', '.join(to_text(a) for a in node.args)})"
    if isinstance(node, BinOp):  # parentheses where the tree differs from reading left to right
        tight = PRECEDENCE[node.op]
        left = _paren(node.left, isinstance(node.left, BinOp) and PRECEDENCE[node.left.op] < tight)
        right = _paren(node.right, isinstance(node.right, BinOp) and PRECEDENCE[node.right.op] <= tight)
        return f"{left} {node.op} {right}"
    if isinstance(node, Neg):
        return f"-{_paren(node.operand, isinstance(node.operand, BinOp))}"
    if isinstance(node, ListLit):
        return "[" + ", ".join(to_text(i) for i in node.items) + "]"
    raise TypeError(node)


PRECEDENCE = {**{c: 0 for c in COMPARISONS}, "+": 1, "-": 1, "*": 2, "/": 2}


def _paren(node, wrap: bool) -> str:
    return f"({to_text(node)})" if wrap else to_text(node)


# -- evaluation -------------------------------------------------------------------------------
def _quietly(fn, x):
    """``fn(x)`` with overflow and log 0 giving inf as float64 does, without a warning on the terminal."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return fn(x)


def _norm(x):
    return float(np.linalg.norm(np.ravel(x)))


FUNCTIONS: dict[str, tuple[Callable, str]] = {
    "shape": (lambda x: np.array(np.shape(x)), "shape(X): the dimensions of X"),
    "norm": (_norm, "norm(X): the Euclidean (Frobenius) norm √Σx²"),
    "mean": (lambda x: float(np.mean(x)), "mean(X): the average entry"),
    "min": (lambda x: float(np.min(x)), "min(X): the smallest entry"),
    "max": (lambda x: float(np.max(x)), "max(X): the largest entry"),
    "abs": (np.abs, "abs(X): |x| entry by entry"),
    "sum": (lambda x: float(np.sum(x)), "sum(X): the sum of all entries"),
    "std": (lambda x: float(np.std(x)), "std(X): the standard deviation of the entries"),
    "argmax": (lambda x: np.argmax(x, axis=-1) if np.ndim(x) > 1 else int(np.argmax(x)),
               "argmax(X): index of the largest entry (per row for a matrix)"),
    "size": (lambda x: int(np.size(x)), "size(X): number of entries"),
    "exp": (lambda x: _quietly(np.exp, x), "exp(X): eˣ entry by entry (past x ≈ 709 it overflows float64 to inf)"),
    "log": (lambda x: _quietly(np.log, x), "log(X): the natural logarithm entry by entry (log 0 = −inf)"),
    "dead": (lambda x: float(np.mean(np.all(np.reshape(x, (len(x), -1)) <= 0, axis=0))) if np.ndim(x) else 0.0,
             "dead(relu1): fraction of units whose output is ≤ 0 for every example of the batch"),
}


def _index_value(node, resolve, dim: int, size: int):
    v = evaluate(node, resolve)
    if np.ndim(v) != 0 or not np.isfinite(v) or float(v) != int(v):  # int(inf) would overflow
        raise ExprError(f"an index must be a whole number, got {to_text(node)}")
    i = int(v)
    if not -size <= i < size:
        raise ExprError(f"index {i} is out of range for axis {dim} of size {size} (valid: 0..{size - 1})")
    return i


def index_key(items, shape: tuple[int, ...], resolve, base_text: str) -> tuple:
    """A NumPy index tuple from parsed items, checked against ``shape`` with clear messages."""
    if len(items) > len(shape):
        dims = "×".join(map(str, shape)) if shape else "a scalar"
        raise ExprError(f"{base_text} is {dims}: it takes at most {len(shape)} "
                        f"ind{'ex' if len(shape) == 1 else 'ices'}, got {len(items)}")
    key = []
    for dim, item in enumerate(items):
        if isinstance(item, Slice):
            parts = []
            for p in (item.start, item.stop, item.step):
                if p is None:
                    parts.append(None)
                    continue
                v = evaluate(p, resolve)
                if np.ndim(v) != 0 or not np.isfinite(v) or float(v) != int(v):
                    raise ExprError(f"a slice bound must be a whole number, got {to_text(p)}")
                parts.append(int(v))
            if parts[2] == 0:
                raise ExprError("a slice step cannot be 0")
            key.append(slice(*parts))
        else:
            key.append(_index_value(item, resolve, dim, shape[dim]))
    return tuple(key)


# -- bounded cost: every array an expression makes is counted before it is allocated ------------
MAX_RESULT = 4_000_000     # entries any one step of an expression may produce (32 MB of float64)
MAX_WORK = 40_000_000      # entries all its steps together may produce
WATCH_LIMITS = (200_000, 2_000_000)  # watches and break conditions run after every step: tighter


class CostError(ExprError):
    """An expression that would make more than its limits allow; raised before allocating."""


class Budget:
    """What one evaluation may still allocate; ``charge`` refuses before the array exists."""

    def __init__(self, result: int = MAX_RESULT, work: int = MAX_WORK):
        self.result, self.work, self.spent = result, work, 0

    def charge(self, shape, node) -> None:
        size = 1
        for n in shape:
            size *= int(n)
        if size > self.result:
            raise CostError(f"{to_text(node)[:80]} would have {size:,} entries ({_mb(size)}); an expression may make "
                            f"at most {self.result:,} ({_mb(self.result)}): select a slice first")
        self.spent += size
        if self.spent > self.work:
            raise CostError(f"{to_text(node)[:80]}: the expression would compute more than {self.work:,} entries "
                            f"in all ({_mb(self.work)}); split it or select slices first")


def _mb(entries: int) -> str:
    size = entries * 8
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("expr_budget", default=None)


def evaluate(node, resolve: Callable[[str], object], limits: tuple[int, int] | None = None):
    """Value of a tree; ``resolve(name)`` returns an array or scalar, or raises ExprError.

    Every array a step would make is counted first against ``limits`` (entries per step, entries
    in all; MAX_RESULT and MAX_WORK by default): past them, an ExprError, before allocating."""
    if _BUDGET.get() is not None:
        return _evaluate(node, resolve)
    token = _BUDGET.set(Budget(*(limits or (MAX_RESULT, MAX_WORK))))
    try:
        return _evaluate(node, resolve)
    finally:
        _BUDGET.reset(token)


def _evaluate(node, resolve):
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        return resolve(node.name)
    if isinstance(node, Index):
        base = np.asarray(evaluate(node.base, resolve))
        key = index_key(node.items, base.shape, resolve, to_text(node.base))
        return base[key]
    if isinstance(node, Call):
        if node.func not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExprError(f"unknown function {node.func}(); known: {known}")
        if len(node.args) != 1:
            raise ExprError(f"{node.func}() takes one argument, got {len(node.args)}")
        arg = evaluate(node.args[0], resolve)
        if node.func == "abs":
            _BUDGET.get().charge(np.shape(arg), node)
        if np.size(arg) == 0 and node.func in ("min", "max", "argmax", "mean"):
            raise ExprError(f"{node.func}() of an empty selection")
        return FUNCTIONS[node.func][0](arg)
    if isinstance(node, Neg):
        operand = np.asarray(evaluate(node.operand, resolve))
        _BUDGET.get().charge(operand.shape, node)
        return -operand
    if isinstance(node, BinOp):
        left, right = evaluate(node.left, resolve), evaluate(node.right, resolve)
        try:
            shape = np.broadcast_shapes(np.shape(left), np.shape(right))
        except ValueError:
            raise ExprError(f"cannot combine shapes {np.shape(left)} and {np.shape(right)} "
                            f"in {to_text(node)}") from None
        _BUDGET.get().charge(shape, node)  # before the (broadcast) result exists
        with np.errstate(all="ignore"):
            if node.op in COMPARISONS:
                a, b = np.asarray(left), np.asarray(right)
                result = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[node.op]
                return bool(np.all(result))
            return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[node.op](left, right)
    if isinstance(node, ListLit):
        values = [evaluate(i, resolve) for i in node.items]
        _BUDGET.get().charge((sum(int(np.size(v)) for v in values),), node)
        try:
            return np.array(values, dtype=float)
        except ValueError:
            raise ExprError(f"the rows of {to_text(node)} have different lengths") from None
    raise ExprError(f"cannot evaluate {node!r}")

