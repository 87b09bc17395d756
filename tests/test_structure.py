"""The shape of the code after issue 11: no import cycle, small modules and a small Session, lessons that
attach through an explicit interface (their own command table, typed feedback, one argparse tree)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "inspector", "lessons")
MAX_MODULE_LINES = 600
MAX_SESSION_LINES = 450


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports anywhere in it (top level or inside a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[:len(parent) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` the module mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import engine.model.x` → the nearest module we have
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_is_read_from_the_sources():
    graph = import_graph()
    assert "inspector.session" in graph["inspector.sources"]
    assert "inspector.commands.core" in graph["inspector.commands.stepping"]
    assert "inspector.commands.stepping" in graph["inspector.commands"]  # `from . import stepping`
    assert "engine" in graph["inspector.session"]


def test_no_import_cycle_among_engine_inspector_and_lessons():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_data_flows_one_way_lessons_inspector_engine():
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("engine"):
            assert not {t for t in targets if not t.startswith("engine")}, name
        if name.startswith("inspector"):
            assert not {t for t in targets if t.startswith("lessons")}, name
    assert "inspector.sources" not in graph["inspector.session"]


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_the_session_class_is_small():
    tree = ast.parse((REPO / "inspector" / "session.py").read_text(encoding="utf-8"))
    session = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Session")
    assert session.end_lineno - session.lineno + 1 < MAX_SESSION_LINES


def test_no_module_of_engine_or_inspector_is_over_600_lines():
    offenders = [f"{p.relative_to(REPO).as_posix()} ({line_count(p)} lines)"
                 for pkg in ("engine", "inspector") for p in sorted((REPO / pkg).rglob("*.py"))
                 if line_count(p) > MAX_MODULE_LINES]
    assert offenders == [], f"over {MAX_MODULE_LINES} lines: {', '.join(offenders)}"


# -- lessons attach through an explicit interface -----------------------------------------------------------------
def test_importing_lessons_leaves_the_command_registry_alone():
    code = ("import inspector.commands as c\n"
            "before = (dict(c.REGISTRY), dict(c.ALIASES))\n"
            "import lessons, lessons.cli, lessons.runner, lessons.commands, lessons.checks, lessons.tui\n"
            "assert (dict(c.REGISTRY), dict(c.ALIASES)) == before, sorted(set(c.REGISTRY) - set(before[0]))\n"
            "assert 'hint' not in c.REGISTRY and 'predict' not in c.ALIASES\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_a_lesson_runs_its_commands_through_its_own_interpreter():
    from inspector.commands import REGISTRY, Interpreter
    from inspector.sources import open_preset
    from lessons import all_lessons
    from lessons.runner import LessonRunner
    runner = LessonRunner(all_lessons()[0])
    assert set(runner.command_table) == set(REGISTRY) | {"lesson", "hint", "predict", "answer", "reveal", "exercise",
                                                         "check"}
    assert runner.run("hint").ok and not hasattr(runner.session, "lesson")
    plain = Interpreter(open_preset("xor")).run("hint")
    assert not plain.ok and "unknown command 'hint'" in plain.message


def test_feedback_items_have_kinds():
    from inspector.commands import FEEDBACK_KINDS, Feedback, Result
    from lessons import all_lessons
    from lessons.runner import LessonRunner
    with pytest.raises(ValueError):
        Feedback("✓", "a kind is a word, not a mark")
    lessons = {lesson.id: lesson for lesson in all_lessons()}
    runner = LessonRunner(lessons["dense-layer"], resume=False)
    runner.run("print shape(X)")
    runner.run("print shape(W1)")
    asked = runner.run("step")
    assert [f.kind for f in asked.feedback] == ["ask"]
    right = runner.run("predict 4x8")
    kinds = [f.kind for f in right.feedback]
    assert kinds[:2] == ["pass", "step"] and set(kinds[2:]) <= {"text", "ask", "restart"}
    assert all(isinstance(f, Feedback) and f.kind in FEEDBACK_KINDS for f in right.feedback)
    assert right.extra == [f.text for f in right.feedback]  # the text shown is the items' text
    assert right.to_json()["feedback"][0] == {"kind": "pass", "text": right.feedback[0].text}
    assert "feedback" not in Result("where", True, "where").to_json()


def test_one_argparse_tree_lists_every_subcommand(capsys):
    from lessons.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for sub in ("repl", "tui", "trace", "train", "eval", "sweep", "data", "lessons", "lesson"):
        assert f"    {sub} " in out or f"    {sub}\n" in out, sub
