"""read_sourcefile: -sourcefile tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nb_core.errors import InputError
from nb_core.io import SourceTable, read_sourcefile

SHARED = Path(__file__).resolve().parents[4].parent / "shared"
BEAM = np.array([1.0, 0.0, 0.0])


def test_the_golden_source_file_reads_four_sources() -> None:
    path = SHARED / "golden" / "cases" / "sourcefile" / "sources.txt"
    if not path.is_file():
        pytest.skip(f"golden source file {path} is missing")
    table = read_sourcefile(path, BEAM, 1.0e-10)
    assert isinstance(table, SourceTable)
    assert len(table) == 4
    np.testing.assert_array_equal(
        table.positions,
        [[-10, 0, 0], [-10, 0.0005, 0], [-10, 0, 0.0005], [-10, -0.0005, 0.0003]],
    )
    np.testing.assert_array_equal(table.intensities, [1, 1, 1, 1])
    np.testing.assert_array_equal(table.wavelengths, [1e-10] * 4)


def test_defaults_delimiters_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "sources.txt"
    path.write_text(
        "# X Y Z I lambda\n\n1,2;3:4!5e-10\n  -5\t6\n7 8 9 nan 1.5e-10\r\n,;:!\n1 2 3 0.5"
    )
    beam = np.array([0.0, 0.6, 0.8])
    table = read_sourcefile(path, beam, 2e-10, source_distance_m=5.0)
    np.testing.assert_array_equal(table.positions, [[1, 2, 3], [-5, 6, -4.0], [7, 8, 9], [1, 2, 3]])
    np.testing.assert_array_equal(table.intensities, [4, 1, 1, 0.5])
    np.testing.assert_array_equal(table.wavelengths, [5e-10, 2e-10, 1.5e-10, 2e-10])


def test_a_line_of_nan_takes_every_default(tmp_path: Path) -> None:
    path = tmp_path / "sources.txt"
    path.write_text("nan\n")
    table = read_sourcefile(path, BEAM, 1e-10)
    np.testing.assert_array_equal(table.positions, [[-10.0, 0.0, 0.0]])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no sources"),
        ("# nothing\n\n  \n", "no sources"),
        ("1 2 3\n1 2 x\n", "line 2: Z must be a finite number, got 'x'"),
        ("1 2 3 4 5 6\n", "line 1: expected at most 5 numbers"),
        ("1 2 inf\n", "line 1: Z must be a finite number"),
        ("1 2 3 4 5e-10abc\n", "line 1: lambda must be a finite number"),
    ],
)
def test_a_malformed_source_file_is_an_error_naming_the_line(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "sources.txt"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_sourcefile(path, BEAM, 1e-10)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_a_missing_source_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_sourcefile(tmp_path / "sources.txt", BEAM, 1e-10)
