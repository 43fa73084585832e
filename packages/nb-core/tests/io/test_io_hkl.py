"""read_hkl and grid_from_hkl against the golden HKL files and hand-made edge cases."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from nb_core.errors import InputError
from nb_core.io import FGrid, HklTable, grid_from_hkl, read_hkl

SHARED = Path(__file__).resolve().parents[4].parent / "shared"


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is missing")
    return SHARED


def write(tmp_path: Path, text: str, name: str = "rand.hkl") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    return path


def test_scaled_hkl_first_last_and_fast(shared: Path) -> None:
    path = shared / "data" / "scaled.hkl"
    elapsed = math.inf
    for _ in range(3):  # best of three, so a busy machine does not fail the timing
        t0 = time.perf_counter()
        table = read_hkl(path)
        elapsed = min(elapsed, time.perf_counter() - t0)
    assert len(table) == 64333
    assert table.indices.dtype == np.int64
    assert table.indices.shape == (64333, 3)
    assert table.amplitudes.dtype == np.float64
    assert table.indices[0].tolist() == [23, 15, -1]
    assert table.amplitudes[0] == 23.00
    assert table.indices[1].tolist() == [23, 14, -1]
    assert table.amplitudes[1] == 31.39
    assert table.indices[-1].tolist() == [24, 17, 6]
    assert table.amplitudes[-1] == 18.98
    assert table.indices[-2].tolist() == [-24, -16, -7]
    assert table.amplitudes[-2] == 19.44
    assert elapsed < 0.3, f"read_hkl took {elapsed:.3f} s for 64k lines"


def test_scaled_hkl_grid(shared: Path) -> None:
    table = read_hkl(shared / "data" / "scaled.hkl")
    grid = grid_from_hkl(table, 0.0)
    assert (grid.h_min, grid.h_max) == (-24, 24)
    assert (grid.k_min, grid.k_max) == (-28, 28)
    assert (grid.l_min, grid.l_max) == (-31, 30)
    assert grid.values.shape == (49, 57, 62)
    assert grid.count == 64333
    assert grid.values[23 + 24, 15 + 28, -1 + 31] == 23.00
    assert grid.values[24 + 24, 17 + 28, 6 + 31] == 18.98
    assert np.count_nonzero(grid.values) == 64333  # all distinct, all F > 0


def test_rand_hkl_golden(shared: Path) -> None:
    table = read_hkl(shared / "golden" / "cases" / "cubic_hkl_interpolate" / "rand.hkl")
    assert len(table) == 15625  # 25**3
    assert table.indices[0].tolist() == [-12, -12, -12]
    assert table.amplitudes[0] == 37.072
    assert table.indices[2].tolist() == [-12, -12, -10]
    assert table.amplitudes[2] == 67.577
    grid = grid_from_hkl(table, 0.0)
    assert grid.values.shape == (25, 25, 25)
    assert (grid.h_min, grid.k_min, grid.l_min) == (-12, -12, -12)
    assert grid.values[0, 0, 1] == 132.625


def test_sparse_hkl_default_f(shared: Path) -> None:
    table = read_hkl(shared / "golden" / "cases" / "hkl_sparse_defaultF" / "sparse.hkl")
    assert len(table) == 1062
    assert table.indices[0].tolist() == [-6, -6, -5]
    grid = grid_from_hkl(table, 100.0)
    assert grid.count == 1062
    listed = grid.values[tuple((table.indices - [grid.h_min, grid.k_min, grid.l_min]).T)]
    np.testing.assert_array_equal(listed, table.amplitudes)
    assert np.count_nonzero(grid.values == 100.0) == grid.values.size - 1062 + np.count_nonzero(
        table.amplitudes == 100.0
    )


def test_comments_blank_lines_and_integer_forms(tmp_path: Path) -> None:
    text = "# h k l F\n\n  1 2 3 10.5\n   # indented comment\n-0 3.0 -2 1e2\r\n\t4\t5\t6\t.5\n   \n"
    table = read_hkl(write(tmp_path, text))
    assert table.indices.tolist() == [[1, 2, 3], [0, 3, -2], [4, 5, 6]]
    assert table.amplitudes.tolist() == [10.5, 100.0, 0.5]


def test_the_line_by_line_parser_reads_the_same_table(tmp_path: Path) -> None:
    # A non-ASCII comment sends the file through the line-by-line parser.
    fast = read_hkl(write(tmp_path, "1 2 3 4\n5 6 7 8.5\n", "a.hkl"))
    slow = read_hkl(write(tmp_path, "# \xe9t\xe9\n1 2 3 4\n5 6 7 8.5\n", "b.hkl"))
    np.testing.assert_array_equal(fast.indices, slow.indices)
    np.testing.assert_array_equal(fast.amplitudes, slow.amplitudes)


def test_later_duplicate_wins(tmp_path: Path) -> None:
    text = "0 0 0 1\n1 1 1 2\n0 0 0 3\n1 1 1 4\n0 0 0 5\n"
    table = read_hkl(write(tmp_path, text))
    assert len(table) == 5
    grid = grid_from_hkl(table, 7.0)
    assert grid.count == 5
    assert grid.values.shape == (2, 2, 2)
    assert grid.values[0, 0, 0] == 5.0
    assert grid.values[1, 1, 1] == 4.0
    assert grid.values[1, 0, 0] == 7.0
    assert (grid.h_max, grid.k_max, grid.l_max) == (1, 1, 1)


def test_grid_from_hand_table() -> None:
    table = HklTable(
        indices=np.array([[-1, 2, 0], [1, 3, 2]], dtype=np.int64),
        amplitudes=np.array([10.0, 20.0]),
    )
    grid = grid_from_hkl(table, 0.5)
    assert isinstance(grid, FGrid)
    assert grid.values.shape == (3, 2, 3)
    assert (grid.h_min, grid.k_min, grid.l_min) == (-1, 2, 0)
    assert grid.values[0, 0, 0] == 10.0
    assert grid.values[2, 1, 2] == 20.0
    assert grid.values.sum() == 30.0 + 0.5 * 16


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1 2 3 4\n1 2 3\n", "line 2: expected 4 numbers 'h k l F', got '1 2 3'"),
        (
            "1 2 3 4\n\n\n\n\n\n\n\n\n\n\na b c\n",
            "line 12: expected 4 numbers 'h k l F', got 'a b c'",
        ),
        ("1 2 3 4 5\n", "line 1: expected 4 numbers"),
        ("1 2 3 4 # trailing\n", "line 1: expected 4 numbers"),
        ("1.5 2 3 4\n", "line 1: Miller index h=1.5 is not an integer"),
        ("1 2 3e-1 4\n", "line 1: Miller index l=3e-1 is not an integer"),
        ("1 2 3 nan\n", "line 1: expected 4 numbers"),
        ("1 2 3 1e999\n", "line 1: F=1e999 is not a finite number"),
        ("1 1e999 3 4\n", "line 1: Miller index k=1e999 is not an integer"),
        ("1 3000000000 3 4\n", "line 1: Miller index k=3000000000 is too large"),
        ("1 2 3 0x10\n", "line 1: expected 4 numbers"),
        ("1 2 3 1_0\n", "line 1: expected 4 numbers"),
        ("", "no reflections"),
        ("# only a comment\n\n", "no reflections"),
    ],
)
def test_a_malformed_hkl_file_is_a_one_line_error_naming_the_file(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_hkl(path)
    message = str(info.value)
    assert fragment in message
    assert str(path) in message
    assert "\n" not in message


def test_a_missing_hkl_file_or_a_folder_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "nope.hkl"
    with pytest.raises(InputError, match=r"nope\.hkl: cannot read"):
        read_hkl(path)
    with pytest.raises(InputError, match="cannot read"):
        read_hkl(tmp_path)  # a folder


def test_a_grid_over_the_size_limit_is_refused() -> None:
    table = HklTable(
        indices=np.array([[0, 0, 0], [100000, 100000, 100000]], dtype=np.int64),
        amplitudes=np.array([1.0, 2.0]),
    )
    with pytest.raises(InputError, match="too large"):
        grid_from_hkl(table, 0.0)
