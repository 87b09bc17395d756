"""Issue 16, items 22–23: fit/evaluate on many-to-many models; soft targets that are not distributions."""
from __future__ import annotations

import numpy as np
import pytest

from engine import MSE, RNN, SGD, Dense, Sequential, SoftmaxCrossEntropy
from engine.errors import ShapeError


def test_fit_and_evaluate_a_many_to_many_model_with_sequence_targets():
    rng = np.random.default_rng(0)
    model = Sequential(RNN(3, 4, return_sequences=True), Dense(4, 5), seed=0)
    X, Y = rng.normal(size=(6, 5, 3)), rng.normal(size=(6, 5, 5))
    history = model.fit(X, Y, MSE(), SGD(model.parameters(), lr=0.05), epochs=2, batch_size=4)
    assert history.epochs == 2 and np.isfinite(history["loss"][-1])
    labels = Y.argmax(axis=-1)
    expected = float(np.mean(model.predict(X).argmax(axis=-1) == labels))  # per example and timestep
    result = model.evaluate(X, Y, MSE())
    assert result["accuracy"] == pytest.approx(expected) and np.isfinite(result["loss"])


def test_fit_still_counts_accuracy_per_example_on_plain_batches():
    rng = np.random.default_rng(1)
    model = Sequential(Dense(2, 3), seed=0)
    X, y = rng.normal(size=(10, 2)), rng.integers(0, 3, 10)
    history = model.fit(X, y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.0), epochs=1, batch_size=10,
                        shuffle=False)
    assert history["accuracy"][-1] == pytest.approx(float(np.mean(model.predict(X).argmax(1) == y)))


@pytest.mark.parametrize("Y, says", [
    (np.array([[0.5, 0.6], [0.0, 1.0]]), "row 0 sums to 1.1"),
    (np.array([[1.0, 0.0], [1.0, 1.0]]), "row 1 sums to 2"),
    (np.array([[1.5, -0.5], [0.0, 1.0]]), "negative entry"),
])
def test_softmax_ce_refuses_soft_targets_that_are_not_distributions(Y, says):
    with pytest.raises(ShapeError, match="probability distribution") as err:
        SoftmaxCrossEntropy().forward(np.zeros((2, 2)), Y)
    assert says in str(err.value)


def test_softmax_ce_keeps_soft_targets_that_sum_to_one_and_its_gradient_is_the_loss_gradient():
    rng = np.random.default_rng(2)
    Z, Y = rng.normal(size=(3, 4)), rng.dirichlet(np.ones(4), size=3)
    loss = SoftmaxCrossEntropy()
    loss.forward(Z, Y)
    dZ, eps, numeric = loss.backward(), 1e-6, np.zeros_like(Z)
    for index in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[index] += eps
        Zm[index] -= eps
        numeric[index] = (SoftmaxCrossEntropy().forward(Zp, Y) - SoftmaxCrossEntropy().forward(Zm, Y)) / (2 * eps)
    np.testing.assert_allclose(dZ, numeric, atol=1e-8)
