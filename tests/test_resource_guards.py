"""Jobs too large for memory or time, and inputs without end, are refused before they start.

Each refusal is one line on stderr naming the flag or file and the number, exit code 2, in well
under a second, with nothing written. Available memory is pinned to 16 GiB so that the answers
do not depend on the machine.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

import nb_cli.simulate
import nb_core.cost
from nb_cli import main
from nb_core.errors import InputError
from nb_core.io import read_fdump, read_float_image, read_hkl, read_smv, write_smv

BASE = [
    *("-cell", "100", "100", "100", "90", "90", "90"),
    *("-lambda", "1", "-N", "5", "-default_F", "100", "-distance", "100", "-pixel", "0.1"),
    *("-noprogress", "-seed", "1"),
]
GIB = 1 << 30


@pytest.fixture(scope="module", autouse=True)
def _engine_imported(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prepare one small job first: its imports (torch) stay out of the timed refusals."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("warm"))
        nb_cli.simulate.prepare([*BASE, "-detpixels", "4"])


@pytest.fixture(autouse=True)
def _pinned_memory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(nb_core.cost, "available_memory", lambda: 16 * GIB)
    monkeypatch.setattr(nb_cli.simulate, "available_memory", lambda: 16 * GIB)
    monkeypatch.chdir(tmp_path)


def _refused(argv: Sequence[str], folder: Path) -> str:
    """Run ``nb simulate`` and check the clean refusal; return its line."""
    before = sorted(p.name for p in folder.iterdir())
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["simulate", *BASE, *argv])
    seconds = time.perf_counter() - start
    lines = err.getvalue().strip().splitlines()
    assert code == 2, err.getvalue()
    assert len(lines) == 1, err.getvalue()
    assert lines[0].startswith("nb: error: ")
    assert "Traceback" not in err.getvalue()
    assert sorted(p.name for p in folder.iterdir()) == before
    assert seconds < 1.0, f"{seconds:.2f} s: {lines[0]}"
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        ("-detpixels 20000 -oversample 4", "-detpixels: 20000 x 20000 pixels: the run needs"),
        ("-mosaic_domains 1000000000 -mosaic 1", "-mosaic_domains: 1000000000 mosaic domains"),
        ("-hdivsteps 100000 -vdivsteps 100000", "-vdivsteps: 10000000000 sources"),
        ("-dispsteps 1000000000 -dispersion 10", "-dispsteps: 1000000000 sources"),
        ("-phisteps 2000000000 -osc 1", "-phisteps: 2000000000 phi steps"),
        ("-thicksteps 1000000000 -detector_thick 100", "-thicksteps: 1000000000 sensor layers"),
        ("-oversample 100000", "-oversample: 100000 sub-pixels per edge"),
    ],
)
def test_jobs_too_large_for_memory_are_refused_naming_the_flag(
    argv: str, start: str, tmp_path: Path
) -> None:
    line = _refused(argv.split(), tmp_path)
    assert line.startswith(f"nb: error: {start}")
    assert "GiB of memory" in line
    assert "more than 80% of the 16 GiB available" in line


def test_time_refusal_says_how_to_force(tmp_path: Path) -> None:
    argv = "-detpixels 4096 -oversample 4 -mosaic 1 -mosaic_dom 1000 -phisteps 100 -osc 1"
    line = _refused(argv.split(), tmp_path)
    assert line.startswith("nb: error: -mosaic_domains: 1000 mosaic domains: the run is 2.68e+13")
    assert line.endswith("add -force to run it anyway")


def test_hkl_with_a_stray_index(tmp_path: Path) -> None:
    (tmp_path / "stray.hkl").write_text("0 0 0 10\n1000000000 0 0 30\n")
    line = _refused(["-hkl", "stray.hkl", "-detpixels", "8"], tmp_path)
    assert line == (
        "nb: error: -hkl: index ranges h 0..1000000000, k 0..0, l 0..0 make a grid of "
        "1000000001 structure factors (7.45 GiB of float64), too large: nb holds at most "
        "268435456 (2 GiB); check the file for a stray index"
    )


@pytest.mark.parametrize(
    ("flag", "fragment"),
    [
        ("-hkl", "HKL file holds a NUL byte at offset 0"),
        ("-sourcefile", "nb reads at most 64 MiB for a text file"),
        ("-mat", "nb reads at most 64 MiB for a text file"),
        ("-img", "not an SMV image"),
        ("-mask", "not an SMV image"),
    ],
)
def test_endless_input_streams_are_refused_at_once(
    flag: str, fragment: str, tmp_path: Path
) -> None:
    line = _refused([flag, "/dev/zero", "-detpixels", "8"], tmp_path)
    assert line.startswith("nb: error: /dev/zero: ")
    assert fragment in line


def test_dump_file_with_huge_ranges(tmp_path: Path) -> None:
    (tmp_path / "Fdump.bin").write_bytes(b"0 999999999 0 0 0 0\n\f" + bytes(64))
    line = _refused(["-detpixels", "8"], tmp_path)
    assert line.startswith("nb: error: Fdump.bin: dump data should be 32000000032 bytes")


def test_large_regular_hkl_refused_by_its_size(tmp_path: Path) -> None:
    big = tmp_path / "big.hkl"
    with open(big, "wb") as fh:
        fh.truncate((1 << 30) + 1)  # sparse: no disk space used
    with pytest.raises(InputError, match=r"nb reads at most 1 GiB for a HKL file, and this one is"):
        read_hkl(big)


@contextlib.contextmanager
def _fifo(path: Path, data: bytes) -> Iterator[Path]:
    """A named pipe that a thread fills with ``data`` (and stops when the reader leaves)."""
    os.mkfifo(path)

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), open(path, "wb") as fh:
            fh.write(data)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        thread.join(timeout=5)


def test_streams_are_read_to_their_declared_size(tmp_path: Path) -> None:
    pixels = np.arange(12, dtype=np.uint16).reshape(3, 4)
    write_smv(tmp_path / "small.img", pixels, [("BEAMLINE", "fake")])
    data = (tmp_path / "small.img").read_bytes()
    with _fifo(tmp_path / "pipe.img", data) as pipe:
        assert np.array_equal(read_smv(pipe).data, pixels)
    with (
        _fifo(tmp_path / "long.img", data + bytes(1 << 16)) as pipe,
        pytest.raises(InputError, match="SMV stream goes on past its 512-byte header"),
    ):
        read_smv(pipe)
    image = np.arange(6, dtype=np.float32).reshape(2, 3)
    with _fifo(tmp_path / "pipe.bin", image.tobytes()) as pipe:
        assert np.array_equal(read_float_image(pipe, 3, 2), image)
    with (
        _fifo(tmp_path / "long.bin", bytes(1000)) as pipe,
        pytest.raises(InputError, match=r"should be 24 bytes \(3x2 float32\), got 25 or more"),
    ):
        read_float_image(pipe, 3, 2)


def test_dump_stream_refused_from_its_header(tmp_path: Path) -> None:
    with (
        _fifo(tmp_path / "Fdump.bin", b"0 999999999 0 0 0 0\n\f" + bytes(4096)) as pipe,
        pytest.raises(InputError, match=r"1000000000 structure factors \(7.45 GiB of float64\)"),
    ):
        read_fdump(pipe)


def test_force_runs_a_job_over_the_time_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A machine this slow makes an 8 x 8 render take days.
    monkeypatch.setattr(nb_core.cost, "EVALUATIONS_PER_THREAD_S", {4: 1e-3, 8: 1e-3})
    argv = ["-detpixels", "8", "-oversample", "1", "-nonoise", "-nopgm"]
    line = _refused(argv, tmp_path)
    assert line.startswith("nb: error: -detpixels: 8 x 8 pixels: the run is 64 lattice")
    assert line.endswith("add -force to run it anyway")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["simulate", *BASE, *argv, "-force"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["floatimage.bin", "intimage.img"]
