"""The command language: the expression parser, every command's error path, repetition, the registry and completion."""
from __future__ import annotations

import numpy as np
import pytest

from inspector import expr as E
from inspector.commands import ALIASES, REGISTRY, Interpreter, lookup
from inspector.complete import Names, complete, names_of
from inspector.sources import open_preset
from session_helpers import check_array, diff_fingerprints, fingerprint


# -- tokenize --------------------------------------------------------------------------------------------
def test_tokenize_kinds_texts_and_positions():
    toks = E.tokenize("W1[0, -1] <= dense1.W*.5e-1")
    assert [(t.kind, t.text, t.pos) for t in toks] == [
        ("name", "W1", 0), ("op", "[", 2), ("num", "0", 3), ("op", ",", 4), ("op", "-", 6), ("num", "1", 7),
        ("op", "]", 8), ("op", "<=", 10), ("name", "dense1.W", 13), ("op", "*", 21), ("num", ".5e-1", 22),
        ("end", "", 27)]
    assert [t.text for t in E.tokenize("1e3 2. 3.25E+2 != == >= <")][:-1] == ["1e3", "2.", "3.25E+2", "!=", "==", ">=", "<"]


@pytest.mark.parametrize("text, char, pos", [("W1 @ W1", "@", 4), ("print$", "$", 6), ("a;b", ";", 2), ("x = 1", "=", 3)])
def test_tokenize_rejects_unknown_characters_with_their_position(text, char, pos):
    with pytest.raises(E.ExprError) as e:
        E.tokenize(text)
    assert f"unexpected character {char!r} at position {pos}" in str(e.value)


# -- parse --------------------------------------------------------------------------------------------------
N, Nm = E.Num, E.Name


@pytest.mark.parametrize("text, tree", [
    ("W1", Nm("W1")),
    ("dense1.W", Nm("dense1.W")),
    ("3", N(3.0)),
    ("-3", N(-3.0)),
    ("--3", N(3.0)),
    ("+2.5", N(2.5)),
    ("-W1", E.Neg(Nm("W1"))),
    ("W1[0,1]", E.Index(Nm("W1"), (N(0.0), N(1.0)))),
    ("W1[-1, 0]", E.Index(Nm("W1"), (N(-1.0), N(0.0)))),
    ("W1[:,2]", E.Index(Nm("W1"), (E.Slice(None, None, None), N(2.0)))),
    ("X[1:3]", E.Index(Nm("X"), (E.Slice(N(1.0), N(3.0), None),))),
    ("X[::-1]", E.Index(Nm("X"), (E.Slice(None, None, N(-1.0)),))),
    ("X[1::2, :]", E.Index(Nm("X"), (E.Slice(N(1.0), None, N(2.0)), E.Slice(None, None, None)))),
    ("dZ1[0][1]", E.Index(E.Index(Nm("dZ1"), (N(0.0),)), (N(1.0),))),
    ("norm(dW1)", E.Call("norm", (Nm("dW1"),))),
    ("max(abs(W1[:,0]))", E.Call("max", (E.Call("abs", (E.Index(Nm("W1"), (E.Slice(None, None, None), N(0.0))),)),))),
    ("f()", E.Call("f", ())),
    ("1 + 2 * 3", E.BinOp("+", N(1.0), E.BinOp("*", N(2.0), N(3.0)))),
    ("(1 + 2) * 3", E.BinOp("*", E.BinOp("+", N(1.0), N(2.0)), N(3.0))),
    ("1 - 2 - 3", E.BinOp("-", E.BinOp("-", N(1.0), N(2.0)), N(3.0))),
    ("2 * -W1", E.BinOp("*", N(2.0), E.Neg(Nm("W1")))),
    ("W1 / 2 - b1", E.BinOp("-", E.BinOp("/", Nm("W1"), N(2.0)), Nm("b1"))),
    ("[1, -2.5, 3]", E.ListLit((N(1.0), N(-2.5), N(3.0)))),
    ("[[1, 2], [3, 4]]", E.ListLit((E.ListLit((N(1.0), N(2.0))), E.ListLit((N(3.0), N(4.0)))))),
    ("[]", E.ListLit(())),
    ("inf", N(float("inf"))),
    ("-inf", N(float("-inf"))),
])
def test_parse_builds_the_expected_tree(text, tree):
    assert E.parse(text) == tree


@pytest.mark.parametrize("text, tree", [
    ("norm(dW1) > 10", E.BinOp(">", E.Call("norm", (Nm("dW1"),)), N(10.0))),
    ("loss <= 2 * 3", E.BinOp("<=", Nm("loss"), E.BinOp("*", N(2.0), N(3.0)))),
    ("dead(relu1) != 0.5", E.BinOp("!=", E.Call("dead", (Nm("relu1"),)), N(0.5))),
    ("W1[0,0] == -1", E.BinOp("==", E.Index(Nm("W1"), (N(0.0), N(0.0))), N(-1.0))),
])
def test_comparisons_parse_only_where_allowed(text, tree):
    assert E.parse(text, allow_compare=True) == tree
    with pytest.raises(E.ExprError, match="unexpected text after the expression"):
        E.parse(text)


@pytest.mark.parametrize("text, words", [
    ("", "expected an expression, got nothing"),
    ("   ", "expected an expression, got nothing"),
    ("W1[", "expected a number, a name, '(' or '[' at position 4 of 'W1[', got the end"),
    ("W1[0", "expected ',' or ']' to close the index"),
    ("W1[]", "expected an index at position 4"),
    ("norm(W1", "expected ',' or ')' to close the call"),
    ("(1 + 2", "expected ')'"),
    ("[1, 2", "expected ',' or ']' to close the list"),
    ("1 +", "got the end"),
    ("W1 W2", "unexpected text after the expression at position 4 of 'W1 W2', got 'W2'"),
    ("2**3", "at position 3 of '2**3', got '*'"),
    (")", "expected a number, a name, '(' or '['"),
    ("1 < 2 < 3", "unexpected text after the expression"),
    ("-" * 80 + "1", "nested more than 64 deep"),
    ("(" * 500 + "1" + ")" * 500, "nested more than 64 deep"),
    ("+".join(["W1"] * 300), "more than 256 operations"),
])
def test_parse_errors_say_what_and_where(text, words):
    with pytest.raises(E.ExprError) as e:
        E.parse(text, allow_compare="<" in text)
    assert words in str(e.value), str(e.value)


@pytest.mark.parametrize("text, canonical", [
    ("W1[0, 1]", "W1[0,1]"),
    ("W1[ : , 2 ]", "W1[:,2]"),
    ("X[1:3]", "X[1:3]"),
    ("X[::2]", "X[::2]"),
    ("X[1:]", "X[1:]"),
    ("norm( dW1 )", "norm(dW1)"),
    ("1.50", "1.5"),
    ("2.0", "2"),
    ("-0.25", "-0.25"),
    ("1e20", "1e+20"),
    ("[1,2 ,3]", "[1, 2, 3]"),
    ("a+b*c", "a + b * c"),
    ("(a+b)*c", "(a + b) * c"),
    ("a-(b-c)", "a - (b - c)"),
    ("(a-b)-c", "a - b - c"),
    ("a/(b*c)", "a / (b * c)"),
    ("-(W1+1)", "-(W1 + 1)"),
    ("(W1+1)[0]", "(W1 + 1)[0]"),
    ("(-2)[0]", "(-2)[0]"),
    ("2*-W1", "2 * -W1"),
    ("norm(dW1)>(2+3)*4", "norm(dW1) > (2 + 3) * 4"),
])
def test_to_text_is_canonical_and_parses_back_to_the_same_tree(text, canonical):
    tree = E.parse(text, allow_compare=True)
    assert E.to_text(tree) == canonical
    assert E.parse(canonical, allow_compare=True) == tree


def test_names_in_lists_every_name_in_order():
    tree = E.parse("norm(dW1[0:k, j]) + [W1, b1][0] - -X", allow_compare=True)
    assert E.names_in(tree) == ["dW1", "k", "j", "W1", "b1", "X"]
    assert E.names_in(E.parse("3 * 4")) == []


# -- evaluate ------------------------------------------------------------------------------------------------
W = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
ENV = {"W": W, "v": np.array([0.5, -1.5, 2.0]), "s": 2.0, "Z": np.zeros((2, 3))}


def resolve(name):
    if name not in ENV:
        raise E.ExprError(f"unknown name {name!r}")
    return ENV[name]


def ev(text, compare=False):
    return E.evaluate(E.parse(text, allow_compare=compare), resolve)


@pytest.mark.parametrize("text, expected", [
    ("W", W), ("W[1,2]", -6.0), ("W[-1,0]", -4.0), ("W[:,1]", W[:, 1]), ("W[1]", W[1]), ("W[:, ::-1]", W[:, ::-1]),
    ("W[0, 1:]", W[0, 1:]), ("W[0][2]", 3.0), ("-W", -W), ("W * 2 - 1", W * 2 - 1), ("W + v", W + ENV["v"]),
    ("W / s", W / 2), ("1 + 2 * 3", 7.0), ("(1 + 2) * 3", 9.0), ("2 - -3", 5.0), ("shape(W)", [2, 3]),
    ("norm(W)", np.linalg.norm(W)), ("mean(W)", W.mean()), ("min(W)", -6.0), ("max(W)", 5.0), ("abs(W)", np.abs(W)),
    ("sum(W)", W.sum()), ("std(v)", ENV["v"].std()), ("argmax(W)", [2, 1]), ("argmax(v)", 2), ("size(W)", 6),
    ("dead(W)", 0.0), ("dead(Z)", 1.0), ("dead(W - 10)", 1.0), ("[1, 2.5, -3]", [1, 2.5, -3]),
    ("[[1, 2], [3, 4]]", [[1, 2], [3, 4]]), ("norm(W[:, 0] * 0)", 0.0), ("W[shape(W)[0] - 1, 0]", -4.0),
    ("1e-3 * 1000", 1.0), ("1 / 0", np.inf),
])
def test_evaluate_matches_numpy(text, expected):
    check_array(f"evaluate {text}", ev(text), expected)


@pytest.mark.parametrize("text, expected", [
    ("norm(W) > 9", True), ("norm(W) > 10", False), ("W[0,0] == 1", True), ("W < 5", False), ("W <= 5", True), ("abs(W) <= 6", True),
    ("s != 2", False), ("min(v) < -1", True), ("max(W) >= 5", True),
])
def test_comparisons_evaluate_to_booleans_over_all_entries(text, expected):
    assert ev(text, compare=True) is expected


@pytest.mark.parametrize("text, words", [
    ("W[2,0]", "index 2 is out of range for axis 0 of size 2 (valid: 0..1)"),
    ("W[0,-4]", "index -4 is out of range for axis 1 of size 3"),
    ("W[0,1,2]", "W is 2×3: it takes at most 2 indices, got 3"),
    ("s[0]", "s is a scalar: it takes at most 0 indices, got 1"),
    ("W[0.5]", "an index must be a whole number, got 0.5"),
    ("W[inf]", "an index must be a whole number, got inf"),
    ("W[1e400]", "an index must be a whole number"),
    ("W[v]", "an index must be a whole number, got v"),
    ("W[0:1.5]", "a slice bound must be a whole number, got 1.5"),
    ("W[0:inf]", "a slice bound must be a whole number"),
    ("W[::0]", "a slice step cannot be 0"),
    ("W + [1, 2]", "cannot combine shapes (2, 3) and (2,)"),
    ("foo(W)", "unknown function foo(); known: abs, argmax, dead, exp, log, max, mean, min, norm, shape, size, std, "
               "sum"),
    ("norm(W, v)", "norm() takes one argument, got 2"),
    ("norm()", "norm() takes one argument, got 0"),
    ("min(W[0, 0:0])", "min() of an empty selection"),
    ("[1, [2, 3]]", "the rows of [1, [2, 3]] have different lengths"),
    ("q + 1", "unknown name 'q'"),
])
def test_evaluation_errors_are_expr_errors_with_clear_messages(text, words):
    with pytest.raises(E.ExprError) as e:
        ev(text)
    assert words in str(e.value), str(e.value)


def test_index_key_normalizes_and_checks_against_the_shape():
    items = E.parse("W[1, :, -1]").items
    assert E.index_key(items, (2, 3, 4), resolve, "W") == (1, slice(None), -1)
    with pytest.raises(E.ExprError, match="W is 2×3: it takes at most 2 indices, got 3"):
        E.index_key(items, (2, 3), resolve, "W")


# -- every error path of the commands: ok=False, a clear message, the usage, and nothing changed --------------
SETUPS = {
    "fresh": [],
    # deep in a session: iteration 2, an edit, a breakpoint, a watch, a hyperparameter edit
    "busy": ["continue", "step 6", "set W2[0,0] = 0.3", "break dense2.backward", "watch norm(dW1)", "set lr = 1.5"],
}

ERRORS = [
    # (setup, line, fragments of the message, the command whose usage is shown or None)
    ("fresh", "stpe", ["unknown command 'stpe'", "did you mean `step`?"], None),
    ("fresh", "prnt W1", ["unknown command 'prnt'", "did you mean `print`?"], None),
    ("fresh", "xyzzy 3", ["unknown command 'xyzzy'", "`help` lists the commands"], None),
    ("fresh", "step 0", ["step: the count must be ≥ 1, got 0"], "step"),
    ("fresh", "step -1", ["step: expected a count (a whole number ≥ 1), got '-1'"], "step"),
    ("fresh", "step x", ["expected a count", "'x'"], "step"),
    ("busy", "step 2.5", ["expected a count", "'2.5'"], "step"),
    ("fresh", "back 1.5", ["back: expected a count", "'1.5'"], "back"),
    ("busy", "back 0", ["back: the count must be ≥ 1"], "back"),
    ("fresh", "back", ["already at the start of the oldest iteration kept"], "back"),
    ("fresh", "continue 0", ["continue: the count must be ≥ 1"], "continue"),
    ("busy", "c many", ["continue: expected a count", "'many'"], "continue"),
    ("fresh", "next 3", ["next: takes no arguments, got '3' (usage: next)"], "next"),
    ("busy", "finish now", ["finish: takes no arguments"], "finish"),
    ("fresh", "where x", ["where: takes no arguments"], "where"),
    ("busy", "show W1", ["show: takes no arguments"], "show"),
    ("busy", "list 5", ["list: takes no arguments"], "list"),
    ("busy", "reset 3", ["reset: takes no arguments"], "reset"),
    ("fresh", "until", ["until: name an op, e.g. `until dense2.backward`"], "until"),
    ("busy", "until nosuchop", ["no op matches 'nosuchop'", "layers: dense1, dense2, loss, sigmoid1, sigmoid2"], "until"),
    ("fresh", "goto", ["goto: name an op"], "goto"),
    ("busy", "goto 99", ["op index 99 is out of range: this iteration has ops 0..16"], "goto"),
    ("busy", "goto -5", ["op index -5 is out of range"], "goto"),
    ("busy", "goto nowhere", ["no op matches 'nowhere'"], "goto"),
    # set: bad targets, indices, shapes, values, names
    ("fresh", "set W1[0,1,2] = 1", ["set: W1 is 2×2: it takes at most 2 indices, got 3"], "set"),
    ("busy", "set W1[2,0] = 1", ["set: index 2 is out of range for axis 0 of size 2"], "set"),
    ("fresh", "set W1[0.5,0] = 1", ["set: an index must be a whole number, got 0.5"], "set"),
    ("fresh", "set W1[0,1] = [1,2]", ["W1[0,1] is a single number, the value is an array of shape 2"], "set"),
    ("busy", "set W1[0] = [1,2,3]", ["W1[0] is an array of shape 2, the value is an array of shape 3"], "set"),
    ("fresh", "set W1 = [[1,2,3],[4,5,6]]", ["W1 is an array of shape 2×2, the value is an array of shape 2×3"], "set"),
    ("fresh", "set W1[0,1] = W1", ["W1[0,1] is a single number, the value is an array of shape 2×2"], "set"),
    ("fresh", "set W1[0,1] = nan", ["set: the value must be a finite number, got nan"], "set"),
    ("busy", "set W1[0,1] = inf", ["the value must be a finite number, got inf"], "set"),
    ("fresh", "set W1[0,1] = -1e400", ["the value must be a finite number"], "set"),
    ("fresh", "set W1[0,1] = 1/0", ["the value must be a finite number, got 1/0"], "set"),
    ("fresh", "set b1 = [1, nan]", ["the value must be a finite number"], "set"),
    ("fresh", "set foo = 1", ["unknown name 'foo'", "arrays here: X, Y, W1"], "set"),
    ("fresh", "set W1[0,1] = W9", ["unknown name 'W9'"], "set"),
    ("fresh", "set Z2[0,0] = 1", ["Z2 is not computed yet at this point of iteration 1", "`until dense2.forward`"], "set"),
    ("fresh", "set lr = -1", ["set: lr must be ≥ 0, got -1.0"], "set"),
    ("busy", "set lr = [1,2]", ["set: lr is a single number"], "set"),
    ("fresh", "set lr[0] = 1", ["set: lr is a single number"], "set"),
    ("fresh", "set beta1 = 0.5", ["this model's optimizer has no beta1; it has lr, momentum, l2"], "set"),
    ("fresh", "set momentum = 0.5", ["momentum cannot be switched on for an SGD made without it"], "set"),
    ("busy", "set L = 1", ["nothing downstream reads the loss value L"], "set"),
    ("fresh", "set norm(W1) = 1", ["the target must be a name or an indexed name like W1[0,1] or lr, got 'norm(W1)'"], "set"),
    ("fresh", "set W1[0,1]", ["expected `set TARGET = VALUE`"], "set"),
    ("fresh", "set = 1", ["expected `set TARGET = VALUE`"], "set"),
    ("fresh", "set W1[0,1] =   ", ["expected `set TARGET = VALUE`"], "set"),
    ("fresh", "set W1[0,1] = 1 = 2", ["unexpected character '='"], "set"),
    ("fresh", "set W1[0,1] = 2**3", ["at position"], "set"),
    # print
    ("fresh", "print", ["print: give an expression, e.g. `print W1`"], "print"),
    ("fresh", "print   ", ["print: give an expression"], "print"),
    ("fresh", "print foo", ["unknown name 'foo'; arrays here:"], "print"),
    ("fresh", "print dW1", ["dW1 is not computed yet at this point of iteration 1: op [11] dense1.backward.dW1 writes it",
                            "`until dense1.backward` goes there"], "print"),
    ("busy", "print W1[5]", ["index 5 is out of range for axis 0 of size 2 (valid: 0..1)"], "print"),
    ("busy", "print W1[0,1,2]", ["W1 is 2×2: it takes at most 2 indices, got 3"], "print"),
    ("fresh", "print W1[::0]", ["a slice step cannot be 0"], "print"),
    ("fresh", "print W1[inf]", ["an index must be a whole number, got inf"], "print"),
    ("fresh", "print W1 +", ["got the end"], "print"),
    ("fresh", "print norm(W1, W2)", ["norm() takes one argument, got 2"], "print"),
    ("fresh", "print nosuchfn(W1)", ["unknown function nosuchfn()"], "print"),
    ("fresh", "print [1,[2]]", ["have different lengths"], "print"),
    ("fresh", "print min(W1[0:0])", ["min() of an empty selection"], "print"),
    ("fresh", "print W1 + [1,2,3]", ["cannot combine shapes (2, 2) and (3,)"], "print"),
    ("fresh", "print W1 @ W1", ["unexpected character '@' at position 4"], "print"),
    ("fresh", "print W1 > 0", ["unexpected text after the expression"], "print"),
    ("fresh", "print " + "(" * 100 + "W1" + ")" * 100, ["nested more than 64 deep"], "print"),
    # explain
    ("fresh", "explain", ["explain: name one element, e.g. `explain Z1[0,2]`"], "explain"),
    ("fresh", "explain W1", ["explain: W1 is 2×2; name one element with 2 indices, e.g. W1[0,0]"], "explain"),
    ("busy", "explain W1[:,0]", ["explain: W1 is 2×2; name one element with 2 indices"], "explain"),
    ("busy", "explain b1[0:1]", ["explain: b1 is 2; name one element with 1 index, e.g. b1[0]"], "explain"),
    ("busy", "explain L[0]", ["explain: L is a single number; write `explain L`"], "explain"),
    ("fresh", "explain norm(W1)", ["explain: expected one element like Z1[0,2], got 'norm(W1)'"], "explain"),
    ("fresh", "explain Z1[0,0]", ["Z1 is not computed yet"], "explain"),
    ("fresh", "explain foo[0]", ["unknown name 'foo'"], "explain"),
    ("busy", "explain W1[5,0]", ["index 5 is out of range for axis 0 of size 2"], "explain"),
    # breakpoints and watches
    ("fresh", "break nosuch", ["no op matches 'nosuch'"], "break"),
    ("fresh", "break if", ["expected an expression, got nothing"], "break"),
    ("fresh", "break if foo > 1", ["break if: unknown name 'foo'"], "break"),
    ("fresh", "break if 1 > 0", ["the condition names no array, so it could never change"], "break"),
    ("fresh", "break if W1 >", ["got the end"], "break"),
    ("busy", "delete 9", ["no breakpoint 9; breakpoints: 1"], "delete"),
    ("fresh", "delete 9", ["no breakpoint 9; breakpoints: none"], "delete"),
    ("busy", "delete 1 9", ["no breakpoint 9"], "delete"),
    ("busy", "delete x", ["delete: expected breakpoint numbers or `all`, got 'x'"], "delete"),
    ("busy", "delete", ["delete: expected breakpoint numbers or `all`, got ''"], "delete"),
    ("busy", "disable 2", ["no breakpoint 2"], "disable"),
    ("busy", "enable -1", ["enable: expected breakpoint numbers or `all`"], "enable"),
    ("fresh", "watch foo", ["watch: unknown name 'foo'"], "watch"),
    ("fresh", "watch W1[", ["got the end"], "watch"),
    ("busy", "unwatch 5", ["unwatch: no watch 5; watches: 1"], "unwatch"),
    ("busy", "unwatch x", ["unwatch: expected watch numbers or `all`, got 'x'"], "unwatch"),
    ("fresh", "unwatch", ["unwatch: expected watch numbers or `all`"], "unwatch"),
    # gradcheck
    ("fresh", "gradcheck", ["gradcheck: name a neuron (gradcheck dense1 3)"], "gradcheck"),
    ("fresh", "gradcheck dense3", ["gradcheck: no parameter 'dense3'; this model has W1, b1, W2, b2"], "gradcheck"),
    ("busy", "gradcheck dense1 7", ["gradcheck: dense1 has neurons 0..1, got 7"], "gradcheck"),
    ("fresh", "gradcheck sigmoid1", ["gradcheck: sigmoid1 has no parameters; pick one of dense1, dense2"], "gradcheck"),
    ("fresh", "gradcheck dense1 x", ["gradcheck: the neuron must be a number, got 'x'"], "gradcheck"),
    ("fresh", "gradcheck dense1 -1", ["the neuron must be a number, got '-1'"], "gradcheck"),
    ("fresh", "gradcheck dense1 1 2", ["expected `gradcheck LAYER [NEURON]`"], "gradcheck"),
    ("fresh", "gradcheck W9", ["no parameter 'W9'"], "gradcheck"),
    ("fresh", "gradcheck W1[5,0]", ["index 5 is out of range for axis 0 of size 2"], "gradcheck"),
    ("fresh", "gradcheck norm(W1)", ["expected a layer or a parameter like W2[:,1], got 'norm(W1)'"], "gradcheck"),
    # batch, train, session
    ("fresh", "batch 9", ["batch: examples are numbered 0..3, got 9..9"], "batch"),
    ("busy", "batch 3:1", ["batch: 3:1 selects nothing in examples 0..3"], "batch"),
    ("fresh", "batch random 0", ["batch: random needs a size 1..4, got 0"], "batch"),
    ("fresh", "batch random 9", ["random needs a size 1..4, got 9"], "batch"),
    ("fresh", "batch foo", ["batch: expected 0:8, 3,5,7, next or random 8, got 'foo'"], "batch"),
    ("fresh", "batch 1,,2", ["batch: expected"], "batch"),
    ("fresh", "train 0", ["train: the count must be ≥ 1"], "train"),
    ("fresh", "train x", ["train: expected `train N` or `train N epochs`, got 'x'"], "train"),
    ("fresh", "train 5 weeks", ["train: expected `train N` or `train N epochs`"], "train"),
    ("fresh", "train 2000000", ["more than this debugger runs at once"], "train"),
    ("fresh", "seed x", ["seed: expected a whole number, got 'x'"], "seed"),
    ("busy", "seed", ["seed: expected a whole number, got ''"], "seed"),
    ("fresh", "seed -1", ["seed: expected a whole number"], "seed"),
    ("fresh", "save", ["save: give a file name, e.g. `save model.npz`"], "save"),
    ("fresh", "load", ["load: give a file name"], "load"),
    ("busy", "load /nonexistent/dir/x.npz", ["load: /nonexistent/dir/x.npz: no such model file"], "load"),
    ("fresh", "help nosuch", ["help: no command 'nosuch'; `help` lists them"], "help"),
]


def busy_or_fresh(setup: str):
    s = open_preset("xor")
    interp = Interpreter(s)
    for line in SETUPS[setup]:
        r = interp.run(line)
        assert r.ok, f"setup {line!r}: {r.message}"
    return s, interp


@pytest.mark.parametrize("setup, line, words, usage_of", ERRORS, ids=[f"{c[0]}: {c[1][:40]}" for c in ERRORS])
def test_every_error_is_clear_shows_the_usage_and_changes_nothing(setup, line, words, usage_of):
    s, interp = busy_or_fresh(setup)
    before = fingerprint(s)
    r = interp.run(line)
    assert not r.ok and r.kind == "error", f"{line!r} should fail, got {r.kind}: {r.message}"
    for w in words:
        assert w in r.message, f"{line!r}: expected {w!r} in the message, got {r.message!r}"
    if usage_of is None:
        assert "usage" not in r.data
    else:
        assert r.data["usage"] == REGISTRY[usage_of].usage
    changed = diff_fingerprints(before, fingerprint(s))
    assert not changed, f"{line!r} failed but changed {changed}"
    assert r.to_json()["ok"] is False


def test_a_partial_back_stops_at_the_oldest_iteration_instead_of_failing():
    s, interp = busy_or_fresh("busy")
    r = interp.run("back 500")
    assert r.ok and (s.current.number, s.pos) == (1, -1)
    assert any("stopped at the start of iteration 1" in n for n in r.data["notes"])


@pytest.mark.parametrize("line, name, gradient, label", [
    ("print dW1", "dW1", True, "(∂L/∂W1)"), ("print db1", "db1", True, "(∂L/∂b1)"),
    ("print dZ1[0]", "dZ1[0]", True, "(∂L/∂Z1[0])"), ("print dense1.W", "dense1.W", False, None),
    ("print dead(sigmoid1)", "dead(sigmoid1)", False, None), ("print dense1", "dense1", False, None),
    ("print dW1 * 2", "dW1 * 2", False, None), ("print W1", "W1", False, None),
])
def test_printed_values_are_named_and_only_gradients_are_marked_as_such(line, name, gradient, label):
    from inspector.render import describe_array
    s, interp = busy_or_fresh("fresh")
    s.goto("12")
    d = interp.run(line).data
    assert (d["name"], d["gradient"]) == (name, gradient)
    title = describe_array(d["name"], np.asarray(d["values"]))
    assert (label in title) if label else ("∂" not in title), title


# -- the interpreter: empty lines repeat stepping commands ---------------------------------------------------------
def test_an_empty_line_repeats_the_last_stepping_command():
    s = open_preset("xor")
    interp = Interpreter(s)
    r = interp.run("")
    assert r.ok and r.kind == "empty" and s.pos == -1
    interp.run("step")
    for expected in (1, 2):
        r = interp.run("   ")
        assert r.ok and r.command == "step" and s.pos == expected
    interp.run("step 3")
    interp.run("")
    assert s.pos == 8
    interp.run("next")
    interp.run("")
    assert s.pos == 11, "next, next: dense2.backward → sigmoid1.backward → dense1.backward"
    interp.run("back 2")
    interp.run("")
    assert s.pos == 7
    r = interp.run("step nope")  # an error does not replace what an empty line repeats: still back 2
    assert not r.ok
    r = interp.run("")
    assert r.command == "back 2" and s.pos == 5
    interp.run("print W1")  # looking at something in between does not end the repetition
    r = interp.run("")
    assert r.command == "back 2" and s.pos == 3
    interp.run("continue")
    interp.run("")
    assert (s.current.number, s.pos) == (2, 16)
    interp.run("finish")
    r = interp.run("")
    assert r.command == "finish" and (s.current.number, s.pos) == (3, 4)


# -- the registry -------------------------------------------------------------------------------------------------
ISSUE_COMMANDS = ["step", "next", "finish", "continue", "back", "until", "goto", "where", "break", "enable", "disable",
                  "delete", "watch", "unwatch", "print", "show", "explain", "set", "gradcheck", "train", "reset", "seed",
                  "save", "load", "help", "quit", "list", "batch"]
COMPLETION_KINDS = {"none", "count", "op", "expr", "break", "breaknum", "watchnum", "target", "gradcheck", "batch",
                    "train", "file", "command", "options"}


def test_every_command_is_declared_once_with_name_usage_and_summary():
    assert set(ISSUE_COMMANDS) <= set(REGISTRY), set(ISSUE_COMMANDS) - set(REGISTRY)
    for name, cmd in REGISTRY.items():
        assert cmd.name == name and cmd.usage.split()[0] == name, cmd
        assert cmd.summary and cmd.summary == cmd.summary.strip() and len(cmd.summary) < 110, name
        assert callable(cmd.run) and cmd.args in COMPLETION_KINDS, (name, cmd.args)
        assert lookup(name) is cmd
        for alias in cmd.aliases:
            assert ALIASES[alias] == name and lookup(alias) is cmd, alias
    assert {c.name for c in REGISTRY.values() if c.repeat} == {"step", "next", "finish", "continue", "back", "timestep"}
    assert lookup("nosuch") is None


@pytest.mark.parametrize("alias, name", [("s", "step"), ("n", "next"), ("c", "continue"), ("p", "print"),
                                         ("b", "break"), ("x", "explain"), ("gc", "gradcheck"), ("q", "quit"),
                                         ("w", "where"), ("l", "list"), ("h", "help"), ("?", "help"), ("j", "goto")])
def test_aliases_resolve_and_run_the_same_command(alias, name):
    assert lookup(alias).name == name
    s = open_preset("xor")
    interp = Interpreter(s)
    if name in ("print", "explain"):
        r = interp.run(f"{alias} W1" if name == "print" else f"{alias} W1[0,0]")
    elif name in ("break", "goto"):
        r = interp.run(f"{alias} 3")
    elif name == "gradcheck":
        r = interp.run(f"{alias} dense2 0")
    else:
        r = interp.run(alias)
    assert r.ok, r.message
    assert r.command.startswith(alias)


def test_help_lists_every_command_and_explains_one():
    interp = Interpreter(open_preset("xor"))
    r = interp.run("help")
    assert [c["name"] for c in r.data["commands"]] == list(REGISTRY)
    for c in r.data["commands"]:
        assert c["usage"] == REGISTRY[c["name"]].usage and c["summary"] == REGISTRY[c["name"]].summary
    r = interp.run("help set")
    assert r.data["detail"] and r.data["commands"][0]["name"] == "set"
    assert "set W1[0,1] = 0.5" in r.data["commands"][0]["help"]
    assert interp.run("help s").data["commands"][0]["name"] == "step"
    assert interp.run("quit").kind == "quit"


# -- completion: a pure function of the text before the cursor ------------------------------------------------------
@pytest.fixture(scope="module")
def names():
    s = open_preset("xor")
    interp = Interpreter(s)
    for line in ["break dense2.backward", "break if nan", "watch W1[0,0]"]:
        interp.run(line)
    return names_of(s)


def texts(text, names):
    return [c.text for c in complete(text, names)]


def test_names_of_a_session(names):
    assert names.symbols[:4] == ("X", "Y", "W1", "b1") and "dW1" in names.symbols and "Z2" in names.symbols
    assert names.layers == ("dense1", "sigmoid1", "dense2", "sigmoid2")
    assert names.param_layers == ("dense1", "dense2") and names.params == ("W1", "b1", "W2", "b2")
    assert names.breakpoints == ("1", "2") and names.watches == ("1",)
    assert names.hyper == ("lr", "momentum", "l2")
    assert "dense2.backward" in names.ops and "dense2.backward.dW2" in names.ops and "update" in names.ops


def test_complete_command_names(names):
    assert texts("", names) == list(REGISTRY)
    assert texts("s", names)[:5] == ["step", "show", "set", "seed", "save"]
    assert set(texts("s", names)[5:]) == {"sh"}, "aliases come after the commands, once a letter is typed"
    assert texts("st", names) == ["step"]
    assert texts("gr", names) == ["gradcheck"]
    assert texts("fi", names) == ["finish", "fin"]
    assert texts("fin", names) == ["finish"]  # the alias typed in full still completes to the command
    assert "cont" in texts("co", names) and "continue" in texts("co", names)
    assert texts("zzz", names) == []
    meta = {c.text: c.meta for c in complete("un", names)}
    assert meta["until"] == REGISTRY["until"].summary and meta["unt"] == "= until"
    assert all(c.start == -2 for c in complete("un", names))


def test_complete_arrays_and_functions_after_print(names):
    assert texts("print W", names) == ["W1", "W2"]
    assert texts("p dW", names) == ["dW2", "dW1"]
    assert texts("print no", names) == ["norm("]
    assert texts("print Z", names) == ["Z1", "Z2"]
    assert texts("print sig", names) == ["sigmoid1", "sigmoid2"]
    assert set(texts("print W1 + d", names)) >= {"dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1", "dead(", "dense1"}
    assert texts("print norm(dW", names) == ["dW2", "dW1"]
    assert [c.start for c in complete("print norm(dW", names)] == [-2, -2]
    assert texts("print W1[0,", names)[:2] == ["X", "Y"]
    assert texts("print W1)", names) == []
    assert texts("explain Z", names) == ["Z1", "Z2"]
    assert texts("watch no", names) == ["norm("]


def test_complete_ops_after_break_and_until(names):
    after_break = texts("break ", names)
    assert after_break[0] == "if" and "dense2.backward" in after_break and "update" in after_break
    assert "dense1" in after_break
    assert texts("break i", names) == ["if"]
    assert texts("until dense2.b", names) == ["dense2.backward.dW2", "dense2.backward", "dense2.backward.db2",
                                               "dense2.backward.dA1"]
    assert "update" in texts("until up", names) and "dense1.update" in texts("goto dense1.u", names)
    assert texts("break dense2.backward extra", names) == []


def test_complete_conditions_after_break_if(names):
    assert set(texts("break if n", names)) == {"norm(", "nan"}
    assert "dead(" in texts("break if de", names) and "dense1" in texts("break if de", names)
    assert texts("break if norm(dW", names) == ["dW2", "dW1"]


def test_complete_layers_after_gradcheck_and_numbers_after_delete(names):
    assert texts("gradcheck ", names) == ["dense1", "dense2", "W1", "b1", "W2", "b2"]
    assert texts("gradcheck d", names) == ["dense1", "dense2"]
    assert texts("gc W", names) == ["W1", "W2"]
    assert texts("gradcheck dense1 ", names) == []
    assert texts("delete ", names) == ["1", "2", "all"]
    assert texts("disable a", names) == ["all"]
    assert texts("enable 1", names) == []
    assert texts("unwatch ", names) == ["1", "all"]


def test_complete_other_arguments(names):
    assert texts("help se", names) == ["set", "seed"]
    assert texts("batch ", names) == ["next", "random"]
    assert texts("train 5 ", names) == ["epochs", "batch", "--record"]
    assert texts("train 5", names) == []
    assert texts("set W", names) == ["W1", "W2"]
    assert texts("set l", names) == ["lr", "l2"]
    assert texts("set W1[0,0] = b", names) == ["b1", "b2"]
    assert texts("nosuch W", names) == []
    assert texts("step ", names) == [] and texts("where ", names) == []


def test_completion_is_a_pure_function_of_its_inputs():
    names = Names(symbols=("alpha", "alpine"), layers=("dense9",))
    assert texts("print al", names) == ["alpha", "alpine"]
    assert texts("print al", Names()) == []
    assert texts("print de", names) == ["dead(", "dense9"]


def test_a_leading_colon_is_ignored_as_vim_users_type_it():
    s = open_preset("xor")
    interp = Interpreter(s)
    r = interp.run(":step 2")
    assert r.ok and r.command == "step 2" and s.pos == 1
    assert interp.run(": where").ok and interp.run(":").kind in ("empty", "op")
