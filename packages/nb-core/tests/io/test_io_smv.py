"""SMV images: golden headers and pixels, ValueOf emulation, writing and round trips."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nb_core.errors import InputError
from nb_core.io import SmvImage, read_float_image, read_smv, smv_value_of, write_smv

CASES = Path(__file__).resolve().parents[4].parent / "shared" / "golden" / "cases"


@pytest.fixture
def cases() -> Path:
    if not CASES.is_dir():
        pytest.skip(f"golden cases folder {CASES} is missing")
    return CASES


def test_golden_header(cases: Path) -> None:
    image = read_smv(cases / "cubic_mosflm" / "int.img")
    assert isinstance(image, SmvImage)
    assert image.header_bytes == 512
    assert image.data.shape == (96, 96)
    assert image.data.dtype == np.uint16
    h = image.header
    assert h["HEADER_BYTES"] == "512"
    assert h["BYTE_ORDER"] == "little_endian"
    assert h["TYPE"] == "unsigned_short"
    assert h["SIZE1"] == "96"
    assert h["SIZE2"] == "96"
    assert h["PIXEL_SIZE"] == "0.1"
    assert h["DISTANCE"] == "100"
    assert h["WAVELENGTH"] == "6.2"
    assert h["BEAM_CENTER_X"] == "4.85"
    assert h["ADXV_CENTER_Y"] == "4.7"
    assert h["DIALS_ORIGIN"] == "-4.9,4.9,-100"  # written without ';'
    assert h["XDS_ORGX"] == "49.5"
    assert h["BEAMLINE"] == "fake"
    assert image.value("PIXEL_SIZE") == 0.1
    assert image.value("BEAM_CENTER_Y") == 4.85
    assert image.value("DIALS_ORIGIN") == -4.9
    assert image.value("NOT_THERE") is None
    assert image.header_text.startswith("{\nHEADER_BYTES=512;\nDIM=2;\n")
    assert image.header_text.endswith("BEAMLINE=fake;\n}")
    assert len(image.header_text) == 453


def test_golden_pixels_match_float_image(cases: Path) -> None:
    # int.img = floor(float * intfile_scale + adc_offset(40) + 0.5), clipped to 0..65535
    for name, scale in (("cubic_mosflm", 355.636), ("random_008", 124.964)):
        image = read_smv(cases / name / "int.img")
        spixels, fpixels = image.data.shape
        floats = read_float_image(cases / name / "float.bin", fpixels, spixels)
        expected = np.clip(np.floor(floats.astype(np.float64) * scale + 40.5), 0, 65535)
        assert np.abs(image.data - expected).max() <= 1, name
        assert image.data.max() == 55040  # the brightest pixel, scaled to 55000 + 40


def test_header_overrun_random_008(cases: Path) -> None:
    # The C program's header runs past its declared 512 bytes; its pixels start late.
    path = cases / "random_008" / "int.img"
    raw = path.read_bytes()
    assert len(raw) == 519 + 2 * 36 * 39
    assert raw.index(b"}") == 517
    image = read_smv(path)
    assert image.header_bytes == 512
    assert image.data.shape == (39, 36)
    np.testing.assert_array_equal(image.data, np.frombuffer(raw[519:], dtype="<u2").reshape(39, 36))
    assert image.data[0, 0] == 40  # adc_offset in a dark corner
    assert image.header["DISTANCE"] == "103.973"
    assert image.header["CLOSE_DISTANCE"] == "102.834"


def test_smv_value_of_substring_quirk(cases: Path) -> None:
    text = read_smv(cases / "random_008" / "int.img").header_text
    # Last occurrence of the substring: DISTANCE matches inside CLOSE_DISTANCE.
    assert smv_value_of(text, "DISTANCE") == 102.834
    assert smv_value_of(text, "CLOSE_DISTANCE") == 102.834
    # ORGX matches inside XDS_ORGX.
    assert smv_value_of(text, "ORGX") == 171.752
    assert smv_value_of(text, "ORGY") == -48.3016
    assert smv_value_of(text, "PIXEL_SIZE") == 0.0916
    assert smv_value_of(text, "WAVELENGTH") == 2.7389
    assert smv_value_of(text, "PHI") == -18.791
    assert smv_value_of(text, "OSC_RANGE") == 3.984
    assert smv_value_of(text, "SIZE1") == 36
    assert smv_value_of(text, "TWOTHETA") == 0.0
    assert smv_value_of(text, "BEAM_CENTER_X") == 1.6946
    assert smv_value_of(text, "NOPE") is None


def test_smv_value_of_rules() -> None:
    assert smv_value_of("{\nA=1;\nB=2;\nA=3;\n}", "A") == 3.0
    assert smv_value_of("{\nKEY\n}", "KEY") == 0.0  # no '=' after the key
    assert smv_value_of("{\nKEY=;\n}", "KEY") == 0.0  # atof of ';'
    assert smv_value_of("{\nKEY=  \t-1.5e2xyz;\n}", "KEY") == -150.0
    assert smv_value_of("{\nKEY=.5;\n}", "KEY") == 0.5
    assert smv_value_of("{\nKEY=1e;\n}", "KEY") == 1.0
    assert smv_value_of("{\nKEY=0x10;\n}", "KEY") == 16.0
    assert smv_value_of("{\nKEY=inf;\n}", "KEY") == math.inf
    value = smv_value_of("{\nKEY=nan;\n}", "KEY")
    assert value is not None
    assert math.isnan(value)
    # The first '=' after the last match, even on a later line.
    assert smv_value_of("{\nXKEY;\nB=7;\n}", "KEY") == 7.0
    # Non-overlapping left-to-right search, as with repeated strstr.
    assert smv_value_of("AAA=5", "AA") == 5.0
    assert smv_value_of("A=1\0A=2", "A") == 1.0  # C strings end at NUL
    assert smv_value_of("{}", "") is None


def test_golden_mask_and_img_header(cases: Path) -> None:
    mask = read_smv(cases / "mask_file" / "mask.img")
    assert mask.data.shape == (96, 96)
    assert set(np.unique(mask.data).tolist()) <= {0, 1}
    assert mask.value("PIXEL_SIZE") == 0.1
    img = read_smv(cases / "img_header" / "header.img")
    assert img.data.shape == (88, 72)
    assert img.header["PIXEL_SIZE"] == "0.12"
    assert img.value("DISTANCE") == 140.5
    assert img.value("WAVELENGTH") == 1.25
    assert img.value("BEAM_CENTER_X") == 4.1
    assert img.value("BEAM_CENTER_Y") == 5.3
    assert img.value("PHI") == 3.0
    assert img.value("OSC_RANGE") == 0.5
    assert img.value("TWOTHETA") == 5.0


def test_write_layout_and_round_trip(tmp_path: Path) -> None:
    data = (np.arange(12, dtype=np.uint16) * 5000).reshape(3, 4)
    header = [("PIXEL_SIZE", "0.1"), ("DIALS_ORIGIN", "-4.9,4.9,-100"), ("BEAMLINE", "fake")]
    path = tmp_path / "int.img"
    write_smv(path, data, header)
    raw = path.read_bytes()
    text = (
        "{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\n"
        "SIZE1=4;\nSIZE2=3;\nPIXEL_SIZE=0.1;\nDIALS_ORIGIN=-4.9,4.9,-100;\nBEAMLINE=fake;\n}\f"
    )
    assert raw[:512] == text.encode().ljust(512, b" ")
    assert raw[512:] == data.astype("<u2").tobytes()
    back = read_smv(path)
    np.testing.assert_array_equal(back.data, data)
    assert back.header["DIALS_ORIGIN"] == "-4.9,4.9,-100"
    assert back.value("PIXEL_SIZE") == 0.1
    assert back.header_bytes == 512


def test_write_long_header_grows_in_blocks(tmp_path: Path) -> None:
    header = [(f"KEY_{i:03d}", "x" * 20) for i in range(40)]
    data = np.array([[1, 65535]], dtype=np.uint16)
    path = tmp_path / "big.img"
    write_smv(path, data, header)
    raw = path.read_bytes()
    assert raw.startswith(b"{\nHEADER_BYTES=1536;\n")
    assert len(raw) == 1536 + 4
    back = read_smv(path)
    assert back.header_bytes == 1536
    assert back.header["KEY_039"] == "x" * 20
    assert back.data.tolist() == [[1, 65535]]


def test_write_rejects_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "x.img"
    with pytest.raises(ValueError, match="key"):
        write_smv(path, np.zeros((2, 2), np.uint16), [("A=B", "1")])
    with pytest.raises(ValueError, match="value"):
        write_smv(path, np.zeros((2, 2), np.uint16), [("A", "1;2")])
    with pytest.raises(ValueError, match="itself"):
        write_smv(path, np.zeros((2, 2), np.uint16), [("SIZE1", "2")])
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        write_smv(path, np.full((2, 2), 70000), [])
    with pytest.raises(ValueError, match="2-d"):
        write_smv(path, np.zeros(4, np.uint16), [])
    assert not path.exists()
    write_smv(path, np.full((2, 2), 7, dtype=np.int64), [])
    assert read_smv(path).data.tolist() == [[7, 7], [7, 7]]


def test_big_endian_pixels_are_read_byte_swapped(tmp_path: Path) -> None:
    text = (
        "{\nHEADER_BYTES=512;\nBYTE_ORDER=big_endian;\nTYPE=unsigned_short;\nSIZE1=2;\nSIZE2=1;\n}"
    )
    path = tmp_path / "be.img"
    path.write_bytes(text.encode().ljust(512, b" ") + b"\x01\x02\x00\x05")
    assert read_smv(path).data.tolist() == [[0x0102, 5]]


def test_detector_dimensions_fallback(tmp_path: Path) -> None:
    text = "{\nHEADER_BYTES=512;\nDETECTOR_DIMENSIONS=2;\n}"
    path = tmp_path / "dd.img"
    path.write_bytes(text.encode().ljust(512, b" ") + bytes(8))
    assert read_smv(path).data.shape == (2, 2)


def head(body: str) -> bytes:
    return ("{\n" + body + "}\f").encode().ljust(512, b" ")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "does not start with '{'"),
        (b"P5\n2 2\n255\n", "does not start with '{'"),
        (b"{\nHEADER_BYTES=512;\n", "no closing '}'"),
        (head("SIZE1=2;\nSIZE2=2;\n") + bytes(8), "no HEADER_BYTES"),
        (head("HEADER_BYTES=abc;\nSIZE1=2;\nSIZE2=2;\n") + bytes(8), "HEADER_BYTES should be"),
        (head("HEADER_BYTES=512;\nSIZE2=2;\n") + bytes(8), "no SIZE1"),
        (head("HEADER_BYTES=512;\nSIZE1=2;\n") + bytes(8), "no SIZE2"),
        (head("HEADER_BYTES=512;\nSIZE1=0;\nSIZE2=2;\n") + bytes(8), "SIZE1 should be"),
        (head("HEADER_BYTES=512;\nSIZE1=2.5;\nSIZE2=2;\n") + bytes(8), "SIZE1 should be"),
        (head("HEADER_BYTES=512;\nSIZE1=2;\nSIZE2=2;\nTYPE=float;\n") + bytes(8), "TYPE"),
        (head("HEADER_BYTES=512;\nSIZE1=2;\nSIZE2=2;\nBYTE_ORDER=x;\n") + bytes(8), "BYTE_ORDER"),
        (head("HEADER_BYTES=512;\nSIZE1=2;\nSIZE2=2;\n") + bytes(7), "too short"),
        (head("HEADER_BYTES=512;\nSIZE1=99999;\nSIZE2=99999;\n"), "too short"),
    ],
)
def test_a_malformed_image_is_a_one_line_error_naming_the_file(
    tmp_path: Path, data: bytes, fragment: str
) -> None:
    path = tmp_path / "bad.img"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_smv(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_missing_image_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_smv(tmp_path / "none.img")
