"""Chunk kernels compiled ahead of time and kept on disk.

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
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["ChunkKernel", "aot_chunk_kernel", "kernel_key", "kernel_path"]

#: ``kernel(pixel_index, disabled, first, *inputs) -> (values, disabled, first_pending)``
ChunkKernel = Callable[..., tuple[Tensor, Tensor, Tensor]]

_LOADED: dict[str, ChunkKernel] = {}


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

    Args:
        static: The static options (their ``repr`` is hashed).
        example: The kernel's tensor inputs, in call order (None where absent).

    Returns:
        A hex digest.
    """
    h = hashlib.sha256()
    h.update(torch.__version__.encode())
    h.update(_source_digest().encode())
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


class _Exported(torch.nn.Module):
    def __init__(self, fn: Callable[..., tuple[Tensor, Tensor, Tensor]]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *inputs: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        return self.fn(*inputs)


def aot_chunk_kernel(
    fn: Callable[..., tuple[Tensor, Tensor, Tensor]],
    static: object,
    example: Sequence[Tensor | None],
    cache_dir: str | os.PathLike[str],
) -> ChunkKernel:
    """Load, or export, compile and store, the ahead-of-time compiled chunk kernel.

    For renders without gradients only (AOTInductor compiles inference graphs).

    Args:
        fn: The chunk kernel with the static options bound:
            ``fn(pixel_index, disabled, first, *inputs)``.
        static: The static options (part of the key).
        example: Example inputs in call order, with the shapes every call will have.
        cache_dir: Folder of the packages (created if missing).

    Returns:
        The compiled kernel, called like ``fn``.
    """
    path = kernel_path(static, example, cache_dir)
    key = str(path)
    cached = _LOADED.get(key)
    if cached is not None:
        return cached
    folder = path.parent
    if not path.exists():
        # imported on use: only building a package needs inductor
        from torch._inductor import aoti_compile_and_package

        folder.mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            exported = torch.export.export(_Exported(fn), tuple(example), strict=False)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".pt2", dir=folder)
        os.close(fd)
        try:
            with warnings.catch_warnings():
                # torch's own packaging code trips a deprecation warning of its pytree
                warnings.simplefilter("ignore", FutureWarning)
                aoti_compile_and_package(exported, package_path=tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    # The package's own runner, without importing inductor (about 2 s of start-up); it takes
    # the tensor inputs flattened in order (absent ones dropped) and returns the three outputs.
    loader_cls = torch._C._aoti.AOTIModelPackageLoader  # pyright: ignore[reportAttributeAccessIssue]
    runner = loader_cls(str(path), "model", False, 1, -1)

    def kernel(*inputs: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        values, disabled, pending = runner.boxed_run([t for t in inputs if t is not None])
        return values, disabled, pending

    _LOADED[key] = kernel
    return kernel
