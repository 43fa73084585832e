"""Compiled chunk kernels: by ``torch.compile``, or ahead of time and kept on disk.

A render with ``compile=True`` runs its chunks through :func:`chunk_kernel`: the chunk's
physics with every input a plain tensor (:func:`chunk_from_tensors`), compiled.

``torch.compile`` traces the Python chunk kernel again in every process (several seconds for
this kernel, plus importing dynamo), even when inductor's own cache already holds the compiled
code. A render without gradients does not need any of that: the kernel can be exported once
(``torch.export``), compiled by AOTInductor into a package file, and later processes only load
that file and call it. Packages are keyed by everything that fixes the compiled code: the
static options, the shape, dtype and device of every input, the torch version and the source
of ``nb_core`` itself.

The first render of a new key pays for the export and the compilation (tens of seconds); the
file is written to a temporary name and renamed, so concurrent processes never read half a
package.

Loading a package runs its native code, so only packages nb wrote are loaded: beside each
``chunk-<key>.pt2`` nb writes ``chunk-<key>.pt2.sha256`` (the SHA-256 of the package bytes, in
``sha256sum`` format), after the package and atomically. A package whose digest file is
missing or does not match is not in the cache: it is built again and replaced. A folder that
another user owns, or that its group or everyone may write to, is not used at all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import stat
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import Tensor

from nb_core.geometry.detector import DetectorFrame
from nb_core.params import Params, Static
from nb_core.render import (
    RenderConstants,
    RunState,
    chunk_plan,
    chunk_values,
    padded_index,
    render_constants,
)

__all__ = [
    "BoundChunkKernel",
    "ChunkKernel",
    "CompileNotice",
    "KernelCacheError",
    "aot_chunk_kernel",
    "cache_folder_problem",
    "chunk_from_tensors",
    "chunk_kernel",
    "compiled_chunk",
    "digest_path",
    "flatten_inputs",
    "kernel_in_cache",
    "kernel_key",
    "kernel_package",
    "kernel_path",
    "package_in_cache",
]

#: ``on_compile(package)``: told that a kernel is about to be compiled, with the package file
#: an ahead-of-time build will write, or None before ``torch.compile`` traces the kernel.
CompileNotice = Callable[[Path | None], None]

#: ``kernel(pixel_index, interpolation_disabled, first_loop_pending, *inputs)`` returning
#: the same three after the chunk, pixel values first.
ChunkKernel = Callable[..., tuple[Tensor, Tensor, Tensor]]

_LOADED: dict[str, ChunkKernel] = {}

#: Ending of the digest file kept beside each package.
_DIGEST_SUFFIX = ".sha256"


@functools.cache
def _source_digest() -> str:
    """Digest of every ``nb_core`` source file (a code change invalidates every package)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _describe(t: Tensor | None) -> str:
    if t is None:
        return "None"
    return f"{tuple(t.shape)}:{t.dtype}:{t.device.type}"


def kernel_key(static: object, example: Sequence[Tensor | None]) -> str:
    """The cache key of a chunk kernel.

    Besides the inputs it covers the torch version, nb_core's source and the machine: the
    processor architecture and the vector instruction set torch uses (a package compiled for
    AVX512 would not run on a processor without it, e.g. from a home folder shared between
    machines).

    Args:
        static: The static options (their ``repr`` is hashed).
        example: The kernel's tensor inputs, in call order (None where absent).

    Returns:
        A hex digest.
    """
    h = hashlib.sha256()
    h.update(torch.__version__.encode())
    h.update(_source_digest().encode())
    h.update(f"{platform.machine()}:{torch.backends.cpu.get_cpu_capability()};".encode())
    h.update(repr(static).encode())
    for t in example:
        h.update(_describe(t).encode())
        h.update(b";")
    return h.hexdigest()[:32]


def kernel_path(
    static: object, example: Sequence[Tensor | None], cache_dir: str | os.PathLike[str]
) -> Path:
    """Where the package of a chunk kernel is (or would be) kept.

    Args:
        static: The static options.
        example: The kernel's tensor inputs, in call order (None where absent).
        cache_dir: Folder of the packages.

    Returns:
        ``cache_dir / "chunk-<key>.pt2"``.
    """
    return Path(cache_dir) / f"chunk-{kernel_key(static, example)}.pt2"


class KernelCacheError(RuntimeError):
    """The kernel cache folder may not be used (see :func:`cache_folder_problem`)."""


def cache_folder_problem(folder: str | os.PathLike[str]) -> str | None:
    """Why packages in ``folder`` may not be trusted, or None when they may.

    Only the current user may have put files there: the folder must be owned by that user and
    not writable by its group or by others. A folder that does not exist yet has no problem
    (nb creates it, private to the user).

    Args:
        folder: The cache folder.

    Returns:
        One line saying what is wrong, or None.
    """
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a folder"
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        return f"it is owned by another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"its group or others may write to it (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def digest_path(package: str | os.PathLike[str]) -> Path:
    """The digest file kept beside a package: ``<package>.sha256``."""
    path = Path(package)
    return path.with_name(path.name + _DIGEST_SUFFIX)


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def package_in_cache(package: str | os.PathLike[str]) -> bool:
    """Whether a package is one nb wrote: its digest file is there and matches its bytes.

    Args:
        package: The package path (``kernel_path(...)``).

    Returns:
        False when the package or its digest is missing, unreadable or different, or when
        the folder is not safe to load from (:func:`cache_folder_problem`).
    """
    path = Path(package)
    if cache_folder_problem(path.parent) is not None:
        return False
    try:
        stored = digest_path(path).read_text(encoding="ascii").split()
        actual = _file_digest(path)
    except (OSError, UnicodeDecodeError):
        return False
    return bool(stored) and stored[0] == actual


def _write_temporary(folder: Path, stem: str, suffix: str, write: Callable[[str], None]) -> str:
    """Write a file through ``write(temporary path)`` in ``folder``; returns the temporary."""
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def _store(folder: Path, path: Path, build: Callable[[str], None]) -> None:
    """Build a package into ``path`` and then its digest, each renamed into place."""
    tmp = _write_temporary(folder, path.stem, ".pt2", build)
    try:
        line = f"{_file_digest(Path(tmp))}  {path.name}\n"
        digest = digest_path(path)

        def write_digest(name: str) -> None:
            Path(name).write_text(line, encoding="ascii")

        tmp_digest = _write_temporary(folder, path.stem, _DIGEST_SUFFIX, write_digest)
    except BaseException:
        os.unlink(tmp)
        raise
    try:
        os.replace(tmp, path)
        os.replace(tmp_digest, digest)
    finally:
        for name in (tmp, tmp_digest):
            if os.path.exists(name):
                os.unlink(name)


class _Exported(torch.nn.Module):
    def __init__(self, fn: Callable[..., tuple[Tensor, Tensor, Tensor]]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *inputs: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        return self.fn(*inputs)


def _build(
    fn: Callable[..., tuple[Tensor, Tensor, Tensor]], example: Sequence[Tensor | None], package: str
) -> None:
    """Export ``fn`` at the example inputs and compile it into the package file ``package``."""
    # imported on use: only building a package needs inductor
    from torch._inductor import aoti_compile_and_package

    with torch.no_grad():
        exported = torch.export.export(_Exported(fn), tuple(example), strict=False)
    with warnings.catch_warnings():
        # torch's own packaging code trips a deprecation warning of its pytree
        warnings.simplefilter("ignore", FutureWarning)
        aoti_compile_and_package(exported, package_path=package)


def _open(path: Path) -> ChunkKernel:
    """Load a package and wrap its runner as a chunk kernel."""
    # The package's own runner, without importing inductor (about 2 s of start-up); it takes
    # the tensor inputs flattened in order (absent ones dropped) and returns the three outputs.
    loader_cls = torch._C._aoti.AOTIModelPackageLoader  # pyright: ignore[reportAttributeAccessIssue]
    runner = loader_cls(str(path), "model", False, 1, -1)

    def kernel(*inputs: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        values, disabled, pending = runner.boxed_run([t for t in inputs if t is not None])
        return values, disabled, pending

    return kernel


def aot_chunk_kernel(
    fn: Callable[..., tuple[Tensor, Tensor, Tensor]],
    static: object,
    example: Sequence[Tensor | None],
    cache_dir: str | os.PathLike[str],
    on_compile: CompileNotice | None = None,
) -> ChunkKernel:
    """Load, or export, compile and store, the ahead-of-time compiled chunk kernel.

    For renders without gradients only (AOTInductor compiles inference graphs). A package is
    loaded only when :func:`package_in_cache` says nb wrote it; otherwise, or when it does
    not load, it is built again and replaced (package, then digest, each renamed into place).

    Args:
        fn: The chunk kernel with the static options bound:
            ``fn(pixel_index, disabled, first, *inputs)``.
        static: The static options (part of the key).
        example: Example inputs in call order, with the shapes every call will have.
        cache_dir: Folder of the packages (created, private to the user, if missing; the
            folders above it are created too, so the caller decides where it may be).
        on_compile: Called with the package's path before it is built (not when it loads).

    Returns:
        The compiled kernel, called like ``fn``.

    Raises:
        KernelCacheError: The folder is owned by another user or writable by others.
    """
    path = kernel_path(static, example, cache_dir)
    key = str(path)
    cached = _LOADED.get(key)
    if cached is not None:
        return cached
    folder = path.parent
    problem = cache_folder_problem(folder)
    if problem is None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        problem = cache_folder_problem(folder)
    if problem is not None:
        raise KernelCacheError(f"kernel cache {folder} is not used: {problem}")
    kernel: ChunkKernel | None = None
    if package_in_cache(path):
        try:
            kernel = _open(path)
        except RuntimeError:  # nb's own package that no longer loads: build it again
            kernel = None
    if kernel is None:
        if on_compile is not None:
            on_compile(path)
        _store(folder, path, functools.partial(_build, fn, example))
        kernel = _open(path)
    _LOADED[key] = kernel
    return kernel


_PARAM_FIELDS = tuple(f.name for f in fields(Params))
_FRAME_FIELDS = tuple(f.name for f in fields(DetectorFrame))
_CONSTANT_FIELDS = tuple(f.name for f in fields(RenderConstants) if f.name != "frame")


def flatten_inputs(params: Params, constants: RenderConstants) -> list[Tensor | None]:
    """Every field of ``params``, ``constants.frame`` and ``constants``, in order, as one list
    (None where absent)."""
    return [
        *(getattr(params, name) for name in _PARAM_FIELDS),
        *(getattr(constants.frame, name) for name in _FRAME_FIELDS),
        *(getattr(constants, name) for name in _CONSTANT_FIELDS),
    ]


def chunk_from_tensors(
    static: Static,
    pixel_index: Tensor,
    interpolation_disabled: Tensor,
    first_loop_pending: Tensor,
    *values: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`nb_core.render.chunk_values` with every input a plain tensor argument.

    Nothing travels inside objects, so ``torch.compile`` and ``torch.export`` treat every
    tensor as a graph input and trace only the per-chunk kernel.

    Args:
        static: Static options.
        pixel_index: ``(P,)`` flat pixel indices.
        interpolation_disabled, first_loop_pending: ``()`` bool: the run's state
            (:class:`~nb_core.render.RunState`).
        *values: :func:`flatten_inputs` of the render.

    Returns:
        ``(values, interpolation_disabled, first_loop_pending)`` after the chunk.
    """
    n_params, n_frame = len(_PARAM_FIELDS), len(_FRAME_FIELDS)
    params = Params(**dict(zip(_PARAM_FIELDS, values[:n_params], strict=True)))  # type: ignore[arg-type]
    frame_values = dict(zip(_FRAME_FIELDS, values[n_params : n_params + n_frame], strict=True))
    frame = DetectorFrame(**frame_values)  # type: ignore[arg-type]
    rest = dict(zip(_CONSTANT_FIELDS, values[n_params + n_frame :], strict=True))
    constants = RenderConstants(frame=frame, **rest)  # type: ignore[arg-type]
    state = RunState(interpolation_disabled, first_loop_pending)
    part, after = chunk_values(pixel_index, params, static, constants, state)
    return part, after.interpolation_disabled, after.first_loop_pending


@functools.cache
def compiled_chunk() -> ChunkKernel:
    """:func:`chunk_from_tensors` compiled with ``torch.compile`` (one fused loop per chunk shape).

    Compiled once per process and per (static options, chunk shape, dtype, device); the
    inductor cache on disk makes later processes start fast. Call it as
    ``kernel(static, pixel_index, interpolation_disabled, first_loop_pending, *inputs)``.
    """
    return torch.compile(chunk_from_tensors, dynamic=False)


@dataclass(frozen=True)
class BoundChunkKernel:
    """A compiled chunk kernel (static options bound or compiled in) and a render's inputs."""

    kernel: ChunkKernel
    inputs: list[Tensor | None]

    def __call__(self, pixel_index: Tensor, state: RunState) -> tuple[Tensor, RunState]:
        """The values of one (padded) chunk and the run's state after it."""
        with warnings.catch_warnings():
            # Dynamo reads ``.grad`` of non-leaf inputs while tracing; torch warns about its
            # own access. Nothing of ours is at fault, so keep the warning quiet.
            warnings.filterwarnings("ignore", message="The .grad attribute of a Tensor")
            values, disabled, pending = self.kernel(
                pixel_index, state.interpolation_disabled, state.first_loop_pending, *self.inputs
            )
        return values, RunState(disabled, pending)


def _example_inputs(
    pixels: Tensor, chunk: int, params: Params, inputs: list[Tensor | None]
) -> tuple[Tensor | None, ...]:
    """The inputs of a render's first kernel call, which every call's shapes match."""
    start = RunState.run_start(params.device)
    first_index = padded_index(pixels[:chunk], chunk)
    return (first_index, start.interpolation_disabled, start.first_loop_pending, *inputs)


def chunk_kernel(
    params: Params,
    static: Static,
    constants: RenderConstants,
    pixels: Tensor,
    chunk: int,
    kernel_cache: str | os.PathLike[str] | None,
    on_compile: CompileNotice | None = None,
) -> BoundChunkKernel:
    """The kernel of a render with ``compile=True``: ahead of time (:func:`aot_chunk_kernel`)
    with a ``kernel_cache``, no gradient to track and some pixels; else ``torch.compile``.

    Args:
        params: Parameters.
        static: Static options.
        constants: The render's shared quantities.
        pixels: ``(N,)`` flat indices the render evaluates.
        chunk: Pixels per chunk (every call is padded to it).
        kernel_cache: Folder of the ahead-of-time compiled kernels, or None.
        on_compile: Called before the kernel is compiled: with the package's path before an
            ahead-of-time build, with None before ``torch.compile`` traces it (which reuses
            what it traced earlier in the same process, so that compile may be quick).

    Returns:
        ``kernel(padded pixel_index, state) -> (values, state)``.
    """
    inputs = flatten_inputs(params, constants)
    tracked = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs)
    if kernel_cache is None or tracked or pixels.shape[0] == 0:
        if on_compile is not None and pixels.shape[0] > 0:
            on_compile(None)
        return BoundChunkKernel(functools.partial(compiled_chunk(), static), inputs)
    example = _example_inputs(pixels, chunk, params, inputs)
    bound = functools.partial(chunk_from_tensors, static)
    kernel = aot_chunk_kernel(bound, static, example, kernel_cache, on_compile)
    return BoundChunkKernel(kernel, inputs)


def kernel_package(
    params: Params,
    static: Static,
    kernel_cache: str | os.PathLike[str],
    *,
    max_evaluations: int | None = None,
) -> Path | None:
    """The package file ``render(..., compile=True, kernel_cache=...)`` would load or build.

    Args:
        params: Parameters.
        static: Static options.
        kernel_cache: Folder of the ahead-of-time compiled kernels.
        max_evaluations: The chunk budget the render would use (None: its compiled default).

    Returns:
        ``kernel_cache / "chunk-<key>.pt2"``, or None when the job renders no pixel.
    """
    pixels, chunk = chunk_plan(params, static, max_evaluations, compile=True)
    if pixels.shape[0] == 0:
        return None
    inputs = flatten_inputs(params, render_constants(params, static))
    return kernel_path(static, _example_inputs(pixels, chunk, params, inputs), kernel_cache)


def kernel_in_cache(
    params: Params,
    static: Static,
    kernel_cache: str | os.PathLike[str],
    *,
    max_evaluations: int | None = None,
) -> bool:
    """Whether ``render(..., compile=True, kernel_cache=...)`` would load a kernel already built.

    Args:
        params: Parameters.
        static: Static options.
        kernel_cache: Folder of the ahead-of-time compiled kernels.
        max_evaluations: The chunk budget the render would use (None: its compiled default).

    Returns:
        True when the package for this job's kernel is one nb wrote (its digest matches) in a
        folder only the current user may write to; see :func:`package_in_cache`.
    """
    package = kernel_package(params, static, kernel_cache, max_evaluations=max_evaluations)
    return package is not None and package_in_cache(package)
