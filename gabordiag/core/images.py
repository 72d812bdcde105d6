"""Image sources: seeded synthetic images and image files, as float64 grayscale."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..config.choices import FILE_SUFFIXES
from ..config.paths import not_a_regular_file
from ..errors import ImageError, LimitError

__all__ = ["gaussian_blur", "grating", "load_image", "make_image", "pink_noise",
           "standardize", "to_grayscale", "white_noise"]

Array = NDArray[np.float64]

MAX_PIXELS = 4096 * 4096
# ITU-R BT.601 luma weights, as PIL's "L" mode and OpenCV's cvtColor use.
_LUMA = np.array([0.299, 0.587, 0.114])


def white_noise(size: int, seed: int) -> Array:
    """Gaussian white noise, ``size x size``."""
    return np.random.default_rng(seed).standard_normal((size, size))


def pink_noise(size: int, seed: int) -> Array:
    """1/f noise: white noise whose amplitude spectrum is scaled by 1/|f|."""
    spectrum = np.fft.rfft2(white_noise(size, seed))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = np.inf  # drop the mean
    return np.fft.irfft2(spectrum / radius, s=(size, size))


def grating(size: int, theta: float, wavelength: float) -> Array:
    """A cosine grating whose wave vector points along ``theta`` (the kernel's x')."""
    c = size // 2
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - c
    xr = x * np.cos(theta) + y * np.sin(theta)
    return np.cos(2 * np.pi * xr / wavelength)


def to_grayscale(array: NDArray[np.generic]) -> Array:
    """2-D float64 from grayscale, RGB or RGBA (alpha dropped, RGB -> BT.601 luma)."""
    data = np.asarray(array)
    _check_layout(data.shape, data.dtype)
    data = data.astype(np.float64)
    if data.ndim == 3 and data.shape[2] in (3, 4):
        data = data[..., :3] @ _LUMA
    elif data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    if not np.all(np.isfinite(data)):
        raise ImageError("image contains NaN or infinite values")
    return data


def load_image(path: Path) -> Array:
    """Read ``.npy``, ``.png`` or ``.jpg`` as float64 grayscale (not standardised)."""
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise ImageError(f"--image: {path}: unsupported type {suffix!r}; "
                         f"allowed: {', '.join(FILE_SUFFIXES)}")
    words = not_a_regular_file(path)
    if words is not None:
        raise ImageError(f"--image: {path} {words}")
    try:
        if suffix == ".npy":
            _check_npy_magic(path)
            header = np.load(path, allow_pickle=False, mmap_mode="r")
            _named(path, _check_layout, header.shape, header.dtype)  # before reading it
            _check_pixels(path, header.shape[:2])
            data = np.array(header)
        else:
            from PIL import Image  # matplotlib depends on Pillow already

            Image.MAX_IMAGE_PIXELS = None  # our own limit below, with a clear message
            with Image.open(path) as opened:
                _check_pixels(path, (opened.height, opened.width))
                img: Image.Image = opened
                if img.mode in ("LA", "La"):
                    img = img.convert("L")
                elif img.mode not in ("1", "L", "I", "I;16", "I;16B", "F", "RGB", "RGBA"):
                    img = img.convert("RGB")  # palette, CMYK, YCbCr: decode colours first
                data = np.asarray(img)
    except (ImageError, LimitError):
        raise
    except Exception as exc:  # any reader failure is a bad file, not a bug of ours
        raise ImageError(f"--image: {path} cannot be read: {exc}") from None
    return _named(path, to_grayscale, data)


_MAGIC = {b"\x89PNG\r\n\x1a\n": ("a PNG image", ".png"),
          b"\xff\xd8\xff": ("a JPEG image", ".jpg"), b"GIF8": ("a GIF image", None),
          b"BM": ("a BMP image", None), b"PK\x03\x04": ("a zip archive (.npz?)", None)}


def _check_npy_magic(path: Path) -> None:
    """A ``.npy`` file starts with numpy's magic string; anything else (a PNG renamed
    ``.npy``) is said to be what it is, not offered to numpy's pickle reader."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\x93NUMPY"):
        return
    what, suffix = next((found for magic, found in _MAGIC.items() if head.startswith(magic)),
                        (None, None))
    if what is None:
        hint = "it is not a .npy file (no numpy header: np.save writes one)"
    else:
        hint = f"it is {what}, not a .npy file" + (
            f"; rename it to {path.stem}{suffix}" if suffix else "")
    raise ImageError(f"--image: {path} cannot be read: {hint}")


def _check_layout(shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """Numbers, 2-D grayscale or RGB/RGBA (or one channel) along the last axis."""
    if dtype.kind not in "uifb":
        raise ImageError(f"image data must be numeric, got dtype {dtype}")
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))):
        raise ImageError(f"image must be 2-D grayscale, RGB or RGBA, got shape {shape}")
    if 0 in shape[:2]:
        raise ImageError(f"image has no pixels (shape {shape})")


_T = TypeVar("_T")


def _named(source: object, check: Callable[..., _T], *args: Any) -> _T:
    """``check(*args)``, with the image named in its error (``--image: FILE: ...``)."""
    try:
        return check(*args)
    except ImageError as exc:
        raise ImageError(f"--image: {source}: {exc}") from None


def _check_pixels(path: Path, shape: tuple[int, ...]) -> None:
    """Refuse, before decoding, an image larger than the engines handle sensibly."""
    pixels = int(np.prod(shape)) if shape else 0
    if pixels > MAX_PIXELS:
        side = int(MAX_PIXELS**0.5)
        raise LimitError(f"--image: {path} has {shape[0]}x{shape[1]} pixels, more than the "
                         f"{side}x{side} this tool handles; crop or downsample it first")


def gaussian_blur(image: Array, sigma: float) -> Array:
    """The image convolved with a Gaussian of width ``sigma`` pixels (periodic boundary,
    by FFT); ``sigma = 0`` or an infinite one (no carrier) returns it unchanged."""
    if not sigma > 0 or not np.isfinite(sigma):
        return image
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.rfftfreq(image.shape[1])[None, :]
    transfer = np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    return np.fft.irfft2(np.fft.rfft2(image) * transfer, s=image.shape)


def standardize(image: Array) -> Array:
    """Zero mean, unit standard deviation; a constant image is an error."""
    if not np.all(np.isfinite(image)):
        raise ImageError("image contains NaN or infinite values")
    peak = float(np.abs(image).max()) if image.size else 0.0
    scaled = image / peak if peak > 0 else image  # so that the variance cannot underflow
    std = float(scaled.std())
    if not std > 1e-12:
        raise ImageError("the image is constant: it carries no orientation information "
                         "and cannot be standardised")
    return (scaled - scaled.mean()) / std


def make_image(source: str, *, size: int, seed: int, theta: float = 0.0,
               wavelength: float = 10.0, standardized: bool = True) -> Array:
    """The experiment's image.

    Parameters
    ----------
    source : str
        ``pink`` (1/f noise), ``white``, ``grating`` (oriented along ``theta`` with
        ``wavelength``), or a path to a ``.npy``, ``.png`` or ``.jpg`` file.
    size, seed : int
        Side length and random seed of synthetic images (ignored for files).
    standardized : bool
        Scale to zero mean and unit standard deviation.

    Examples
    --------
    >>> img = make_image("pink", size=64, seed=0)
    >>> img.shape, round(float(img.std()), 6)
    ((64, 64), 1.0)
    """
    if source == "pink":
        image = pink_noise(size, seed)
    elif source == "white":
        image = white_noise(size, seed)
    elif source == "grating":
        image = grating(size, theta, wavelength)
    else:
        image = load_image(Path(source))
    return _named(source, standardize, image) if standardized else image
