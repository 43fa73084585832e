"""Raw float images, PGM previews and atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from nb_core.errors import InputError
from nb_core.io import (
    atomic_write_bytes,
    read_float_image,
    read_pgm,
    write_float_image,
    write_pgm,
)

CASES = Path(__file__).resolve().parents[4].parent / "shared" / "golden" / "cases"


@pytest.fixture
def cases() -> Path:
    if not CASES.is_dir():
        pytest.skip(f"golden cases folder {CASES} is missing")
    return CASES


def test_golden_float_image(cases: Path, tmp_path: Path) -> None:
    path = cases / "cubic_mosflm" / "float.bin"
    image = read_float_image(path, 96, 96)
    assert image.shape == (96, 96)
    assert image.dtype == np.float32
    # stdout.txt: "max_I = 154.652  at 0.00485 0.00485" (pixel 48, 48 of 0.1 mm pixels)
    assert abs(float(image.max()) - 154.652) < 5e-4
    assert np.unravel_index(int(image.argmax()), image.shape) == (48, 48)
    assert abs(float(image.mean()) - 3.03699) < 5e-5  # "mean= 3.03699"
    out = tmp_path / "float.bin"
    write_float_image(out, image)
    assert out.read_bytes() == path.read_bytes()


def test_float_image_layout(tmp_path: Path) -> None:
    image = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]])
    path = tmp_path / "f.bin"
    write_float_image(path, image)
    assert path.read_bytes() == np.array([1, 2, 3, 4, 5, 6.5], dtype="<f4").tobytes()
    np.testing.assert_array_equal(read_float_image(path, 3, 2), image)
    with pytest.raises(InputError, match="should be 28 bytes"):
        read_float_image(path, 7, 1)
    with pytest.raises(InputError, match="cannot read"):
        read_float_image(tmp_path / "none.bin", 3, 2)


def test_golden_pgm_byte_for_byte(cases: Path, tmp_path: Path) -> None:
    golden = cases / "cubic_mosflm" / "image.pgm"
    raw = golden.read_bytes()
    assert raw.startswith(b"P5\n96 96\n# pixels scaled by 3.71629\n255\n")
    pixels = read_pgm(golden)
    assert pixels.shape == (96, 96)
    assert pixels.dtype == np.uint8
    assert pixels.max() == 255
    assert pixels[0, 0] == 0
    out = tmp_path / "image.pgm"
    write_pgm(out, pixels, 3.71629)
    assert out.read_bytes() == raw


def test_pgm_scale_formatting(tmp_path: Path) -> None:
    path = tmp_path / "p.pgm"
    pixels = np.array([[0, 32]], dtype=np.uint8)  # 32 is a space: the header must not eat it
    for scale, text in ((1e-5, "1e-05"), (123456789.0, "1.23457e+08"), (250.0, "250")):
        write_pgm(path, pixels, scale)
        assert path.read_bytes() == f"P5\n2 1\n# pixels scaled by {text}\n255\n".encode() + b"\0 "
        np.testing.assert_array_equal(read_pgm(path), pixels)


def test_pgm_without_comment(tmp_path: Path) -> None:
    path = tmp_path / "p.pgm"
    path.write_bytes(b"P5 3\n# a\n# b\n 1 200\n\x01\x02\x03")
    assert read_pgm(path).tolist() == [[1, 2, 3]]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "does not start with 'P5'"),
        (b"P2\n1 1\n255\n1", "does not start with 'P5'"),
        (b"P5\n", "no width"),
        (b"P51 1 255\n\0", "no width"),
        (b"P5\n1\n", "no height"),
        (b"P5\n1 1 x", "no maximum value"),
        (b"P5\n1 1 65535\n\0\0", "8-bit maximum"),
        (b"P5\n0 1 255\n", "positive size"),
        (b"P5\n1 1 255", "white-space byte"),
        (b"P5\n2 2 255\n\0\0\0", "3 pixel bytes"),
    ],
)
def test_a_malformed_pgm_is_an_error_naming_the_file(
    tmp_path: Path, data: bytes, fragment: str
) -> None:
    path = tmp_path / "bad.pgm"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_pgm(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_writers_refuse_a_wrong_dtype_or_shape_and_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        write_pgm(tmp_path / "p.pgm", np.zeros((2, 2), np.int32), 1.0)
    with pytest.raises(ValueError, match="2-d"):
        write_float_image(tmp_path / "f.bin", np.zeros(3))
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_failed_atomic_write_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot write") as info:
        atomic_write_bytes(tmp_path / "no" / "such" / "dir.bin", b"x")
    assert "dir.bin" in str(info.value)
    folder = tmp_path / "target"
    folder.mkdir()
    (folder / "keep").write_bytes(b"")
    with pytest.raises(InputError, match="cannot write"):
        atomic_write_bytes(folder, b"x")  # a non-empty folder cannot be replaced by a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]
    with pytest.raises(InputError, match="cannot write"):
        write_float_image(tmp_path / "missing" / "f.bin", np.zeros((1, 1)))
