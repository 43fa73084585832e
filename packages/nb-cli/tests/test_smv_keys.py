"""SMV header keys: what ``header_pairs`` writes matches ``nb simulate``'s header exactly."""

from __future__ import annotations

import pytest
import torch

from nb_cli.flags import parse_args
from nb_cli.simulate import smv_header
from nb_cli.smv_keys import READ_KEYS, WRITTEN_KEYS, HeaderValues, header_pairs
from nb_core import load_inputs, resolve
from nb_core.params import Experiment

BASE = ["-cell", "70", "80", "90", "85", "95", "105", "-default_F", "100", "-detpixels", "24"]

EXPERIMENTS = [
    [],
    ["-xds", "-twotheta", "5", "-distance", "120.5", "-pixel", "0.172"],
    ["-dials", "-Xbeam", "1.3", "-Ybeam", "0.7", "-phi", "12.5", "-osc", "0.25"],
    ["-adxv", "-detpixels_f", "30", "-detpixels_s", "18", "-lambda", "1.54"],
    ["-denzo", "-close_distance", "80", "-detector_rotx", "2", "-detector_roty", "-3"],
    ["-ORGX", "10.25", "-ORGY", "13.5", "-energy", "12398.42", "-pixel", "0.05"],
    ["-fdet_vector", "0", "0", "1", "-sdet_vector", "0", "-1", "0", "-twotheta", "-20"],
    ["-Xclose", "1.1", "-Yclose", "1.9", "-phi", "-30", "-osc", "3", "-phistep", "1"],
]


def _header_values(experiment: Experiment) -> HeaderValues:
    """The numbers ``smv_header`` takes from a resolved experiment."""
    info = experiment.info
    frame = info["frame"]
    origin = [float(x) for x in frame.dials_origin]
    return HeaderValues(
        pixel_size_m=info["pixel_size"],
        distance_m=float(frame.distance),
        wavelength_m=info["lambda0"],
        xbeam_m=info["xbeam"],
        ybeam_m=info["ybeam"],
        fbeam_m=float(frame.fbeam),
        sbeam_m=float(frame.sbeam),
        detsize_s_m=info["detsize"][1],
        dials_origin_mm=(origin[0], origin[1], origin[2]),
        orgx_px=float(frame.orgx),
        orgy_px=float(frame.orgy),
        close_distance_m=float(frame.close_distance),
        phi0_rad=info["phi0"],
        osc_rad=info["osc"],
        twotheta_rad=info["twotheta"],
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("flags", EXPERIMENTS, ids=lambda f: " ".join(f[:2]) or "default")
def test_header_pairs_match_the_simulate_header(flags: list[str], dtype: torch.dtype) -> None:
    settings = parse_args([*BASE, *flags]).settings
    experiment = resolve(settings, load_inputs(settings), dtype=dtype)
    assert header_pairs(_header_values(experiment)) == smv_header(experiment)


def test_written_keys_are_the_keys_of_header_pairs() -> None:
    settings = parse_args(BASE).settings
    experiment = resolve(settings, load_inputs(settings), dtype=torch.float64)
    assert [key for key, _ in header_pairs(_header_values(experiment))] == list(WRITTEN_KEYS)


def test_read_keys_are_unique_and_say_what_is_valid() -> None:
    names = [key.name for key in READ_KEYS]
    assert len(names) == len(set(names))
    assert all(key.valid.startswith("a ") for key in READ_KEYS)
    assert {key.name for key in READ_KEYS if key.positive} == {
        "PIXEL_SIZE",
        "DISTANCE",
        "CLOSE_DISTANCE",
        "WAVELENGTH",
    }
