"""The tolerance table: one entry per dtype, the same under a torch dtype or its name."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from nb_parity.compare import Thresholds
from nb_parity.tolerances import TOLERANCE, dtype_name


def test_a_torch_dtype_and_its_name_find_the_same_entry(dtype: torch.dtype) -> None:
    assert dtype in TOLERANCE
    assert TOLERANCE[dtype] is TOLERANCE[dtype_name(dtype)]


def test_the_table_holds_float64_and_float32_only() -> None:
    assert list(TOLERANCE) == ["float64", "float32"]
    assert torch.float16 not in TOLERANCE
    with pytest.raises(KeyError):
        TOLERANCE[torch.float16]


def test_float32_is_held_to_looser_limits_than_float64() -> None:
    wide, narrow = TOLERANCE[torch.float32], TOLERANCE[torch.float64]
    for field in dataclasses.fields(wide):
        assert getattr(wide, field.name) > getattr(narrow, field.name), field.name


def test_compare_thresholds_come_from_the_table(dtype: torch.dtype) -> None:
    thresholds = Thresholds.for_dtype(dtype_name(dtype))
    assert thresholds.rel_l2 == TOLERANCE[dtype].rel_l2
    assert thresholds.max_rel == TOLERANCE[dtype].max_rel
