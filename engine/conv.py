"""Convolution and pooling layers on (batch, channels, height, width) images: Conv2D, MaxPool2D, AvgPool2D, Flatten.

Conv2D computes its cross-correlation as one matrix product on the im2col matrix (every
receptive-field patch laid out as a row), the way the equations read::

    Z[n,f,i,j] = Σ_{c,u,v} X[n,c,i·s+u,j·s+v]·K[f,c,u,v] + b[f]

Filter f owns ``K[f]`` (in_channels × kh × kw) and ``b[f]``. Backward scatters the patch
gradients back onto the image one kernel offset (u, v) at a time (col2im).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import ShapeError, shape_str
from .init import get_initializer
from .layers import Layer


def _pair(k) -> tuple[int, int]:
    kh, kw = (k, k) if np.ndim(k) == 0 else tuple(k)
    return int(kh), int(kw)


def _out_size(size: int, k: int, stride: int) -> int:
    return (size - k) // stride + 1


def windows(X: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Every (kh × kw) window of X at the given stride, as a view: (n, c, oh, ow, kh, kw)."""
    return sliding_window_view(X, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


def scatter_windows(dW: np.ndarray, shape: tuple, stride: int) -> np.ndarray:
    """col2im: ``dX[n,c,i·s+u,j·s+v] += dW[n,c,i,j,u,v]``, summed where windows overlap.

    dW is (n, c, oh, ow, kh, kw); one vectorized add per kernel offset (u, v).
    """
    n, c, oh, ow, kh, kw = dW.shape
    dX = np.zeros(shape, dtype=dW.dtype)
    for u in range(kh):
        for v in range(kw):
            dX[:, :, u:u + stride * (oh - 1) + 1:stride, v:v + stride * (ow - 1) + 1:stride] += dW[:, :, :, :, u, v]
    return dX


def check_image(layer: Layer, X: np.ndarray, channels: int | None, kh: int, kw: int, padding: int = 0) -> None:
    """4-D input with the right channels, at least as large as the kernel (after padding)."""
    want = f"(batch, {channels if channels is not None else 'channels'}, height, width)"
    if X.ndim != 4:
        raise ShapeError(f"{layer.name}: expected input of shape {want}, got {shape_str(X.shape)}")
    if channels is not None and X.shape[1] != channels:
        raise ShapeError(f"{layer.name}: expected {channels} input channels {want}, "
                         f"got {X.shape[1]} (input {shape_str(X.shape)})")
    h, w = X.shape[2] + 2 * padding, X.shape[3] + 2 * padding
    if h < kh or w < kw:
        pad = f" with padding {padding}" if padding else ""
        raise ShapeError(f"{layer.name}: input {shape_str(X.shape)} is smaller than the "
                         f"{kh}×{kw} kernel{pad}; height and width must be ≥ {kh - 2 * padding}×{kw - 2 * padding}")


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every framework): ``Z = X ∗ K + b``.

        Z[n,f,i,j] = Σ_{c,u,v} X[n,c,i·s+u,j·s+v]·K[f,c,u,v] + b[f]

    Shapes: X (m, C, H, W), K (F, C, kh, kw), b (F,), Z (m, F, oh, ow) with
    ``oh = (H + 2p − kh)//s + 1`` (X zero-padded by p on each side first). Filter f owns
    ``K[f]`` and ``b[f]``. With L2 strength λ the kernel gradient gains ``(λ/m)·K``.
    """

    kind = "conv"
    params = ("K", "b")
    out_prefix = "Z"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1, padding: int = 0,
                 init: str = "he", seed: int | None = None):
        self.kh, self.kw = _pair(kernel_size)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.stride, self.padding, self.init = int(stride), int(padding), init
        if min(self.in_channels, self.out_channels, self.kh, self.kw, self.stride) < 1 or self.padding < 0:
            raise ValueError(f"Conv2D needs channels, kernel size and stride ≥ 1 and padding ≥ 0, got "
                             f"in={in_channels}, out={out_channels}, kernel={kernel_size}, "
                             f"stride={stride}, padding={padding}")
        self.l2 = 0.0
        super().__init__()
        self.reset_parameters(np.random.default_rng(seed))

    def reset_parameters(self, rng: np.random.Generator, dtype=np.float64) -> None:
        fan_in = self.in_channels * self.kh * self.kw  # the inputs one output element sums over
        K = get_initializer(self.init)(rng, fan_in, self.out_channels)  # (C·kh·kw, F)
        self.K = K.T.reshape(self.out_channels, self.in_channels, self.kh, self.kw).astype(dtype)
        self.b = np.zeros(self.out_channels, dtype=dtype)
        self.dK = np.zeros_like(self.K)
        self.db = np.zeros_like(self.b)

    def config(self) -> dict:
        k = self.kh if self.kh == self.kw else [self.kh, self.kw]
        return {"in_channels": self.in_channels, "out_channels": self.out_channels, "kernel_size": k,
                "stride": self.stride, "padding": self.padding, "init": self.init}

    def describe(self, s):
        X, K, b, Z, dZ = s["in"], s["K"], s["b"], s["out"], s["dout"]
        return {
            "Z": f"{Z} = {X} ∗ {K} + {b},  {Z}[n,f,i,j] = Σ_c,u,v {X}[n,c,i·s+u,j·s+v]·{K}[f,c,u,v] + {b}[f]",
            "dK": f"{s['dK']}[f,c,u,v] = Σ_n,i,j {dZ}[n,f,i,j]·{X}[n,c,i·s+u,j·s+v]",
            "dK_l2": f"{s['dK']}[f,c,u,v] = Σ_n,i,j {dZ}[n,f,i,j]·{X}[n,c,i·s+u,j·s+v] + (λ/m)·{K}[f,c,u,v]",
            "db": f"{s['db']}[f] = Σ_n,i,j {dZ}[n,f,i,j]",
            "dX": f"{s['din']}[n,c,i·s+u,j·s+v] += Σ_f {dZ}[n,f,i,j]·{K}[f,c,u,v]",
        }

    def forward(self, X: np.ndarray) -> np.ndarray:
        check_image(self, X, self.in_channels, self.kh, self.kw, self.padding)
        p, s, F = self.padding, self.stride, self.out_channels
        Xp = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p))) if p else X
        patches = windows(Xp, self.kh, self.kw, s)                    # (m, C, oh, ow, kh, kw), a view
        m, _, oh, ow = patches.shape[:4]
        cols = patches.transpose(0, 2, 3, 1, 4, 5).reshape(m * oh * ow, -1)  # im2col: one patch a row
        Z = (cols @ self.K.reshape(F, -1).T + self.b).reshape(m, oh, ow, F).transpose(0, 3, 1, 2)
        self.X, self.cols, self.padded_shape = X, cols, Xp.shape  # X only for the trace
        if self.tracer.enabled:
            sym = self.sym
            self.emit("forward", "conv.forward", self.equations["Z"],
                      {sym["in"]: X, sym["K"]: self.K, sym["b"]: self.b}, {sym["out"]: Z},
                      stride=s, padding=p)
        return Z

    def backward(self, dZ: np.ndarray) -> np.ndarray | None:
        cols, K = self.cols, self.K
        F, C, kh, kw = K.shape
        m, _, oh, ow = dZ.shape
        dZ_rows = dZ.transpose(0, 2, 3, 1).reshape(-1, F)            # (m·oh·ow, F), rows match cols
        dK = (dZ_rows.T @ cols).reshape(K.shape)
        if self.l2:
            dK += (self.l2 / m) * K
        self.dK = dK
        tracing = self.tracer.enabled
        sym = self.sym
        if tracing:
            X = self.X
            if self.l2:
                self.emit("backward", "conv.dK", self.equations["dK_l2"],
                          {sym["in"]: X, sym["dout"]: dZ, sym["K"]: K}, {sym["dK"]: dK},
                          stride=self.stride, padding=self.padding, l2=self.l2, m=m)
            else:
                self.emit("backward", "conv.dK", self.equations["dK"], {sym["in"]: X, sym["dout"]: dZ},
                          {sym["dK"]: dK}, stride=self.stride, padding=self.padding)
        self.db = dZ.sum(axis=(0, 2, 3))
        if tracing:
            self.emit("backward", "conv.db", self.equations["db"], {sym["dout"]: dZ}, {sym["db"]: self.db})
        if not self.need_dX:
            return None  # the first layer's input needs no gradient
        dcols = (dZ_rows @ K.reshape(F, -1)).reshape(m, oh, ow, C, kh, kw).transpose(0, 3, 1, 2, 4, 5)
        dXp = scatter_windows(dcols, self.padded_shape, self.stride)  # col2im
        p = self.padding
        dX = dXp[:, :, p:dXp.shape[2] - p, p:dXp.shape[3] - p] if p else dXp
        if tracing:
            self.emit("backward", "conv.dX", self.equations["dX"], {sym["dout"]: dZ, sym["K"]: K},
                      {sym["din"]: dX}, stride=self.stride, padding=p)
        return dX


class _Pool2D(Layer):
    """Shared by the pooling layers: window size k, stride s (k by default), no padding."""

    out_prefix = "S"  # subsampled, as LeNet's S2, S4

    def __init__(self, kernel_size, stride=None):
        self.kh, self.kw = _pair(kernel_size)
        self.stride = int(stride) if stride is not None else self.kh
        if min(self.kh, self.kw, self.stride) < 1:
            raise ValueError(f"{type(self).__name__} needs kernel size and stride ≥ 1, got "
                             f"kernel={kernel_size}, stride={stride}")
        super().__init__()

    def config(self) -> dict:
        return {"kernel_size": self.kh if self.kh == self.kw else [self.kh, self.kw], "stride": self.stride}


class MaxPool2D(_Pool2D):
    """``S[n,c,i,j] = max_{u,v} A[n,c,i·s+u,j·s+v]``;  the gradient goes to each window's argmax.

    Shapes: A (m, C, H, W), S (m, C, oh, ow) with ``oh = (H − k)//s + 1``. The backward op
    reads the mask M (A's shape): how many windows took each element as their max.
    """

    kind = "maxpool"

    def bind(self, in_sym, index, out_sym=None):
        out = super().bind(in_sym, index, out_sym)
        self.sym["mask"] = "M" + out[len(self.out_prefix):]  # S1 → M1
        self.equations = self.describe(self.sym)
        return out

    def describe(self, s):
        M = s.get("mask", "M")
        return {"S": f"{s['out']}[n,c,i,j] = max_u,v {s['in']}[n,c,i·s+u,j·s+v]",
                "dA": f"{s['din']} = {s['dout']} routed to each window's argmax,  "
                      f"{M}[n,c,h,w] = 1 where {s['in']}[n,c,h,w] is its window's max"}

    def forward(self, A: np.ndarray) -> np.ndarray:
        check_image(self, A, None, self.kh, self.kw)
        patches = windows(A, self.kh, self.kw, self.stride)
        m, C, oh, ow = patches.shape[:4]
        flat = patches.reshape(m, C, oh, ow, -1)
        k = flat.argmax(axis=-1)                                   # (m, C, oh, ow): the winner of each window
        S = np.take_along_axis(flat, k[..., None], axis=-1)[..., 0]
        # where each winner sits in A, as a flat index: backward needs only this and A's shape
        H, W = A.shape[2:]
        rows = np.arange(oh)[:, None] * self.stride + k // self.kw
        cols = np.arange(ow)[None, :] * self.stride + k % self.kw
        planes = np.arange(m * C).reshape(m, C, 1, 1)
        self.argmax, self.in_shape = (planes * H + rows) * W + cols, A.shape
        if self.tracer.enabled:
            self.emit("forward", "maxpool.forward", self.equations["S"], {self.sym["in"]: A},
                      {self.sym["out"]: S}, kernel_size=self.kh, stride=self.stride)
        return S

    def backward(self, dS: np.ndarray) -> np.ndarray:
        size = int(np.prod(self.in_shape))
        dA = np.bincount(self.argmax.ravel(), weights=dS.ravel(), minlength=size)
        dA = dA.astype(dS.dtype, copy=False).reshape(self.in_shape)
        if self.tracer.enabled:
            s = self.sym
            M = np.bincount(self.argmax.ravel(), minlength=size).reshape(self.in_shape).astype(dS.dtype)
            self.emit("backward", "maxpool.backward", self.equations["dA"], {s["dout"]: dS, s["mask"]: M},
                      {s["din"]: dA}, kernel_size=self.kh, stride=self.stride)
        return dA


class AvgPool2D(_Pool2D):
    """``S[n,c,i,j] = (1/k²)·Σ_{u,v} A[n,c,i·s+u,j·s+v]``;  each window element gets dS/k².

    Shapes: A (m, C, H, W), S (m, C, oh, ow) with ``oh = (H − k)//s + 1``.
    """

    kind = "avgpool"

    def describe(self, s):
        return {"S": f"{s['out']}[n,c,i,j] = (1/k²)·Σ_u,v {s['in']}[n,c,i·s+u,j·s+v]",
                "dA": f"{s['din']}[n,c,i·s+u,j·s+v] += {s['dout']}[n,c,i,j]/k²"}

    def forward(self, A: np.ndarray) -> np.ndarray:
        check_image(self, A, None, self.kh, self.kw)
        S = windows(A, self.kh, self.kw, self.stride).mean(axis=(4, 5))
        self.in_shape = A.shape
        if self.tracer.enabled:
            self.emit("forward", "avgpool.forward", self.equations["S"], {self.sym["in"]: A},
                      {self.sym["out"]: S}, kernel_size=self.kh, stride=self.stride)
        return S

    def backward(self, dS: np.ndarray) -> np.ndarray:
        share = dS / (self.kh * self.kw)
        spread = np.broadcast_to(share[..., None, None], share.shape + (self.kh, self.kw))
        dA = scatter_windows(spread, self.in_shape, self.stride)
        if self.tracer.enabled:
            s = self.sym
            self.emit("backward", "avgpool.backward", self.equations["dA"], {s["dout"]: dS},
                      {s["din"]: dA}, kernel_size=self.kh, stride=self.stride)
        return dA


class Flatten(Layer):
    """``F[n, c·H·W + h·W + w] = A[n,c,h,w]``: (m, C, H, W) → (m, C·H·W), and back in backward."""

    kind = "flatten"
    out_prefix = "F"

    def describe(self, s):
        return {"F": f"{s['out']} = flatten({s['in']})  (m, C, H, W) → (m, C·H·W)",
                "dA": f"{s['din']} = reshape({s['dout']})  (m, C·H·W) → (m, C, H, W)"}

    def forward(self, A: np.ndarray) -> np.ndarray:
        if A.ndim < 2:
            raise ShapeError(f"{self.name}: expected input of shape (batch, …), got {shape_str(A.shape)}")
        F = A.reshape(A.shape[0], -1)
        self.in_shape = A.shape
        if self.tracer.enabled:
            self.emit("forward", "flatten.forward", self.equations["F"], {self.sym["in"]: A}, {self.sym["out"]: F})
        return F

    def backward(self, dF: np.ndarray) -> np.ndarray:
        dA = dF.reshape(self.in_shape)
        if self.tracer.enabled:
            s = self.sym
            self.emit("backward", "flatten.backward", self.equations["dA"], {s["dout"]: dF}, {s["din"]: dA})
        return dA
