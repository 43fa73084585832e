"""The torch.compile path gives the eager image, and gradients flow through it."""

from __future__ import annotations

import hashlib
import shutil

import pytest
import torch

from nb_cli.flags import parse_args
from nb_core import load_inputs, render, resolve
from nb_core.render import kernel_in_cache

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None, reason="torch.compile needs a C++ compiler"
)

FLAGS = (
    "-cell 70 80 90 85 95 105 -lambda 1 -N 5 -default_F 100 -distance 100 -detpixels 40 "
    "-mosaic 0.3 -mosaic_dom 3 -phi 0 -osc 1 -phisteps 3 -dispersion 0.5 -dispsteps 2 -mosaic_seed 3"
).split()


def test_compiled_image_and_gradient_match_eager() -> None:
    parsed = parse_args(FLAGS)
    exp = resolve(parsed.settings, load_inputs(parsed.settings), dtype=torch.float64)
    distance = exp.params.distance.clone().requires_grad_(True)
    params = exp.params.replace(distance=distance)
    # A small chunk budget: several chunks, the last one padded.
    compiled = render(params, exp.static, compile=True, max_evaluations=30_000)
    (grad_compiled,) = torch.autograd.grad(compiled.sum(), distance)
    eager = render(params, exp.static, max_evaluations=30_000)
    (grad_eager,) = torch.autograd.grad(eager.sum(), distance)
    rel = float(((compiled - eager).norm() / eager.norm()).detach())
    assert rel <= 1e-6
    assert float(grad_compiled) == pytest.approx(float(grad_eager), rel=1e-9)


def test_ahead_of_time_kernel_matches_eager_and_is_reused(tmp_path) -> None:
    from nb_core import kernels

    parsed = parse_args(FLAGS)
    exp = resolve(parsed.settings, load_inputs(parsed.settings), dtype=torch.float64)
    assert not kernel_in_cache(exp.params, exp.static, tmp_path, max_evaluations=30_000)
    with torch.no_grad():
        eager = render(exp.params, exp.static, max_evaluations=30_000)
        built = render(
            exp.params, exp.static, compile=True, max_evaluations=30_000, kernel_cache=tmp_path
        )
        packages = sorted(tmp_path.glob("chunk-*.pt2"))
        assert len(packages) == 1
        stamp = packages[0].stat().st_mtime_ns
        kernels._LOADED.clear()  # as a new process would: load the package from disk
        loaded = render(
            exp.params, exp.static, compile=True, max_evaluations=30_000, kernel_cache=tmp_path
        )
    assert sorted(tmp_path.glob("chunk-*.pt2")) == packages
    assert packages[0].stat().st_mtime_ns == stamp
    # beside the package: its SHA-256, in sha256sum format, which is what makes it nb's own
    digest = hashlib.sha256(packages[0].read_bytes()).hexdigest()
    assert kernels.digest_path(packages[0]).read_text() == f"{digest}  {packages[0].name}\n"
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    for image in (built, loaded):
        assert float((image - eager).norm() / eager.norm()) <= 1e-6
    assert torch.equal(built, loaded)
    # what -compile auto asks: this job's kernel is built, another job's is not
    assert kernel_in_cache(exp.params, exp.static, tmp_path, max_evaluations=30_000)
    other = parse_args([*FLAGS, "-detpixels", "48"])
    other_exp = resolve(other.settings, load_inputs(other.settings), dtype=torch.float64)
    assert not kernel_in_cache(other_exp.params, other_exp.static, tmp_path, max_evaluations=30_000)
    kernels.digest_path(packages[0]).unlink()
    assert not kernel_in_cache(exp.params, exp.static, tmp_path, max_evaluations=30_000)
