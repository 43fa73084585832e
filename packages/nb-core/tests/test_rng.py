"""Bit-exact checks of nb_core.rng against numbers printed by the reference C routines.

The known values below were printed by a throw-away C harness that calls the reference
program's own ran1/gaussdev/poidev/gammln/mosaic_rotation_umat/umat2misset (floats with %.9g,
doubles with %.17g).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nb_core._ran1_stream import Ran1Stream
from nb_core.crystal.orientation import (
    c_axis_angle_matrix,
    mosaic_rotation_umat,
    random_misset,
    umat2misset,
    uniform_rotation,
)
from nb_core.rng import CRandom, Seed, f32, gammln, mosaic_draws
from nb_core.units import RTD
from nb_parity.c_mosaic import mosaic_umats


def _same_f32(value: float, ref: str) -> bool:
    return value == float(np.float32(ref))


# (ran1 value, seed variable after the call) for `-seed 1234` (C holds -1234)
RAN1_1234 = [
    ("0.661984384", 1816738590),
    ("0.134913027", 1002989084),
    ("0.0410350449", 1638389485),
    ("0.94013375", 1376752561),
    ("0.411033601", 2091479949),
    ("0.484675199", 1491168747),
]
RAN1_SEED1 = [("0.415999353", 530511967), ("0.091964893", 2110010672), ("0.75641048", 1551901393)]


def test_ran1_known_values() -> None:
    rng, seed = CRandom(), Seed(-1234)
    for ref, idum in RAN1_1234:
        assert _same_f32(rng.ran1(seed), ref)
        assert seed.value == idum


@pytest.mark.parametrize("start", [-1, 0, 5, 123456789, -2147483648])
def test_ran1_first_seed_that_is_not_negative_acts_as_one(start: int) -> None:
    # A fresh process loads the table: v -> -v, or 1 when -v < 1, so any v >= 0 acts as 1.
    # (-2147483648 loads 2**31, which the first Lehmer step maps like 1: 2**31 = 1 mod 2**31-1.)
    rng, seed = CRandom(), Seed(start)
    for ref, idum in RAN1_SEED1:
        assert _same_f32(rng.ran1(seed), ref)
        assert seed.value == idum


def test_ran1_zero_state_seed() -> None:
    # -seed 2147483647: the loaded state is 2**31-1 == 0 (mod), ran1 returns 0.0 and leaves 0,
    # so the next call reloads as seed 1.
    rng, seed = CRandom(), Seed(-2147483647)
    assert rng.ran1(seed) == 0.0
    assert seed.value == 0
    assert _same_f32(rng.ran1(seed), RAN1_SEED1[0][0])
    assert seed.value == RAN1_SEED1[0][1]


def test_ran1_shuffle_table_is_shared_between_seeds() -> None:
    rng = CRandom()
    first = Seed(-7)
    for ref, idum in [("0.1228365", 1566100122), ("0.428469986", 1885172822)]:
        assert _same_f32(rng.ran1(first), ref)
        assert first.value == idum
    assert _same_f32(rng.ran1(first), "0.643754244")
    # a positive seed does not reload: it continues through the table that seed -7 left
    positive = Seed(5)
    expect = [("0.467895657", 84035), ("0.688501418", 1412376245), ("0.0538873039", 1670799424)]
    for ref, idum in expect:
        assert _same_f32(rng.ran1(positive), ref)
        assert positive.value == idum
    # a negative seed reloads the shared table
    rng2 = CRandom()
    for _ in range(3):
        rng2.ran1(Seed(-7))
    negative = Seed(-5)
    expect = [("0.172860548", 505076188), ("0.680409431", 1960118772), ("0.917078257", 1317056024)]
    for ref, idum in expect:
        assert _same_f32(rng2.ran1(negative), ref)
        assert negative.value == idum


def test_ran1_range_and_float32() -> None:
    rng, seed = CRandom(), Seed(-99)
    values = np.array([rng.ran1(seed) for _ in range(5000)])
    assert values.min() > 0.0
    assert values.max() <= float(np.float32(1.0 - 1.2e-7))
    assert np.array_equal(values, values.astype(np.float32).astype(np.float64))


def test_gaussdev_known_values() -> None:
    rng, seed = CRandom(), Seed(-1234)
    expect = [
        ("-0.866433442", 1002989084),
        ("0.384425342", 1002989084),  # the cached spare: no draw
        ("-0.444188267", 1491168747),
        ("-2.57868481", 1491168747),
        ("-0.505751491", 1564649417),
    ]
    for ref, idum in expect:
        assert _same_f32(rng.gaussdev(seed), ref)
        assert seed.value == idum


def test_poidev_known_values_all_branches() -> None:
    # one process, one seed: direct method (< 12), rejection (12..1e6), gaussian (> 1e6,
    # the second 2.5e6 uses gaussdev's spare deviate and draws nothing)
    expect = [
        (0.5, "1", 1002989084),
        (3.7, "2", 2091479949),
        (11.99, "15", 734258896),
        (0.0, "0", 1248229410),
        (12.0, "14", 1474568345),
        (25.5, "30", 1218115579),
        (25.5, "24", 13655445),
        (1000.0, "951", 67453876),
        (123456.7, "123625", 1397417873),
        (2.5e6, "2497550", 270900745),
        (2.5e6, "2499701", 270900745),
        (1e7, "9999714", 1725794957),
        (-1.0, "0", 1521705917),
        (7.25, "9", 710865783),
    ]
    rng, seed = CRandom(), Seed(-1234)
    for xm, ref, idum in expect:
        assert _same_f32(rng.poidev(xm, seed), ref), xm
        assert seed.value == idum, xm


def test_poidev_static_cache_quirk() -> None:
    # poidev's cached mean starts at -1 with a zero threshold: a first mean of exactly -1
    # multiplies uniforms until the float32 product underflows to 0 (112 counts here).
    rng, seed = CRandom(), Seed(-1234)
    assert rng.poidev(-1.0, seed) == 112.0
    assert seed.value == 1121017945
    assert rng.poidev(0.5, seed) == 0.0
    assert seed.value == 1074566484


def test_gammln_known_values() -> None:
    expect = {
        1.0: "0",
        2.0: "-4.4408921e-16",
        13.0: "19.987215",
        25.5: "56.3891678",
        1000.5: "5908.67432",
        123456.7: "1323901",
    }
    for x, ref in expect.items():
        assert _same_f32(gammln(x), ref), x


def test_f32_rounding() -> None:
    assert f32(0.1) == float(np.float32(0.1))
    assert f32(1e39) == math.inf
    assert f32(-1e39) == -math.inf
    assert f32(3.4028235e38) == float(np.finfo(np.float32).max)
    assert f32(1e-46) == 0.0
    assert math.isnan(f32(math.nan))


# mosaic_umats(0.5 deg, 5 domains, -mosaic_seed 7), C doubles (%.17g)
MOSAIC_05_5_7 = [
    [1, 0, 0, 0, 1, 0, 0, 0, 1],
    [
        0.99998726190421949,
        -0.0019387319587918161,
        0.0046601875170200202,
        0.0019342889992219759,
        0.99999767066132317,
        0.00095770454487970297,
        -0.004662033394273235,
        -0.00094867819609899349,
        0.99998868266311436,
    ],
    [
        0.99996984347219153,
        -0.0030786164509177317,
        -0.007129815351666461,
        0.0030574436025441105,
        0.99999088989213114,
        -0.0029786190358638003,
        0.0071389204238443589,
        0.0029567302027217186,
        0.99997014633522452,
    ],
    [
        0.99997125387300223,
        0.0051398845267847139,
        -0.0055743174207402435,
        -0.0051598215803383973,
        0.99998032216316934,
        -0.0035681266377680337,
        0.005555867971336545,
        0.0035967865512697198,
        0.99997809748893485,
    ],
    [
        0.9999870595496495,
        0.0016002444927258499,
        -0.0048290734938758453,
        -0.001615372813904939,
        0.99999379529504373,
        -0.0031304859185653272,
        0.0048240339880488521,
        0.0031382461627060981,
        0.99998343991643401,
    ],
]


def test_mosaic_umats_known_values() -> None:
    rng, seed = CRandom(), Seed(-7)
    umats = mosaic_umats(0.5 / RTD, 5, rng, seed)
    assert umats.shape == (5, 3, 3)
    assert np.array_equal(umats, np.array(MOSAIC_05_5_7).reshape(5, 3, 3))
    assert seed.value == 1105642382  # 15 draws: domain 0 draws too, then becomes identity
    eye = np.eye(3)
    assert np.array_equal(umats[0], eye)
    for u in umats:
        np.testing.assert_allclose(u @ u.T, eye, atol=1e-14)
        assert np.linalg.det(u) == pytest.approx(1.0, abs=1e-14)


def test_mosaic_pieces_compose_to_umats() -> None:
    spread = 2.0 / RTD
    umats = mosaic_umats(spread, 6, CRandom(), Seed(-12345678))
    draw = mosaic_draws(6, CRandom(), Seed(-12345678))
    np.testing.assert_allclose(np.linalg.norm(draw.axes, axis=1), 1.0, atol=1e-15)
    assert np.all((draw.fractions >= 0.0) & (draw.fractions <= 1.0))
    angles = np.array([f32(f32(spread) * fr) for fr in draw.fractions])
    rebuilt = c_axis_angle_matrix(draw.axes, angles)
    assert np.array_equal(rebuilt[1:], umats[1:])
    # rotation about the axis by the angle
    for m, v, a in zip(rebuilt, draw.axes, angles, strict=True):
        np.testing.assert_allclose(m @ v, v, atol=1e-15)
        assert math.acos(min(1.0, (np.trace(m) - 1.0) / 2.0)) == pytest.approx(a, abs=1e-7)
    single = mosaic_rotation_umat(spread, CRandom(), Seed(-12345678))
    assert np.array_equal(single, rebuilt[0])


def test_random_misset_known_values() -> None:
    rng, seed = CRandom(), Seed(-12345)
    quirk = random_misset(rng, seed)
    assert quirk.tolist() == [1.8451752577429177, -0.61001558335036155, -1.7073434076993237]
    assert seed.value == 521081698


def test_fixed_random_misset_is_uniform_over_orientations() -> None:
    # For rotations uniform over SO(3) the trace 1 + 2 cos(angle) has mean 0 and the
    # rotation angle exceeds 90 degrees with probability 1/2 + 1/pi.
    rng, seed = CRandom(), Seed(-12345)
    traces = []
    for _ in range(4000):
        m = uniform_rotation(rng, seed)
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(m) == pytest.approx(1.0)
        traces.append(np.trace(m))
    t = np.asarray(traces)
    assert abs(t.mean()) < 0.05
    assert np.mean(t < 1.0) == pytest.approx(0.5 + 1.0 / math.pi, abs=0.025)
    angles = random_misset(CRandom(), Seed(-12345), degrees_quirk=False)
    assert angles.shape == (3,)


def test_random_misset_umat_known_values() -> None:
    umat = mosaic_rotation_umat(90.0, CRandom(), Seed(-12345))
    ref = [
        -0.11157185802898434,
        -0.19336190353327237,
        -0.9747629941467566,
        -0.81200982706876235,
        0.58320038697461762,
        -0.022745315482872119,
        0.57288023289315815,
        0.78897939320025712,
        -0.22208051662771988,
    ]
    assert np.array_equal(umat, np.array(ref).reshape(3, 3))


def test_umat2misset_known_values() -> None:
    cases = {
        (0, 0, 1, 0, 1, 0, -1, 0, 0): [math.pi, math.pi / 2, math.pi],
        (0, 0, -1, 0, 1, 0, 1, 0, 0): [math.pi, math.pi / 2, math.pi],  # sign of uzx is lost
        (2, 0, 0, 0, 0, 0, 0, 0, 3): [0.0, 0.0, 0.0],  # zero row rebuilt, rows rescaled
        (0.36, 0.48, -0.8, -0.8, 0.6, 0, 0.48, 0.64, 0.6): [
            0.81764504583270226,
            -0.50065471240458814,
            -1.1479424006619559,
        ],
        (1, 0, 0, 0, 1, 0, 0, 0, 1): [0.0, 0.0, 0.0],
    }
    for u, ref in cases.items():
        got = umat2misset(np.array(u, dtype=float).reshape(3, 3))
        assert got.tolist() == ref, u


@pytest.mark.parametrize("start", [-1234, -3, 0])
def test_ran1_stream_matches_scalar_draws(start: int) -> None:
    n_total = 210
    ref_rng, ref_seed = CRandom(), Seed(start)
    ref = [ref_rng.ran1(ref_seed) for _ in range(n_total)]
    for used in (0, 1, 7, 13, 64, 199):
        rng, seed = CRandom(), Seed(start)
        stream = Ran1Stream(rng, seed, block=16)
        got = [stream.draw() for _ in range(used)]
        assert got == ref[:used]
        stream.close()
        # the state is exactly where `used` scalar draws leave it
        check_rng, check_seed = CRandom(), Seed(start)
        for _ in range(used):
            check_rng.ran1(check_seed)
        assert seed.value == check_seed.value
        assert rng.iy == check_rng.iy
        assert rng.iv == check_rng.iv
        assert [rng.ran1(seed) for _ in range(5)] == ref[used : used + 5]


def test_ran1_stream_keep_and_rewind() -> None:
    ref_rng, ref_seed = CRandom(), Seed(-42)
    ref = [ref_rng.ran1(ref_seed) for _ in range(100)]
    rng, seed = CRandom(), Seed(-42)
    stream = Ran1Stream(rng, seed, block=10)
    stream.next_block()  # irregular first block: a single scalar draw (table load)
    assert stream.buf == ref[:1]
    stream.next_block()
    assert stream.buf == ref[1:11]
    buf = stream.next_block(keep_from=7)  # keep ref[8:11] in front
    assert buf == ref[8:21]
    assert stream.pos == 3
    stream.close(used=2)  # rewind into the kept part: 8 + 2 = 10 values used
    assert [rng.ran1(seed) for _ in range(3)] == ref[10:13]


def test_seed_validation() -> None:
    with pytest.raises(ValueError):
        Seed(-(2**63))
    assert Seed(-5).value == -5
