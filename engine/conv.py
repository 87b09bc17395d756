"""Convolution and pooling layers on (batch, channels, height, width) images: Conv2D, MaxPool2D, AvgPool2D, Flatten.

Conv2D computes its cross-correlation as one matrix product on the im2col matrix (every
receptive-field patch laid out as a row), the way the equations read::

    Z[n,f,i,j] = Σ_{c,u,v} X[n,c,i·s+u,j·s+v]·K[f,c,u,v] + b[f]

Filter f owns ``K[f]`` (in_channels × kh × kw) and ``b[f]``. Backward scatters the patch
gradients back onto the image one kernel offset (u, v) at a time (col2im), each a product of
K[:, :, u, v]ᵀ with the whole batch's dZ.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .errors import ShapeError, shape_str
from .init import get_initializer
from .trace import Op
from .layers import Layer


def _pair(k) -> tuple[int, int]:
    if isinstance(k, int):
        return k, k
    kh, kw = (k, k) if np.ndim(k) == 0 else tuple(k)
    return int(kh), int(kw)


def _out_size(size: int, k: int, stride: int) -> int:
    return (size - k) // stride + 1


def offset_slices(u: int, v: int, oh: int, ow: int, stride) -> tuple[slice, slice]:
    """The rows and columns i·sh+u, j·sw+v (i < oh, j < ow) that kernel offset (u, v) touches, as
    two strided slices. ``stride`` is one int or (sh, sw)."""
    sh, sw = _pair(stride)
    return slice(u, u + sh * (oh - 1) + 1, sh), slice(v, v + sw * (ow - 1) + 1, sw)


def window_slice(u: int, v: int, oh: int, ow: int, stride) -> tuple:
    """Index of the elements X[:, :, i·sh+u, j·sw+v] for all output positions (i, j): a strided view."""
    return (slice(None), slice(None)) + offset_slices(u, v, oh, ow, stride)


def windows(X: np.ndarray, kh: int, kw: int, stride) -> np.ndarray:
    """Every kh×kw window of the images X (m, C, H, W), as a read-only view (m, C, oh, ow, kh, kw)
    that copies nothing: ``windows(X)[n, c, i, j, u, v] = X[n, c, i·sh+u, j·sw+v]`` (window (i, j)
    starts sh·i rows and sw·j columns in; its cell (u, v) is u rows and v columns further)."""
    sh, sw = _pair(stride)
    m, C, H, W = X.shape
    t_n, t_c, t_h, t_w = X.strides  # bytes from one element to the next along each axis
    shape = (m, C, _out_size(H, kh, sh), _out_size(W, kw, sw), kh, kw)
    return as_strided(X, shape, (t_n, t_c, sh * t_h, sw * t_w, t_h, t_w), writeable=False)


def im2col(X: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """``cols[n, (c,u,v), (i,j)] = X[n,c,i·s+u,j·s+v]``: every receptive field as a column, (m, C·kh·kw, oh·ow).

    Two copies of strided views, each moving long contiguous stretches: first the kw column
    shifts of X, then the kh row shifts of those, in which (for stride 1) the block of row
    (c, u, v) of an example's columns is one contiguous oh·ow block.
    """
    m, C, H, W = X.shape
    s = stride
    oh, ow = _out_size(H, kh, s), _out_size(W, kw, s)
    t_n, t_c, t_h, t_w = X.strides  # bytes from one element to the next along each axis
    # shifted[v,n,c,h,j] = X[n,c,h,j·s+v]
    shifted = as_strided(X, (kw, m, C, H, ow), (t_w, t_n, t_c, t_h, s * t_w), writeable=False).copy()
    # cols[n,c,u,v,i,j] = shifted[v,n,c,i·s+u,j]
    t_v, t_n, t_c, t_h, t_j = shifted.strides
    patches = as_strided(shifted, (m, C, kh, kw, oh, ow), (t_n, t_c, t_h, t_v, s * t_h, t_j), writeable=False)
    return patches.reshape(m, C * kh * kw, oh * ow)


def col2im(dcols: np.ndarray, shape: tuple, stride) -> np.ndarray:
    """The adjoint of im2col: ``dX[a,i·s+u,j·s+v,…] += dcols[u,v,a,i,j,…]``, summed where windows overlap.

    dcols is (kh, kw, A, oh, ow, …) and dX has ``shape`` (A, H, W, …): one vectorized add per
    kernel offset (u, v), in row-major order. Axes after W, if any, make each add run over
    contiguous stretches of ow·(their size) numbers rather than of ow.
    """
    kh, kw, _, oh, ow = dcols.shape[:5]
    dX = np.zeros(shape, dtype=dcols.dtype)
    for u in range(kh):
        for v in range(kw):
            rows, cols = offset_slices(u, v, oh, ow, stride)
            dX[:, rows, cols] += dcols[u, v]
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
    decayed = ("K",)
    unit_axes = {"K": 0, "b": 0}
    unit_word = "filter"
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

    @classmethod
    def parameter_shapes(cls, in_channels, out_channels, kernel_size, stride=1, padding=0, init="he", seed=None):
        kh, kw = _pair(kernel_size)
        return {"K": (int(out_channels), int(in_channels), kh, kw), "b": (int(out_channels),)}

    def config(self) -> dict:
        k = self.kh if self.kh == self.kw else [self.kh, self.kw]
        return {"in_channels": self.in_channels, "out_channels": self.out_channels, "kernel_size": k,
                "stride": self.stride, "padding": self.padding, "init": self.init}

    def description(self) -> str:
        extra = (f" stride {self.stride}" if self.stride != 1 else "") + (f" pad {self.padding}" if self.padding else "")
        return f"{self.name} {self.in_channels}→{self.out_channels} {self.kh}×{self.kw}{extra}"

    def output_shape(self, input_shape):
        if input_shape is None:
            return None
        _, H, W = input_shape
        p, s = self.padding, self.stride
        return (self.out_channels, _out_size(H + 2 * p, self.kh, s), _out_size(W + 2 * p, self.kw, s))

    def output_unit_axis(self, ndim: int) -> int:
        return 1 if ndim == 4 else ndim - 1  # Z[n, f, i, j]: the map of filter f

    def axis_names(self, symbol: str):
        return ("filter", "channel") if symbol in (self.sym["K"], self.sym["dK"]) else None

    def op_cost(self, op: Op) -> dict[str, int]:
        """Forward, dK and dX each cost 2·m·F·oh·ow·C·kh·kw FLOPs (every output element is a dot
        product of C·kh·kw terms); db sums m·F·oh·ow numbers; L2 adds 2·F·C·kh·kw to dK."""
        cost = super().op_cost(op)
        Z = op.role("out" if op.kind == "conv.forward" else "dout")
        product = 2 * Z.size * self.in_channels * self.kh * self.kw
        l2 = 2 * self.K.size if "l2" in op.attrs else 0
        cost["flops"] = {"conv.db": Z.size, "conv.dK": product + l2}.get(op.kind, product)
        return cost

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
        m, _, H, W = Xp.shape
        oh, ow = _out_size(H, self.kh, s), _out_size(W, self.kw, s)
        self.cols = None  # let the last batch's columns go first: their memory is reused, not faulted in anew
        cols = im2col(Xp, self.kh, self.kw, s)                        # (m, C·kh·kw, oh·ow)
        Z = (self.K.reshape(F, -1) @ cols).reshape(m, F, oh, ow)      # Σ_c,u,v K[f,c,u,v]·X[n,c,i·s+u,j·s+v]
        Z += self.b[:, None, None]
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
        dZ_cols = dZ.reshape(m, F, oh * ow)
        # dK[f,(c,u,v)] = Σ_n Σ_i,j dZ[n,f,(i,j)]·cols[n,(c,u,v),(i,j)]: one product per example, summed
        # over the batch; each computed as its transpose cols[n]·dZ[n]ᵀ, the order BLAS runs fastest
        dK = (cols @ dZ_cols.transpose(0, 2, 1)).sum(axis=0).T.reshape(K.shape)
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
        # col2im without the columns: for each kernel offset (u, v), one product over the whole batch,
        # K[:,:,u,v]ᵀ·dZ = Σ_f K[f,c,u,v]·dZ[n,f,i,j], added onto dX[n,c,i·s+u,j·s+v]. dX is laid out
        # (C, H, W, m), batch innermost, so that each add runs over contiguous stretches of ow·m numbers.
        K_uv = np.ascontiguousarray(K.transpose(2, 3, 1, 0))        # K_uv[u,v] = K[:,:,u,v]ᵀ, (C, F)
        # dZ with the batch innermost, in two transposing copies that each read with short strides (one
        # copy would read with a stride of F·oh·ow numbers, which caches handle badly)
        dZ_f = dZ_cols.transpose(1, 0, 2).copy()                     # dZ[f, n, (i,j)]
        dZ_rows = dZ_f.transpose(0, 2, 1).reshape(F, oh * ow * m)    # dZ[f, (i,j,n)]
        H, W = self.padded_shape[2:]
        dXp = np.zeros((C, H, W, m), dtype=dZ.dtype)
        for u in range(kh):
            for v in range(kw):
                rows, columns = offset_slices(u, v, oh, ow, self.stride)
                dXp[:, rows, columns] += (K_uv[u, v] @ dZ_rows).reshape(C, oh, ow, m)
        p = self.padding
        dX = np.ascontiguousarray(dXp.transpose(3, 0, 1, 2)[:, :, p:H - p, p:W - p])  # (m, C, H, W), unpadded
        if tracing:
            self.emit("backward", "conv.dX", self.equations["dX"], {sym["dout"]: dZ, sym["K"]: K},
                      {sym["din"]: dX}, stride=self.stride, padding=p)
        return dX


class _Pool2D(Layer):
    """Shared by the pooling layers: window kh×kw, stride (sh, sw) (the window's size per axis by
    default, as PyTorch's), no padding. A kernel size or stride is one int (square) or a pair."""

    out_prefix = "S"  # subsampled, as LeNet's S2, S4

    def __init__(self, kernel_size, stride=None):
        self.kh, self.kw = _pair(kernel_size)
        self.sh, self.sw = _pair(stride) if stride is not None else (self.kh, self.kw)
        self.stride = self.sh if self.sh == self.sw else (self.sh, self.sw)  # as config and the ops say it
        if min(self.kh, self.kw, self.sh, self.sw) < 1:
            raise ValueError(f"{type(self).__name__} needs kernel size and stride ≥ 1, got "
                             f"kernel={kernel_size}, stride={stride}")
        super().__init__()

    passes_units = True  # channel c of the pooled map is channel c of its input

    def config(self) -> dict:
        return {"kernel_size": self.kh if self.kh == self.kw else [self.kh, self.kw],
                "stride": self.sh if self.sh == self.sw else [self.sh, self.sw]}

    def kernel_attr(self):
        """The window size as its ops report it: k for a square window, (kh, kw) otherwise."""
        return self.kh if self.kh == self.kw else (self.kh, self.kw)

    def description(self) -> str:
        return f"{self.name} {self.kh}×{self.kw}"

    def output_shape(self, input_shape):
        if input_shape is None:
            return None
        C, H, W = input_shape
        return (C, _out_size(H, self.kh, self.sh), _out_size(W, self.kw, self.sw))

    # FLOPs per pooled element S[n,c,i,j] by phase, as (a, b): a·kh·kw + b
    window_flops = {"forward": (1, -1), "backward": (1, 0)}

    def op_cost(self, op: Op) -> dict[str, int]:
        """Per pooled element, ``a·kh·kw + b`` FLOPs with (a, b) = ``window_flops[phase]``: maxpool
        compares kh·kw − 1 times forward and kh·kw times back (finding each window's winner);
        avgpool adds kh·kw − 1 times and divides forward, divides and adds kh·kw times back."""
        cost = super().op_cost(op)
        a, b = self.window_flops[op.phase]
        cost["flops"] = (a * self.kh * self.kw + b) * op.role("out" if op.phase == "forward" else "dout").size
        return cost


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
        return {"S": f"{s['out']} = maxpool({s['in']}),  {s['out']}[n,c,i,j] = max_u,v {s['in']}[n,c,i·s+u,j·s+v]",
                "dA": f"{s['din']} = {s['dout']} routed to each window's argmax,  "
                      f"{M}[n,c,h,w] = 1 where {s['in']}[n,c,h,w] is its window's max"}

    def kink_state(self):
        """Which cell (u·kw + v) won each window: a tie broken the other way by ±ε is a kink."""
        winner = np.full(self.S.shape, -1)
        for q, cell in enumerate(self.cells):
            winner[(cell == self.S) & (winner < 0)] = q
        return winner

    def forward(self, A: np.ndarray) -> np.ndarray:
        check_image(self, A, None, self.kh, self.kw)
        m, C, H, W = A.shape
        oh, ow = _out_size(H, self.kh, self.sh), _out_size(W, self.kw, self.sw)
        # cells[u·kw + v][n,c,i,j] = A[n,c,i·s+u,j·s+v]: the windows of A, one copy, stacked by cell
        cells = windows(A, self.kh, self.kw, self.stride).transpose(4, 5, 0, 1, 2, 3)
        cells = cells.reshape(self.kh * self.kw, m, C, oh, ow)
        S = cells.max(axis=0)
        self.cells, self.S, self.in_shape = cells, S, A.shape  # backward finds each window's winner from these
        if self.tracer.enabled:
            self.emit("forward", "maxpool.forward", self.equations["S"], {self.sym["in"]: A},
                      {self.sym["out"]: S}, kernel_size=self.kernel_attr(), stride=self.stride)
        return S

    def backward(self, dS: np.ndarray) -> np.ndarray:
        """``dA[n,c,i·s+u,j·s+v] += dS[n,c,i,j]`` where (u, v) won window (i, j); 0 elsewhere.

        The winner is the window's first element equal to its max, in row-major order (as
        argmax and PyTorch pick it): a window of equal values, say a dead ReLU's zeros, sends
        its gradient to one element, not to all.
        """
        S = self.S
        oh, ow = S.shape[2:]
        dA = np.zeros(self.in_shape, dtype=dS.dtype)
        open_ = np.ones(S.shape, dtype=bool)  # windows whose winner is not found yet
        won = np.empty(S.shape, dtype=bool)
        overlapping = self.sh < self.kh or self.sw < self.kw
        tracing = self.tracer.enabled
        M = np.zeros(self.in_shape, dtype=dS.dtype) if tracing else None
        for q, cell in enumerate(self.cells):
            window = window_slice(*divmod(q, self.kw), oh, ow, self.stride)
            np.equal(cell, S, out=won)
            won &= open_
            open_ ^= won
            if overlapping:
                dA[window] += dS * won
            else:  # each element of A lies in one window: write, no need to add
                np.multiply(dS, won, out=dA[window])
            if tracing:
                M[window] += won
        if tracing:
            s = self.sym
            self.emit("backward", "maxpool.backward", self.equations["dA"], {s["dout"]: dS, s["mask"]: M},
                      {s["din"]: dA}, kernel_size=self.kernel_attr(), stride=self.stride)
        return dA


class AvgPool2D(_Pool2D):
    """``S[n,c,i,j] = (1/k²)·Σ_{u,v} A[n,c,i·s+u,j·s+v]``;  each window element gets dS/k².

    Shapes: A (m, C, H, W), S (m, C, oh, ow) with ``oh = (H − k)//s + 1``.
    """

    kind = "avgpool"
    window_flops = {"forward": (1, 0), "backward": (1, 1)}

    def describe(self, s):
        k2 = "k²" if self.kh == self.kw else "(kh·kw)"
        return {"S": f"{s['out']} = avgpool({s['in']}),  {s['out']}[n,c,i,j] = (1/{k2})·Σ_u,v {s['in']}[n,c,i·s+u,j·s+v]",
                "dA": f"{s['din']}[n,c,i·s+u,j·s+v] += {s['dout']}[n,c,i,j]/{k2}"}

    def forward(self, A: np.ndarray) -> np.ndarray:
        check_image(self, A, None, self.kh, self.kw)
        m, C, H, W = A.shape
        oh, ow = _out_size(H, self.kh, self.sh), _out_size(W, self.kw, self.sw)
        S = sum(A[window_slice(u, v, oh, ow, self.stride)] for u in range(self.kh) for v in range(self.kw))
        S = S / (self.kh * self.kw)
        self.in_shape = A.shape
        if self.tracer.enabled:
            self.emit("forward", "avgpool.forward", self.equations["S"], {self.sym["in"]: A},
                      {self.sym["out"]: S}, kernel_size=self.kernel_attr(), stride=self.stride)
        return S

    def backward(self, dS: np.ndarray) -> np.ndarray:
        share = dS / (self.kh * self.kw)
        m, C, oh, ow = share.shape
        spread = np.broadcast_to(share.reshape(m * C, oh, ow), (self.kh, self.kw, m * C, oh, ow))  # dcols[u,v] = dS/k²
        dA = col2im(spread, (m * C,) + self.in_shape[2:], self.stride).reshape(self.in_shape)
        if self.tracer.enabled:
            s = self.sym
            self.emit("backward", "avgpool.backward", self.equations["dA"], {s["dout"]: dS},
                      {s["din"]: dA}, kernel_size=self.kernel_attr(), stride=self.stride)
        return dA


class Flatten(Layer):
    """``F[n, c·H·W + h·W + w] = A[n,c,h,w]``: (m, C, H, W) → (m, C·H·W), and back in backward."""

    kind = "flatten"
    out_prefix = "F"

    def output_shape(self, input_shape):
        return None if input_shape is None else (int(np.prod(input_shape)),)

    def op_cost(self, op: Op) -> dict[str, int]:
        """A reshape is a view: nothing computed, nothing moved."""
        return {"flops": 0, "bytes_read": 0, "bytes_written": 0}

    def describe(self, s):
        return {"F": f"{s['out']} = flatten({s['in']}),  (m, C, H, W) → (m, C·H·W)",
                "dA": f"{s['din']} = reshape({s['dout']}),  (m, C·H·W) → (m, C, H, W)"}

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
