"""The ``nb`` command: a thin Typer app over plain functions."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

app = typer.Typer(
    name="nb",
    help="nb: a differentiable PyTorch nanoBragg. Same flags, same images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_RAW = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _print_version(asked: bool) -> None:
    if asked:
        from nb_cli.version import version_lines

        sys.stdout.write("\n".join(version_lines()) + "\n")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the versions of nb's packages and of torch, then exit.",
        ),
    ] = False,
) -> None:
    """Options taken before the command."""


@app.command(context_settings=_RAW)
def simulate(ctx: typer.Context) -> None:
    """Simulate a diffraction image from nanoBragg flags (see 'nb simulate --help')."""
    raise typer.Exit(_simulate(list(ctx.args)))


def _simulate(args: list[str]) -> int:
    """``nb simulate ARGS``: the flag help, or a simulation; returns the exit code."""
    if any(a in ("-h", "--help", "-help") for a in args):
        from nb_cli.help import print_flag_help

        print_flag_help()
        return 0
    from nb_cli.runner import simulate_command

    return simulate_command(args)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def refine(
    ctx: typer.Context,
    observed: Annotated[
        str, typer.Argument(help="observed image: SMV, or raw float32 (-floatfile layout)")
    ],
    refine: Annotated[
        str, typer.Option("--refine", help="parameters, comma-separated (e.g. distance,Xbeam,cell)")
    ],
    loss: Annotated[str, typer.Option(help="poisson (counts) or lsq")] = "poisson",
    method: Annotated[
        str,
        typer.Option(help="lm (spots, then Levenberg-Marquardt on the spot pixels), lbfgs or adam"),
    ] = "lm",
    max_iter: Annotated[
        str, typer.Option("--max-iter", metavar="N", help="iterations per stage")
    ] = "30",
    json_out: Annotated[str | None, typer.Option("--json", help="write the result as JSON")] = None,
    write_mat: Annotated[
        str | None,
        typer.Option(
            "--write-mat", metavar="FILE", help="write the refined orientation as a -mat file"
        ),
    ] = None,
    lattice: Annotated[
        str,
        typer.Option(
            help="hold the refined cell to a lattice system: triclinic, monoclinic, "
            "orthorhombic, tetragonal, hexagonal, rhombohedral or cubic"
        ),
    ] = "triclinic",
    dtype: Annotated[str, typer.Option(help="float64 or float32")] = "float64",
) -> None:
    """Refine model parameters against OBSERVED; the nanoBragg flags after it give the start."""
    from nb_cli.refine import parse_iterations, refine_command

    refine_command(
        observed,
        refine,
        list(ctx.args),
        loss=loss,
        method=method,
        max_iter=parse_iterations(max_iter),
        json_out=json_out,
        write_mat=write_mat,
        lattice=lattice,
        dtype=dtype,
    )


@app.command()
def demo(
    outdir: Annotated[str, typer.Option(help="folder for the images")] = "out/demo",
    dtype: Annotated[str, typer.Option(help="float32 or float64")] = "float32",
) -> None:
    """Simulate a real Pilatus 6M frame (the shared A.mat and scaled.hkl) into OUTDIR."""
    from nb_cli.runner import demo_command

    raise typer.Exit(demo_command(outdir, dtype))


def _register_datasets() -> None:
    from nb_cli.dataset_app import register

    register(app)


_register_datasets()


#: Entry-point group through which other packages (nb-parity) add commands to ``nb``.
PLUGIN_GROUP = "nb.commands"


def _load_plugins() -> None:
    """Register commands that installed packages declare under :data:`PLUGIN_GROUP`.

    Each entry point names a function that takes the Typer app and adds its commands, so that
    nb_cli never imports the packages that build on it.
    """
    from importlib.metadata import entry_points

    for entry in entry_points(group=PLUGIN_GROUP):
        entry.load()(app)


_load_plugins()


def main(argv: list[str] | None = None) -> int:
    """Run ``nb`` in-process and return its exit code.

    Args:
        argv: Arguments after ``nb``, e.g. ``["simulate", "-cell", "100", ...]``; defaults to
            ``sys.argv[1:]``.

    Returns:
        The exit code: 0 on success, 2 for bad input.
    """
    from typer.exceptions import Abort, Exit, TyperException

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["simulate"]:
            # The C program's flags pass through verbatim, so they skip Typer's parameter
            # processing, whose value coercion imports pydantic (0.2-0.3 s of every run).
            try:
                result = _simulate(args[1:])
            except KeyboardInterrupt:
                raise Abort() from None
        else:
            command = typer.main.get_command(app)
            result = command.main(args=args, prog_name="nb", standalone_mode=False)
    except Exit as exc:
        return int(exc.exit_code or 0)
    except Abort:
        sys.stderr.write("nb: aborted\n")
        return 130
    except TyperException as exc:
        message = exc.format_message()
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stdout.write(message + "\n")
        else:
            sys.stderr.write(f"nb: error: {' '.join(message.split())}\n")
        return 2
    except Exception as exc:
        # Imported here so that 'nb --help' does not import the engine (and torch).
        from nb_core.errors import InputError

        if isinstance(exc, InputError):
            sys.stderr.write(f"nb: error: {exc}\n")
            return 2
        raise
    return int(result or 0) if isinstance(result, int) else 0


def run() -> None:
    """Console entry point: run :func:`main` and leave without tearing the interpreter down.

    Python's shutdown after ``import torch`` (clearing thousands of modules, collecting their
    cycles, running the C++ destructors) takes 0.6-0.9 s of a command's wall time on a 2-core
    machine. Every output file has been written and closed (atomically) by the time
    :func:`main` returns, so the exit functions are run, the standard streams flushed, and the
    process ends with :func:`os._exit`. An exception that escapes :func:`main` (a bug) takes the
    normal route, traceback included.
    """
    code = main()
    _leave(code)


def _leave(code: int) -> None:
    """Run the ``atexit`` functions, flush stdout/stderr and end the process with ``code``."""
    import atexit
    import os

    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is None:  # pragma: no cover - every CPython has it
        sys.exit(code)
    run_exit_functions()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing more can be said
            code = code or 1
    os._exit(code)
