"""Bad input never crashes nb: one line naming the flag or file, exit 2, nothing written.

Hypothesis feeds malformed argv lists (300 examples) and malformed input files (HKL, matrix,
sourcefile, SMV header/mask, dump file: 60 each), 600 in all.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nb_cli import main
from nb_cli.flags import flag_names

BASE = [
    "-cell",
    "60",
    "70",
    "80",
    "90",
    "90",
    "90",
    "-lambda",
    "1",
    "-N",
    "3",
    "-default_F",
    "10",
    "-detpixels",
    "8",
    "-distance",
    "100",
    "-pixel",
    "0.1",
    "-seed",
    "1",
    "-noprogress",
    "-nonoise",
    "-nopgm",
    "-oversample",
    "1",
]
KNOWN = set(flag_names())
JUNK = st.sampled_from(["abc", "1e", "--", "-", "", "1.2.3", "0x", "tenths", "None", "½"])


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    old = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="nb-bad-") as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["simulate", *argv])
    return code, err.getvalue()


def _assert_clean_failure(
    code: int, err: str, folder: Path, inputs: set[str], name: str | None = None
) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nb: error: ")
    if name is not None:
        assert name in lines[0]
    assert {p.name for p in folder.iterdir()} <= inputs, "outputs were written"


@st.composite
def broken_argv(draw: st.DrawFn) -> list[str]:
    argv = list(BASE)
    kind = draw(st.sampled_from(["junk_value", "drop_value", "drop_flag", "unknown", "truncate"]))
    values = [i for i, a in enumerate(argv) if not a.startswith("-") or a[1:2].isdigit()]
    flags = [
        i
        for i, a in enumerate(argv)
        if a in KNOWN and i + 1 < len(argv) and argv[i + 1] not in KNOWN
    ]
    if kind == "junk_value":
        argv[draw(st.sampled_from(values))] = draw(JUNK)
    elif kind == "drop_value":
        del argv[draw(st.sampled_from(values))]
    elif kind == "drop_flag":
        del argv[draw(st.sampled_from(flags))]
    elif kind == "unknown":
        name = draw(st.from_regex(r"\A--?[a-z][a-z_]{1,14}\Z", fullmatch=True))
        name = name if name.lstrip("-") not in {k.lstrip("-") for k in KNOWN} else name + "zz"
        argv.insert(draw(st.integers(0, len(argv))), name)
    else:
        with_values = [
            f
            for f in KNOWN
            if f in ("-distance", "-roi", "-cell", "-misset", "-hkl", "-fdet_vector")
        ]
        argv.append(draw(st.sampled_from(sorted(with_values))))
    return argv


@settings(max_examples=300)
@given(broken_argv())
def test_a_malformed_command_line_fails_cleanly_or_runs_fully(argv: list[str]) -> None:
    with _scratch() as folder:
        code, err = _run(argv)
        if code == 0:
            # Still a valid command (e.g. -cell takes 1 to 6 values): it must have run fully.
            assert (folder / "floatimage.bin").is_file()
            return
        _assert_clean_failure(code, err, folder, set())


TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.lists(
            st.one_of(st.integers(-5, 5).map(str), JUNK, st.floats(allow_nan=True).map(repr)),
            max_size=6,
        ).map(" ".join),
        max_size=6,
    ).map("\n".join),
    st.binary(max_size=600).map(lambda b: b.decode("latin-1")),
)


def _without(argv: list[str], flag: str, values: int) -> list[str]:
    i = argv.index(flag)
    return argv[:i] + argv[i + 1 + values :]


def _file_case(kind: str) -> tuple[list[str], str]:
    """argv that reads a file of the given kind, and the file's name."""
    no_f = _without(BASE, "-default_F", 1)
    cases = {
        "hkl": ([*no_f, "-hkl", "bad.hkl"], "bad.hkl"),
        "mat": ([*_without(BASE, "-cell", 6), "-mat", "bad.mat"], "bad.mat"),
        "sourcefile": ([*BASE, "-sourcefile", "bad.txt"], "bad.txt"),
        "img": ([*BASE, "-img", "bad.img"], "bad.img"),
        "mask": ([*BASE, "-mask", "bad.img"], "bad.img"),
        "dump": (no_f, "Fdump.bin"),
    }
    return cases[kind]


@settings(max_examples=300)
@given(st.sampled_from(["hkl", "mat", "sourcefile", "img", "mask", "dump"]), TEXT)
def test_a_malformed_input_file_fails_cleanly_or_runs_fully(kind: str, content: str) -> None:
    argv, name = _file_case(kind)
    with _scratch() as folder:
        (folder / name).write_bytes(content.encode("latin-1", errors="replace"))
        code, err = _run(argv)
        if code == 0:
            # The bytes happened to form a valid file: the run must then be complete.
            assert (folder / "floatimage.bin").is_file()
            return
        _assert_clean_failure(code, err, folder, {name, "Fdump.bin"}, name)
