"""read_matrix: MOSFLM A matrices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nb_core.errors import InputError
from nb_core.io import read_matrix

SHARED = Path(__file__).resolve().parents[4].parent / "shared"
EXPECTED = np.array(
    [
        [-0.02837711, -0.02871390, 0.01050048],  # a*
        [-0.00305386, 0.01019549, -0.03209440],  # b*
        [0.02535816, -0.01400049, -0.01036054],  # c*
    ]
)


@pytest.mark.parametrize("relative", ["data/A.mat", "golden/cases/custom_vectors_pix0/A.mat"])
def test_golden_matrix_files_read_row_by_row_as_the_c_program_does(relative: str) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is missing")
    matrix = read_matrix(SHARED / relative)
    assert matrix.shape == (3, 3)
    assert matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, EXPECTED)
    assert matrix[0, 0] == -0.02837711
    assert matrix[1, 0] == -0.00305386  # b*_x: first line, second column
    assert matrix[2, 2] == -0.01036054


def test_full_mosflm_file_and_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "A.mat"
    path.write_text(
        " 1 2 3\n4 5 6\n7 8 9\n 0.0 0.0 0.0\n 1 0 0\n 0 1 0\n 0 0 1\n"
        " 100 100 100 90 90 90\n SYMM P1\n"
    )
    np.testing.assert_array_equal(read_matrix(path), [[1, 4, 7], [2, 5, 8], [3, 6, 9]])
    # Like fscanf("%lg"), line breaks between the nine numbers do not matter.
    path.write_text("1 2\n3 4 5 6\n\n7 8 9 junk\n")
    np.testing.assert_array_equal(read_matrix(path), [[1, 4, 7], [2, 5, 8], [3, 6, 9]])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected 9 numbers"),
        ("1 2 3\n4 5 6\n", "found 6"),
        ("1 2 3\n4 x 6\n7 8 9\n", "line 2"),
        ("1 2 3\n4 5 6\n7 8 nan\n", "line 3"),
        ("1 2 3\n4 5 6\n7 8 1e999\n", "line 3"),
        ("1 2 3,\n4 5 6\n7 8 9\n", "line 1"),
    ],
)
def test_a_malformed_matrix_is_an_error_naming_the_file(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "A.mat"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_matrix(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_a_missing_matrix_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"A\.mat: cannot read"):
        read_matrix(tmp_path / "A.mat")
