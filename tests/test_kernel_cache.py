"""The kernel cache loads only packages nb wrote, rebuilds bad ones, and never creates HOME.

No test here compiles a kernel: packages are written by hand (any bytes) with or without their
digest, and the build and load steps of :func:`nb_core.kernels.aot_chunk_kernel` are replaced
by stand-ins that record what the loader decided. The one real compile is in test_compile.py.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from nb_cli import main
from nb_cli.flags import parse_args
from nb_cli.simulate import _want_compile, kernel_cache_dir
from nb_core import kernels, load_inputs, resolve
from nb_core.kernels import (
    KernelCacheError,
    aot_chunk_kernel,
    cache_folder_problem,
    digest_path,
    package_in_cache,
)
from nb_core.params import Experiment
from nb_core.render import kernel_in_cache, kernel_package

#: A 16-pixel job: far below the -compile auto threshold, so only a cached kernel compiles it.
TINY = [
    *("-cell", "70", "80", "90", "85", "95", "105", "-lambda", "1", "-N", "3"),
    *("-default_F", "100", "-distance", "100", "-detpixels", "4"),
]


@pytest.fixture(autouse=True)
def _no_loaded_kernels() -> Iterator[None]:
    """Every test starts, and leaves, as a fresh process would: nothing loaded in memory."""
    kernels._LOADED.clear()
    yield
    kernels._LOADED.clear()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache folder that ``nb simulate`` uses (through $NB_KERNEL_CACHE)."""
    folder = tmp_path / "kernels"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    monkeypatch.setenv("NB_KERNEL_CACHE", str(folder))
    return folder


def _tiny() -> Experiment:
    parsed = parse_args(TINY)
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=torch.float32)


def _plant(package: Path, data: bytes, digest: str | None) -> None:
    """Write a package and (unless None) a digest line for it, as someone else might."""
    package.write_bytes(data)
    if digest is not None:
        digest_path(package).write_text(f"{digest}  {package.name}\n")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_package_counts_as_cached_only_with_its_matching_digest(cache: Path) -> None:
    exp = _tiny()
    package = kernel_package(exp.params, exp.static, cache)
    assert package is not None
    assert package.parent == cache
    assert package.name.startswith("chunk-")
    assert package.suffix == ".pt2"
    data = b"native code nb did not write"
    _plant(package, data, None)
    assert not kernel_in_cache(exp.params, exp.static, cache)
    _plant(package, data, _sha256(b"other bytes"))
    assert not kernel_in_cache(exp.params, exp.static, cache)
    digest_path(package).write_text("")  # an empty digest file
    assert not kernel_in_cache(exp.params, exp.static, cache)
    _plant(package, data, _sha256(data))
    assert kernel_in_cache(exp.params, exp.static, cache)
    package.write_bytes(data + b"\0")  # changed after nb wrote it
    assert not kernel_in_cache(exp.params, exp.static, cache)


def test_compile_auto_does_not_load_a_planted_package(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exp = _tiny()
    package = kernel_package(exp.params, exp.static, cache)
    assert package is not None
    _plant(package, b"\x7fELF planted", None)
    assert _want_compile("auto", exp, "cpu") is False

    def refuse(path: Path) -> kernels.ChunkKernel:
        raise AssertionError(f"{path} was loaded")

    monkeypatch.setattr(kernels, "_open", refuse, raising=False)
    monkeypatch.chdir(tmp_path)
    code = main(["simulate", *TINY, "-compile", "auto", "-nonoise", "-nopgm"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "compiled kernel failed" not in out.out
    assert package.read_bytes() == b"\x7fELF planted"  # not loaded, not touched
    assert (tmp_path / "floatimage.bin").stat().st_size == 16 * 4


class _Recorder:
    """Stand-ins for the build and load steps: what the loader asked for, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_loads: int = 0) -> None:
        self.events: list[str] = []
        self.fail_loads = fail_loads
        monkeypatch.setattr(kernels, "_build", self.build)
        monkeypatch.setattr(kernels, "_open", self.open)

    def build(self, fn: object, example: object, package: str) -> None:
        del fn, example
        self.events.append("build")
        Path(package).write_bytes(b"package built by nb")

    def open(self, path: Path) -> kernels.ChunkKernel:
        self.events.append("load")
        if self.fail_loads > 0:
            self.fail_loads -= 1
            raise RuntimeError("not a package")
        data = path.read_bytes()

        def kernel(*inputs: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            del inputs
            return torch.tensor([float(len(data))]), torch.tensor(False), torch.tensor(True)

        return kernel


def _example() -> list[torch.Tensor | None]:
    return [torch.zeros(8, dtype=torch.int64), None, torch.ones(3)]


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_bad_entry_is_rebuilt_and_replaced(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = _Recorder(monkeypatch)
    package = kernels.kernel_path("static", _example(), cache)
    _plant(package, b"planted", None)  # no digest: not nb's
    aot_chunk_kernel(lambda *a: a, "static", _example(), cache)
    assert rec.events == ["build", "load"]
    assert package.read_bytes() == b"package built by nb"
    assert (
        digest_path(package).read_text() == f"{_sha256(b'package built by nb')}  {package.name}\n"
    )
    assert _entries(cache) == [package.name, digest_path(package).name]  # no temporary left
    assert package_in_cache(package)

    kernels._LOADED.clear()  # a later process: loads what nb wrote, builds nothing
    aot_chunk_kernel(lambda *a: a, "static", _example(), cache)
    assert rec.events == ["build", "load", "load"]

    package.write_bytes(b"corrupt")  # a damaged entry (its digest no longer matches)
    kernels._LOADED.clear()
    aot_chunk_kernel(lambda *a: a, "static", _example(), cache)
    assert rec.events == ["build", "load", "load", "build", "load"]
    assert package.read_bytes() == b"package built by nb"
    assert package_in_cache(package)


def test_an_entry_that_does_not_load_is_rebuilt_once(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = kernels.kernel_path("static", _example(), cache)
    _plant(package, b"truncated by a full disk", _sha256(b"truncated by a full disk"))
    rec = _Recorder(monkeypatch, fail_loads=1)
    kernel = aot_chunk_kernel(lambda *a: a, "static", _example(), cache)
    assert rec.events == ["load", "build", "load"]
    assert float(kernel()[0]) == len(b"package built by nb")
    assert package_in_cache(package)


def test_a_folder_others_may_write_to_is_not_used(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = _Recorder(monkeypatch)
    exp = _tiny()
    package = kernel_package(exp.params, exp.static, cache)
    assert package is not None
    data = b"planted with a digest"
    _plant(package, data, _sha256(data))
    assert kernel_in_cache(exp.params, exp.static, cache)
    notes: list[str] = []
    for mode, words in ((0o777, "mode 777"), (0o770, "mode 770"), (0o702, "mode 702")):
        cache.chmod(mode)
        assert words in (cache_folder_problem(cache) or "")
        assert not kernel_in_cache(exp.params, exp.static, cache)
        assert _want_compile("auto", exp, "cpu") is False
        with pytest.raises(KernelCacheError, match="group or others may write"):
            aot_chunk_kernel(lambda *a: a, "static", _example(), cache)
        assert kernel_cache_dir(notes.append) is None
    assert rec.events == []
    assert len(notes) == 3
    assert all(n.startswith(f"note: kernel cache {cache} is not") for n in notes)
    cache.chmod(0o755)
    assert cache_folder_problem(cache) is None
    assert kernel_cache_dir(notes.append) == cache
    monkeypatch.setattr(os, "getuid", lambda: os.stat(cache).st_uid + 1)
    assert "owned by another user" in (cache_folder_problem(cache) or "")
    assert not kernel_in_cache(exp.params, exp.static, cache)
    assert kernel_cache_dir() is None


def test_a_new_cache_folder_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = _Recorder(monkeypatch)
    folder = tmp_path / "a" / "kernels"
    aot_chunk_kernel(lambda *a: a, "static", _example(), folder)
    assert rec.events == ["build", "load"]
    assert folder.stat().st_mode & 0o077 == 0


def test_home_and_cache_bases_that_do_not_exist_are_never_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-home"
    monkeypatch.delenv("NB_KERNEL_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(missing))
    notes: list[str] = []
    assert kernel_cache_dir() is None
    assert kernel_cache_dir(notes.append) is None
    assert notes == []  # under -compile auto: nothing to say
    assert kernel_cache_dir(notes.append, note_missing=True) is None
    assert notes == [
        f"note: no kernel cache: HOME ({missing}) does not exist; the kernel is compiled in this run"
    ]
    assert _want_compile("auto", _tiny(), "cpu") is False
    monkeypatch.setenv("HOME", "")
    assert kernel_cache_dir() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-such-cache"))
    assert kernel_cache_dir() is None
    monkeypatch.setenv("NB_KERNEL_CACHE", str(tmp_path / "no-such-parent" / "kernels"))
    assert kernel_cache_dir() is None
    assert _entries(tmp_path) == []
    # bases that exist: the kernel folder below them is where packages go (made on first use)
    monkeypatch.setenv("NB_KERNEL_CACHE", str(tmp_path / "kernels"))
    assert kernel_cache_dir() == tmp_path / "kernels"
    monkeypatch.delenv("NB_KERNEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kernel_cache_dir() == tmp_path / "nb" / "kernels"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored, as XDG says
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kernel_cache_dir() == tmp_path / ".cache" / "nb" / "kernels"
    assert _entries(tmp_path) == []


def test_the_key_covers_the_vector_instruction_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # A package built for AVX512 must not be loaded where torch runs AVX2 (a shared home).
    keys = set()
    for capability in ("AVX512", "AVX2", "DEFAULT"):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        keys.add(kernels.kernel_key("static", _example()))
    assert len(keys) == 3
