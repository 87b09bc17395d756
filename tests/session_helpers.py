"""Helpers shared by the session, command and fuzz tests: a state fingerprint and labelled array checks."""
from __future__ import annotations

import numpy as np


def _arr(a) -> tuple:
    a = np.asarray(a)
    return (a.dtype.str, a.shape, a.tobytes())


def fingerprint(s) -> dict:
    """Everything an error must not change: position, iteration, the model and optimizer, the
    iteration's snapshot, edits, breakpoints, watches, batch, history, and every value at the cursor."""
    snap = s.current.snapshot
    return {
        "iteration": s.current.number,
        "pos": s.pos,
        "ops": [op.name for op in s.tape],
        "params": {p.name: _arr(p.value) for p in s.model.parameters()},
        "grads": {p.name: _arr(p.grad) for p in s.model.parameters()},
        "opt_state": {k: _arr(v) for k, v in s.optimizer.state_arrays().items()},
        "opt_t": s.optimizer.t,
        "hyper": {n: repr(s.get_hyper(n)) for n in s.hyper_names()},
        "rng": repr(s.model.rng.bit_generator.state),
        "snapshot": ({k: _arr(v) for k, v in snap.params.items()},
                     {k: _arr(v) for k, v in snap.opt_state.items()}, snap.opt_t,
                     repr(snap.hyper), _arr(snap.X), _arr(snap.Y), snap.batch.tolist()),
        "edits": [(e.pos, e.target, e.symbol, repr(e.key), _arr(e.value)) for e in s.current.edits],
        "breakpoints": [(b.number, b.spec, b.enabled, b.hits) for b in s.breakpoints],
        "watches": [(w.number, w.text) for w in s.watches],
        "batch": s.batch.tolist(),
        "history": [(h.number, [(e.pos, e.target) for e in h.edits]) for h in s.history],
        "losses": repr(s.losses),
        "seed": s.seed,
        "source": s.source,
        "next_numbers": {"break": s.breakpoints.next_number, "watch": s.watches.next_number},
        "values": {k: _arr(v) for k, v in s.values_at().items()},
    }


def diff_fingerprints(a: dict, b: dict) -> list[str]:
    """The keys whose values differ (for a readable assertion message)."""
    return [k for k in a if a[k] != b.get(k)]


def check_array(label: str, mine, ref, rtol: float = 1e-12, atol: float = 1e-14) -> None:
    """Assert mine ≈ ref, printing both, labelled, when they differ."""
    mine, ref = np.asarray(mine, dtype=float), np.asarray(ref, dtype=float)
    assert mine.shape == ref.shape, f"{label}: shape mine={mine.shape} reference={ref.shape}"
    assert np.allclose(mine, ref, rtol=rtol, atol=atol, equal_nan=True), (
        f"{label}: values differ\nmine      = {mine!r}\nreference = {ref!r}\n"
        f"max |diff| = {np.nanmax(np.abs(mine - ref)) if mine.size else 0:.3e}")


def check_equal(label: str, mine, ref) -> None:
    """Assert bit-identical arrays, printing both when they differ."""
    mine, ref = np.asarray(mine), np.asarray(ref)
    assert mine.shape == ref.shape and np.array_equal(mine, ref, equal_nan=True), (
        f"{label}: not identical\nmine      = {mine!r}\nreference = {ref!r}")
