"""``nb compare``, ``nb trace`` and ``nb parity golden``: nb-parity's commands on the ``nb`` app.

nb_cli loads :func:`register` through the ``nb.commands`` entry-point group, so that nb_cli
never imports nb_parity. Each command forwards to plain functions (:mod:`nb_parity.compare`,
:mod:`nb_parity.report`) and prints with rich; bad input raises
:class:`nb_core.errors.InputError`, which ``nb`` reports in one line with exit code 2.
"""

from __future__ import annotations

import math
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from nb_parity.compare import Comparison, GoldenCase, ReferenceImages, Thresholds, TraceDiff
    from nb_parity.runs import Run

__all__ = ["compare_command", "compare_main", "compare_run", "register", "trace_command"]

_DTYPES = ("float64", "float32")


COMPARE_HELP = (
    "Run nb and the C program on the same flags and report how they agree.\n\n"
    "Writes metrics.json, difference.png and README.md into OUTDIR and prints a table. "
    "Exit code 0 when every threshold passes, 1 when one fails, 2 for bad input. "
    "The C side is --c-bin (or $NB_C_BIN), or the stored outputs of a golden case "
    "(--golden; without flags, the case's own flags and inputs). Input files named by the "
    "flags (-hkl, -mat, -sourcefile, -mask, -img, -stol; Fdump.bin without -hkl) are taken "
    "from the current folder. Noise images are compared when the flags give -seed. "
    "--trace F S adds the field-by-field diff of pixel (F, S)'s -printout block, naming the "
    "first field that diverges (reported, not a threshold).\n\n"
    "Example: nb compare --c-bin ./nanoBragg --outdir out -- -cell 100 100 100 90 90 90 "
    "-default_F 100 -N 5 -detpixels 128"
)
TRACE_HELP = (
    "Print nb's -printout block for pixel (F, S), then every intermediate quantity.\n\n"
    "Tables: the detector vectors and pix0; each sub-pixel's position, diffracted direction, "
    "solid angle and capture fraction; each source's scattering vector, stol and "
    "polarization; the rotated cell for each phi step and mosaic domain; h,k,l, F_latt (per "
    "axis and total), F_cell and the term of every evaluation; the factors applied to the "
    "pixel. --json FILE writes every row.\n\n"
    "The flags are resolved as the C program reads them in its own trace run, followed by "
    "-printout -printout_pixel F S (a final -misset_seed N, for one, reads them as angles).\n\n"
    "Example: nb trace 64 64 -- -cell 100 100 100 90 90 90 -default_F 100 -N 5 -detpixels 128"
)
GOLDEN_HELP = (
    "Replay every golden case through nb and write OUT/README.md and OUT/parity.json.\n\n"
    "Each case is replayed in float64 and float32 (or --dtype) and held to the golden "
    "tolerances. Exit code 0 when every case passes, 1 otherwise."
)

REFINEMENT_HELP = (
    "Run the refinement scenarios and write OUT/README.md, OUT/results.json and one "
    "convergence plot per scenario.\n\n"
    "Each scenario perturbs the true model (distance, beam centre, cell, misset, detector "
    "tilts, two-theta) and refines it back against the C program's image of the true model "
    "(--c-bin or $NB_C_BIN; nb's own image without one). Exit code 0 when every scenario "
    "lands within its tolerance, 1 otherwise."
)


def register(app: typer.Typer) -> None:
    """Add ``compare``, ``trace`` and ``parity golden`` to the ``nb`` app.

    Args:
        app: The ``nb`` Typer app.
    """
    app.command("compare", help=COMPARE_HELP, no_args_is_help=True)(compare_command)
    app.command("trace", help=TRACE_HELP, no_args_is_help=True)(trace_command)
    parity = typer.Typer(
        name="parity", help="Parity reports against the C program.", no_args_is_help=True
    )
    parity.command("golden", help=GOLDEN_HELP)(golden_command)
    parity.command("refinement", help=REFINEMENT_HELP)(refinement_command)
    app.add_typer(parity, name="parity")


def compare_main(argv: list[str] | None = None) -> int:
    """``nb-compare ARGS``: exactly ``nb compare ARGS``, for workflows that call it by that name.

    Args:
        argv: Arguments after ``nb-compare`` (default: ``sys.argv[1:]``).

    Returns:
        The exit code of ``nb compare`` (0 all checks pass, 1 one fails, 2 bad input).
    """
    import sys

    from nb_cli import app, main

    if not any(command.name == "compare" for command in app.registered_commands):
        register(app)  # nb-parity imported without its entry point installed
    return main(["compare", *(sys.argv[1:] if argv is None else argv)])


def compare_run() -> None:
    """Console entry point of ``nb-compare``: run :func:`compare_main` and exit with its code."""
    raise SystemExit(compare_main())


def _input_error(message: str, where: str | None = None) -> Exception:
    # Imported on use: nb_core pulls in torch, and `nb --help` should not pay for it.
    from nb_core.errors import InputError

    return InputError(message, where)


def _check_dtype(dtype: str) -> None:
    if dtype not in _DTYPES:
        raise _input_error(f"expected float64 or float32, got {dtype!r}", "--dtype")


def _check_positive(value: float, flag: str, what: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise _input_error(f"expected a positive finite number of {what}, got {value:g}", flag)


def _check_threshold(value: float | None, flag: str, low: float, high: float) -> None:
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise _input_error(f"expected a number from {low:g} to {high:g}, got {value:g}", flag)


def _check_outdir(outdir: Path, flag: str) -> None:
    """Refuse an output folder that is a file, or lies below one (it could not be made)."""
    for folder in (outdir, *outdir.parents):
        if folder.exists():
            if not folder.is_dir():
                raise _input_error(f"{folder} is a file, not a folder", flag)
            return


def _check_file_target(path: Path, flag: str) -> None:
    """Refuse an output file path that is a folder or lies in a folder that does not exist."""
    if path.is_dir():
        raise _input_error(f"{path} is a folder; give a file path", flag)
    if not path.parent.is_dir():
        raise _input_error(f"folder {path.parent} does not exist", flag)


def _check_compare_options(
    *,
    rel_l2: float | None,
    max_rel: float | None,
    min_correlation: float | None,
    trace: tuple[int, int] | None,
    c_threads: int,
    timeout: float,
    outdir: Path,
    golden: Path | None,
) -> None:
    """Refuse ``nb compare`` option values that no run could honour, before any run."""
    _check_threshold(rel_l2, "--rel-l2", 0.0, math.inf)
    _check_threshold(max_rel, "--max-rel", 0.0, math.inf)
    _check_threshold(min_correlation, "--min-correlation", -1.0, 1.0)
    if trace is not None and min(trace) < 0:
        raise _input_error(
            f"expected pixel indices of 0 or more, got {trace[0]} {trace[1]}", "--trace"
        )
    if c_threads < 1:
        raise _input_error(f"expected 1 or more threads, got {c_threads}", "--c-threads")
    _check_positive(timeout, "--timeout", "seconds")
    _check_outdir(outdir, "--outdir")
    if golden is not None and not golden.is_dir():
        raise _input_error(f"{golden} is not a folder", "--golden")


def compare_command(
    flags: Annotated[
        list[str] | None, typer.Argument(help="nanoBragg flags, after --", show_default=False)
    ] = None,
    c_bin: Annotated[
        str | None,
        typer.Option("--c-bin", help="the reference C binary (default: $NB_C_BIN)"),
    ] = None,
    golden: Annotated[
        Path | None,
        typer.Option("--golden", help="a golden case folder: its stored outputs are the C side"),
    ] = None,
    outdir: Annotated[Path, typer.Option(help="folder for the three report files")] = Path(
        "compare"
    ),
    dtype: Annotated[str, typer.Option(help="nb's dtype: float64 or float32")] = "float64",
    rel_l2: Annotated[
        float | None,
        typer.Option(help="largest relative L2 error (float64: 1e-6, float32: 1e-3)"),
    ] = None,
    max_rel: Annotated[
        float | None,
        typer.Option(help="largest max|nb - C| / max|C| (float64: 1e-5, float32: 1e-2)"),
    ] = None,
    min_correlation: Annotated[
        float | None, typer.Option(help="smallest Pearson correlation (0.99999)")
    ] = None,
    peaks: Annotated[
        bool, typer.Option(help="require every Bragg peak matched within 1 pixel")
    ] = True,
    trace: Annotated[
        tuple[int, int] | None,
        typer.Option(metavar="F S", help="diff the -printout block of pixel (fast F, slow S)"),
    ] = None,
    c_threads: Annotated[int, typer.Option(help="OMP_NUM_THREADS for the C program")] = 1,
    timeout: Annotated[float, typer.Option(help="seconds before the C run is killed")] = 1800.0,
) -> None:
    """Run nb and the C program on the same flags and report how they agree.

    Writes metrics.json, difference.png and README.md into OUTDIR. Exit code 0 when every
    threshold passes, 1 when one fails, 2 for bad input. Input files named by the flags
    (-hkl, -mat, -sourcefile, -mask, -img; Fdump.bin without -hkl) are taken from the current
    folder. Example: nb compare --c-bin ./nanoBragg --outdir out -- -cell 100 100 100 90 90 90
    -default_F 100 -N 5 -detpixels 128
    """
    from rich.console import Console

    from nb_parity.compare import Thresholds, write_report

    _check_dtype(dtype)
    _check_compare_options(
        rel_l2=rel_l2,
        max_rel=max_rel,
        min_correlation=min_correlation,
        trace=trace,
        c_threads=c_threads,
        timeout=timeout,
        outdir=outdir,
        golden=golden,
    )
    base = Thresholds.for_dtype(dtype)
    thresholds = Thresholds(
        rel_l2=base.rel_l2 if rel_l2 is None else rel_l2,
        max_rel=base.max_rel if max_rel is None else max_rel,
        min_correlation=base.min_correlation if min_correlation is None else min_correlation,
        all_peaks=peaks,
    )
    command = ["nb", "compare"]
    command += ["--golden", str(golden)] if golden is not None else ["--c-bin", "<C binary>"]
    command += ["--outdir", str(outdir), "--dtype", dtype]
    for name, value in (
        ("--rel-l2", rel_l2),
        ("--max-rel", max_rel),
        ("--min-correlation", min_correlation),
    ):
        command += [name, f"{value:g}"] if value is not None else []
    command += [] if peaks else ["--no-peaks"]
    command += ["--trace", str(trace[0]), str(trace[1])] if trace is not None else []
    command += ["--", *flags] if flags else []
    comparison = _run_comparison(
        flags=list(flags or []),
        c_bin=c_bin,
        golden=golden,
        dtype=dtype,
        thresholds=thresholds,
        trace=trace,
        threads=c_threads,
        timeout=timeout,
        command=command,
    )
    written = write_report(comparison, outdir)
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 120))
    _print_comparison(console, comparison, written)
    raise typer.Exit(0 if comparison.passed else 1)


def _run_comparison(
    *,
    flags: list[str],
    c_bin: str | None,
    golden: Path | None,
    dtype: str,
    thresholds: Thresholds,
    trace: tuple[int, int] | None,
    threads: int,
    timeout: float,
    command: list[str],
) -> Comparison:
    """Run both sides and compare them (see :func:`compare_command`)."""
    from nb_cli.flags import parse_args
    from nb_parity.compare import compare_runs, load_case, reference_from_run, stage_inputs
    from nb_parity.runs import find_c_binary, run_c, run_nb

    if golden is not None and c_bin is not None:
        raise _input_error("give --c-bin or --golden, not both", "--golden")
    binary = None
    case = None
    if golden is not None:
        case = load_case(golden)
    else:
        binary = find_c_binary(c_bin)
        if binary is None:
            raise _input_error(
                "no C binary: pass --c-bin PATH or set NB_C_BIN (or use --golden CASE_DIR)"
            )
        command[command.index("<C binary>")] = str(binary)
    if case is not None and not flags:
        flags = list(case.flags)
        inputs = {name: case.path / name for name in case.inputs}
    elif not flags:
        raise _input_error("no nanoBragg flags: give them after --, e.g. nb compare -- -cell ...")
    else:
        flags, inputs = stage_inputs(flags)
    parsed = parse_args(flags, read_headers=False)
    # Without an explicit -seed both programs seed the noise from the clock: not comparable.
    noise = parsed.settings.write_noise and "-seed" in parsed.c_argv

    if case is not None:
        reference, c_text = _golden_side(case, trace)
    else:
        assert binary is not None
        c_run = run_c(
            binary,
            flags,
            inputs=inputs,
            noise=noise,
            printout_pixel=trace,
            timeout=timeout,
            threads=threads,
        )
        if not c_run.ok:
            last = next((ln for ln in reversed(c_run.stdout.splitlines()) if ln.strip()), "")
            raise _input_error(
                f"the C program failed (exit {c_run.returncode}) and wrote no image: {last}"
            )
        reference, c_text = reference_from_run(c_run, binary), c_run.stdout
    # The trace comes from the experiment that rendered nb's image (the same argv).
    nb_run = run_nb(flags, inputs=inputs, noise=noise, dtype=dtype, printout_pixel=trace)
    if nb_run.returncode != 0 or nb_run.float_image is None:
        message = nb_run.stdout.strip().splitlines()[-1] if nb_run.stdout.strip() else ""
        raise _input_error(message.removeprefix("nb: error: ") or "nb wrote no image")
    trace_diff = None if trace is None else _trace_diff(nb_run, trace, c_text)
    return compare_runs(
        reference, nb_run, thresholds, dtype=dtype, trace=trace_diff, command=command
    )


def _golden_side(case: GoldenCase, trace: tuple[int, int] | None) -> tuple[ReferenceImages, str]:
    """A golden case's images and C trace text (checked to be of the pixel asked for)."""
    from nb_parity.compare import golden_reference

    reference = golden_reference(case)
    c_text = case.trace() or ""
    if trace is not None and not c_text:
        raise _input_error("this golden case has no trace.txt", "--trace")
    if trace is not None:
        head = c_text.splitlines()[0] if c_text else ""
        if head.startswith("#") and f"fast={trace[0]} slow={trace[1]}" not in head:
            raise _input_error(f"the golden trace is for another pixel ({head[2:]})", "--trace")
    return reference, c_text


def _trace_diff(nb_run: Run, trace: tuple[int, int], c_text: str) -> TraceDiff:
    """nb's ``-printout`` block of the pixel against the C program's."""
    from nb_parity.compare import diff_trace

    f, s = trace
    if not nb_run.printout and nb_run.float_image is not None:
        height, width = nb_run.float_image.shape
        raise _input_error(
            f"pixel ({f}, {s}) is outside the {width} x {height} detector", "--trace"
        )
    return diff_trace(f, s, nb_run.printout, c_text)


def _num(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return f"{value:.4g}"


def _print_comparison(console: Console, comparison: Comparison, written: list[Path]) -> None:
    from rich.table import Table

    from nb_parity.compare import detail_lines

    c = comparison
    table = Table(title=f"nb ({c.dtype}) vs {c.reference.source}")
    for name in ("check", "required", "measured", "result"):
        table.add_column(name)
    for check in c.checks:
        result = "[green]PASS[/green]" if check.passed else "[red]FAIL[/red]"
        table.add_row(check.name, f"{check.op} {check.limit:g}", _num(check.measured), result)
    console.print(table)
    if c.trace is not None:
        _print_trace_diff(console, c.trace)
    for line in detail_lines(c):
        console.print(line, highlight=False, markup=False)
    console.print("wrote " + ", ".join(str(p) for p in written))
    console.print(("[green]PASS[/green]" if c.passed else "[red]FAIL[/red]"), highlight=False)


def _print_trace_diff(console: Console, diff: TraceDiff) -> None:
    from rich.table import Table

    table = Table(title=f"pixel ({diff.fpixel}, {diff.spixel}) -printout: nb vs C")
    for name in ("field", "value", "nb", "C", ""):
        table.add_column(name)
    first = diff.first
    for field, name, ours, theirs, agree in diff.rows:
        mark = "ok" if agree else "[red]differs[/red]"
        if first is not None and first.field == field and first.name == name:
            mark = "[red bold]FIRST[/red bold]"
        table.add_row(field, name, f"{ours:.10g}", f"{theirs:.10g}", mark)
    if diff.rows:
        console.print(table)


# --------------------------------------------------------------------------- nb trace


def _cell(value: Any, digits: int = 8) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}g}"
    if isinstance(value, list):
        return " ".join(_cell(v, 6) for v in value)
    return str(value)


def trace_command(
    fpixel: Annotated[int, typer.Argument(metavar="F", help="fast pixel index")],
    spixel: Annotated[int, typer.Argument(metavar="S", help="slow pixel index")],
    flags: Annotated[
        list[str] | None, typer.Argument(help="nanoBragg flags, after --", show_default=False)
    ] = None,
    dtype: Annotated[str, typer.Option(help="float64 or float32")] = "float64",
    json_file: Annotated[
        Path | None, typer.Option("--json", help="also write every table to this JSON file")
    ] = None,
    max_rows: Annotated[
        int, typer.Option(help="rows printed per table (--json writes them all)")
    ] = 100,
) -> None:
    """Print nb's -printout block for pixel (F, S), then every intermediate quantity.

    Tables: detector vectors and pix0, each sub-pixel's position, diffracted direction, solid
    angle and capture fraction, each source's scattering vector and polarization, the rotated
    cell for each phi step and mosaic domain, and h,k,l, F_latt (per axis), F_cell and the
    term for every evaluation. Example: nb trace 64 64 -- -cell 100 100 100 90 90 90
    -default_F 100 -N 5 -detpixels 128
    """
    from rich.console import Console
    from rich.table import Table

    from nb_cli.simulate import prepare
    from nb_core.trace import format_printout
    from nb_parity.pixel_trace import printout_flags, trace_tables, traced_settings_differ

    _check_dtype(dtype)
    if max_rows < 0:
        raise _input_error(f"expected 0 or more rows, got {max_rows}", "--max-rows")
    if json_file is not None:
        _check_file_target(json_file, "--json")
    if not flags:
        raise _input_error(
            "no nanoBragg flags: give them after --, e.g. nb trace 10 20 -- -cell ..."
        )
    traced = printout_flags(flags, fpixel, spixel)
    prepared = prepare([*traced, "-dtype", dtype], workdir=Path.cwd())
    tr, tables = trace_tables(prepared, fpixel, spixel)
    block = format_printout(tr)
    if json_file is not None:
        payload = {
            "pixel": [fpixel, spixel],
            "dtype": dtype,
            "flags": list(flags),
            "printout": block,
            "tables": {
                t["title"].split(" (")[0]: {"columns": t["columns"], "rows": t["rows"]}
                for t in tables
            },
        }
        from nb_parity.outputs import write_json

        write_json(json_file, payload, nan=None)
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    if traced_settings_differ(flags, traced):
        console.print(
            "note: the last flags read the arguments after them, as in the C program; traced "
            f"as the C program's trace run reads them: ... -printout -printout_pixel "
            f"{fpixel} {spixel}",
            highlight=False,
            markup=False,
        )
    for line in block:
        console.print(line, highlight=False, markup=False)
    console.print()
    for table in tables:
        rows = table["rows"]
        shown = Table(title=f"{table['title']} ({len(rows)} rows)", title_justify="left")
        for name in table["columns"]:
            shown.add_column(name)
        for row in rows[:max_rows]:
            shown.add_row(*(_cell(v) for v in row))
        console.print(shown)
        if len(rows) > max_rows:
            console.print(f"... {len(rows) - max_rows} more rows (--max-rows, or --json)")
    if json_file is not None:
        console.print(f"wrote {json_file}")


# --------------------------------------------------------------------------- nb parity golden


def golden_command(
    folder: Annotated[
        Path | None,
        typer.Argument(help="golden cases folder (default: ../shared/golden/cases)"),
    ] = None,
    dtype: Annotated[
        list[str] | None,
        typer.Option(help="dtype to replay, repeatable (default: float64 and float32)"),
    ] = None,
    out: Annotated[Path, typer.Option(help="report folder")] = Path("reports/parity"),
) -> None:
    """Replay every golden case through nb and write OUT/README.md and OUT/parity.json.

    Exit code 0 when every case passes the golden tolerances, 1 otherwise.
    """
    from rich.console import Console

    from nb_parity.golden import find_golden_root
    from nb_parity.report import golden_report, write_parity_report

    dtypes = list(dtype) if dtype else list(_DTYPES)
    for name in dtypes:
        _check_dtype(name)
    _check_outdir(out, "--out")
    root = folder if folder is not None else find_golden_root()
    if root is None:
        raise _input_error("no golden corpus found: give its folder (shared/golden/cases)")
    if not root.is_dir():
        raise _input_error("not a folder", str(root))
    command = ["nb", "parity", "golden"]
    command += [str(folder)] if folder is not None else []
    for name in dtype or []:
        command += ["--dtype", name]
    command += ["--out", str(out)]
    console = Console()
    report = golden_report(root, dtypes=dtypes, command=shlex.join(command), progress=console.print)
    written = write_parity_report(report, out)
    console.print(
        f"{report.passed_cases}/{len(report.cases)} cases pass; wrote "
        + ", ".join(str(p) for p in written)
    )
    raise typer.Exit(0 if report.passed else 1)


# --------------------------------------------------------------------------- nb parity refinement


def refinement_command(
    c_bin: Annotated[
        str | None,
        typer.Option("--c-bin", help="C binary for the observed images (default: $NB_C_BIN)"),
    ] = None,
    out: Annotated[Path, typer.Option(help="report folder")] = Path("reports/refinement"),
    only: Annotated[
        list[str] | None, typer.Option(help="scenario or frame name, repeatable (default: all)")
    ] = None,
    max_iter: Annotated[int, typer.Option(help="iterations per stage")] = 40,
    data: Annotated[Path, typer.Option(help="folder with A.mat and scaled.hkl")] = Path(
        "../shared/data"
    ),
    stills: Annotated[int, typer.Option(help="stills in the many-shot fit (0: none)")] = 20,
) -> None:
    """Run the refinement scenarios and realistic frames, and write the report."""
    from rich.console import Console

    from nb_parity.frames import FRAMES, run_frame
    from nb_parity.frames_report import frames_report
    from nb_parity.outputs import write_json, write_text
    from nb_parity.refinement import SCENARIOS, observed_image, run_scenario, write_report
    from nb_parity.stills_fit import run_stills

    if max_iter < 1:
        raise _input_error(f"expected 1 or more iterations, got {max_iter}", "--max-iter")
    if stills < 0:
        raise _input_error(f"expected 0 or more stills, got {stills}", "--stills")
    _check_outdir(out, "--out")
    names = {sc.name for sc in SCENARIOS} | {frame.name for frame in FRAMES}
    for name in only or []:
        if name not in names:
            raise _input_error(
                f"unknown scenario {name!r} (one of {', '.join(sorted(names))})", "--only"
            )
    chosen_frames = [frame for frame in FRAMES if not only or frame.name in only]
    if chosen_frames and not ((data / "A.mat").is_file() and (data / "scaled.hkl").is_file()):
        raise _input_error(f"{data} holds no A.mat and scaled.hkl", "--data")
    console = Console()
    c_bin = c_bin or os.environ.get("NB_C_BIN")
    frames = []
    for frame in chosen_frames:
        res = run_frame(frame, data, c_bin=c_bin)
        console.print(f"{frame.name}: {'PASS' if res.passed else 'FAIL'}, {res.wall:.1f} s")
        frames.append(res)
    shots = run_stills(stills) if stills and not only else None
    if shots is not None:
        console.print(
            f"{stills} stills: {'PASS' if shots.passed else 'FAIL'}, {shots.seconds:.1f} s"
        )
    chosen = [sc for sc in SCENARIOS if not only or sc.name in only]
    observed, source = observed_image(c_bin)
    results = []
    for sc in chosen:
        res = run_scenario(sc, observed, max_iter=max_iter)
        console.print(
            f"{sc.name}: {'PASS' if res.passed else 'FAIL'} after {res.fit.iterations} "
            f"iterations, {res.fit.seconds:.1f} s"
        )
        results.append(res)
    command = ["nb", "parity", "refinement", "--out", str(out)]
    for name in only or []:
        command += ["--only", name]
    written = write_report(results, out, source=source, command=shlex.join(command))
    lines, figures, payload = frames_report(frames, shots, out)
    readme = out / "README.md"
    small = readme.read_text().splitlines()
    header = [small[0], "", *small[2:3], ""] if small else []
    body = ["## Small scenarios (96 x 96 pixels, noise-free)", "", *small[3:]]
    write_text(readme, "\n".join([*header, *lines, "", *body]))
    write_json(out / "frames.json", payload, indent=2)
    console.print("wrote " + ", ".join(str(p) for p in [*written, *figures]))
    passed = all(r.passed for r in results) and all(r.passed for r in frames)
    raise typer.Exit(0 if passed and (shots is None or shots.passed) else 1)
