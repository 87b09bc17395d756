"""Property-based fuzzing of the command language: random and mutated lines never crash, and errors change nothing."""
from __future__ import annotations

import os
import re
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.commands import ALIASES, Interpreter, Result
from inspector.expr import FUNCTIONS
from inspector.sources import open_preset
from session_helpers import diff_fingerprints, fingerprint

COMMAND_WORDS = sorted(ALIASES)
NAMES = ["X", "Y", "W1", "b1", "W2", "b2", "Z1", "A1", "Z2", "A2", "L", "loss", "dA2", "dZ2", "dW2", "db2",
         "dA1", "dZ1", "dW1", "db1", "lr", "l2", "momentum", "beta1", "dense1", "dense2", "sigmoid1",
         "sigmoid2", "dense1.W", "dense2.dW", "relu1", "P", "nosuch", "vW1", "mW1", "W3", "L_data"]
OPS = ["dense1.forward", "dense2.backward", "update", "forward", "backward", "loss", "dW1", "dense*",
       "*.update", "*", "start", "l2", "dense2.update.b2", "sigmoid1.backward.dZ1"]
# Counts stay small so that no line trains or steps for long; every other odd number is here.
NUMBERS = ["0", "1", "2", "3", "5", "7", "16", "17", "40", "-1", "-2", "-0", "0.5", "1.5", "1e3", "1e-3",
           "1e400", "-1e400", "nan", "inf", "-inf", ".5", "2.", "1e", "0x10"]
PUNCT = ["[", "]", "(", ")", ",", ":", "=", "+", "-", "*", "/", "<", ">", "<=", ">=", "==", "!=", "::",
         "[:,", "[0,1]", "[0]", "[-1,0]", "[:,0]", "[1:]", "[::-1]", "[0,1,2]", "[5,5]", "[[1,2],[3,4]]"]
WORDS = ["if", "nan", "all", "epochs", "epoch", "iterations", "next", "random", "start", "model.npz",
         "missing.npz", "bad.npz", "norm(dW1)", "dead(sigmoid1)", "shape(X)", "1,2", "0:2", "3,5,7"]
FUNCS = [f + "(" for f in sorted(FUNCTIONS)]
TOKENS = NAMES + OPS + NUMBERS + PUNCT + WORDS + FUNCS
JUNK = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00")

VALID = [
    "step", "step 3", "next", "finish", "continue", "continue 2", "back", "back 2", "until dense2.backward",
    "until update", "goto 5", "goto start", "where", "show", "list", "print W1", "print W1[:,1]",
    "print dZ1[0]", "print norm(dW1)", "print shape(X)", "print -W2[1,0] + 1", "print [1, 2.5, -3]",
    "print lr", "explain Z1[1,0]", "explain L", "explain W1[0,1]", "explain A2[3,0]", "break dense2.backward",
    "break update", "break if nan", "break if norm(dW1) > 0.01", "break if loss > 0.2",
    "break if dead(sigmoid1) > 0.5", "break", "disable 1", "enable 1", "delete 1", "delete all",
    "watch norm(dW1)", "watch W1[0,1]", "watch", "unwatch 1", "unwatch all", "set W1[0,1] = 0.5",
    "set W2[:,0] = 0", "set b1 = [0.1, -0.1]", "set X[0,1] = 2", "set Y[0,0] = 1", "set lr = 0.5",
    "set l2 = 0.01", "set A1[0,1] = 3", "gradcheck dense1 1", "gradcheck dense2", "gradcheck W2[:,0]",
    "gradcheck b1", "batch", "batch 1:3", "batch 0,2", "batch next", "batch random 2", "train 3",
    "train 2 epochs", "reset", "seed 1", "help", "help set", "save model.npz", "load model.npz",
    "load bad.npz", "load missing.npz",
]


def clamp_counts(line: str) -> str:
    """Keep every number short, so that a mutated `step 7` cannot become `step 77777`."""
    return re.sub(r"\d{3,}", "99", line)


@st.composite
def built_line(draw) -> str:
    word = draw(st.sampled_from(COMMAND_WORDS))
    parts = draw(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(JUNK, max_size=3)), max_size=6))
    seps = draw(st.lists(st.sampled_from(["", " ", " ", "  "]), min_size=len(parts), max_size=len(parts)))
    return word + " " + "".join(s + p for s, p in zip(seps, parts))


@st.composite
def mutated_line(draw) -> str:
    line = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["delete", "insert", "replace", "token", "duplicate", "truncate"]))
        i = draw(st.integers(0, len(line)))
        if how == "delete":
            j = draw(st.integers(i, min(len(line), i + 4)))
            line = line[:i] + line[j:]
        elif how == "insert":
            line = line[:i] + draw(st.text(JUNK, min_size=1, max_size=2)) + line[i:]
        elif how == "replace":
            line = line[:i] + draw(st.sampled_from(PUNCT + NUMBERS)) + line[i + 1:]
        elif how == "token":
            line = line[:i] + draw(st.sampled_from(TOKENS)) + line[i:]
        elif how == "duplicate":
            line = line[:i] + line[i:] + line[i:]
        else:
            line = line[:i]
    return line


LINE = st.one_of(built_line(), mutated_line(), st.sampled_from(VALID), st.text(JUNK, max_size=25), st.just(""))


class Workdir:
    """A temporary current directory holding a good and a bad model file (save/load write here)."""

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.old = os.getcwd()
        os.chdir(self.tmp.name)
        with open("bad.npz", "wb") as f:
            f.write(b"PK\x03\x04 not really a zip archive")
        Interpreter(open_preset("xor", seed=5)).run("save model.npz")
        return self

    def __exit__(self, *exc):
        os.chdir(self.old)
        self.tmp.cleanup()


def run_and_check(interp: Interpreter, line: str) -> Result:
    session = interp.session
    before = fingerprint(session)
    try:
        result = interp.run(line)
    except BaseException as e:  # the property: nothing escapes the interpreter
        raise AssertionError(f"{line!r} raised {type(e).__name__}: {e}") from e
    assert isinstance(result, Result), f"{line!r} returned {result!r}"
    assert isinstance(result.ok, bool) and isinstance(result.message, str), f"{line!r}: {result!r}"
    if not result.ok:
        assert result.kind == "error", f"{line!r}: a failed command has kind {result.kind!r}"
        assert result.message.strip(), f"{line!r}: an error without a message"
        after = fingerprint(session)
        changed = diff_fingerprints(before, after)
        assert not changed, f"{line!r} failed ({result.message}) but changed the session: {changed}"
    else:
        result.to_json()  # every successful result serializes
    return result


def fuzz_settings(n: int):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@fuzz_settings(900)
@given(lines=st.lists(LINE, min_size=1, max_size=6))
def test_random_and_mutated_lines_never_crash_and_errors_change_nothing(lines):
    with Workdir():
        interp = Interpreter(open_preset("xor"))
        for line in lines:
            run_and_check(interp, clamp_counts(line))


@fuzz_settings(400)
@given(prefix=st.lists(st.sampled_from(VALID), min_size=1, max_size=5),
       lines=st.lists(mutated_line(), min_size=1, max_size=4))
def test_mutations_after_a_valid_prefix(prefix, lines):
    """Errors made deep in a session (edits, breakpoints, later iterations) leave it as it was."""
    with Workdir():
        interp = Interpreter(open_preset("xor"))
        for line in prefix:
            run_and_check(interp, line)
        for line in lines:
            run_and_check(interp, clamp_counts(line))


@fuzz_settings(200)
@given(text=st.text(st.sampled_from(list("W1dZ[](),:-+*/<>=.0123456789 abnormsinfe")), max_size=40))
def test_expression_soup_in_print_set_break_watch_explain(text):
    with Workdir():
        interp = Interpreter(open_preset("xor"))
        run_and_check(interp, "step 12")
        for cmd in ("print", "set W1[0,0] =", "break if", "watch", "explain", "gradcheck", "set"):
            run_and_check(interp, clamp_counts(f"{cmd} {text}"))
        result = run_and_check(interp, "continue")  # watches and conditions made from soup still evaluate
        assert result.ok, result.message


def test_known_crashers_are_errors():
    """Lines the fuzzer once found: each is a clean error, with the session unchanged."""
    with Workdir():
        interp = Interpreter(open_preset("xor"))
        for line in ["print W1[1e400]", "print W1[inf]", "print W1[-inf]", "print W1[1:1e400]", "print W1[nan]",
                     "print " + "(" * 3000 + "1" + ")" * 3000, "print " + "-" * 5000 + "1",
                     "print " + "[" * 3000, "set W1[inf,0] = 1", "watch W1[" + "(" * 2000]:
            result = run_and_check(interp, line)
            assert not result.ok, f"{line[:40]!r} should fail"
            assert "Error" not in result.message.split(":")[0], result.message
        np.testing.assert_equal(interp.session.pos, -1)


# -- issue 17: thousands of seeded lines through the JSON REPL, each bounded in time ---------------------
HUGE = ["10000000000000", "99999999999999999999999", "1e308", "-1e308", "4294967296"]


def seeded_line(rng) -> str:
    """A line from a seeded generator: a valid line mutated, or a command word and tokens; numbers of
    three digits or more become 99 or a huge count (every command must refuse those at once)."""
    if rng.random() < 0.5:
        line = rng.choice(VALID)
        for _ in range(rng.randint(1, 3)):
            i = rng.randint(0, len(line))
            token = rng.choice(TOKENS + HUGE + ["\x1b[2J", "\u2028", "\x00", "é", "🙂"])
            line = line[:i] + rng.choice(["", " "]) + token + line[i:] if rng.random() < 0.7 else line[:i] + line[i + 2:]
    else:
        line = rng.choice(COMMAND_WORDS) + " " + " ".join(rng.choice(TOKENS + HUGE) for _ in range(rng.randint(0, 5)))
    return re.sub(r"(?<![\d.eE])\d{3,}(?![\d.])", lambda m: m.group() if m.group() in HUGE else "99", line)


def test_thousands_of_seeded_lines_through_the_json_repl(monkeypatch):
    """Through run_script's JSON mode, one line at a time: every output is one JSON line, no line takes
    over 2 s, and a refused line leaves the session exactly as it was."""
    import io
    import json
    import random
    import time

    from rich.console import Console

    from inspector.repl import run_script

    rng = random.Random(17)
    lines = [seeded_line(rng) for _ in range(5000)]
    start = time.perf_counter()
    with Workdir():
        interp = Interpreter(open_preset("xor"))
        console = Console(file=io.StringIO())
        for n, line in enumerate(lines):
            if n % 150 == 0:  # a fresh session now and then: stepping far from the start is tested too
                interp = Interpreter(open_preset("xor", seed=n))
            if line.split(" ")[0] in ("q", "quit", "exit"):
                continue
            before = fingerprint(interp.session)
            out = io.StringIO()
            t0 = time.perf_counter()
            try:
                run_script(interp.session, [line + "\n"], console, json_mode=True, out=out, interp=interp)
            except BaseException as e:
                raise AssertionError(f"{line!r} raised {type(e).__name__}: {e}") from e
            took = time.perf_counter() - t0
            assert took < 2.0, f"{line!r} took {took:.1f} s"
            text = out.getvalue()
            if not text:  # a blank or comment line
                continue
            assert text.count("\n") == 1 and "\u2028" not in text and "\u2029" not in text, repr(text[:200])
            obj = json.loads(text)
            if not obj["ok"]:
                changed = diff_fingerprints(before, fingerprint(interp.session))
                assert not changed, f"{line!r} failed ({obj['message']}) but changed {changed}"
    assert time.perf_counter() - start < 60
