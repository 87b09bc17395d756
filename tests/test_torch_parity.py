"""PyTorch parity: every layer, activation, loss and optimizer of the engine against torch, in float64.

Each test runs the same numbers through the engine and through PyTorch (2.x, CPU) and compares
forward values, gradients and updated weights to 1e-10 (relative, 1e-12 absolute). A failure
prints the engine's values (ACTUAL) against PyTorch's (DESIRED) under a label naming the array.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: the parity tests cross-check the engine against it")
F = torch.nn.functional

from engine import (  # noqa: E402  (after the importorskip on purpose)
    MSE, SGD, Adam, BinaryCrossEntropy, Dense, Dropout, LeakyReLU, Parameter, RecordingTracer, ReLU,
    Sequential, Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh,
)

RTOL, ATOL = 1e-10, 1e-12


# -- helpers ---------------------------------------------------------------------------------
def tt(a, grad: bool = False) -> "torch.Tensor":
    """A float64 torch tensor holding a copy of ``a``."""
    return torch.tensor(np.array(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def npy(x) -> np.ndarray:
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def close(mine, theirs, what: str) -> None:
    """Engine value ``mine`` equals torch value ``theirs`` to RTOL/ATOL; labelled on failure."""
    mine, theirs = np.asarray(mine), npy(theirs)
    assert mine.shape == theirs.shape, f"{what}: engine shape {mine.shape} vs torch shape {theirs.shape}"
    np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL,
                               err_msg=f"{what}: engine (ACTUAL) vs torch (DESIRED)")


def with_zeros(Z: np.ndarray) -> np.ndarray:
    """``Z`` with a few exact zeros, so the kink conventions (ReLU'(0) = 0, …) are compared too."""
    Z = Z.copy()
    Z.flat[:: max(1, Z.size // 4)] = 0.0
    return Z


ACTIVATIONS = {
    # name: (engine layer factory, torch function)
    "relu": (ReLU, F.relu),
    "leakyrelu": (lambda: LeakyReLU(), lambda z: F.leaky_relu(z, 0.01)),
    "leakyrelu_0.2": (lambda: LeakyReLU(alpha=0.2), lambda z: F.leaky_relu(z, 0.2)),
    "sigmoid": (Sigmoid, torch.sigmoid),
    "tanh": (Tanh, torch.tanh),
    "softmax": (Softmax, lambda z: F.softmax(z, dim=1)),
}


def torch_activation(layer):
    if isinstance(layer, LeakyReLU):
        return lambda z: F.leaky_relu(z, layer.alpha)
    for cls, fn in ((ReLU, F.relu), (Sigmoid, torch.sigmoid), (Tanh, torch.tanh),
                    (Softmax, lambda z: F.softmax(z, dim=1))):
        if isinstance(layer, cls):
            return fn
    raise TypeError(f"no torch mirror for {layer!r}")


class TorchMirror:
    """The engine model's math in torch: its own float64 leaf tensors, copied from the engine.

    Dropout uses the mask the engine drew (``layer.M``), so call ``forward`` after the engine's
    forward of the same batch.
    """

    def __init__(self, model: Sequential):
        self.model = model
        self.params = {p.symbol: tt(p.value, grad=True) for p in model.parameters()}

    def forward(self, X):
        out = tt(X)
        for layer in self.model.layers:
            if isinstance(layer, Dense):
                out = out @ self.params[layer.sym["W"]] + self.params[layer.sym["b"]]
            elif isinstance(layer, Dropout):
                if layer.M is not None:
                    keep = tt(layer.M != 0)
                    out = out * keep / (1.0 - layer.p)
            else:
                out = torch_activation(layer)(out)
        return out

    def weights(self):
        return [t for s, t in self.params.items() if s.startswith("W")]

    def biases(self):
        return [t for s, t in self.params.items() if s.startswith("b")]


def torch_loss(loss_fn, out, Y):
    if isinstance(loss_fn, SoftmaxCrossEntropy):
        Y = np.asarray(Y)
        target = torch.tensor(Y) if Y.ndim == 1 else tt(Y)  # int labels, or one-hot rows as probabilities
        return F.cross_entropy(out, target)
    Yt = tt(Y).reshape(out.shape)
    if isinstance(loss_fn, MSE):
        return F.mse_loss(out, Yt)
    if isinstance(loss_fn, BinaryCrossEntropy):
        return F.binary_cross_entropy_with_logits(out, Yt)
    raise TypeError(loss_fn)


def compare_model(model: Sequential, mirror: TorchMirror, what: str, grads: bool = True) -> None:
    for p in model.parameters():
        close(p.value, mirror.params[p.symbol], f"{what}: {p.symbol}")
        if grads:
            close(p.grad, mirror.params[p.symbol].grad, f"{what}: d{p.symbol}")


def rng_(seed=0):
    return np.random.default_rng(seed)


# -- layers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("m,n_in,n_out", [(1, 1, 1), (4, 5, 3), (7, 3, 6)])
def test_dense_forward_backward_and_sgd_step(m, n_in, n_out):
    rng = rng_(1)
    layer = Dense(n_in, n_out, seed=2)
    layer.b = rng.normal(size=n_out)  # non-zero bias, so b is really compared
    assert layer.need_dX  # a lone layer computes dX (only a Sequential's first layer skips it)
    X, dZ = rng.normal(size=(m, n_in)), rng.normal(size=(m, n_out))
    Xt, Wt, bt = tt(X, grad=True), tt(layer.W, grad=True), tt(layer.b, grad=True)

    Z = layer.forward(X)
    dX = layer.backward(dZ)
    Zt = Xt @ Wt + bt
    Zt.backward(tt(dZ))
    close(Z, Zt, "Z = X·W + b")
    close(dX, Xt.grad, "dX = dZ·Wᵀ")
    close(layer.dW, Wt.grad, "dW = Xᵀ·dZ")
    close(layer.db, bt.grad, "db = Σᵢ dZ[i,:]")

    opt = SGD([Parameter(layer, "W"), Parameter(layer, "b")], lr=0.1)
    opt.step()
    torch.optim.SGD([Wt, bt], lr=0.1).step()
    close(layer.W, Wt, "W after one SGD step")
    close(layer.b, bt, "b after one SGD step")


def test_dense_matches_nn_linear():
    rng = rng_(3)
    layer = Dense(6, 4, seed=0)
    layer.b = rng.normal(size=4)
    lin = torch.nn.Linear(6, 4, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))  # torch stores (out, in)
        lin.bias.copy_(torch.from_numpy(layer.b))
    X, dZ = rng.normal(size=(5, 6)), rng.normal(size=(5, 4))
    Xt = tt(X, grad=True)
    Zt = lin(Xt)
    Zt.backward(tt(dZ))
    close(layer.forward(X), Zt, "Z vs nn.Linear")
    close(layer.backward(dZ), Xt.grad, "dX vs nn.Linear")
    close(layer.dW, lin.weight.grad.T, "dW vs nn.Linear weight.grad ᵀ")
    close(layer.db, lin.bias.grad, "db vs nn.Linear bias.grad")


def test_first_dense_of_a_sequential_skips_dx_as_torch_does():
    model = Sequential(Dense(3, 4), ReLU(), Dense(4, 2), seed=0)
    assert [layer.need_dX for layer in model.layers] == [False, True, True]
    model.forward(rng_().normal(size=(5, 3)))
    assert model.layers[0].backward(np.ones((5, 4))) is None


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_with_the_engines_mask(p):
    rng = rng_(4)
    layer = Dropout(p, seed=5)
    A, dD = rng.normal(size=(64, 9)), rng.normal(size=(64, 9))
    D = layer.forward(A)
    M = layer.M
    assert set(np.unique(M)) <= {0.0, 1.0 / (1.0 - p)}, "mask entries are 0 or 1/(1 − p)"
    keep = M != 0
    assert 0 < keep.sum() < keep.size
    dA = layer.backward(dD)

    At = tt(A, grad=True)
    Dt = At * tt(keep) / (1.0 - p)  # inverted dropout, PyTorch's scaling, with the engine's mask
    Dt.backward(tt(dD))
    close(D, Dt, f"D = A ⊙ M (p={p})")
    close(dA, At.grad, f"dA = dD ⊙ M (p={p})")


def test_dropout_eval_mode_is_identity_like_torch():
    rng = rng_(6)
    layer = Dropout(0.5, seed=0)
    layer.training = False
    A, dD = rng.normal(size=(8, 5)), rng.normal(size=(8, 5))
    At = tt(A, grad=True)
    Dt = F.dropout(At, p=0.5, training=False)
    Dt.backward(tt(dD))
    close(layer.forward(A), Dt, "D in eval mode")
    close(layer.backward(dD), At.grad, "dA in eval mode")


# -- activations -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("scale", [1.0, 8.0])
def test_activation_forward_backward(name, scale):
    make, fn = ACTIVATIONS[name]
    rng = rng_(7)
    layer = make()
    Z, dA = with_zeros(scale * rng.normal(size=(6, 5))), rng.normal(size=(6, 5))
    Zt = tt(Z, grad=True)
    At = fn(Zt)
    At.backward(tt(dA))
    close(layer.forward(Z), At, f"{name}: A = f(Z)")
    close(layer.backward(dA), Zt.grad, f"{name}: dZ")


def test_softmax_activation_with_huge_logits():
    rng = rng_(8)
    Z, dA = 1e3 * rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    layer = Softmax()
    Zt = tt(Z, grad=True)
    At = F.softmax(Zt, dim=1)
    At.backward(tt(dA))
    A = layer.forward(Z)
    assert np.all(np.isfinite(A))
    close(A, At, "softmax of ±1e3 logits")
    close(layer.backward(dA), Zt.grad, "softmax backward at ±1e3 logits")


# -- losses ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 1), (6, 3)])
def test_mse(shape):
    rng = rng_(9)
    A, Y = rng.normal(size=shape), rng.normal(size=shape)
    loss = MSE()
    At = tt(A, grad=True)
    Lt = F.mse_loss(At, tt(Y), reduction="mean")
    Lt.backward()
    close(loss.forward(A, Y), Lt, "MSE L")
    close(loss.backward(), At.grad, "MSE dA")


def test_mse_with_1d_targets_for_one_output():
    rng = rng_(10)
    A, y = rng.normal(size=(7, 1)), rng.normal(size=7)
    loss = MSE()
    At = tt(A, grad=True)
    Lt = F.mse_loss(At, tt(y[:, None]))
    Lt.backward()
    close(loss.forward(A, y), Lt, "MSE L (1-D Y)")
    close(loss.backward(), At.grad, "MSE dA (1-D Y)")


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_softmax_cross_entropy_int_labels(scale):
    rng = rng_(11)
    Z, y = scale * rng.normal(size=(8, 4)), rng.integers(0, 4, size=8)
    loss = SoftmaxCrossEntropy()
    Zt = tt(Z, grad=True)
    Lt = F.cross_entropy(Zt, torch.tensor(y))
    Lt.backward()
    L = loss.forward(Z, y)
    assert np.isfinite(L)
    close(L, Lt, f"softmax-CE L (logits ×{scale})")
    close(loss.backward(), Zt.grad, f"softmax-CE dZ (logits ×{scale})")


def test_softmax_cross_entropy_one_hot_rows():
    rng = rng_(12)
    Z, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    Y = np.eye(3)[y]
    loss = SoftmaxCrossEntropy()
    Zt = tt(Z, grad=True)
    Lt = F.cross_entropy(Zt, tt(Y))  # class-probability targets
    Lt.backward()
    close(loss.forward(Z, Y), Lt, "softmax-CE L (one-hot Y)")
    close(loss.backward(), Zt.grad, "softmax-CE dZ (one-hot Y)")
    close(loss.probabilities(Z), F.softmax(tt(Z), dim=1), "softmax-CE probabilities")


@pytest.mark.parametrize("shape,scale,soft", [((8, 1), 1.0, False), ((5, 3), 3.0, False),
                                              ((6, 1), 50.0, False), ((6, 2), 2.0, True)])
def test_binary_cross_entropy_on_logits(shape, scale, soft):
    rng = rng_(13)
    Z = scale * rng.normal(size=shape)
    Y = rng.uniform(size=shape) if soft else rng.integers(0, 2, size=shape).astype(float)
    loss = BinaryCrossEntropy()
    Zt = tt(Z, grad=True)
    Lt = F.binary_cross_entropy_with_logits(Zt, tt(Y), reduction="mean")
    Lt.backward()
    close(loss.forward(Z, Y), Lt, f"BCE L {shape} ×{scale}")
    close(loss.backward(), Zt.grad, f"BCE dZ {shape} ×{scale}")
    close(loss.probabilities(Z), torch.sigmoid(tt(Z)), "BCE probabilities σ(Z)")


# -- whole networks: train_step, optimizers, L2 ------------------------------------------------
def engine_mlp(act="relu", n_in=5, hidden=7, n_out=3, seed=0, l2=0.0, dropout=None):
    layers = [Dense(n_in, hidden), ACTIVATIONS[act][0]()]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(hidden, n_out))
    model = Sequential(*layers, seed=seed, dtype=np.float64, l2=l2)
    for layer in model.layers:  # non-zero biases, so db and the bias updates are really compared
        if isinstance(layer, Dense):
            layer.b = model.rng.normal(scale=0.1, size=layer.b.shape)
    return model


def batches(steps, m=8, n_in=5, n_out=3, seed=1, loss="ce"):
    rng = rng_(seed)
    for _ in range(steps):
        X = rng.normal(size=(m, n_in))
        if loss == "ce":
            Y = rng.integers(0, n_out, size=m)
        elif loss == "onehot":
            Y = np.eye(n_out)[rng.integers(0, n_out, size=m)]
        elif loss == "bce":
            Y = rng.integers(0, 2, size=(m, n_out)).astype(float)
        else:
            Y = rng.normal(size=(m, n_out))
        yield X, Y


def run_steps(model, loss_fn, opt, mirror, opt_t, data, label, lr_schedule=None):
    """train_step on both sides batch by batch; compare loss, every gradient and every weight."""
    for step, (X, Y) in enumerate(data, start=1):
        if lr_schedule:
            opt.lr = lr_schedule(step)
            for group in opt_t.param_groups:
                group["lr"] = lr_schedule(step)
        L = model.train_step(X, Y, loss_fn, opt)
        opt_t.zero_grad()
        Lt = torch_loss(loss_fn, mirror.forward(X), Y)
        Lt.backward()
        close(L, Lt, f"{label}, step {step}: loss")
        for p in model.parameters():
            close(p.grad, mirror.params[p.symbol].grad, f"{label}, step {step}: d{p.symbol}")
        opt_t.step()
        for p in model.parameters():
            close(p.value, mirror.params[p.symbol], f"{label}, step {step}: {p.symbol} after the update")


def test_two_layer_mlp_train_steps_match_torch_nn():
    """784-style MLP in miniature against a plain torch.nn model: Linear → ReLU → Linear, SGD."""
    model = engine_mlp("relu", n_in=6, hidden=10, n_out=4)
    W1, b1, W2, b2 = (p.value for p in model.parameters())
    net = torch.nn.Sequential(torch.nn.Linear(6, 10, dtype=torch.float64), torch.nn.ReLU(),
                              torch.nn.Linear(10, 4, dtype=torch.float64))
    with torch.no_grad():
        for lin, W, b in ((net[0], W1, b1), (net[2], W2, b2)):
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    loss_fn, opt = SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1)
    opt_t = torch.optim.SGD(net.parameters(), lr=0.1)
    for step, (X, y) in enumerate(batches(5, m=16, n_in=6, n_out=4), start=1):
        L = model.train_step(X, y, loss_fn, opt)
        opt_t.zero_grad()
        Lt = F.cross_entropy(net(tt(X)), torch.tensor(y))
        Lt.backward()
        close(L, Lt, f"step {step}: loss")
        close(model.param("W1").grad, net[0].weight.grad.T, f"step {step}: dW1")
        close(model.param("b1").grad, net[0].bias.grad, f"step {step}: db1")
        close(model.param("W2").grad, net[2].weight.grad.T, f"step {step}: dW2")
        close(model.param("b2").grad, net[2].bias.grad, f"step {step}: db2")
        opt_t.step()
        close(model.param("W1").value, net[0].weight.T, f"step {step}: W1")
        close(model.param("b1").value, net[0].bias, f"step {step}: b1")
        close(model.param("W2").value, net[2].weight.T, f"step {step}: W2")
        close(model.param("b2").value, net[2].bias, f"step {step}: b2")


@pytest.mark.parametrize("traced", [False, True], ids=["null_tracer", "recording_tracer"])
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_mlp_train_steps_each_activation(act, traced):
    model = engine_mlp(act)
    if traced:
        model.tracer = RecordingTracer()
    mirror = TorchMirror(model)
    run_steps(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), mirror,
              torch.optim.SGD(list(mirror.params.values()), lr=0.1), batches(3), f"{act} MLP")


@pytest.mark.parametrize("loss_name,act", [("mse", "tanh"), ("bce", "relu"), ("onehot", "sigmoid")])
def test_mlp_train_steps_each_loss(loss_name, act):
    model = engine_mlp(act)
    loss_fn = {"mse": MSE, "bce": BinaryCrossEntropy, "onehot": SoftmaxCrossEntropy}[loss_name]()
    mirror = TorchMirror(model)
    run_steps(model, loss_fn, SGD(model.parameters(), lr=0.05), mirror,
              torch.optim.SGD(list(mirror.params.values()), lr=0.05), batches(3, loss=loss_name),
              f"{loss_name} loss MLP")


def test_mlp_with_dropout_uses_the_recorded_mask():
    model = engine_mlp("relu", hidden=16, dropout=0.3)
    mirror = TorchMirror(model)
    run_steps(model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1, momentum=0.9), mirror,
              torch.optim.SGD(list(mirror.params.values()), lr=0.1, momentum=0.9), batches(3),
              "dropout MLP")


OPTIMIZERS = {
    "sgd": (lambda ps: SGD(ps, lr=0.1), lambda ts: torch.optim.SGD(ts, lr=0.1)),
    "momentum": (lambda ps: SGD(ps, lr=0.05, momentum=0.9),
                 lambda ts: torch.optim.SGD(ts, lr=0.05, momentum=0.9)),
    "nesterov": (lambda ps: SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
                 lambda ts: torch.optim.SGD(ts, lr=0.05, momentum=0.8, nesterov=True)),
    "adam": (lambda ps: Adam(ps), lambda ts: torch.optim.Adam(ts)),
    "adam_custom": (lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6),
                    lambda ts: torch.optim.Adam(ts, lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_several_steps(name):
    make, make_t = OPTIMIZERS[name]
    model = engine_mlp("tanh")
    mirror = TorchMirror(model)
    run_steps(model, SoftmaxCrossEntropy(), make(model.parameters()), mirror,
              make_t(list(mirror.params.values())), batches(6), name)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizer_lr_changed_between_steps(name):
    make, make_t = OPTIMIZERS[name]
    model = engine_mlp("relu")
    mirror = TorchMirror(model)
    schedule = {1: 0.1, 2: 0.1, 3: 0.05, 4: 0.01}.get
    run_steps(model, SoftmaxCrossEntropy(), make(model.parameters()), mirror,
              make_t(list(mirror.params.values())), batches(4), f"{name} with an lr schedule", schedule)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("lam", [0.1, 3.0])
def test_l2_equals_torch_weight_decay_on_weights_only(name, lam):
    """``l2=λ`` adds (λ/m)·W to dW: torch's weight_decay=λ/m in a param group of the weights only."""
    make, make_t = OPTIMIZERS[name]
    m = 8
    model = engine_mlp("relu", l2=lam)
    mirror = TorchMirror(model)
    opt = make(model.parameters())
    kwargs = {"sgd": dict(lr=0.1), "momentum": dict(lr=0.05, momentum=0.9), "adam": {}}[name]
    torch_opt = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "adam": torch.optim.Adam}[name]
    opt_t = torch_opt([{"params": mirror.weights(), "weight_decay": lam / m},
                       {"params": mirror.biases(), "weight_decay": 0.0}], **kwargs)
    loss_fn = SoftmaxCrossEntropy()
    for step, (X, y) in enumerate(batches(4, m=m), start=1):
        L = model.train_step(X, y, loss_fn, opt)
        opt_t.zero_grad()
        data_loss = torch_loss(loss_fn, mirror.forward(X), y)
        data_loss.backward()
        penalty = lam / (2 * m) * sum(float((W * W).sum().detach()) for W in mirror.weights())
        close(L, data_loss.item() + penalty, f"λ={lam} step {step}: L = L_data + (λ/2m)·Σ‖W‖²")
        for p in model.parameters():
            t = mirror.params[p.symbol]
            decay = lam / m * t if p.attr == "W" else 0.0 * t
            close(p.grad, t.grad + decay, f"λ={lam} step {step}: d{p.symbol} (+ (λ/m)·W for weights)")
        opt_t.step()
        compare_model(model, mirror, f"λ={lam} step {step} after the update", grads=False)


def test_fit_epochs_match_torch_with_the_same_shuffling():
    """fit (shuffled minibatches, a short last batch) against a torch loop over the same order."""
    n, batch = 50, 16
    rng = rng_(20)
    X, y = rng.normal(size=(n, 5)), rng.integers(0, 3, size=n)
    model = engine_mlp("relu")
    mirror = TorchMirror(model)
    order_rng = np.random.default_rng()
    order_rng.bit_generator.state = model.rng.bit_generator.state  # fit shuffles with model.rng
    opt_t = torch.optim.SGD(list(mirror.params.values()), lr=0.1, momentum=0.9)
    history = model.fit(X, y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1, momentum=0.9),
                        epochs=2, batch_size=batch)
    for epoch in range(2):
        order, total = order_rng.permutation(n), 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            opt_t.zero_grad()
            Lt = F.cross_entropy(mirror.forward(X[idx]), torch.tensor(y[idx]))
            Lt.backward()
            opt_t.step()
            total += Lt.item() * len(idx)
        close(history["loss"][epoch], total / n, f"fit epoch {epoch + 1}: mean loss")
    compare_model(model, mirror, "after fit", grads=False)


# -- convolutions, pooling, flatten (engine.conv) -------------------------------------------
from engine import AvgPool2D, Conv2D, Flatten, MaxPool2D  # noqa: E402


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 0), (2, 2)])
@pytest.mark.parametrize("C,Fo,k", [(1, 2, 3), (3, 4, 2)])
def test_conv2d_forward_backward_and_sgd_step(stride, padding, C, Fo, k):
    rng = rng_(7 * C + k + stride + padding)
    layer = Conv2D(C, Fo, k, stride=stride, padding=padding, seed=3)
    layer.b = rng.normal(size=Fo)
    X = rng.normal(size=(3, C, 7, 6))
    Xt, Kt, bt = tt(X, True), tt(layer.K, True), tt(layer.b, True)
    Z = layer.forward(X)
    Zt = F.conv2d(Xt, Kt, bt, stride=stride, padding=padding)
    close(Z, Zt, "Z = X ∗ K + b")
    G = rng.normal(size=Z.shape)
    dX = layer.backward(G)
    Zt.backward(tt(G))
    close(dX, Xt.grad, "dX")
    close(layer.dK, Kt.grad, "dK")
    close(layer.db, bt.grad, "db")
    opt, opt_t = SGD([Parameter(layer, "K"), Parameter(layer, "b")], lr=0.1), torch.optim.SGD([Kt, bt], lr=0.1)
    opt.step()
    opt_t.step()
    close(layer.K, Kt, "K after one SGD step")
    close(layer.b, bt, "b after one SGD step")


@pytest.mark.parametrize("k,stride", [(2, None), (2, 1), (3, 2), (3, None)])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_forward_backward(k, stride, kind):
    rng = rng_(10 * k + (stride or 0))
    layer = MaxPool2D(k, stride) if kind == "max" else AvgPool2D(k, stride)
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    X = rng.normal(size=(2, 3, 7, 8))
    Xt = tt(X, True)
    S, St = layer.forward(X), fn(Xt, k, stride)
    close(S, St, f"{kind}pool S")
    G = rng.normal(size=S.shape)
    St.backward(tt(G))
    close(layer.backward(G), Xt.grad, f"{kind}pool dA")


@pytest.mark.parametrize("k,stride", [(2, None), (2, 1), (3, 2)])
def test_maxpool_ties_send_the_gradient_to_one_element_as_torch_does(k, stride):
    """Windows of equal values (a dead ReLU's zeros, rounded inputs): the first max in row-major order wins."""
    rng = rng_(k + (stride or 0))
    X = np.maximum(np.round(rng.normal(size=(2, 3, 7, 8)), 0), 0.0)  # many 0s and repeated 1s, 2s
    layer = MaxPool2D(k, stride)
    Xt = tt(X, True)
    S, St = layer.forward(X), F.max_pool2d(Xt, k, stride)
    close(S, St, "maxpool S with ties")
    G = rng.normal(size=S.shape)
    St.backward(tt(G))
    close(layer.backward(G), Xt.grad, "maxpool dA with ties")


def test_small_cnn_train_steps_match_torch():
    """conv → relu → maxpool → conv(stride 2, pad 1) → relu → avgpool → flatten → dense: 3 SGD steps."""
    model = Sequential(Conv2D(2, 3, 3, padding=1), ReLU(), MaxPool2D(2), Conv2D(3, 4, 2, stride=2, padding=1),
                       ReLU(), AvgPool2D(2), Flatten(), Dense(4, 3), seed=5)
    P = {p.symbol: tt(p.value, True) for p in model.parameters()}

    def torch_forward(X):
        A = F.max_pool2d(F.relu(F.conv2d(tt(X), P["K1"], P["b1"], padding=1)), 2)
        A = F.avg_pool2d(F.relu(F.conv2d(A, P["K2"], P["b2"], stride=2, padding=1)), 2)
        return A.flatten(1) @ P["W3"] + P["b3"]

    opt, opt_t = SGD(model.parameters(), lr=0.05, momentum=0.9), torch.optim.SGD(list(P.values()), lr=0.05,
                                                                                 momentum=0.9)
    rng = rng_(3)
    for step in range(3):
        X, y = rng.normal(size=(4, 2, 8, 8)), rng.integers(0, 3, size=4)
        L = model.train_step(X, y, SoftmaxCrossEntropy(), opt)
        opt_t.zero_grad()
        Lt = F.cross_entropy(torch_forward(X), torch.tensor(y))
        Lt.backward()
        close(L, Lt, f"step {step}: loss")
        opt_t.step()
        for p in model.parameters():
            close(p.value, P[p.symbol], f"step {step}: {p.symbol} after the update")
