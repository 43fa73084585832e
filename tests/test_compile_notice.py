"""``nb simulate`` says, in one line on stderr, when it is about to compile a render kernel.

No kernel is compiled here: the build and load steps of :func:`nb_core.kernels.aot_chunk_kernel`
are replaced by stand-ins (the "package" a stand-in loads is the uncompiled chunk kernel), and
``torch.compile`` by the plain function. The real compile is in test_compile.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from nb_cli import main
from nb_cli.flags import parse_args
from nb_cli.simulate import COMPILE_NOTICE, TRACE_NOTICE
from nb_core import kernels, load_inputs, resolve
from nb_core.render import chunk_plan, render_constants

TINY = [
    *("-cell", "70", "80", "90", "85", "95", "105", "-lambda", "1", "-N", "3"),
    *("-default_F", "100", "-distance", "100", "-detpixels", "6"),
    *("-nonoise", "-nopgm", "-floatfile", "float.bin"),
]


@pytest.fixture(autouse=True)
def _no_loaded_kernels() -> Iterator[None]:
    kernels._LOADED.clear()
    yield
    kernels._LOADED.clear()


class _StandIns:
    """Build writes a marker file and remembers the bound kernel; load returns that kernel."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[str] = []
        self.fn: kernels.ChunkKernel | None = None
        monkeypatch.setattr(kernels, "_build", self.build)
        monkeypatch.setattr(kernels, "_open", self.open)

    def build(self, fn: kernels.ChunkKernel, example: object, package: str) -> None:
        del example
        self.events.append("build")
        self.fn = fn
        Path(package).write_bytes(b"stand-in package")

    def open(self, path: Path) -> kernels.ChunkKernel:
        self.events.append("load")
        if self.fn is None:  # a later "process": the same bound kernel as the build's
            raise RuntimeError(f"{path}: nothing built in this test")
        return self.fn


def _float_image(folder: Path) -> np.ndarray:
    return np.fromfile(folder / "float.bin", dtype=np.float32)


def test_aot_kernel_announces_a_build_and_not_a_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_ins = _StandIns(monkeypatch)
    told: list[Path | None] = []
    example = [torch.zeros(8, dtype=torch.int64), None, torch.ones(3)]

    def on_compile(package: Path | None) -> None:
        told.append(package)
        assert stand_ins.events == []  # before the build starts

    kernels.aot_chunk_kernel(lambda *a: a, "static", example, tmp_path, on_compile)
    assert told == [kernels.kernel_path("static", example, tmp_path)]
    kernels._LOADED.clear()  # a later run: the package loads, nothing is compiled
    kernels.aot_chunk_kernel(lambda *a: a, "static", example, tmp_path, on_compile)
    assert len(told) == 1
    assert stand_ins.events == ["build", "load", "load"]


def test_torch_compile_path_announces_with_no_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "compiled_chunk", lambda: kernels.chunk_from_tensors)
    parsed = parse_args(TINY)
    exp = resolve(parsed.settings, load_inputs(parsed.settings), dtype=torch.float64)
    pixels, chunk = chunk_plan(exp.params, exp.static, None, True)
    constants = render_constants(exp.params, exp.static)
    told: list[Path | None] = []
    kernels.chunk_kernel(exp.params, exp.static, constants, pixels, chunk, None, told.append)
    assert told == [None]


def test_simulate_prints_one_line_on_stderr_before_a_build_and_none_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "kernels"
    monkeypatch.setenv("NB_KERNEL_CACHE", str(cache))
    stand_ins = _StandIns(monkeypatch)
    for name in ("eager", "first", "second", "quiet"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "eager")
    assert main(["simulate", *TINY, "-compile", "off"]) == 0
    assert COMPILE_NOTICE not in capsys.readouterr().err

    monkeypatch.chdir(tmp_path / "first")
    assert main(["simulate", *TINY, "-compile", "on"]) == 0
    first = capsys.readouterr()
    assert first.err.splitlines() == [COMPILE_NOTICE]
    assert COMPILE_NOTICE not in first.out
    assert stand_ins.events == ["build", "load"]

    kernels._LOADED.clear()
    monkeypatch.chdir(tmp_path / "second")
    assert main(["simulate", *TINY, "-compile", "on"]) == 0
    assert capsys.readouterr().err == ""
    assert stand_ins.events == ["build", "load", "load"]

    kernels._LOADED.clear()
    for package in cache.glob("chunk-*"):
        package.unlink()
    monkeypatch.chdir(tmp_path / "quiet")
    assert main(["simulate", *TINY, "-compile", "on", "-quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert stand_ins.events[-2:] == ["build", "load"]

    eager = _float_image(tmp_path / "eager")
    assert eager.max() > 0
    for name in ("first", "second", "quiet"):
        image = _float_image(tmp_path / name)
        assert np.abs(image - eager).max() <= 1e-6 * eager.max(), name


def test_the_notices_are_one_line_each() -> None:
    for notice in (COMPILE_NOTICE, TRACE_NOTICE):
        assert "\n" not in notice
        assert notice.startswith("nb: ")
        assert len(notice) <= 100
