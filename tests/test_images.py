"""Image sources: seeded noise, gratings, file loading, grayscale conversion, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabordiag.core.images import (
    grating,
    load_image,
    make_image,
    pink_noise,
    standardize,
    to_grayscale,
    white_noise,
)
from gabordiag.errors import GabordiagError, ImageError

BT601 = np.array([0.299, 0.587, 0.114])


@pytest.fixture
def pil_image():
    return pytest.importorskip("PIL.Image")


# -- synthetic noise ----------------------------------------------------------------------

@pytest.mark.parametrize("source", ["pink", "white"])
def test_noise_deterministic_per_seed(source):
    a = make_image(source, size=48, seed=3)
    b = make_image(source, size=48, seed=3)
    np.testing.assert_array_equal(a, b)
    c = make_image(source, size=48, seed=4)
    assert float(np.abs(a - c).max()) > 0.5


@pytest.mark.parametrize("generator", [pink_noise, white_noise])
def test_raw_noise_deterministic_per_seed(generator):
    np.testing.assert_array_equal(generator(32, 11), generator(32, 11))
    assert not np.allclose(generator(32, 11), generator(32, 12))
    assert generator(32, 11).shape == (32, 32)
    assert generator(32, 11).dtype == np.float64


@pytest.mark.parametrize("source", ["pink", "white", "grating"])
@pytest.mark.parametrize("size", [16, 33, 64])
def test_standardized(source, size):
    img = make_image(source, size=size, seed=7, theta=0.3, wavelength=6.0)
    assert img.shape == (size, size)
    assert img.dtype == np.float64
    assert abs(float(img.mean())) < 1e-12
    assert float(img.std()) == pytest.approx(1.0, abs=1e-12)


def test_not_standardized_when_turned_off():
    raw = make_image("white", size=32, seed=2, standardized=False)
    np.testing.assert_array_equal(raw, white_noise(32, 2))
    # standard normal draws: mean and std close to, but not exactly, 0 and 1
    assert abs(float(raw.std()) - 1.0) > 1e-9


def _radial_power_slope(image: np.ndarray) -> float:
    """Slope of log(radially averaged periodogram) vs log(frequency)."""
    n = image.shape[0]
    power = np.abs(np.fft.fft2(image)) ** 2
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    radius = np.hypot(fx, fy)
    edges = np.geomspace(2.0 / n, 0.45, 16)
    centres, means = [], []
    for lo, hi in itertools.pairwise(edges):
        ring = (radius >= lo) & (radius < hi)
        if ring.sum() >= 4:
            centres.append(np.sqrt(lo * hi))
            means.append(power[ring].mean())
    slope, _ = np.polyfit(np.log(centres), np.log(means), 1)
    return float(slope)


@pytest.mark.parametrize("seed", [0, 5, 123])
def test_pink_noise_power_law(seed):
    # amplitude ~ 1/f  <=>  power ~ f^-2
    slope = _radial_power_slope(pink_noise(256, seed))
    assert -2.25 < slope < -1.75


@pytest.mark.parametrize("seed", [0, 5])
def test_white_noise_flat_spectrum(seed):
    slope = _radial_power_slope(white_noise(256, seed))
    assert -0.25 < slope < 0.25


def test_pink_noise_has_zero_mean_component():
    img = pink_noise(64, 1)
    assert abs(float(img.mean())) < 1e-12


# -- gratings -----------------------------------------------------------------------------

def _fft_peak(image: np.ndarray) -> tuple[int, int]:
    """Signed (kx, ky) = (column, row) frequency index of the largest FFT magnitude."""
    n = image.shape[0]
    spec = np.abs(np.fft.fft2(image))
    row, col = np.unravel_index(int(np.argmax(spec)), spec.shape)
    signed = np.fft.fftfreq(n, d=1.0 / n)
    return int(signed[col]), int(signed[row])


@pytest.mark.parametrize(("kx", "ky"), [(5, 0), (0, 5), (4, 3), (4, -3), (-3, 4), (6, 6),
                                        (2, -7)])
def test_grating_fft_peak_on_bin(kx, ky):
    # theta and wavelength chosen so that the wave vector lands exactly on an FFT bin
    n = 64
    theta = math.atan2(ky, kx)
    wavelength = n / math.hypot(kx, ky)
    img = grating(n, theta, wavelength)
    peak = _fft_peak(img)
    # a real cosine has peaks at +k and -k; (4, 3) and (4, -3) must not be confused
    assert peak in {(kx, ky), (-kx, -ky)}
    spec = np.abs(np.fft.fft2(img))
    assert spec[ky % n, kx % n] == pytest.approx(n * n / 2, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.floats(-math.pi, math.pi), st.floats(4.0, 16.0))
def test_grating_fft_peak_along_theta(theta, wavelength):
    n = 96
    img = make_image("grating", size=n, seed=0, theta=theta, wavelength=wavelength)
    kx, ky = _fft_peak(img)
    expected = np.array([math.cos(theta), math.sin(theta)]) * n / wavelength
    err = min(np.abs(np.array([kx, ky]) - expected).max(),
              np.abs(np.array([kx, ky]) + expected).max())
    assert err <= 1.0


def test_grating_formula_and_layout():
    # theta = 0: the grating varies along the columns only; theta = pi/2 along rows
    n, wl = 16, 8.0
    c = n // 2
    g0 = grating(n, 0.0, wl)
    np.testing.assert_allclose(g0[3], np.cos(2 * np.pi * (np.arange(n) - c) / wl),
                               atol=1e-15)
    np.testing.assert_allclose(g0, np.broadcast_to(g0[0], g0.shape), atol=1e-15)
    g90 = grating(n, np.pi / 2, wl)
    np.testing.assert_allclose(g90[:, 5], np.cos(2 * np.pi * (np.arange(n) - c) / wl),
                               atol=1e-12)
    np.testing.assert_allclose(g90, g90[:, :1] * np.ones((1, n)), atol=1e-12)


# -- grayscale conversion -----------------------------------------------------------------

def test_to_grayscale_luma_weights():
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 1, (5, 6, 3))
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_allclose(to_grayscale(rgb), expected, atol=1e-15)
    rgba = np.concatenate([rgb, rng.uniform(0, 1, (5, 6, 1))], axis=2)
    np.testing.assert_allclose(to_grayscale(rgba), expected, atol=1e-15)
    np.testing.assert_array_equal(to_grayscale(rgb[..., :1]), rgb[..., 0])
    gray = to_grayscale(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert gray.dtype == np.float64
    np.testing.assert_array_equal(gray, np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 3), (4, 4, 2), (4, 4, 5)])
def test_to_grayscale_bad_shape(shape):
    with pytest.raises(ImageError, match="shape"):
        to_grayscale(np.zeros(shape))


def test_to_grayscale_non_numeric():
    with pytest.raises(ImageError, match="numeric"):
        to_grayscale(np.array([["a", "b"], ["c", "d"]]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_to_grayscale_non_finite(bad):
    data = np.ones((4, 4))
    data[1, 2] = bad
    with pytest.raises(ImageError, match="NaN or infinite"):
        to_grayscale(data)


# -- file loading ---------------------------------------------------------------------------

def _smooth_rgb(h=24, w=30):
    """A smooth RGB image (JPEG-friendly) with distinct channels, uint8."""
    y, x = np.mgrid[0:h, 0:w].astype(float)
    r = 128 + 100 * np.sin(x / 5.0)
    g = 128 + 90 * np.cos(y / 6.0)
    b = 128 + 80 * np.sin((x + y) / 7.0)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).round().astype(np.uint8)


def test_load_npy_float(tmp_path):
    data = np.random.default_rng(0).standard_normal((12, 17))
    path = tmp_path / "img.npy"
    np.save(path, data)
    loaded = load_image(path)
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, data)


def test_load_npy_rgb_and_int(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (6, 7, 3)).astype(np.int32)
    np.save(tmp_path / "rgb.npy", rgb)
    np.testing.assert_allclose(load_image(tmp_path / "rgb.npy"), rgb @ BT601, atol=1e-12)
    np.save(tmp_path / "one.npy", rgb[..., :1])
    np.testing.assert_array_equal(load_image(tmp_path / "one.npy"), rgb[..., 0])


def test_load_png_gray8(tmp_path, pil_image):
    data = np.random.default_rng(2).integers(0, 256, (20, 13), dtype=np.uint8)
    path = tmp_path / "gray.png"
    pil_image.fromarray(data).save(path)
    loaded = load_image(path)
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, data.astype(float))


def test_load_png_gray16(tmp_path, pil_image):
    data = np.random.default_rng(3).integers(0, 65536, (11, 14), dtype=np.uint16)
    data[0, 0], data[0, 1] = 0, 65535
    path = tmp_path / "gray16.png"
    pil_image.fromarray(data).save(path)
    np.testing.assert_array_equal(load_image(path), data.astype(float))


def test_load_png_rgb(tmp_path, pil_image):
    rgb = np.random.default_rng(4).integers(0, 256, (15, 19, 3), dtype=np.uint8)
    path = tmp_path / "rgb.png"
    pil_image.fromarray(rgb).save(path)
    loaded = load_image(path)
    np.testing.assert_allclose(loaded, rgb.astype(float) @ BT601, atol=1e-12)
    # PIL's "L" conversion is the same BT.601 luma, rounded to integers
    with pil_image.open(path) as img:
        pil_l = np.asarray(img.convert("L")).astype(float)
    np.testing.assert_allclose(loaded, pil_l, atol=0.51)


def test_load_png_rgba_drops_alpha(tmp_path, pil_image):
    rng = np.random.default_rng(5)
    rgba = rng.integers(0, 256, (9, 10, 4), dtype=np.uint8)
    path = tmp_path / "rgba.png"
    pil_image.fromarray(rgba, mode="RGBA").save(path)
    np.testing.assert_allclose(load_image(path), rgba[..., :3].astype(float) @ BT601,
                               atol=1e-12)


def test_load_png_palette(tmp_path, pil_image):
    rgb = np.random.default_rng(6).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    path = tmp_path / "palette.png"
    pil_image.fromarray(rgb).convert("P").save(path)
    with pil_image.open(path) as img:
        assert img.mode == "P"
        decoded = np.asarray(img.convert("RGB")).astype(float)
    np.testing.assert_allclose(load_image(path), decoded @ BT601, atol=1e-9)


def test_load_jpeg_cmyk(tmp_path, pil_image):
    path = tmp_path / "cmyk.jpg"
    pil_image.fromarray(_smooth_rgb()).convert("CMYK").save(path, quality=95)
    with pil_image.open(path) as img:
        assert img.mode == "CMYK"
        decoded = np.asarray(img.convert("RGB")).astype(float)
    np.testing.assert_allclose(load_image(path), decoded @ BT601, atol=1e-9)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".JPG"])
def test_load_jpeg_gray(tmp_path, pil_image, suffix):
    data = _smooth_rgb()[..., 1]
    path = tmp_path / f"gray{suffix}"
    pil_image.fromarray(data).save(path, format="JPEG", quality=95)
    loaded = load_image(path)
    with pil_image.open(path) as img:
        decoded = np.asarray(img).astype(float)
    np.testing.assert_array_equal(loaded, decoded)
    assert float(np.abs(loaded - data).mean()) < 3.0  # lossy, but close


def test_load_jpeg_rgb(tmp_path, pil_image):
    rgb = _smooth_rgb()
    path = tmp_path / "rgb.jpg"
    pil_image.fromarray(rgb).save(path, quality=95)
    loaded = load_image(path)
    with pil_image.open(path) as img:
        decoded = np.asarray(img.convert("RGB")).astype(float)
        pil_l = np.asarray(img.convert("L")).astype(float)
    np.testing.assert_allclose(loaded, decoded @ BT601, atol=1e-12)
    np.testing.assert_allclose(loaded, pil_l, atol=0.51)
    assert float(np.abs(loaded - rgb.astype(float) @ BT601).mean()) < 3.0


def test_make_image_from_file_standardizes(tmp_path, pil_image):
    path = tmp_path / "rgb.png"
    rgb = _smooth_rgb()
    pil_image.fromarray(rgb).save(path)
    img = make_image(str(path), size=999, seed=0)
    assert img.shape == rgb.shape[:2]  # size is ignored for files
    lum = rgb.astype(float) @ BT601
    np.testing.assert_allclose(img, (lum - lum.mean()) / lum.std(), atol=1e-12)
    raw = make_image(str(path), size=999, seed=0, standardized=False)
    np.testing.assert_allclose(raw, lum, atol=1e-12)


# -- errors -------------------------------------------------------------------------------

def test_error_is_package_error():
    assert issubclass(ImageError, GabordiagError)


@pytest.mark.parametrize("name", ["missing.png", "missing.npy", "missing.jpg"])
def test_missing_file(tmp_path, name):
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / name)
    with pytest.raises(ImageError, match="does not exist"):
        make_image(str(tmp_path / name), size=8, seed=0)


def test_directory_is_not_a_file(tmp_path):
    """A directory exists: the message says what it is (issue 15)."""
    folder = tmp_path / "dir.png"
    folder.mkdir()
    with pytest.raises(ImageError, match="is a directory"):
        load_image(folder)


@pytest.mark.parametrize("name", ["bad.png", "bad.jpg", "bad.npy"])
def test_corrupt_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not an image \x00\x01\x02" * 10)
    with pytest.raises(ImageError, match="cannot be read"):
        load_image(path)


def test_truncated_png(tmp_path, pil_image):
    path = tmp_path / "trunc.png"
    pil_image.fromarray(np.zeros((40, 40), dtype=np.uint8) + 7).save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ImageError, match="cannot be read"):
        load_image(path)


def test_pickled_npy_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ImageError):
        load_image(path)


@pytest.mark.parametrize("name", ["img.bmp", "img.tif", "img.txt", "img"])
def test_unsupported_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00" * 16)
    with pytest.raises(ImageError, match="unsupported type"):
        load_image(path)


def test_unknown_source_is_treated_as_a_path():
    with pytest.raises(ImageError, match="unsupported type"):
        make_image("blue", size=8, seed=0)


def test_one_dimensional_npy(tmp_path):
    path = tmp_path / "line.npy"
    np.save(path, np.arange(10.0))
    with pytest.raises(ImageError, match="2-D"):
        load_image(path)


def test_nan_npy(tmp_path):
    data = np.ones((5, 5))
    data[2, 3] = np.nan
    path = tmp_path / "nan.npy"
    np.save(path, data)
    with pytest.raises(ImageError, match="NaN"):
        load_image(path)


@pytest.mark.parametrize("value", [0.0, 3.5, -200.0, 1e6])
def test_constant_image_cannot_be_standardized(tmp_path, value):
    with pytest.raises(ImageError, match="constant"):
        standardize(np.full((8, 8), value))
    path = tmp_path / "const.npy"
    np.save(path, np.full((8, 8), value))
    with pytest.raises(ImageError, match="constant"):
        make_image(str(path), size=8, seed=0)
    # without standardising the constant image is returned as it is
    np.testing.assert_array_equal(make_image(str(path), size=8, seed=0, standardized=False),
                                  np.full((8, 8), value))


def test_constant_png_cannot_be_standardized(tmp_path, pil_image):
    path = tmp_path / "const.png"
    pil_image.fromarray(np.full((8, 8), 200, dtype=np.uint8)).save(path)
    with pytest.raises(ImageError, match="constant"):
        make_image(str(path), size=8, seed=0)


def test_nearly_constant_image_is_fine():
    data = np.zeros((8, 8))
    data[0, 0] = 1e-3
    out = standardize(data)
    assert float(out.std()) == pytest.approx(1.0, abs=1e-12)
