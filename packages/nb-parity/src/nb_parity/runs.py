"""Run the C program and nb on the same flags, each in a scratch folder of its own.

Both runners take nanoBragg flags (``-flag`` or ``--flag``, nb's own options allowed: they are
dropped for the C program), copy the named input files into a fresh folder, force the output
file names, run, read the outputs back and delete the folder. Runs never collide and never
leave files behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nb_cli.flags import parse_args, to_c_argv
from nb_core.errors import InputError
from nb_core.io import (
    SmvImage,
    default_model_dmin,
    read_float_image,
    read_smv,
    read_structure_factors,
    structure_factor_format,
)
from nb_core.settings import Settings
from nb_parity.summary import parse_summary

__all__ = ["Run", "find_c_binary", "run_c", "run_nb"]

Inputs = Mapping[str, "Path | bytes | str"]


@dataclass
class Run:
    """What one program produced for a set of flags.

    Attributes:
        program: ``"c"`` or ``"nb"``.
        argv: The arguments the program was run with.
        returncode: Exit code.
        stdout: Everything printed (stdout, then stderr).
        float_image: ``(S, F)`` float32 image, if written.
        int_image: SMV integer image, if written.
        noise_image: SMV noise image, if written.
        summary: Resolved values parsed from the printout (:func:`parse_summary`).
        seconds: Wall time of the run.
        printout: nb's ``-printout`` block of the pixel asked for (``run_nb``'s
            ``printout_pixel``), traced through the experiment that rendered the image; ""
            when none was asked for or the pixel is outside the detector.
    """

    program: str
    argv: list[str]
    returncode: int
    stdout: str
    float_image: np.ndarray | None = None
    int_image: SmvImage | None = None
    noise_image: SmvImage | None = None
    summary: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    printout: str = ""

    @property
    def ok(self) -> bool:
        """Whether the program exited 0 and wrote a float image."""
        return self.returncode == 0 and self.float_image is not None


def find_c_binary(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The reference C binary: ``explicit`` (``--c-bin``), else ``$NB_C_BIN``, else None.

    Raises:
        InputError: A path was given but is not an executable file.
    """
    value = str(explicit) if explicit is not None else os.environ.get("NB_C_BIN")
    if not value:
        return None
    path = Path(value).expanduser()
    if not (path.is_file() and os.access(path, os.X_OK)):
        source = "--c-bin" if explicit is not None else "NB_C_BIN"
        raise InputError(f"{value} is not an executable file", source)
    return path


def _stage(folder: Path, inputs: Inputs) -> None:
    for name, content in inputs.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif isinstance(content, str) and not Path(content).exists():
            target.write_text(content)
        else:
            shutil.copy(Path(content), target)


def _outputs(parsed_argv: Sequence[str], *, noise: bool, pgm: bool) -> dict[str, str]:
    out = {"floatfile": "float.bin", "intfile": "int.img"}
    if noise:
        out["noisefile"] = "noise.img"
    if pgm:
        out["pgmfile"] = "image.pgm"
    return out


def _read(folder: Path, size: tuple[int, int], run: Run, *, noise: bool) -> None:
    f, s = size
    if (folder / "float.bin").is_file():
        try:
            run.float_image = read_float_image(folder / "float.bin", f, s)
        except InputError:
            run.float_image = None
    if (folder / "int.img").is_file():
        run.int_image = read_smv(folder / "int.img")
    if noise and (folder / "noise.img").is_file():
        run.noise_image = read_smv(folder / "noise.img")


def _size(folder: Path) -> tuple[int, int] | None:
    p = folder / "int.img"
    if not p.is_file():
        return None
    img = read_smv(p)
    return img.data.shape[1], img.data.shape[0]


#: The HKL text that stands in for an MTZ, mmCIF or model ``-hkl`` in the C program's folder.
CONVERTED_HKL = "nb-structure-factors.hkl"


def _readable_hkl(settings: Settings, argv: list[str], folder: Path) -> list[str]:
    """The C program's argv with an ``-hkl`` it cannot read replaced by HKL text.

    The C program reads HKL text only. An MTZ, mmCIF or model file (read by nb through gemmi,
    with ``-sf_column`` and ``-model_dmin``) is read here the same way and written into the
    run's folder as ``h k l F`` lines of its P1 reflections, so both programs render the same
    amplitudes.

    Raises:
        InputError: The file cannot be read (gemmi missing, bad file or column).
    """
    name = settings.hkl_file
    if not name or structure_factor_format(name) is None:
        return argv
    path = Path(name) if Path(name).is_absolute() else folder / name
    dmin = settings.model_dmin_A
    table, _ = read_structure_factors(
        path,
        column=settings.sf_column,
        model_dmin_A=default_model_dmin(settings.lambda_A) if dmin is None else dmin,
    )
    lines = [
        f"{h} {k} {l} {f!r}"
        for (h, k, l), f in zip(table.indices.tolist(), table.amplitudes.tolist(), strict=True)
    ]
    (folder / CONVERTED_HKL).write_text("\n".join(lines) + "\n", encoding="ascii")
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "-hkl":
            out[i + 1] = CONVERTED_HKL
    return out


def run_c(
    binary: str | os.PathLike[str],
    flags: Sequence[str],
    *,
    inputs: Inputs | None = None,
    noise: bool = False,
    printout_pixel: tuple[int, int] | None = None,
    timeout: float = 300.0,
    threads: int = 1,
) -> Run:
    """Run the C program on nanoBragg flags in a scratch folder.

    Args:
        binary: Path of the C binary.
        flags: nanoBragg flags (nb-only options are dropped; an MTZ, mmCIF or model ``-hkl``
            is handed to the C program as HKL text of the same P1 amplitudes).
        inputs: Files to place in the folder: name -> path, bytes or text.
        noise: Also write and read the noise image.
        printout_pixel: Ask for the ``-printout`` block of this (fast, slow) pixel.
        timeout: Seconds before the run is killed.
        threads: ``OMP_NUM_THREADS`` for the run.

    Returns:
        The run (``returncode`` -9 after a timeout).
    """
    parsed = parse_args(list(flags), read_headers=False)
    outputs = _outputs(flags, noise=noise, pgm=False)
    argv = to_c_argv(parsed, **outputs)
    argv += ["-noprogress"] if "-noprogress" not in argv else []
    argv += [] if noise else ["-nonoise"]
    argv += ["-nopgm"]
    if printout_pixel is not None:
        argv += ["-printout", "-printout_pixel", str(printout_pixel[0]), str(printout_pixel[1])]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory(prefix="nb-cref-") as tmp:
        folder = Path(tmp)
        _stage(folder, inputs or {})
        argv = _readable_hkl(parsed.settings, argv, folder)
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [str(Path(binary).resolve()), *argv],
                cwd=folder,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                env=env,
                check=False,
            )
            code, text = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            out = (
                exc.stdout.decode(errors="replace")
                if isinstance(exc.stdout, bytes)
                else (exc.stdout or "")
            )
            code, text = -9, out + f"\n[timed out after {timeout:g} s]"
        seconds = time.perf_counter() - start
        run = Run("c", argv, code, text, summary=parse_summary(text), seconds=seconds)
        size = _size(folder)
        if size is not None:
            _read(folder, size, run, noise=noise)
    return run


def run_nb(
    flags: Sequence[str],
    *,
    inputs: Inputs | None = None,
    noise: bool = False,
    dtype: str = "float64",
    extra: Sequence[str] = (),
    printout_pixel: tuple[int, int] | None = None,
) -> Run:
    """Run ``nb simulate`` in-process on nanoBragg flags in a scratch folder.

    Args:
        flags: nanoBragg flags.
        inputs: Files to place in the folder: name -> path, bytes or text.
        noise: Also write and read the noise image.
        dtype: float32 or float64.
        extra: More nb options (e.g. ``["-fix", "phi0"]``).
        printout_pixel: Also trace this (fast, slow) pixel through the same resolved
            experiment (``Run.printout``), so that the trace sees the argv the image was
            rendered from, trailing output flags included (a final ``-misset_seed N`` also
            reads the next three arguments as angles, as in the C program).

    Returns:
        The run; an input error gives returncode 2 and its message in ``stdout``.
    """
    from nb_cli.simulate import prepare, run_simulation
    from nb_parity.golden import inside

    parsed = parse_args(list(flags), read_headers=False)
    outputs = _outputs(flags, noise=noise, pgm=False)
    argv = to_c_argv(parsed, **outputs)
    argv += ["-noprogress"] + ([] if noise else ["-nonoise"]) + ["-nopgm", "-dtype", dtype, *extra]
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nb-run-") as tmp:
        folder = Path(tmp)
        _stage(folder, inputs or {})
        start = time.perf_counter()
        code = 0
        printout = ""
        with inside(folder):
            try:
                prepared = prepare(argv, workdir=folder)
                result = run_simulation(prepared, say=lines.append)
                if printout_pixel is not None:
                    printout = _printout(prepared, result.image, *printout_pixel)
            except InputError as exc:
                code = 2
                lines.append(f"nb: error: {exc}")
        seconds = time.perf_counter() - start
        text = "\n".join(lines)
        run = Run(
            "nb", argv, code, text, summary=parse_summary(text), seconds=seconds, printout=printout
        )
        size = _size(folder)
        if size is not None:
            _read(folder, size, run, noise=noise)
    return run


def _printout(prepared: object, image: np.ndarray, fpixel: int, spixel: int) -> str:
    """The ``-printout`` block of one pixel of a rendered run ("" outside the detector)."""
    import torch

    from nb_core.trace import format_printout, trace_pixel

    exp = prepared.experiment  # type: ignore[attr-defined]
    st = exp.static
    if not (0 <= fpixel < st.fpixels and 0 <= spixel < st.spixels):
        return ""
    with torch.no_grad():
        trace = trace_pixel(exp.params, st, fpixel, spixel)
    return "\n".join(format_printout(trace, float(image[spixel, fpixel])))
