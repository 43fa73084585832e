"""The flag table: validation, the C program's resolution side effects, and the C argv."""

from __future__ import annotations

import pytest

from nb_cli.flags import FLAGS, c_atof, c_atoi, flag_names, parse_args, to_c_argv
from nb_core.errors import InputError

BASE = ["-cell", "100", "100", "100", "90", "90", "90", "-default_F", "100"]


def test_c_number_parsing_matches_atof_and_atoi() -> None:
    assert c_atof("12.5abc") == 12.5
    assert c_atof("-detpixels") == 0.0
    assert c_atof("  1e-3") == 1e-3
    assert c_atoi("96") == 96
    assert c_atoi("7.9") == 7
    assert c_atoi("x") == 0


def test_values_in_flag_units_and_pivots() -> None:
    s = parse_args([*BASE, "-distance", "120", "-Xbeam", "5.5", "-lambda", "1.2"]).settings
    assert s.distance_mm == 120.0
    assert s.xbeam_mm == 5.5
    assert s.lambda_A == 1.2
    assert s.pivot == "beam"
    s = parse_args([*BASE, "-distance", "120", "-close_distance", "90"]).settings
    assert s.pivot == "sample"
    assert s.close_distance_mm == 90.0


def test_double_dash_is_accepted() -> None:
    s = parse_args(["--cell", "70", "80", "90", "75", "85", "95", "--distance", "80"]).settings
    assert s.cell == (70.0, 80.0, 90.0, 75.0, 85.0, 95.0)
    assert s.distance_mm == 80.0


def test_cell_accepts_fewer_values_like_the_c_program() -> None:
    s = parse_args(["-cell", "50", "-default_F", "1"]).settings
    assert s.cell[0] == 50.0
    assert s.cell[1:] == (0.0, 0.0, 0.0, 0.0, 0.0)


def test_misset_seed_also_sets_misset_from_the_next_three_arguments() -> None:
    # The C program matches "-misset" inside "-misset_seed": the random orientation is replaced
    # by the angles 12345, atof("-detpixels") = 0 and 96 degrees.
    argv = [*BASE, "-misset", "random", "-misset_seed", "12345", "-detpixels", "96"]
    s = parse_args(argv).settings
    assert s.misset_mode == "angles"
    assert s.misset_deg == (12345.0, 0.0, 96.0)
    assert s.misset_seed == -12345
    fixed = parse_args([*argv, "-fix", "flags"]).settings
    assert fixed.misset_mode == "random"


def test_twotheta_axis_also_sets_twotheta_and_custom_convention() -> None:
    argv = [*BASE, "-xds", "-twotheta", "20", "-twotheta_axis", "0", "1", "0"]
    s = parse_args(argv).settings
    assert s.twotheta_deg == 0.0
    assert s.convention == "custom"
    assert s.twotheta_axis == (0.0, 1.0, 0.0)
    fixed = parse_args([*argv, "-fix", "flags"]).settings
    assert fixed.twotheta_deg == 20.0


def test_convention_flags_set_pivot_and_vectors_switch_to_custom() -> None:
    assert parse_args([*BASE, "-xds"]).settings.pivot == "sample"
    s = parse_args([*BASE, "-fdet_vector", "0", "0", "1"]).settings
    assert s.convention == "custom"


def test_seeds_are_stored_negated_like_the_c_program() -> None:
    s = parse_args([*BASE, "-seed", "1234", "-mosaic_seed", "7"]).settings
    assert s.seed == -1234
    assert s.mosaic_seed == -7


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-distnce", "100"], "-distnce: unknown flag (did you mean -distance?)"),
        (["-distance"], "-distance: needs 1 value"),
        (["-distance", "abc"], "-distance: expected a number, got 'abc'"),
        (["-N", "5.5"], "-N: expected a whole number"),
        (["-pivot", "middle"], "-pivot: expected 'beam' or 'sample'"),
        (["-roi", "1", "2"], "-roi: needs 4 values"),
        (["-misset", "1", "2"], "-misset: needs three angles"),
        (["100"], "unexpected argument '100'"),
        (["-fix", "nonsense"], "-fix: unknown quirk 'nonsense'"),
    ],
)
def test_bad_flags_give_one_line_naming_the_flag(argv: list[str], needle: str) -> None:
    with pytest.raises(InputError) as info:
        parse_args([*BASE, *argv])
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_every_flag_has_help_and_unique_names() -> None:
    names = [n for f in FLAGS for n in f.names]
    assert len(names) == len(set(names))
    assert all(f.help for f in FLAGS)
    assert len(names) >= 120
    assert "-distance" in flag_names()


def test_c_argv_drops_nb_options_and_replaces_outputs() -> None:
    parsed = parse_args([*BASE, "--distance", "90", "-dtype", "float64", "-floatfile", "a.bin"])
    argv = to_c_argv(parsed, floatfile="b.bin", intfile="c.img")
    assert "-dtype" not in argv
    assert argv[argv.index("-distance") + 1] == "90"
    assert argv[argv.index("-floatfile") + 1] == "b.bin"
    assert argv.count("-floatfile") == 1
    assert argv[-2:] == ["-intfile", "c.img"]


def test_every_c_flag_name_triggers_one_of_its_own_clauses() -> None:
    for flag in FLAGS:
        if flag.name == "-mask":
            assert not flag.clauses  # nb_cli.smv_keys reads the file before the loop
            continue
        if flag.note and not flag.clauses:  # in nanoBragg's README, ignored by the C program
            assert not any(c.matches(n) for f in FLAGS for c in f.clauses for n in flag.names)
            continue
        for name in flag.names:
            assert any(clause.matches(name) for clause in flag.clauses), name
