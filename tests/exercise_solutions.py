"""Reference solutions of the build-it-yourself exercises (lessons/exercises), and planted bugs.

They live here, in the tests, and nowhere in the package: the stubs a learner gets hold no
solution. ``BUGS[id]`` lists (function, the line as the solution has it, the line with the bug,
the array the check must name, a word its hint must contain or None).
"""

SOLUTIONS = {
    "sigmoid": '''
import numpy as np

def sigmoid_forward(Z):
    return 1.0 / (1.0 + np.exp(-Z))

def sigmoid_backward(dA, Z):
    A = 1.0 / (1.0 + np.exp(-Z))
    return dA * A * (1 - A)
''',
    "relu": '''
import numpy as np

def relu_forward(Z):
    return np.maximum(Z, 0.0)

def relu_backward(dA, Z):
    return dA * (Z > 0)
''',
    "dense": '''
import numpy as np

def dense_forward(X, W, b):
    return X @ W + b

def dense_backward(dZ, X, W, b):
    dX = dZ @ W.T
    dW = X.T @ dZ
    db = dZ.sum(axis=0)
    return dX, dW, db
''',
    "softmax-ce": '''
import numpy as np

def softmax_ce_forward(Z, Y):
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_P = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-(Y * log_P).sum() / Z.shape[0])

def softmax_ce_backward(Z, Y):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    P = E / E.sum(axis=1, keepdims=True)
    return (P - Y) / Z.shape[0]
''',
    "mse": '''
import numpy as np

def mse_forward(A, Y):
    return float(np.mean((A - Y) ** 2))

def mse_backward(A, Y):
    return 2 * (A - Y) / A.size
''',
    "l2": '''
import numpy as np

def l2_penalty(Ws, lam, m):
    return lam / (2 * m) * sum(float(np.sum(W * W)) for W in Ws)

def l2_gradient(W, lam, m):
    return (lam / m) * W
''',
    "sgd-momentum": '''
import numpy as np

def momentum_update(W, dW, v, lr, mu):
    v_new = mu * v + dW
    W_new = W - lr * v_new
    return W_new, v_new
''',
    "adam": '''
import numpy as np

def adam_update(W, dW, m, v, t, lr, beta1, beta2, eps):
    m_new = beta1 * m + (1 - beta1) * dW
    v_new = beta2 * v + (1 - beta2) * dW * dW
    m_hat = m_new / (1 - beta1 ** t)
    v_hat = v_new / (1 - beta2 ** t)
    W_new = W - lr * m_hat / (np.sqrt(v_hat) + eps)
    return W_new, m_new, v_new
''',
    "conv2d": '''
import numpy as np

def conv2d_forward(X, K, b, stride, pad):
    m, C, H, W = X.shape
    F, _, kh, kw = K.shape
    Xp = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (H + 2 * pad - kh) // stride + 1
    ow = (W + 2 * pad - kw) // stride + 1
    Z = np.zeros((m, F, oh, ow))
    for n in range(m):
        for f in range(F):
            for i in range(oh):
                for j in range(ow):
                    window = Xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    Z[n, f, i, j] = np.sum(window * K[f]) + b[f]
    return Z

def conv2d_backward(dZ, X, K, b, stride, pad):
    m, C, H, W = X.shape
    F, _, kh, kw = K.shape
    Xp = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dXp = np.zeros_like(Xp)
    dK = np.zeros_like(K)
    oh, ow = dZ.shape[2:]
    for n in range(m):
        for f in range(F):
            for i in range(oh):
                for j in range(ow):
                    window = Xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    dK[f] += dZ[n, f, i, j] * window
                    dXp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += dZ[n, f, i, j] * K[f]
    db = dZ.sum(axis=(0, 2, 3))
    dX = dXp[:, :, pad:pad + H, pad:pad + W]
    return dX, dK, db
''',
    "maxpool": '''
import numpy as np

def maxpool_forward(X, size, stride):
    m, C, H, W = X.shape
    oh, ow = (H - size) // stride + 1, (W - size) // stride + 1
    S = np.zeros((m, C, oh, ow))
    for i in range(oh):
        for j in range(ow):
            S[:, :, i, j] = X[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    return S

def maxpool_backward(dS, X, size, stride):
    m, C, H, W = X.shape
    dX = np.zeros_like(X)
    oh, ow = dS.shape[2:]
    for n in range(m):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    window = X[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    dX[n, c, i * stride + u, j * stride + v] += dS[n, c, i, j]
    return dX
''',
    "rnn": '''
import numpy as np

def rnn_step_forward(x_t, h_prev, Wx, Wh, b):
    return np.tanh(x_t @ Wx + h_prev @ Wh + b)

def rnn_backward(dH, X, H, h0, Wx, Wh, b):
    m, T, n_in = X.shape
    dX = np.zeros_like(X)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dz_next = None
    for t in reversed(range(T)):
        dh = dH[:, t].copy()
        if dz_next is not None:
            dh += dz_next @ Wh.T
        dz = dh * (1 - H[:, t] ** 2)
        h_prev = H[:, t - 1] if t > 0 else h0
        dX[:, t] = dz @ Wx.T
        dWx += X[:, t].T @ dz
        dWh += h_prev.T @ dz
        db += dz.sum(axis=0)
        dz_next = dz
    dh0 = dz_next @ Wh.T
    return dX, dWx, dWh, db, dh0
''',
    "vectorize": '''
import numpy as np

def dense_forward_loop(X, W, b):
    m, n_in = X.shape
    n_out = W.shape[1]
    Z = np.zeros((m, n_out))
    for i in range(m):
        for j in range(n_out):
            total = b[j]
            for k in range(n_in):
                total += X[i, k] * W[k, j]
            Z[i, j] = total
    return Z

def dense_forward_vectorized(X, W, b):
    return X @ W + b
''',
}

# (function, line in the solution, the line with the bug, array named, a word of the hint or None)
BUGS = {
    "sigmoid": [
        ("sigmoid_forward", "return 1.0 / (1.0 + np.exp(-Z))", "return 1.0 / (1.0 + np.exp(Z))", "A", "sign"),
        ("sigmoid_backward", "return dA * A * (1 - A)", "return dA * Z * (1 - Z)", "dZ", "used Z"),
        ("sigmoid_backward", "return dA * A * (1 - A)", "return A * (1 - A)", "dZ", "dA"),
    ],
    "relu": [
        ("relu_backward", "return dA * (Z > 0)", "return dA * (Z >= 0)", "dZ", "Z > 0"),
        ("relu_backward", "return dA * (Z > 0)", "return (Z > 0) * 1.0", "dZ", "forgot to multiply by dA"),
        ("relu_forward", "return np.maximum(Z, 0.0)", "return np.where(Z > 0, Z, 0.01 * Z)", "A", None),
    ],
    "dense": [
        ("dense_backward", "dW = X.T @ dZ", "dW = X.T @ dZ / X.shape[0]", "dW", "divided by m"),
        ("dense_backward", "db = dZ.sum(axis=0)", "db = dZ.mean(axis=0)", "db", "divided by m"),
        ("dense_backward", "db = dZ.sum(axis=0)", "db = np.zeros_like(b)", "db", "forgot the bias gradient"),
        ("dense_backward", "dW = X.T @ dZ", "dW = (dZ.T @ X)", "dW", "transposed"),
        ("dense_forward", "return X @ W + b", "return X @ W", "Z", "forgot the bias"),
    ],
    "softmax-ce": [
        ("softmax_ce_backward", "return (P - Y) / Z.shape[0]", "return P - Y", "dZ", "missing 1/m"),
        ("softmax_ce_forward", "shifted = Z - Z.max(axis=1, keepdims=True)", "shifted = Z", "L", "max"),
        ("softmax_ce_forward", "return float(-(Y * log_P).sum() / Z.shape[0])", "return float(-(Y * log_P).sum())",
         "L", "missing 1/m"),
        ("softmax_ce_backward", "P = E / E.sum(axis=1, keepdims=True)", "P = E / E.sum(axis=0, keepdims=True)",
         "dZ", None),
    ],
    "mse": [
        ("mse_forward", "return float(np.mean((A - Y) ** 2))", "return float(np.sum((A - Y) ** 2))", "L", "1/n"),
        ("mse_backward", "return 2 * (A - Y) / A.size", "return (A - Y) / A.size", "dA", "factor 2"),
        ("mse_backward", "return 2 * (A - Y) / A.size", "return 2 * (A - Y) / A.shape[0]", "dA", "all n = m·k"),
        ("mse_backward", "return 2 * (A - Y) / A.size", "return 2 * (Y - A) / A.size", "dA", "sign"),
    ],
    "l2": [
        ("l2_penalty", "return lam / (2 * m) * sum", "return lam / m * sum", "penalty", "factor 2"),
        ("l2_gradient", "return (lam / m) * W", "return (lam / (2 * m)) * W", "dW_extra", "factor 2"),
        ("l2_gradient", "return (lam / m) * W", "return lam * W", "dW_extra", "1/m"),
        ("l2_penalty", "float(np.sum(W * W))", "float(np.sum(np.abs(W)))", "penalty", None),
    ],
    "sgd-momentum": [
        ("momentum_update", "W_new = W - lr * v_new", "W_new = W - lr * dW", "W_new", "new velocity"),
        ("momentum_update", "W_new = W - lr * v_new", "W_new = W - lr * v", "W_new", "old velocity"),
        ("momentum_update", "v_new = mu * v + dW", "v_new = mu * v - dW", "v_new", "adds the gradient"),
    ],
    "adam": [
        ("adam_update", "W_new = W - lr * m_hat / (np.sqrt(v_hat) + eps)",
         "W_new = W - lr * m_new / (np.sqrt(v_new) + eps)", "W_new", "bias correction"),
        ("adam_update", "v_new = beta2 * v + (1 - beta2) * dW * dW", "v_new = beta2 * v + (1 - beta2) * dW",
         "v_new", "squared"),
        ("adam_update", "m_hat = m_new / (1 - beta1 ** t)", "m_hat = m_new / (1 - beta1 ** (t + 1))", "W_new", None),
    ],
    "conv2d": [
        ("conv2d_forward", "Z[n, f, i, j] = np.sum(window * K[f]) + b[f]", "Z[n, f, i, j] = np.sum(window * K[f])",
         "Z", "bias"),
        ("conv2d_forward", "Z[n, f, i, j] = np.sum(window * K[f]) + b[f]",
         "Z[n, f, i, j] = np.sum(window * K[f, :, ::-1, ::-1]) + b[f]", "Z", None),
        ("conv2d_backward", "dK[f] += dZ[n, f, i, j] * window", "dK[f] += dZ[n, f, i, j] * window / m", "dK", "divided by m"),
        ("conv2d_backward", "dX = dXp[:, :, pad:pad + H, pad:pad + W]", "dX = dXp[:, :, :H, :W]", "dX", "padding"),
    ],
    "maxpool": [
        ("maxpool_backward", "u, v = np.unravel_index(np.argmax(window), window.shape)\n"
                             "                    dX[n, c, i * stride + u, j * stride + v] += dS[n, c, i, j]",
         "dX[n, c, i * stride:i * stride + size, j * stride:j * stride + size] += dS[n, c, i, j] * "
         "(window == window.max())", "dX", "first maximum"),
        ("maxpool_forward", "X[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))",
         "X[:, :, i * stride:i * stride + size - 1, j * stride:j * stride + size - 1].max(axis=(2, 3))", "S", None),
        ("maxpool_backward", "dX[n, c, i * stride + u, j * stride + v] += dS[n, c, i, j]",
         "dX[n, c, i * stride + u, j * stride + v] = dS[n, c, i, j]", "dX", "adds up"),
    ],
    "rnn": [
        ("rnn_step_forward", "return np.tanh(x_t @ Wx + h_prev @ Wh + b)", "return np.tanh(x_t @ Wx + h_prev @ Wh)",
         "h_t", "bias"),
        ("rnn_step_forward", "return np.tanh(x_t @ Wx + h_prev @ Wh + b)", "return x_t @ Wx + h_prev @ Wh + b",
         "h_t", "tanh"),
        ("rnn_backward", "dz = dh * (1 - H[:, t] ** 2)", "dz = dh * (1 - H[:, t])", "dX", None),
        ("rnn_backward", "dh += dz_next @ Wh.T", "dh += dz_next @ Wh", "dX", None),
        ("rnn_backward", "dWh += h_prev.T @ dz", "dWh += H[:, t].T @ dz", "dWh", None),
    ],
    "vectorize": [
        ("dense_forward_vectorized", "return X @ W + b", "return X @ W", "Z", "bias"),
        ("dense_forward_vectorized", "return X @ W + b", "return (X @ W + b) * (X.shape[0] > 1)", "Z", None),
        ("dense_forward_vectorized", "return X @ W + b", "return X @ W + b.sum()", "Z", None),
    ],
}
