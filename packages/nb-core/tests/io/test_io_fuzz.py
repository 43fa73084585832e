"""Property: malformed input files give a result or a one-line InputError, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nb_core.errors import InputError
from nb_core.io import read_fdump, read_hkl, read_matrix, read_pgm, read_smv, read_sourcefile

FUZZ = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TOKENS = st.sampled_from(
    [
        "1",
        "-2",
        "3.0",
        "-0",
        "1.5",
        "1e3",
        "1e999",
        ".5",
        "+4",
        "1e",
        "e5",
        "--1",
        "abc",
        "nan",
        "inf",
        "0x10",
        "1_0",
        "#",
        "# c",
        ",",
        ";",
        ":",
        "!",
        "1,2",
        "\t",
        "\xe9",
        "\x00",
        "\x0b",
        "\x0c",
        "\r",
        "}",
        "{",
        "=",
        "SIZE1=4;",
        "HEADER_BYTES=512;",
        "99999999999",
        "-3000000000",
    ]
)
SEPARATORS = st.sampled_from([" ", "  ", "\t", ",", ""])


@st.composite
def text_files(draw: st.DrawFn) -> bytes:
    lines = draw(
        st.lists(
            st.lists(TOKENS, min_size=0, max_size=7).flatmap(
                lambda tokens: SEPARATORS.map(lambda sep: sep.join(tokens))
            ),
            max_size=8,
        )
    )
    data = "\n".join(lines).encode("latin-1")
    cut = draw(st.integers(0, len(data)))
    return data[:cut] if draw(st.booleans()) else data


@st.composite
def smv_files(draw: st.DrawFn) -> bytes:
    values = st.one_of(
        st.sampled_from(["512", "0", "-1", "2", "3", "1e3", "x", "", "99999", "1024"]),
        st.integers(0, 600).map(str),
    )
    entries = [
        ("HEADER_BYTES", draw(values)),
        ("SIZE1", draw(values)),
        ("SIZE2", draw(values)),
        ("TYPE", draw(st.sampled_from(["unsigned_short", "float", ""]))),
        ("BYTE_ORDER", draw(st.sampled_from(["little_endian", "big_endian", "middle"]))),
    ]
    kept = draw(st.lists(st.sampled_from(entries), max_size=6))
    end = draw(st.sampled_from([";", "", ";;"]))
    text = "{\n" + "".join(f"{k}={v}{end}\n" for k, v in kept)
    if draw(st.booleans()):
        text += "}\f"
    head = text.encode("latin-1")
    if draw(st.booleans()):
        head = head.ljust(draw(st.sampled_from([0, 100, 512, 1024])), b" ")
    pixels = draw(st.binary(max_size=64))
    if draw(st.booleans()):
        pixels = bytes(draw(st.integers(0, 3000)))
    return head + pixels


@st.composite
def binary_files(draw: st.DrawFn) -> bytes:
    prefix = draw(
        st.sampled_from([b"", b"{", b"P5", b"P5\n2 2\n255\n", b"0 0 0 0 0 0\n\f", b"-1 1 0 0 0 0"])
    )
    return prefix + draw(st.binary(max_size=120))


def check(call: Callable[[Path], object], path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        call(path)
    except InputError as exc:
        message = str(exc)
        assert "\n" not in message, message
        assert "\r" not in message, message
        assert path.name in message, message


def _sources(path: Path) -> object:
    return read_sourcefile(path, np.array([1.0, 0.0, 0.0]), 1e-10)


READERS: dict[str, Callable[[Path], object]] = {
    "rand.hkl": read_hkl,
    "A.mat": read_matrix,
    "sources.txt": _sources,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(data=st.one_of(text_files(), st.binary(max_size=200)))
def test_text_readers_fail_only_with_one_line_errors_naming_the_file(
    folder: Path, name: str, data: bytes
) -> None:
    check(READERS[name], folder / name, data)


@FUZZ
@given(data=smv_files())
def test_the_smv_reader_fails_only_with_one_line_errors_naming_the_file(
    folder: Path, data: bytes
) -> None:
    check(read_smv, folder / "mask.img", data)


@FUZZ
@given(data=binary_files())
def test_binary_readers_fail_only_with_one_line_errors_naming_the_file(
    folder: Path, data: bytes
) -> None:
    check(read_smv, folder / "header.img", data)
    check(read_pgm, folder / "image.pgm", data)
    check(read_fdump, folder / "Fdump.bin", data)
