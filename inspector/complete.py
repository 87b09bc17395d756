"""Completion: a pure function of the text before the cursor and the names a session offers."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import expr as E
from .commands import REGISTRY, aliases_of, lookup


@dataclass(frozen=True)
class Names:
    """What can be completed at this moment: arrays, ops, layers, breakpoint and watch numbers."""

    symbols: tuple[str, ...] = ()
    ops: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    param_layers: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    breakpoints: tuple[str, ...] = ()
    watches: tuple[str, ...] = ()
    hyper: tuple[str, ...] = field(default_factory=tuple)


def names_of(session) -> Names:
    tape = session.tape
    ops = []
    for op in tape:
        for name in (op.name, f"{op.layer}.{op.phase}", op.phase):
            if name not in ops:
                ops.append(name)
    return Names(
        symbols=tuple(session.known_symbols()),
        ops=tuple(ops),
        layers=tuple(l.name for l in session.model.layers),
        param_layers=tuple(l.name for l in session.model.layers if l.params),
        params=tuple(p.symbol for p in session.model.parameters()),
        breakpoints=tuple(str(b.number) for b in session.breakpoints),
        watches=tuple(str(w.number) for w in session.watches),
        hyper=tuple(session.hyper_names()),
    )


@dataclass(frozen=True)
class Completion:
    text: str
    start: int      # ≤ 0: where the replaced word starts, relative to the cursor
    meta: str = ""


TRAILING_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.*]*$")


def _offer(word: str, candidates, meta: str) -> list[Completion]:
    unique = dict.fromkeys(candidates)  # lr is both an array name and a hyperparameter: offer it once
    return [Completion(c, -len(word), meta) for c in unique if c.startswith(word) and c != word]


def _expr_candidates(word: str, names: Names) -> list[Completion]:
    out = _offer(word, names.symbols, "array")
    out += _offer(word, [f + "(" for f in sorted(E.FUNCTIONS)], "function")
    out += _offer(word, names.layers, "layer output")
    return out


def complete(text: str, names: Names, commands=None) -> list[Completion]:
    """Completions for the text before the cursor; ``commands`` is the table typed into (REGISTRY by default)."""
    table = REGISTRY if commands is None else commands
    if " " not in text.lstrip():
        word = text.lstrip()
        words = aliases_of(commands)
        primary = [Completion(n, -len(word), table[n].summary) for n in table if n.startswith(word) and n != word]
        aliases = [Completion(a, -len(word), f"= {words[a]}") for a in words
                   if a not in table and a.startswith(word) and a != word and len(word) > 0]
        return primary + aliases
    head, _, rest = text.lstrip().partition(" ")
    cmd = lookup(head, commands)
    if cmd is None:
        return []
    choices = cmd.choices() if callable(cmd.choices) else cmd.choices
    if choices:  # the words its declaration names (`curves acc`, an exercise ID, a lesson step's options)
        return _offer(rest.lstrip(), choices, "choice")
    if cmd.args == "options":  # the --flags its usage line names (`cost [--batch N] [--loop]`)
        flag = re.search(r"(?:^|\s)(-[-\w]*)$", rest)
        if not flag and rest and not rest.endswith(" "):
            return []
        return _offer(flag.group(1) if flag else "", re.findall(r"--[\w-]+", cmd.usage), "option")
    m = TRAILING_WORD.search(rest)
    word = m.group() if m else ""
    if rest and not word and not rest[-1] in " ([,:=+-*/<>":
        return []
    kind = cmd.args
    if kind == "expr":
        return _expr_candidates(word, names)
    if kind == "target":
        if "=" in rest:
            return _expr_candidates(word, names)
        return _offer(word, names.symbols + names.hyper, "array")
    if kind == "op":
        return _offer(word, names.ops + names.layers + tuple(names.symbols), "op")
    if kind == "break":
        if rest.startswith("if "):
            return _expr_candidates(word, names) + _offer(word, ("dead(", "nan"), "condition")
        if " " in rest.lstrip():  # past the first argument
            return []
        return _offer(word, ("if",), "condition") + _offer(word, names.ops + names.layers, "op")
    if kind == "gradcheck":
        if " " in rest.lstrip():  # past the first argument
            return []
        return _offer(word, names.param_layers, "layer") + _offer(word, names.params, "parameter")
    if kind == "command":
        return _offer(word, tuple(table), "command")
    if kind == "breaknum":
        return _offer(word, names.breakpoints + ("all",), "breakpoint")
    if kind == "watchnum":
        return _offer(word, names.watches + ("all",), "watch")
    if kind == "batch":
        return _offer(word, ("next", "random"), "batch")
    if kind == "train":
        return _train_candidates(rest)
    return []


TRAIN_KEYWORDS = (("epochs", "unit: N passes over the dataset"), ("batch", "minibatch size B"),
                  ("--record", "keep the run in FILE"))


def _train_candidates(rest: str) -> list[Completion]:
    """`train N [epochs] [batch B] [--record FILE]`: the keywords that may come next, in that order."""
    words = rest.split()
    word = "" if not rest or rest[-1].isspace() else words.pop()
    if not words or not words[0].isdigit():
        return []
    if words[-1] == "batch":
        return _offer(word, ("all",), "the whole training set")
    if words[-1] == "--record" or "--record" in words:  # a file name follows; nothing after it
        return []
    later = [name for name, _ in TRAIN_KEYWORDS]
    unit = ("epochs", "epoch", "iterations", "iteration", "iters", "iter")  # what the count may be counted in
    start = max((later.index("epochs" if w in unit else w) + 1 for w in words[1:] if w in later or w in unit),
                default=0)
    return [c for name, meta in TRAIN_KEYWORDS[start:] for c in _offer(word, (name,), meta)]
