"""Compare nb with the C program on one set of flags, and write the report of it.

:func:`compare_runs` measures how an nb run matches a reference (a C run, or a golden case's
outputs): float-image metrics, Bragg peaks matched, the SMV integer and noise images, and,
when asked, the ``-printout`` block of one pixel field by field. It checks the measurements
against :class:`Thresholds`. :func:`write_report` writes ``metrics.json``, ``difference.png``
and ``README.md`` into a folder.
"""

from __future__ import annotations

import math
import re
import shlex
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nb_cli.flags import parse_args
from nb_core.errors import InputError
from nb_core.io import SmvImage
from nb_parity.golden import GoldenCase, inside, load_cases
from nb_parity.metrics import ImageMetrics, image_metrics
from nb_parity.outputs import json_safe, save_figure, write_json, write_text
from nb_parity.peaks import PeakMatch, match_peaks
from nb_parity.runs import Run
from nb_parity.tolerances import TOLERANCE
from nb_parity.trace import NAMES, FieldDiff, diff_printout, parse_printout

__all__ = [
    "Check",
    "Comparison",
    "ReferenceImages",
    "SmvComparison",
    "Thresholds",
    "TraceDiff",
    "compare_runs",
    "compare_smv",
    "diff_trace",
    "difference_figure",
    "golden_reference",
    "load_case",
    "nb_printout",
    "readme_text",
    "reference_from_run",
    "stage_inputs",
    "write_report",
]

#: Files a comparison writes.
REPORT_FILES = ("metrics.json", "difference.png", "README.md")


@dataclass(frozen=True)
class Thresholds:
    """What a comparison must reach to pass.

    Attributes:
        rel_l2: Largest relative L2 error of the float image.
        max_rel: Largest ``max |nb - C| / max |C|``.
        min_correlation: Smallest Pearson correlation.
        all_peaks: Whether every Bragg peak must be matched within 1 pixel.
    """

    rel_l2: float = TOLERANCE["float64"].rel_l2
    max_rel: float = TOLERANCE["float64"].max_rel
    min_correlation: float = 0.99999
    all_peaks: bool = True

    @classmethod
    def for_dtype(cls, dtype: str) -> Thresholds:
        """The golden tolerances of ``"float32"``; of float64 for any other name."""
        tolerance = TOLERANCE["float32" if dtype == "float32" else "float64"]
        return cls(rel_l2=tolerance.rel_l2, max_rel=tolerance.max_rel)


@dataclass(frozen=True)
class Check:
    """One threshold checked against a measurement.

    Attributes:
        name: What is measured.
        op: ``"<="`` or ``">="`` (measured op limit passes), or ``"=="``.
        limit: The threshold.
        measured: The measured value (nan when it could not be measured).
        passed: Whether it passes.
    """

    name: str
    op: str
    limit: float
    measured: float
    passed: bool


@dataclass(frozen=True)
class ReferenceImages:
    """The reference side of a comparison: what the C program wrote.

    Attributes:
        float_image: ``(S, F)`` float32 image.
        int_image: SMV integer image, if any.
        noise_image: SMV noise image, if any.
        argv: The C program's arguments.
        seconds: Its run time (None for stored outputs).
        source: The binary's path or the golden case folder.
        stdout: What it printed.
    """

    float_image: np.ndarray
    int_image: SmvImage | None
    noise_image: SmvImage | None
    argv: list[str]
    seconds: float | None
    source: str
    stdout: str = ""


def golden_reference(case: GoldenCase) -> ReferenceImages:
    """A golden case's outputs as the reference side."""
    return ReferenceImages(
        float_image=case.float_image(),
        int_image=case.int_image(),
        noise_image=case.noise_image(),
        argv=list(case.flags),
        seconds=None,
        source=str(case.path),
        stdout=case.stdout(),
    )


def load_case(folder: str | Path) -> GoldenCase:
    """The golden case in ``folder`` (a folder holding ``case.json``).

    Raises:
        InputError: The folder is not a golden case.
    """
    path = Path(folder).resolve()
    if not (path / "case.json").is_file():
        raise InputError("not a golden case folder (no case.json)", str(folder))
    for case in load_cases(path.parent):
        if case.path.resolve() == path:
            return case
    raise InputError("not a golden case folder", str(folder))  # pragma: no cover


@dataclass(frozen=True)
class SmvComparison:
    """How two SMV images (integer or noise) agree.

    Attributes:
        metrics: Pixel metrics (counts).
        header_equal: Whether the headers hold the same keys and values.
        pixels_differing: Pixels whose counts differ.
        identical_fraction: Fraction of pixels with equal counts.
        max_count_diff: Largest count difference.
    """

    metrics: ImageMetrics | None
    header_equal: bool
    pixels_differing: int
    identical_fraction: float
    max_count_diff: int

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for JSON)."""
        out: dict[str, object] = {} if self.metrics is None else dict(self.metrics.as_dict())
        out.update(
            header_equal=self.header_equal,
            pixels_differing=self.pixels_differing,
            identical_fraction=self.identical_fraction,
            max_count_diff=self.max_count_diff,
        )
        return out


def _header_values(image: SmvImage) -> dict[str, str]:
    return {k: v.strip().rstrip(";") for k, v in image.header.items() if k != "HEADER_BYTES"}


def compare_smv(test: SmvImage, ref: SmvImage) -> SmvComparison:
    """Compare two SMV images pixel by pixel and header by header.

    Args:
        test: nb's image.
        ref: The C program's image.

    Returns:
        The comparison (metrics None and every pixel differing when the sizes differ).
    """
    header_equal = _header_values(test) == _header_values(ref)
    if test.data.shape != ref.data.shape:
        return SmvComparison(None, header_equal, int(ref.data.size), 0.0, -1)
    diff = np.abs(test.data.astype(np.int64) - ref.data.astype(np.int64))
    differing = int(np.count_nonzero(diff))
    return SmvComparison(
        metrics=image_metrics(test.data, ref.data),
        header_equal=header_equal,
        pixels_differing=differing,
        identical_fraction=1.0 - differing / max(diff.size, 1),
        max_count_diff=int(diff.max()) if diff.size else 0,
    )


@dataclass(frozen=True)
class TraceDiff:
    """nb's ``-printout`` block for one pixel against the C program's.

    Attributes:
        fpixel: Fast index.
        spixel: Slow index.
        ours: nb's block.
        theirs: The C program's block ('' when it printed none).
        rows: ``(field, name, nb value, C value, agree)`` for every number of the C block.
        first: The first field that diverges, or None when every field agrees.
    """

    fpixel: int
    spixel: int
    ours: str
    theirs: str
    rows: list[tuple[str, str, float, float, bool]]
    first: FieldDiff | None

    @property
    def matches(self) -> bool:
        """Whether both blocks agree in every field."""
        return bool(self.theirs) and self.first is None

    def summary(self) -> str:
        """``"match"``, or the first diverging field in one line."""
        if not self.theirs:
            return "no C block for this pixel"
        return "match" if self.first is None else f"first diverging field: {self.first}"

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for JSON)."""
        return {
            "pixel": [self.fpixel, self.spixel],
            "result": self.summary(),
            "first_diverging_field": None if self.first is None else self.first.field,
            "first_diverging": None if self.first is None else asdict(self.first),
            "fields": [
                {"field": f, "name": n, "nb": a, "c": b, "agree": ok}
                for f, n, a, b, ok in self.rows
            ],
            "nb_block": self.ours,
            "c_block": self.theirs,
        }


def _agree(a: float, b: float, *, rel: float = 2e-5, abs_: float = 2e-6) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


def _block(text: str) -> str:
    """The first ``-printout`` block in printed text ('' when none)."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if re.search(r" : stol = ", ln)), None)
    if start is None:
        return ""
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("Z:")), None)
    return "\n".join(lines[start : (end + 1 if end is not None else start + 14)])


def diff_trace(fpixel: int, spixel: int, ours: str, theirs: str) -> TraceDiff:
    """Diff two ``-printout`` blocks field by field.

    Args:
        fpixel: Fast index of the pixel.
        spixel: Slow index.
        ours: Text holding nb's block.
        theirs: Text holding the C program's block (its whole stdout, or ``trace.txt``).

    Returns:
        The field-by-field diff and the first field that diverges.
    """
    ours_block, theirs_block = _block(ours), _block(theirs)
    a, b = parse_printout(ours_block), parse_printout(theirs_block)
    rows: list[tuple[str, str, float, float, bool]] = []
    for name, values in b.items():
        mine = a.get(name, [math.nan] * len(values))
        for label, x, y in zip(NAMES[name], mine, values, strict=False):
            rows.append((name, label, x, y, _agree(x, y)))
    first = diff_printout(a, b) if b else None
    return TraceDiff(fpixel, spixel, ours_block, theirs_block, rows, first)


def nb_printout(
    flags: Sequence[str],
    inputs: dict[str, Path],
    *,
    dtype: str,
    fpixel: int,
    spixel: int,
    pixel_value: float | None = None,
) -> str:
    """nb's ``-printout`` block for one pixel, computed in a scratch folder.

    Args:
        flags: nanoBragg flags.
        inputs: Files to stage (name in the folder -> source path).
        dtype: float32 or float64.
        fpixel: Fast index.
        spixel: Slow index.
        pixel_value: The stored pixel value to print (default: the trace's own).

    Returns:
        The block, as the C program prints it.

    Raises:
        InputError: Bad flags or a pixel outside the detector.
    """
    from nb_cli.simulate import prepare
    from nb_core.trace import format_printout, trace_pixel

    with tempfile.TemporaryDirectory(prefix="nb-trace-") as tmp:
        folder = Path(tmp)
        _copy_inputs(folder, inputs)
        with inside(folder):
            prepared = prepare([*flags, "-dtype", dtype], workdir=folder)
    st = prepared.experiment.static
    if not (0 <= fpixel < st.fpixels and 0 <= spixel < st.spixels):
        raise InputError(
            f"pixel ({fpixel}, {spixel}) is outside the {st.fpixels} x {st.spixels} detector",
            "--trace",
        )
    exp = prepared.experiment
    trace = trace_pixel(exp.params, exp.static, fpixel, spixel)
    return "\n".join(format_printout(trace, pixel_value))


def _copy_inputs(folder: Path, inputs: dict[str, Path]) -> None:
    import shutil

    for name, source in inputs.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)


def stage_inputs(
    flags: Sequence[str], cwd: str | Path | None = None
) -> tuple[list[str], dict[str, Path]]:
    """The input files that nanoBragg flags name, to be copied into each scratch folder.

    Files named by ``-hkl``, ``-mat``, ``-sourcefile``, ``-mask``, ``-img`` and ``-stol`` are
    taken from ``cwd``, and so is the dump file (``Fdump.bin``) when there is no ``-hkl``.
    Absolute paths are read in place; a relative path that leaves ``cwd`` (``../x``) is
    replaced in the flags by its absolute path.

    Args:
        flags: nanoBragg flags.
        cwd: Folder the names are relative to (default: the current folder).

    Returns:
        The flags (paths outside ``cwd`` made absolute) and ``{name in folder: source path}``.

    Raises:
        InputError: A flag is bad, or a named file does not exist.
    """
    base = Path.cwd() if cwd is None else Path(cwd)
    settings = parse_args(list(flags), read_headers=False).settings
    named = [
        ("-mat", settings.matrix_file),
        ("-hkl", settings.hkl_file),
        ("-sourcefile", settings.source_file),
        ("-mask", settings.mask_file),
        ("-img", settings.img_file),
        ("-stol", settings.stol_file),
    ]
    out_flags = [str(a) for a in flags]
    inputs: dict[str, Path] = {}
    for flag, name in named:
        if not name:
            continue
        path = Path(name)
        source = path if path.is_absolute() else base / path
        if not source.is_file():
            raise InputError(f"{name} not found in {base}", flag)
        if path.is_absolute():
            continue
        if ".." in path.parts:
            out_flags = [str(source.resolve()) if a == name else a for a in out_flags]
            continue
        inputs[name] = source
    if not settings.hkl_file:
        dump = Path(settings.dump_file)
        if not dump.is_absolute() and (base / dump).is_file() and ".." not in dump.parts:
            inputs[str(dump)] = base / dump
    return out_flags, inputs


@dataclass
class Comparison:
    """Everything measured by one comparison.

    Attributes:
        float_metrics: Float-image metrics (None when the shapes differ).
        peaks: Bragg peaks matched within the radius (None when the shapes differ).
        int_image: SMV integer image comparison, where both sides wrote one.
        noise_image: SMV noise image comparison, where both sides wrote one.
        thresholds: What was required.
        checks: Each threshold against its measurement.
        reference: The C side.
        nb_argv: nb's arguments.
        nb_seconds: nb's run time (s).
        dtype: nb's dtype.
        shapes: ``(C shape, nb shape)`` of the float images, as (slow, fast).
        trace: The pixel trace diff, if asked for.
        command: The command that made the comparison (for "how to reproduce").
        reference_image: ``(S, F)`` C float image (for the figure; not in JSON).
        nb_image: ``(S, F)`` nb float image (for the figure; not in JSON).
    """

    float_metrics: ImageMetrics | None
    peaks: PeakMatch | None
    int_image: SmvComparison | None
    noise_image: SmvComparison | None
    thresholds: Thresholds
    checks: list[Check]
    reference: ReferenceImages
    nb_argv: list[str]
    nb_seconds: float
    dtype: str
    shapes: tuple[tuple[int, ...], tuple[int, ...]]
    trace: TraceDiff | None = None
    command: list[str] = field(default_factory=list)
    reference_image: np.ndarray | None = None
    nb_image: np.ndarray | None = None

    @property
    def passed(self) -> bool:
        """Whether every check passes."""
        return all(c.passed for c in self.checks)

    def as_dict(self) -> dict[str, object]:
        """Plain dict of everything measured (non-finite numbers as strings), for JSON."""
        floats: dict[str, object] | None = None
        if self.float_metrics is not None:
            floats = dict(self.float_metrics.as_dict())
            floats["peaks"] = None if self.peaks is None else self.peaks.as_dict()
        ref = self.reference
        out = {
            "passed": self.passed,
            "float": floats,
            "int": None if self.int_image is None else self.int_image.as_dict(),
            "noise": None if self.noise_image is None else self.noise_image.as_dict(),
            "thresholds": asdict(self.thresholds),
            "checks": [asdict(c) for c in self.checks],
            "shapes": {"c": list(self.shapes[0]), "nb": list(self.shapes[1])},
            "c": {"source": ref.source, "argv": ref.argv, "seconds": ref.seconds},
            "nb": {"argv": self.nb_argv, "seconds": self.nb_seconds, "dtype": self.dtype},
            "trace": None if self.trace is None else self.trace.as_dict(),
            "command": shlex.join(self.command) if self.command else None,
        }
        return json_safe(out)  # type: ignore[return-value]


def _checks(
    metrics: ImageMetrics | None, peaks: PeakMatch | None, thresholds: Thresholds
) -> list[Check]:
    nan = math.nan
    rel_l2 = metrics.rel_l2 if metrics else nan
    max_rel = metrics.max_rel if metrics else nan
    corr = metrics.correlation if metrics else nan
    checks = [
        Check("relative L2", "<=", thresholds.rel_l2, rel_l2, rel_l2 <= thresholds.rel_l2),
        Check(
            "max |diff| / max |C|", "<=", thresholds.max_rel, max_rel, max_rel <= thresholds.max_rel
        ),
        Check(
            "correlation",
            ">=",
            thresholds.min_correlation,
            corr,
            corr >= thresholds.min_correlation,
        ),
    ]
    if thresholds.all_peaks:
        unmatched = (
            nan
            if peaks is None
            else float(peaks.n_ref - peaks.matched) + float(peaks.n_test - peaks.matched_test)
        )
        ok = peaks is not None and peaks.all_matched
        checks.append(Check("peaks unmatched (within 1 px)", "<=", 0.0, unmatched, ok))
    return checks


def compare_runs(
    reference: Run | ReferenceImages,
    nb_run: Run,
    thresholds: Thresholds | None = None,
    *,
    dtype: str = "float64",
    trace: TraceDiff | None = None,
    command: Sequence[str] = (),
) -> Comparison:
    """Measure how an nb run matches the C program's outputs.

    Args:
        reference: The C run (:func:`nb_parity.runs.run_c`) or stored outputs
            (:func:`golden_reference`).
        nb_run: The nb run (:func:`nb_parity.runs.run_nb`).
        thresholds: What to require (default: :meth:`Thresholds.for_dtype`).
        dtype: nb's dtype (for the default thresholds and the report).
        trace: A pixel trace diff to include (:func:`diff_trace`).
        command: The command line that made the comparison.

    Returns:
        The comparison.

    Raises:
        ValueError: A side has no float image.
    """
    ref = _as_reference(reference)
    if nb_run.float_image is None:
        raise ValueError("the nb run wrote no float image")
    limits = Thresholds.for_dtype(dtype) if thresholds is None else thresholds
    test_img, ref_img = nb_run.float_image, ref.float_image
    metrics: ImageMetrics | None = None
    peaks: PeakMatch | None = None
    if test_img.shape == ref_img.shape:
        metrics = image_metrics(test_img, ref_img)
        peaks = match_peaks(test_img, ref_img, radius=1.0)
    int_cmp = (
        compare_smv(nb_run.int_image, ref.int_image)
        if nb_run.int_image is not None and ref.int_image is not None
        else None
    )
    noise_cmp = (
        compare_smv(nb_run.noise_image, ref.noise_image)
        if nb_run.noise_image is not None and ref.noise_image is not None
        else None
    )
    checks = _checks(metrics, peaks, limits)
    if test_img.shape != ref_img.shape:
        checks.insert(0, Check("image shape equal", "==", 1.0, 0.0, False))
    return Comparison(
        float_metrics=metrics,
        peaks=peaks,
        int_image=int_cmp,
        noise_image=noise_cmp,
        thresholds=limits,
        checks=checks,
        reference=ref,
        nb_argv=list(nb_run.argv),
        nb_seconds=nb_run.seconds,
        dtype=dtype,
        shapes=(tuple(ref_img.shape), tuple(test_img.shape)),
        trace=trace,
        command=list(command),
        reference_image=ref_img,
        nb_image=test_img,
    )


def reference_from_run(run: Run, source: str | Path | None = None) -> ReferenceImages:
    """A C run (:func:`nb_parity.runs.run_c`) as the reference side.

    Args:
        run: The run.
        source: What to call it in reports (default: the run's program name).

    Raises:
        ValueError: The run wrote no float image.
    """
    if run.float_image is None:
        raise ValueError("the C run wrote no float image")
    return ReferenceImages(
        float_image=run.float_image,
        int_image=run.int_image,
        noise_image=run.noise_image,
        argv=list(run.argv),
        seconds=run.seconds,
        source=str(source) if source is not None else run.program,
        stdout=run.stdout,
    )


def _as_reference(reference: Run | ReferenceImages) -> ReferenceImages:
    return reference if isinstance(reference, ReferenceImages) else reference_from_run(reference)


def write_report(comparison: Comparison, outdir: str | Path) -> list[Path]:
    """Write ``metrics.json``, ``difference.png`` and ``README.md`` into ``outdir``.

    Args:
        comparison: The comparison.
        outdir: Folder (created if needed).

    Returns:
        The three paths, in that order.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path, figure_path, readme_path = (out / name for name in REPORT_FILES)
    write_json(metrics_path, comparison.as_dict())
    difference_figure(comparison.reference_image, comparison.nb_image, figure_path)
    write_text(readme_path, readme_text(comparison))
    return [metrics_path, figure_path, readme_path]


#: Largest number of image rows or columns drawn per panel (larger images are max-pooled).
_PANEL_PIXELS = 800


def _pool(image: np.ndarray, factor: int) -> np.ndarray:
    """Keep, in each ``factor x factor`` block, the value of largest magnitude (sign kept)."""
    if factor <= 1:
        return image
    rows, cols = image.shape
    pr, pc = -rows % factor, -cols % factor
    padded = np.pad(image, ((0, pr), (0, pc)))
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    blocks = blocks.transpose(0, 2, 1, 3).reshape(blocks.shape[0], blocks.shape[2], -1)
    pick = np.abs(blocks).argmax(axis=-1)
    return np.take_along_axis(blocks, pick[..., None], axis=-1)[..., 0]


def difference_figure(
    reference: np.ndarray | None, test: np.ndarray | None, path: str | Path
) -> Path:
    """Draw C, nb and nb - C side by side (log scales, colour bars) into a PNG.

    Uses matplotlib's Agg canvas directly (no pyplot, no global figure state). Images larger
    than 800 pixels a side are max-pooled so that single-pixel peaks stay visible.

    Args:
        reference: ``(S, F)`` C float image (photons).
        test: ``(S, F)`` nb float image (photons).
        path: Output PNG.

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm, Normalize, SymLogNorm
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16.5, 5.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    images = [np.asarray(x, dtype=np.float64) for x in (reference, test) if x is not None]
    top = max((float(np.nanmax(x)) for x in images if x.size), default=0.0)
    floor = top * 1e-6 if top > 0 else 0.0
    for ax, image, title in zip(axes[:2], (reference, test), ("C (nanoBragg)", "nb"), strict=True):
        ax.set_xlabel("fast pixel")
        ax.set_ylabel("slow pixel")
        if image is None:
            ax.set_title(f"{title}: no image")
            continue
        img = np.asarray(image, dtype=np.float64)
        factor = max(1, -(-max(img.shape) // _PANEL_PIXELS))
        shown = _pool(img, factor)
        extent = (-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5)
        if top > 0:
            norm = LogNorm(vmin=floor, vmax=top)
            shown = np.clip(shown, floor, None)
        else:
            norm = Normalize(vmin=0.0, vmax=1.0)
        handle = ax.imshow(shown, norm=norm, cmap="viridis", extent=extent, interpolation="nearest")
        fig.colorbar(handle, ax=ax, label="photons per pixel (log)")
        ax.set_title(f"{title}, max {float(img.max()):.4g}")
    ax = axes[2]
    ax.set_xlabel("fast pixel")
    ax.set_ylabel("slow pixel")
    if reference is None or test is None or np.shape(reference) != np.shape(test):
        ax.set_title("nb - C: image shapes differ")
        ax.text(0.5, 0.5, "shapes differ", ha="center", va="center", transform=ax.transAxes)
    else:
        diff = np.asarray(test, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
        factor = max(1, -(-max(diff.shape) // _PANEL_PIXELS))
        shown = _pool(diff, factor)
        extent = (-0.5, diff.shape[1] - 0.5, diff.shape[0] - 0.5, -0.5)
        big = float(np.abs(diff).max()) if diff.size else 0.0
        if big > 0:
            norm = SymLogNorm(linthresh=big * 1e-3, vmin=-big, vmax=big, base=10)
        else:
            norm = Normalize(vmin=-1.0, vmax=1.0)
        handle = ax.imshow(shown, norm=norm, cmap="RdBu_r", extent=extent, interpolation="nearest")
        scale = "symmetric log" if big > 0 else "identical images"
        fig.colorbar(handle, ax=ax, label=f"nb - C photons ({scale})")
        ax.set_title(f"nb - C, max |diff| {big:.3g}")
    fig.suptitle("nb vs nanoBragg: float images")
    return save_figure(fig, path)


def _fmt(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "not measured"
    return f"{value:.4g}"


def detail_lines(comparison: Comparison) -> list[str]:
    """The comparison beyond its thresholds, one sentence per line (README and console).

    Args:
        comparison: The comparison.

    Returns:
        Lines on the float image, peaks, SMV int and noise images, the pixel trace (those
        present) and the timings.
    """
    c = comparison
    lines = []
    if c.float_metrics is not None:
        m = c.float_metrics
        lines.append(
            f"Float image: RMSE {m.rmse:.4g}, max |diff| {m.max_abs:.4g} (max |C| {m.ref_max:.4g}), "
            f"sum ratio {m.sum_ratio:.10g}."
        )
    if c.peaks is not None:
        p = c.peaks
        lines.append(
            f"Peaks (> {p.threshold:.4g} photons): C {p.n_ref}, nb {p.n_test}, matched within "
            f"1 px {p.matched}, mean distance {p.mean_distance:.3g} px."
        )
    if c.int_image is not None:
        i = c.int_image
        lines.append(
            f"SMV int image: header {'equal' if i.header_equal else 'differs'}, "
            f"{i.pixels_differing} pixels differ (max {i.max_count_diff} counts)."
        )
    if c.noise_image is not None:
        lines.append(f"Noise image: {c.noise_image.identical_fraction:.6%} of pixels identical.")
    if c.trace is not None:
        lines.append(f"Pixel ({c.trace.fpixel}, {c.trace.spixel}) trace: {c.trace.summary()}.")
    seconds = c.reference.seconds
    c_time = "stored outputs" if seconds is None else f"{seconds:.2f} s"
    lines.append(f"Timings: C {c_time}, nb {c.nb_seconds:.2f} s.")
    return lines


def readme_text(comparison: Comparison) -> str:
    """The report's README: each threshold, its value, the measurement and PASS/FAIL."""
    c = comparison
    verdict = "PASS" if c.passed else "FAIL"
    lines = [
        f"# nb vs nanoBragg: {verdict}",
        "",
        f"nb ({c.dtype}) against {c.reference.source}; images {c.shapes[0][1]} x "
        f"{c.shapes[0][0]} (fast x slow).",
        "",
        "| threshold | required | measured | result |",
        "| --- | --- | --- | --- |",
    ]
    for check in c.checks:
        result = "PASS" if check.passed else "FAIL"
        lines.append(
            f"| {check.name} | {check.op} {check.limit:g} | {_fmt(check.measured)} | {result} |"
        )
    lines.append("")
    lines += detail_lines(c)
    lines += [
        "",
        "`metrics.json` holds every number; `difference.png` shows C, nb and nb - C.",
        "",
        "## Reproduce",
        "",
        "From a folder holding the input files the flags name:",
        "",
        "```bash",
        shlex.join(c.command) if c.command else "nb compare ...",
        "```",
        "",
    ]
    return "\n".join(lines)
