"""The golden corpus: cases of the C program's outputs, and replaying them through nb."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nb_core.io import SmvImage, read_float_image, read_smv
from nb_parity.metrics import ImageMetrics, image_metrics

__all__ = [
    "GoldenCase",
    "ReplayResult",
    "find_golden_root",
    "inside",
    "load_cases",
    "replay",
]


@dataclass(frozen=True)
class GoldenCase:
    """One run of the C program: its argv, its inputs and its outputs.

    Attributes:
        name: Folder name.
        path: Folder.
        flags: argv after the program name.
        fpixels: Image width.
        spixels: Image height.
        inputs: Input file names (in the folder).
    """

    name: str
    path: Path
    flags: list[str]
    fpixels: int
    spixels: int
    inputs: list[str] = field(default_factory=list)

    def float_image(self) -> np.ndarray:
        """``(S, F)`` float32 image."""
        return read_float_image(self.path / "float.bin", self.fpixels, self.spixels)

    def int_image(self) -> SmvImage:
        """The SMV integer image."""
        return read_smv(self.path / "int.img")

    def noise_image(self) -> SmvImage | None:
        """The SMV noise image, if the case has one."""
        p = self.path / "noise.img"
        return read_smv(p) if p.is_file() else None

    def pgm(self) -> bytes | None:
        """The PGM file's bytes, if the case has one."""
        p = self.path / "image.pgm"
        return p.read_bytes() if p.is_file() else None

    def stdout(self) -> str:
        """Everything the C program printed."""
        return (self.path / "stdout.txt").read_text()

    def trace(self) -> str | None:
        """The -printout block of the brightest pixel, if the case has one."""
        p = self.path / "trace.txt"
        return p.read_text() if p.is_file() else None


def find_golden_root(start: Path | None = None) -> Path | None:
    """Locate ``shared/golden/cases`` (``NB_GOLDEN_DIR`` or ``../shared`` beside the repo)."""
    env = os.environ.get("NB_GOLDEN_DIR")
    if env and (Path(env) / "cases").is_dir():
        return Path(env) / "cases"
    here = [start] if start is not None else [Path.cwd(), Path(__file__).resolve()]
    for origin in here:
        for parent in (origin, *origin.parents):
            cand = parent / "shared" / "golden" / "cases"
            if cand.is_dir():
                return cand
    return None


def load_cases(root: Path) -> list[GoldenCase]:
    """Every case under ``root`` (sorted by name)."""
    cases = []
    for folder in sorted(p for p in root.iterdir() if (p / "case.json").is_file()):
        meta = json.loads((folder / "case.json").read_text())
        cases.append(
            GoldenCase(
                name=folder.name,
                path=folder,
                flags=[str(x) for x in meta["flags"]],
                fpixels=int(meta["fpixels"]),
                spixels=int(meta["spixels"]),
                inputs=[str(x) for x in meta.get("inputs", [])],
            )
        )
    return cases


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


@dataclass
class ReplayResult:
    """nb's outputs for a golden case.

    Attributes:
        image: ``(S, F)`` float32 image.
        int_image: The SMV integer image nb wrote.
        noise_image: The SMV noise image nb wrote, if any.
        pgm: The PGM bytes nb wrote, if any.
        stdout: Lines nb printed.
        metrics: Float-image metrics against the C program's.
        seconds: Render time.
    """

    image: np.ndarray
    int_image: SmvImage
    noise_image: SmvImage | None
    pgm: bytes | None
    stdout: list[str]
    metrics: ImageMetrics
    seconds: float


def replay(
    case: GoldenCase, *, dtype: str = "float64", extra: list[str] | None = None
) -> ReplayResult:
    """Run nb on a case's flags in a scratch folder holding only its inputs.

    Args:
        case: The case.
        dtype: float32 or float64.
        extra: More nb options (e.g. ``["-fix", "phi0"]``).

    Returns:
        nb's outputs and the float-image metrics.
    """
    from nb_cli.simulate import prepare, run_simulation

    with tempfile.TemporaryDirectory(prefix=f"nb-golden-{case.name}-") as tmp:
        work = Path(tmp)
        for name in case.inputs:
            shutil.copy(case.path / name, work / name)
        lines: list[str] = []
        with inside(work):
            prepared = prepare([*case.flags, "-dtype", dtype, *(extra or [])], workdir=work)
            result = run_simulation(prepared, say=lines.append)
            settings = prepared.parsed.settings
            int_img = read_smv(work / settings.intfile)
            noise = read_smv(work / settings.noisefile) if settings.write_noise else None
            pgm = (work / settings.pgmfile).read_bytes() if settings.write_pgm else None
    metrics = image_metrics(result.image, case.float_image())
    return ReplayResult(result.image, int_img, noise, pgm, lines, metrics, result.seconds)
