"""Parse the console summary printed by the C program (and by ``nb simulate``)."""

from __future__ import annotations

import re

__all__ = ["SUMMARY_PATTERNS", "parse_summary"]

_NUM = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan))"

#: Resolved values the summary reports: name -> regex with one group per number.
SUMMARY_PATTERNS: dict[str, str] = {
    "Xbeam,Ybeam": rf"^\s*Xbeam={_NUM} Ybeam={_NUM}",
    "Fbeam,Sbeam": rf"^\s*Fbeam={_NUM} Sbeam={_NUM}",
    "Xclose,Yclose": rf"^\s*Xclose={_NUM} Yclose={_NUM}",
    "Fclose,Sclose": rf"^\s*Fclose={_NUM} Sclose={_NUM}",
    "fdet": rf"DIRECTION_OF_DETECTOR_X-AXIS= {_NUM} {_NUM} {_NUM}",
    "sdet": rf"DIRECTION_OF_DETECTOR_Y-AXIS= {_NUM} {_NUM} {_NUM}",
    "odet": rf"DIRECTION_OF_DETECTOR_Z-AXIS= {_NUM} {_NUM} {_NUM}",
    "beam": rf"INCIDENT_BEAM_DIRECTION= {_NUM} {_NUM} {_NUM}",
    "spindle": rf"spindle ROTATION_AXIS= {_NUM} {_NUM} {_NUM}",
    "dials_origin": rf"dials origin= {_NUM} {_NUM} {_NUM}",
    "distance": rf"^\s*distance={_NUM} detsize={_NUM}x{_NUM}\s+pixel={_NUM} meters \((\d+)x(\d+) pixels\)",
    "sources": r"^\s*(\d+) sources$",
    "divergence_steps": rf"^\s*{_NUM} divergence steps",
    "mosaic_domains": rf"^\s*(\d+) mosaic domains over mosaic spread of {_NUM} degrees",
    "phi_steps": rf"^\s*(\d+) phi steps from {_NUM} to {_NUM} degrees",
    "oversample": r"^\s*(\d+)x(\d+) pixel oversample steps",
    "sensor": rf"^\s*sensor is {_NUM} m thick in (\d+) layers with mu= {_NUM}",
    "fluence": rf"incident fluence: {_NUM} photons",
    "wave": rf"wave={_NUM} meters \+/- {_NUM}% in (\d+) steps",
    "cells": r"xtal: (\d+)x(\d+)x(\d+) cells",
    "hkls": rf"^\s*(\d+) initialized hkls \(all others ={_NUM}\)",
    "solid_angle": rf"solid angle subtended by detector = {_NUM} steradian",
    "max_I": rf"^max_I = {_NUM}\s+at {_NUM} {_NUM}",
    "mean,rms,rmsd": rf"^mean= {_NUM} rms= {_NUM} rmsd= {_NUM}",
    "intfile_scale": rf"^intfile_scale = {_NUM}",
    "pgm_scale": rf"^pgm_scale = {_NUM}",
    "photons": rf"^{_NUM} photons on noise image \((\d+) overloads\)",
    "unit_cell": rf"^Unit Cell: {_NUM} {_NUM} {_NUM} {_NUM} {_NUM} {_NUM}",
}


def parse_summary(text: str) -> dict[str, list[float]]:
    """Pull the resolved values out of a console summary.

    Args:
        text: Everything printed.

    Returns:
        For each name in :data:`SUMMARY_PATTERNS` found in ``text``, its numbers (the last
        occurrence wins).
    """
    out: dict[str, list[float]] = {}
    compiled = {k: re.compile(v) for k, v in SUMMARY_PATTERNS.items()}
    for line in text.splitlines():
        for name, pattern in compiled.items():
            m = pattern.search(line)
            if m:
                out[name] = [float(g) for g in m.groups()]
    return out
