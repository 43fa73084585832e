"""``nb refine`` reads observed images in their true units: nb's int image back to photons
through its ``NB_INTFILE_SCALE`` and ``ADC_OFFSET`` keys, a noise image as counts, float, CBF
and NeXus images as written; an int image of unknown scale gets an overall ``scale`` refined."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nb_cli import main
from nb_cli.refine import load_observed
from nb_core.io import read_float_image, read_smv

TRUTH = (
    "-cell 70 80 90 85 95 105 -lambda 1 -N 8 -misset 10 5 3 -default_F 100 -distance 100 "
    "-detpixels 96 -pixel 0.2 -oversample 2 -detector_rotx 0.5 -detector_roty -0.3 "
    "-detector_rotz 0.2 -twotheta 2 -adc 25 -nopgm -dtype float64"
).split()


@pytest.fixture
def images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> float:
    """Write the truth's images (nb's header and the C program's) into the current folder;
    return the int image's scale."""
    pytest.importorskip("fabio", reason="the cbf extra (fabio) is not installed")
    pytest.importorskip("h5py", reason="the nexus extra (h5py) is not installed")
    monkeypatch.chdir(tmp_path)
    outputs = ["-floatfile", "float.bin", "-intfile", "int_001.img", "-noisefile", "noise_001.img"]
    more = ["-cbffile", "int_001.cbf", "-nxsfile", "image.nxs", "-seed", "5"]
    assert main(["simulate", *TRUTH, *outputs, *more, "-smv_header", "dials"]) == 0
    assert main(["simulate", *TRUTH, "-intfile", "c_001.img", "-nonoise"]) == 0
    out = capsys.readouterr().out
    return float(out.split("intfile_scale = ")[1].split()[0])


def test_load_observed_gives_photons_or_says_the_scale_is_unknown(images: float) -> None:
    photons = read_float_image("float.bin", 96, 96).astype(np.float64)
    scale = float(read_smv("int_001.img").header["NB_INTFILE_SCALE"])
    assert scale == pytest.approx(images, rel=1e-5)
    for name in ("int_001.img", "int_001.cbf"):
        observed = load_observed(Path(name), 96, 96, adc_offset=40.0)  # the file's offset wins
        assert observed.scale_known
        assert np.abs(observed.data - photons).max() <= 0.5 / scale + 1e-9  # rounding to counts
    noise = load_observed(Path("noise_001.img"), 96, 96, adc_offset=40.0)
    assert noise.scale_known
    assert np.array_equal(noise.data, read_smv("noise_001.img").data - 25.0)
    for name in ("float.bin", "image.nxs"):
        observed = load_observed(Path(name), 96, 96, adc_offset=40.0)
        assert observed.scale_known
        assert np.array_equal(observed.data, photons)
    c_written = load_observed(Path("c_001.img"), 96, 96, adc_offset=25.0)
    assert not c_written.scale_known
    assert np.array_equal(c_written.data, read_smv("c_001.img").data - 25.0)


def test_refine_on_nb_int_image_recovers_distance_within_sigma(
    images: float, capsys: pytest.CaptureFixture[str]
) -> None:
    # Fitted as counts (the int image's 55000/max scaling left in), distance came out
    # 30 sigma from the truth; read back as photons it lands within its uncertainty.
    start = [*TRUTH, "-distance", "100.5"]
    assert (
        main(["refine", "int_001.img", "--refine", "distance", "--json", "fit.json", *start]) == 0
    )
    fit = json.loads(Path("fit.json").read_text())
    distance, sigma = fit["parameters"]["distance"], fit["uncertainties"]["distance"]
    # The Poisson sigma of the image's photons (the default loss), not the residual's.
    assert 0.0 < sigma < 0.01
    assert abs(distance - 100.0) <= 3.0 * sigma
    assert "counts per photon" not in capsys.readouterr().out


def test_refine_on_int_image_of_unknown_scale_refines_a_scale(
    images: float, capsys: pytest.CaptureFixture[str]
) -> None:
    start = [*TRUTH, "-distance", "100.5"]
    assert main(["refine", "c_001.img", "--refine", "distance", "--json", "fit.json", *start]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: c_001.img does not say its counts per photon; refining an overall scale too"
    ]
    fit = json.loads(Path("fit.json").read_text())
    assert fit["parameters"]["scale"] == pytest.approx(images, rel=1e-3)
    assert fit["parameters"]["distance"] == pytest.approx(100.0, abs=1e-4)
