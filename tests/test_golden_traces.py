"""nb's -printout block matches the C program's for every golden case that has one."""

from __future__ import annotations

import re

import pytest

from nb_cli.simulate import prepare
from nb_core.trace import format_printout, trace_pixel
from nb_parity.golden import GoldenCase, inside
from nb_parity.trace import diff_printout, parse_printout
from tests.conftest import golden_cases

CASES = [c for c in golden_cases() if c.trace() is not None]
pytestmark = pytest.mark.skipif(not CASES, reason="golden corpus (../shared/golden) not found")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_printout_matches_field_by_field(case: GoldenCase) -> None:
    text = case.trace() or ""
    m = re.search(r"# fast=(\d+) slow=(\d+)", text)
    assert m is not None
    fpix, spix = int(m.group(1)), int(m.group(2))
    with inside(case.path):
        prepared = prepare([*case.flags, "-dtype", "float64"], workdir=case.path)
    exp = prepared.experiment
    image = case.float_image()
    trace = trace_pixel(exp.params, exp.static, fpix, spix)
    ours = parse_printout("\n".join(format_printout(trace, float(image[spix, fpix]))))
    theirs = parse_printout(text)
    assert len(theirs) == 12
    assert diff_printout(ours, theirs) is None, str(diff_printout(ours, theirs))
