"""Fdump.bin: the C program's binary structure-factor dump."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from nb_core.errors import InputError
from nb_core.io import FGrid, grid_from_hkl, read_fdump, read_hkl, write_fdump

SHARED = Path(__file__).resolve().parents[4].parent / "shared"


def small_grid() -> FGrid:
    values = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4) + 0.25
    return FGrid(values=values, h_min=-1, k_min=0, l_min=5, count=7)


def test_layout_matches_c_program(tmp_path: Path) -> None:
    path = tmp_path / "Fdump.bin"
    write_fdump(path, small_grid())
    raw = path.read_bytes()
    header = b"-1 0 0 2 5 8\n\f"
    assert raw.startswith(header)
    body = raw[len(header) :]
    assert len(body) == 3 * 4 * 5 * 8  # one spare plane per axis
    padded = np.array(struct.unpack(f"<{3 * 4 * 5}d", body)).reshape(3, 4, 5)
    np.testing.assert_array_equal(padded[:2, :3, :4], small_grid().values)
    assert not padded[2].any()
    assert not padded[:, 3].any()
    assert not padded[:, :, 4].any()
    assert padded[0, 0, 0] == 0.25
    assert padded[1, 2, 3] == 23.25


def test_a_written_dump_reads_back_the_same_grid(tmp_path: Path) -> None:
    path = tmp_path / "Fdump.bin"
    write_fdump(path, small_grid())
    grid = read_fdump(path)
    np.testing.assert_array_equal(grid.values, small_grid().values)
    assert grid.values.dtype == np.float64
    assert grid.values.flags.c_contiguous
    assert grid.values.flags.writeable
    assert (grid.h_min, grid.h_max, grid.k_min, grid.k_max, grid.l_min, grid.l_max) == (
        -1,
        0,
        0,
        2,
        5,
        8,
    )
    assert grid.count == 2 * 3 * 4  # the C program's hkls = h_range*k_range*l_range


def test_the_golden_hkl_grid_survives_a_dump_and_a_read(tmp_path: Path) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is missing")
    grid = grid_from_hkl(read_hkl(SHARED / "data" / "scaled.hkl"), 0.0)
    path = tmp_path / "Fdump.bin"
    write_fdump(path, grid)
    assert path.stat().st_size == len(b"-24 24 -28 28 -31 30\n\f") + 50 * 58 * 63 * 8
    back = read_fdump(path)
    np.testing.assert_array_equal(back.values, grid.values)
    assert back.count == 49 * 57 * 62


def test_single_point_grid(tmp_path: Path) -> None:
    grid = FGrid(values=np.full((1, 1, 1), 3.5), h_min=0, k_min=0, l_min=0, count=1)
    path = tmp_path / "Fdump.bin"
    write_fdump(path, grid)
    assert path.read_bytes() == b"0 0 0 0 0 0\n\f" + struct.pack("<8d", 3.5, *[0.0] * 7)
    assert read_fdump(path).values.tolist() == [[[3.5]]]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "no header line"),
        (b"0 0 0 0 0 0\n" + b"\0" * 64, "no header line"),
        (b"0 0 0 0 0\n\f" + b"\0" * 64, "six integers"),
        (b"0 0 a 0 0 0\n\f" + b"\0" * 64, "six integers"),
        (b"0 0 0 0 0 0.5\n\f" + b"\0" * 64, "six integers"),
        (b"1 0 0 0 0 0\n\f" + b"\0" * 64, "empty index range"),
        (b"0 0 0 0 0 0\n\f" + b"\0" * 63, "should be 64 bytes"),
        (b"0 0 0 0 0 0\n\f" + b"\0" * 72, "got 72"),
        (b"0 99999 0 99999 0 99999\n\f", "should be"),
    ],
)
def test_a_malformed_dump_is_a_one_line_error_naming_the_file(
    tmp_path: Path, data: bytes, fragment: str
) -> None:
    path = tmp_path / "Fdump.bin"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_fdump(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_missing_dump_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_fdump(tmp_path / "Fdump.bin")
