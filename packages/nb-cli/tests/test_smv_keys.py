"""SMV header keys: the header nb writes is, key for key, the one the C program wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nb_cli.flags import parse_args
from nb_cli.simulate import smv_header
from nb_cli.smv_keys import READ_KEYS, WRITTEN_KEYS
from nb_core import load_inputs, resolve
from nb_core.io import read_smv
from nb_parity.golden import inside

GOLDEN = Path(__file__).resolve().parents[4] / "shared" / "golden" / "cases"

BASE = ["-cell", "70", "80", "90", "85", "95", "105", "-default_F", "100", "-detpixels", "24"]

#: Golden cases whose SMV headers cover the conventions, two-theta, offsets and phi sweeps.
CASES = sorted(p.name for p in GOLDEN.iterdir())[::7] if GOLDEN.is_dir() else []


def test_written_keys_are_the_keys_of_the_simulate_header() -> None:
    settings = parse_args(BASE).settings
    experiment = resolve(settings, load_inputs(settings), dtype=torch.float64)
    assert [key for key, _ in smv_header(experiment)] == list(WRITTEN_KEYS)


@pytest.mark.parametrize("name", CASES)
def test_the_header_nb_writes_is_the_c_programs_header(name: str) -> None:
    case = json.loads((GOLDEN / name / "case.json").read_text())
    with inside(GOLDEN / name):
        parsed = parse_args([*case["flags"], "-dtype", "float64"])
        experiment = resolve(parsed.settings, load_inputs(parsed.settings))
    c_header = read_smv(GOLDEN / name / "int.img").header
    for key, value in smv_header(experiment):
        assert c_header[key] == value, (key, value, c_header[key])


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
