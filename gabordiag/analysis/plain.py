"""Arrays as the plain Python values that results' ``to_dict`` methods return."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["floats"]


def floats(values: ArrayLike) -> list[float | None]:
    """A list of Python floats, ``None`` where a value is not finite.

    Examples
    --------
    >>> floats([1.5, float("nan"), 2])
    [1.5, None, 2.0]
    """
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    out: list[float | None] = []
    out.extend(array.tolist())
    if not np.isfinite(array).all():
        for i in np.flatnonzero(~np.isfinite(array)).tolist():
            out[i] = None
    return out
