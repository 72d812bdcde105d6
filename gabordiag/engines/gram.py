"""The patch Gram matrix of an image, built exactly without materialising the patches.

``G = A^T A`` with ``A`` the matrix of the padded image's valid ``ksize x ksize``
patches: the Gram matrix of the quadratic-form engine (:mod:`gabordiag.engines.quadratic`).

:func:`gram_matrix` builds ``G`` exactly without materialising the patches: the
image's autocorrelation (one FFT) minus the border strips that a shifted window leaves
out, with the corners added back. :func:`gram_matrix_patches` is the plain
``patches^T patches`` reference, built in chunks.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

__all__ = ["gram_matrix", "gram_matrix_patches"]

Array = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

_BLOCK_BYTES = 64 * 2**20  # working memory for one block of patches or kernels


def _check_image(padded: ArrayLike, ksize: int) -> Array:
    image = np.asarray(padded, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"`padded` must be a 2-D image, got shape {image.shape}")
    if ksize < 1 or ksize % 2 == 0:
        raise ValueError(f"`ksize` must be odd and >= 1, got {ksize}")
    if min(image.shape) < ksize:
        raise ValueError(f"`padded` ({image.shape[0]}x{image.shape[1]}) is smaller than "
                         f"the kernel ({ksize})")
    return image


def gram_matrix_patches(padded: ArrayLike, ksize: int, *,
                        block_bytes: int = _BLOCK_BYTES) -> Array:
    """Gram matrix of the valid patches, summed block by block (the reference).

    Parameters
    ----------
    padded : array_like
        2-D image whose valid correlation is the layer's output.
    ksize : int
        Odd kernel size.
    block_bytes : int
        Memory for one block of flattened patches.

    Returns
    -------
    numpy.ndarray
        ``G = A^T A``, shape ``(ksize^2, ksize^2)``, indexed by the flattened
        ``(row, col)`` offsets of the patch.

    Examples
    --------
    >>> g = gram_matrix_patches(np.arange(12.0).reshape(3, 4), 3)
    >>> g.shape, float(g[0, 0])
    ((9, 9), 1.0)
    """
    image = _check_image(padded, ksize)
    n = ksize * ksize
    windows = sliding_window_view(image, (ksize, ksize))
    h, w = windows.shape[:2]
    rows = max(1, block_bytes // (8 * w * n))
    gram = np.zeros((n, n))
    for start in range(0, h, rows):
        block = windows[start:start + rows].reshape(-1, n)
        gram += block.T @ block
    return gram


def gram_matrix(padded: ArrayLike, ksize: int) -> Array:
    """Exact Gram matrix of the valid patches from the image's autocorrelation.

    ``G[(u1, v1), (u2, v2)] = sum_{i < h, j < w} x[i + u1, j + v1] x[i + u2, j + v2]``
    is the sum over a window of the products at lag ``(u2 - u1, v2 - v1)``. The
    autocorrelation at that lag (one FFT for all lags) sums the same products over
    every position where both factors lie in the image; the window leaves out fewer
    than ``ksize`` rows at the top and bottom and columns at the left and right.
    Those strips are subtracted (row-pair correlations by FFT, prefix-summed) and the
    four corners, subtracted twice, added back (exact products, prefix-summed).
    Cost ``O(N^2 log N + ksize^3 N log N + ksize^4)`` for an ``N x N`` image.

    Parameters
    ----------
    padded : array_like
        2-D image whose valid correlation is the layer's output.
    ksize : int
        Odd kernel size.

    Returns
    -------
    numpy.ndarray
        Symmetric ``(ksize^2, ksize^2)`` matrix, equal to
        :func:`gram_matrix_patches` up to rounding.

    Examples
    --------
    >>> image = np.random.default_rng(0).standard_normal((20, 30))
    >>> bool(np.allclose(gram_matrix(image, 5), gram_matrix_patches(image, 5)))
    True
    """
    image = _check_image(padded, ksize)
    m = ksize - 1
    full = _autocorrelation(image, m)
    # [du + m, dv + m, t]: the excluded top (bottom) rows, for the row lags du >= 0 only
    top, bottom = _row_strips(image, m, np.arange(0, m + 1))
    # [dv + m, du + m, t]: the excluded left (right) columns, every lag
    left, right = _row_strips(image.T, m, np.arange(-m, m + 1))

    # G is symmetric: the blocks with u2 >= u1 (row lags du >= 0) are built, the
    # diagonal blocks (du = 0) at half weight, and G = upper + upper^T. One column lag
    # dv = v2 - v1 at a time, for every row lag du >= 0, window row u1 and column v1;
    # the four corner tables of that lag are made just before they are read.
    g4 = np.zeros((ksize, ksize, ksize, ksize))  # [u1, v1, u2, v2]
    s0, s1, s2, s3 = g4.strides
    rows_up = np.arange(m + 1)
    du = rows_up[:, None]  # [du, u1]
    far_u = np.clip(m - du - np.arange(ksize)[None, :], 0, m)  # beyond u1 < k - du: unused
    corners = _CornerTables(image, m)
    for dv in range(-m, m + 1):
        w = m - abs(dv)  # the window's excluded columns at this lag: l = 0 .. w
        c = dv + m
        tl, tr, bl, br = corners.at(dv)  # [du, t, l]
        # [du, u1, i] for v1 = max(0, -dv) + i: near_v = i, far_v = w - i, near_u = u1,
        # far_u = m - du - u1; the same values as the whole-table formula, added in
        # the same order
        block = (full[m:, c][:, None, None]
                 - top[:, c, :ksize][:, :, None]
                 - bottom[du, c, far_u][:, :, None]
                 - left[c, m:, :w + 1][:, None, :]
                 - right[c, m:, w::-1][:, None, :]
                 + tl[:, :ksize, :w + 1]
                 + tr[:, :ksize, w::-1]
                 + bl[du, far_u, :w + 1]
                 + br[du, far_u, w::-1])
        block[0] = 0.5 * block[0]
        start = max(0, -dv)
        for lag in range(m + 1):  # g4[u1, start + i, u1 + lag, start + i + dv]
            offset = start * s1 + lag * s2 + (start + dv) * s3
            view = np.ndarray((ksize - lag, w + 1), dtype=np.float64, buffer=g4,
                              offset=offset, strides=(s0 + s2, s1 + s3))
            view[...] = block[lag, :ksize - lag]
    return _symmetrize(g4.reshape(ksize * ksize, ksize * ksize))


def _symmetrize(upper: Array, block: int = 1024) -> Array:
    """``upper + upper^T`` in place, block by block (no second matrix of that size)."""
    n = len(upper)
    for first in range(0, n, block):
        rows = slice(first, first + block)
        for second in range(first, n, block):
            cols = slice(second, second + block)
            total = upper[rows, cols] + upper[cols, rows].T
            upper[rows, cols] = total
            upper[cols, rows] = total.T
    return upper


class _CornerTables:
    """The prefix-summed corner products of one column lag at a time, every row lag.

    Each corner is the top-left corner of the image flipped so that corner comes
    first, at the correspondingly negated lags: :meth:`at` returns the tables of the
    top-left, top-right, bottom-left and bottom-right corners for the column lag
    ``dv``, each ``[du, t, l]``: ``x[i, c] x[i + du, c + dv]`` summed over the first
    ``t`` excluded rows and ``l`` excluded columns of that corner (``l <= m - |dv|``).
    Rows or columns past a small image are zeros, which drops the products that do
    not exist.
    """

    def __init__(self, image: Array, m: int) -> None:
        self.m = m
        self.flips = []
        for rows in (1, -1):
            for cols in (1, -1):
                block = np.zeros((2 * m, 2 * m))
                corner = image[::rows, ::cols]
                h, w = min(2 * m, corner.shape[0]), min(2 * m, corner.shape[1])
                block[:h, :w] = corner[:h, :w]
                lags = rows * np.arange(m + 1)
                windows = sliding_window_view(block, (m, m))  # [a, b] = block[a:a+m, b:b+m]
                self.flips.append((windows, cols, _rows(np.maximum(0, -lags)),
                                   _rows(np.maximum(0, lags))))
        # [t, l, corner, du]: the lags innermost, so that the prefix sums over rows and
        # columns run over contiguous vectors
        self.tables = np.zeros((m + 1, m + 1, 4, m + 1))

    def at(self, dv: int) -> list[Array]:
        """The four tables ``[du, t, l]`` for the column lag ``dv`` (views; entries with
        ``l > m - |dv|`` unset), corners in the order top-left, top-right, bottom-left,
        bottom-right."""
        m = self.m
        width = m - abs(dv)
        tables = self.tables
        if width:
            for k, (windows, cols, rows_first, rows_second) in enumerate(self.flips):
                lag = cols * dv  # the flipped corner's own column lag
                np.multiply(windows[rows_first, max(0, -lag), :, :width].transpose(1, 2, 0),
                            windows[rows_second, max(0, lag), :, :width].transpose(1, 2, 0),
                            out=tables[1:, 1:width + 1, k, :])
            for t in range(2, m + 1):  # prefix sums along rows, then columns
                tables[t, 1:width + 1] += tables[t - 1, 1:width + 1]
            for col in range(2, width + 1):
                tables[:, col] += tables[:, col - 1]
        return [tables[:, :, k, :].transpose(2, 0, 1) for k in range(4)]


def _fast_len(n: int) -> int:
    """The smallest 2-3-5-smooth integer >= n (a fast FFT length)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _autocorrelation(image: Array, m: int) -> Array:
    """``R[du + m, dv + m] = sum x[i, j] x[i + du, j + dv]`` over the overlap, |lags| <= m."""
    shape = (_fast_len(image.shape[0] + m), _fast_len(image.shape[1] + m))
    spectrum = np.fft.rfft2(image, s=shape)
    corr = np.fft.irfft2(spectrum.real**2 + spectrum.imag**2, s=shape)
    lags = np.arange(-m, m + 1)
    return corr[np.ix_(lags % shape[0], lags % shape[1])]


def _excluded_rows(length: int, m: int, side: str, lags: IntArray
                   ) -> tuple[IntArray, BoolArray]:
    """Rows ``i`` of the strips a shifted window leaves out, and a validity mask.

    For a lag ``d`` the products ``x[i] x[i + d]`` exist for ``i`` in
    ``[max(0, -d), min(L, L - d))``. A window leaves out a prefix (``top``) or a
    suffix (``bottom``) of that range of fewer than ``m + 1`` rows; entry
    ``[j, s]`` is the ``s``-th row from that end for the lag ``lags[j]``. Rows past the
    other end of the range (short images) are clipped and masked out.
    """
    d = lags[:, None]
    s = np.arange(m)[None, :]
    if side == "top":
        rows = np.maximum(0, -d) + s
    else:
        rows = np.minimum(length, length - d) - 1 - s
    valid = (rows >= np.maximum(0, -d)) & (rows < np.minimum(length, length - d))
    return np.clip(rows, 0, length - 1), valid


def _prefix(values: Array, axes: tuple[int, ...]) -> Array:
    """Prefix sums along ``axes`` with a leading zero: ``out[..., t] = sum_{s < t}``."""
    shape = list(values.shape)
    for axis in axes:
        shape[axis] += 1
    out = np.zeros(shape)
    out[tuple(slice(1, None) if axis in axes else slice(None)
              for axis in range(values.ndim))] = values
    for axis in axes:
        np.cumsum(out, axis=axis, out=out)
    return out


def _row_strips(image: Array, m: int, row_lags: IntArray) -> tuple[Array, Array]:
    """Prefix sums over the excluded top and bottom rows of full-width products.

    Returns ``top`` and ``bottom``, each ``(len(row_lags), 2m + 1, m + 1)``: entry
    ``[j, dv + m, t]`` is the sum over the first (last) ``t`` rows of the row range of
    the lag ``du = row_lags[j]`` of ``sum_c x[i, c] x[i + du, c + dv]`` (all columns
    where both exist), each row pair correlated by FFT for all ``dv`` at once. Only the
    rows within ``2m`` of the top and the bottom take part.
    """
    height, width = image.shape
    n_fft = _fast_len(width + m)
    if height > 4 * m:  # the rows of the strips and their partners, and no others
        edge = np.concatenate([np.arange(2 * m), np.arange(height - 2 * m, height)])
    else:
        edge = np.arange(height)
    where = np.zeros(height, dtype=np.intp)
    where[edge] = np.arange(len(edge))
    spectra = np.fft.rfft(image[edge], n=n_fft, axis=1)
    columns = np.arange(-m, m + 1) % n_fft
    # row lags in groups whose row-pair spectra fit in _BLOCK_BYTES
    group = max(1, _BLOCK_BYTES // max(1, 32 * m * spectra.shape[1]))
    out = []
    for side in ("top", "bottom"):
        rows, valid = _excluded_rows(height, m, side, row_lags)
        partners = np.clip(rows + row_lags[:, None], 0, height - 1)
        table = np.empty((len(row_lags), 2 * m + 1, m + 1))
        for first in range(0, len(row_lags), group):
            part = slice(first, first + group)
            cross = np.fft.irfft(np.conj(spectra[where[rows[part]]])
                                 * spectra[where[partners[part]]], n=n_fft, axis=-1)
            sums = cross[:, :, columns] * valid[part][:, :, None]  # [j, s, dv]
            table[part] = _prefix(sums.transpose(0, 2, 1), axes=(2,))
        out.append(table)
    return out[0], out[1]


def _rows(index: IntArray) -> slice | IntArray:
    """``index`` as a slice (a view instead of a copy): consecutive, or constant (one
    row, broadcast)."""
    if len(index) == 0:
        return index
    first = int(index[0])
    if np.all(index == first):
        return slice(first, first + 1)
    if np.array_equal(index, np.arange(first, first + len(index))):
        return slice(first, first + len(index))
    return index
