"""The README's main job: the real Pilatus 6M frame, end to end, in float32."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nb_core.io import read_float_image, read_pgm, read_smv


def _raw_smv(path: Path) -> tuple[dict[str, str], np.ndarray]:
    """Read an SMV file the way the simplest readers do: HEADER_BYTES, SIZE1/2, BYTE_ORDER."""
    raw = path.read_bytes()
    text = raw[: raw.index(b"}")].decode("ascii")
    header = dict(line.rstrip(";").split("=", 1) for line in text.splitlines()[1:] if "=" in line)
    offset = int(header["HEADER_BYTES"])
    width, height = int(header["SIZE1"]), int(header["SIZE2"])
    dtype = "<u2" if header["BYTE_ORDER"] == "little_endian" else ">u2"
    assert len(raw) == offset + 2 * width * height
    return header, np.frombuffer(raw[offset:], dtype=dtype).reshape(height, width)


#: Runs a command as its only child and reports that child's peak resident memory (KiB).
_PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'PEAK_KIB {peak}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def test_demo_frame_memory_and_readable_outputs(shared_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    nb = [sys.executable, "-c", "import sys; from nb_cli import main; sys.exit(main(sys.argv[1:]))"]
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, *nb, "demo", "--outdir", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    peak_kib = int(proc.stderr.rsplit("PEAK_KIB", 1)[1].split()[0])
    assert 100 * 1024 < peak_kib < 4 * 2**20, f"peak memory {peak_kib / 2**20:.2f} GiB"

    image = read_float_image(out / "pilatus.bin", 2463, 2527)
    assert np.isfinite(image).all()
    assert image.max() > 100.0  # Bragg spots of the real crystal
    smv = read_smv(out / "pilatus.img")
    header, pixels = _raw_smv(out / "pilatus.img")
    assert np.array_equal(pixels, smv.data)
    assert header["SIZE1"] == "2463"
    assert float(header["PIXEL_SIZE"]) == pytest.approx(0.172)
    assert int(header["HEADER_BYTES"]) % 512 == 0
    assert int(pixels.max()) == 55040  # 55000 / max_I scaling plus the ADC offset
    assert read_pgm(out / "pilatus.pgm").shape == (2527, 2463)
    assert "max_I = " in proc.stdout
