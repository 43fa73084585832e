"""The golden parity report: every golden case replayed through nb, in a table.

:func:`golden_report` replays each case of the golden corpus in each dtype and measures the
float image (relative L2, max relative difference), the SMV integer image (header, pixels),
the noise image and, where the case has one, the ``-printout`` trace; each case passes or
fails by the golden tolerances. :func:`write_parity_report` writes ``README.md`` (a markdown
table) and ``parity.json``.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nb_parity.compare import Thresholds, compare_smv, diff_trace, nb_printout
from nb_parity.golden import GoldenCase, load_cases, replay
from nb_parity.outputs import json_safe, write_json, write_text

__all__ = [
    "CaseResult",
    "DtypeResult",
    "ParityReport",
    "golden_report",
    "markdown",
    "replay_case",
    "write_parity_report",
]

#: Largest count difference, and fraction of pixels that may differ, in the SMV int image.
INT_MAX_DIFF = 1
INT_DIFFERING_FRACTION = 1e-3
#: Smallest fraction of identical pixels in the noise image.
NOISE_IDENTICAL = 0.999


@dataclass(frozen=True)
class DtypeResult:
    """A case replayed in one dtype.

    Attributes:
        rel_l2: Relative L2 error of the float image.
        max_rel: ``max |nb - C| / max |C|``.
        correlation: Pearson correlation.
        passed: Whether both are within the dtype's golden tolerances.
        seconds: nb's render time (s).
    """

    rel_l2: float
    max_rel: float
    correlation: float
    passed: bool
    seconds: float


@dataclass(frozen=True)
class CaseResult:
    """One golden case replayed in every dtype.

    Attributes:
        name: Case name.
        dtypes: Result per dtype name.
        header_equal: SMV header equal (float64 run; None when not replayed in float64).
        int_pixels_differing: Pixels of the SMV int image that differ (float64 run).
        int_max_diff: Largest count difference of the int image (float64 run).
        noise_identical: Fraction of identical noise pixels, where the case has a noise image.
        trace: ``"match"``, the first diverging field, or None without a trace.
        passed: Whether every check passes.
        failures: What failed.
    """

    name: str
    dtypes: dict[str, DtypeResult]
    header_equal: bool | None
    int_pixels_differing: int | None
    int_max_diff: int | None
    noise_identical: float | None
    trace: str | None
    passed: bool
    failures: list[str] = field(default_factory=list)


@dataclass
class ParityReport:
    """Every case's result and how the report was made.

    Attributes:
        cases: Results, by case name.
        dtypes: Dtypes replayed.
        root: The golden cases folder.
        command: The command that made the report.
        seconds: Wall time of the whole report (s).
        date: UTC date it was made.
    """

    cases: list[CaseResult]
    dtypes: list[str]
    root: str
    command: str
    seconds: float
    date: str

    @property
    def passed_cases(self) -> int:
        """Cases that pass."""
        return sum(c.passed for c in self.cases)

    @property
    def passed(self) -> bool:
        """Whether every case passes."""
        return self.passed_cases == len(self.cases)

    def render_seconds(self, dtype: str) -> float:
        """Total nb render time in one dtype (s)."""
        return sum(c.dtypes[dtype].seconds for c in self.cases if dtype in c.dtypes)

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for JSON); non-finite numbers as strings."""
        out = {
            "command": self.command,
            "date": self.date,
            "root": self.root,
            "dtypes": self.dtypes,
            "tolerances": {d: asdict(Thresholds.for_dtype(d)) for d in self.dtypes},
            "totals": {
                "cases": len(self.cases),
                "passed": self.passed_cases,
                "failed": len(self.cases) - self.passed_cases,
                "seconds": self.seconds,
                "render_seconds": {d: self.render_seconds(d) for d in self.dtypes},
            },
            "cases": [asdict(c) for c in self.cases],
        }
        return json_safe(out)  # type: ignore[return-value]


def _trace_pixel(text: str) -> tuple[int, int] | None:
    m = re.search(r"# fast=(\d+) slow=(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def replay_case(case: GoldenCase, dtypes: Sequence[str]) -> CaseResult:
    """Replay one case in each dtype and check it against the golden tolerances.

    The SMV images, noise image and trace are checked on the float64 run (float32 runs are
    held to the float image tolerances only).

    Args:
        case: The case.
        dtypes: ``"float64"`` and/or ``"float32"``.

    Returns:
        The case's result.
    """
    results: dict[str, DtypeResult] = {}
    failures: list[str] = []
    header_equal = None
    int_diff = int_max = None
    noise = None
    trace = None
    for dtype in dtypes:
        extra = [] if dtype == "float64" else ["-nonoise", "-nopgm"]
        r = replay(case, dtype=dtype, extra=extra)
        tol = Thresholds.for_dtype(dtype)
        m = r.metrics
        ok = m.rel_l2 <= tol.rel_l2 and m.max_rel <= tol.max_rel
        if m.rel_l2 > tol.rel_l2:
            failures.append(f"{dtype} relative L2 {m.rel_l2:.3g} > {tol.rel_l2:g}")
        if m.max_rel > tol.max_rel:
            failures.append(f"{dtype} max rel {m.max_rel:.3g} > {tol.max_rel:g}")
        results[dtype] = DtypeResult(m.rel_l2, m.max_rel, m.correlation, ok, r.seconds)
        if dtype != "float64":
            continue
        smv = compare_smv(r.int_image, case.int_image())
        header_equal = smv.header_equal
        int_diff, int_max = smv.pixels_differing, smv.max_count_diff
        if not header_equal:
            failures.append("SMV header differs")
        size = case.fpixels * case.spixels
        if int_max > INT_MAX_DIFF or int_diff > INT_DIFFERING_FRACTION * size:
            failures.append(f"int image: {int_diff} pixels differ (max {int_max} counts)")
        c_noise = case.noise_image()
        if c_noise is not None:
            noise = (
                0.0
                if r.noise_image is None
                else compare_smv(r.noise_image, c_noise).identical_fraction
            )
            if noise < NOISE_IDENTICAL:
                failures.append(f"noise image {noise:.4%} identical")
        text = case.trace()
        pixel = _trace_pixel(text) if text else None
        if text and pixel is not None:
            f, s = pixel
            inputs = {name: case.path / name for name in case.inputs}
            ours = nb_printout(
                case.flags,
                inputs,
                dtype="float64",
                fpixel=f,
                spixel=s,
                pixel_value=float(r.image[s, f]),
            )
            diff = diff_trace(f, s, ours, text)
            trace = "match" if diff.matches else (diff.first.field if diff.first else "no block")
            if not diff.matches:
                failures.append(f"trace: {diff.summary()}")
    return CaseResult(
        name=case.name,
        dtypes=results,
        header_equal=header_equal,
        int_pixels_differing=int_diff,
        int_max_diff=int_max,
        noise_identical=noise,
        trace=trace,
        passed=not failures,
        failures=failures,
    )


def golden_report(
    root: str | Path,
    *,
    dtypes: Sequence[str] = ("float64", "float32"),
    command: str = "nb parity golden",
    progress: Callable[[str], None] | None = None,
) -> ParityReport:
    """Replay every golden case under ``root``.

    Args:
        root: The golden cases folder (``shared/golden/cases``).
        dtypes: Dtypes to replay.
        command: The command line, for the report.
        progress: Called with one line per case.

    Returns:
        The report.
    """
    start = time.perf_counter()
    results = []
    for case in load_cases(Path(root)):
        result = replay_case(case, dtypes)
        results.append(result)
        if progress is not None:
            verdict = "PASS" if result.passed else "FAIL: " + "; ".join(result.failures)
            progress(f"{case.name}: {verdict}")
    return ParityReport(
        cases=results,
        dtypes=list(dtypes),
        root=str(root),
        command=command,
        seconds=time.perf_counter() - start,
        date=datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
    )


def _g(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return f"{value:.{digits}e}"


def markdown(report: ParityReport) -> str:
    """The report as markdown: how it was made, tolerances, the table, totals."""
    dtypes = report.dtypes
    lines = [
        "# nb parity with nanoBragg: the golden corpus",
        "",
        f"Every case of the golden corpus (`{Path(report.root).name}`: outputs of the reference C "
        "program) replayed through `nb simulate`. Made on "
        f"{report.date} with:",
        "",
        "```bash",
        report.command,
        "```",
        "",
        f"**{report.passed_cases} of {len(report.cases)} cases pass.**",
        "",
        "Tolerances (a case passes when all hold):",
        "",
    ]
    for d in dtypes:
        tol = Thresholds.for_dtype(d)
        lines.append(
            f"- {d} float image: relative L2 <= {tol.rel_l2:g}, max |nb - C| / max |C| <= "
            f"{tol.max_rel:g}"
        )
    if "float64" in dtypes:
        lines += [
            "- float64 SMV int image: header equal (every key and value), pixels differ by at "
            f"most {INT_MAX_DIFF} count in at most {INT_DIFFERING_FRACTION:.1%} of the pixels",
            f"- float64 noise image (where the case has one): at least {NOISE_IDENTICAL:.1%} of "
            "the pixels identical",
            "- float64 `-printout` trace (where the case has one): every field agrees "
            "(`nb_parity.trace.diff_printout`)",
        ]
    header = ["case"]
    for d in dtypes:
        header += [f"rel L2 {d}", f"max rel {d}"]
    if "float64" in dtypes:
        header += ["header equal", "int px differing", "noise identical", "trace"]
    header.append("result")
    lines += ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for c in report.cases:
        row = [c.name]
        for d in dtypes:
            r = c.dtypes.get(d)
            row += [_g(r.rel_l2), _g(r.max_rel)] if r is not None else ["-", "-"]
        if "float64" in dtypes:
            row += [
                "-" if c.header_equal is None else ("yes" if c.header_equal else "**no**"),
                "-" if c.int_pixels_differing is None else str(c.int_pixels_differing),
                "-" if c.noise_identical is None else f"{c.noise_identical:.4%}",
                "-" if c.trace is None else c.trace,
            ]
        row.append("PASS" if c.passed else "**FAIL**")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Totals", ""]
    lines.append(
        f"- cases: {len(report.cases)}, passed: {report.passed_cases}, failed: "
        f"{len(report.cases) - report.passed_cases}"
    )
    for d in dtypes:
        worst_l2 = max((c.dtypes[d].rel_l2 for c in report.cases if d in c.dtypes), default=0.0)
        worst_rel = max((c.dtypes[d].max_rel for c in report.cases if d in c.dtypes), default=0.0)
        lines.append(
            f"- {d}: worst relative L2 {_g(worst_l2)}, worst max rel {_g(worst_rel)}, "
            f"nb render time {report.render_seconds(d):.1f} s"
        )
    if "float64" in dtypes:
        traces = [c for c in report.cases if c.trace is not None]
        matched = sum(c.trace == "match" for c in traces)
        lines.append(f"- traces: {matched} of {len(traces)} match field by field")
    lines.append(f"- wall time of the whole report: {report.seconds:.1f} s")
    failed = [c for c in report.cases if not c.passed]
    if failed:
        lines += ["", "## Failures", ""]
        lines += [f"- {c.name}: {'; '.join(c.failures)}" for c in failed]
    lines += ["", "`parity.json` holds every number of this table.", ""]
    return "\n".join(lines)


def write_parity_report(report: ParityReport, out: str | Path) -> list[Path]:
    """Write ``README.md`` and ``parity.json`` into ``out`` (created if needed).

    Returns:
        The two paths.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    readme = folder / "README.md"
    data = folder / "parity.json"
    write_text(readme, markdown(report))
    write_json(data, report.as_dict())
    return [readme, data]
