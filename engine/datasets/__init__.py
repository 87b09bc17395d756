"""nndb's datasets, one module each: ``toy`` (made on the spot), ``mnist`` (IDX files), ``tabular`` (CSV, splits).

``toy``: 2-D points (xor, moons, circles, spiral, blobs), bar and seven-segment images, bit
sequences, each seeded. ``mnist``: MNIST-format IDX files found by ``--data``, an environment
variable or the cache folder, and downloaded into it. ``tabular``: the user's own CSV, and
splits and scaling that keep test data out of the training statistics.

This package re-exports every public name of the three, so ``from engine.datasets import read_csv``
and ``datasets.moons(...)`` read as they always did.
"""
from __future__ import annotations

from . import mnist, tabular, toy
from .mnist import *  # noqa: F401,F403
from .tabular import *  # noqa: F401,F403
from .toy import *  # noqa: F401,F403

__all__ = [*toy.__all__, *mnist.__all__, *tabular.__all__]
