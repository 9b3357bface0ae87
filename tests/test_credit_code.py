"""GB 32100-2015 unified social credit codes: the check character, validation, generation."""

import pytest

from enterprises.credit_code import ALPHABET, check_digit, is_valid, make_code

# Published codes of real enterprises, each verified by the algorithm.
REAL_CODES = [
    "914403001922038216",  # 华为技术有限公司
    "9144030071526726XG",  # 深圳市腾讯计算机系统有限公司
    "91110000802100433B",
    "91320000134775285R",
    "91110108551385082Q",
    "91350100M000100Y43",
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert is_valid(code)
    assert check_digit(code[:17]) == code[17]


@pytest.mark.parametrize("code", REAL_CODES)
def test_a_changed_character_is_caught(code):
    position = 10
    wrong = ALPHABET[(ALPHABET.index(code[position]) + 1) % len(ALPHABET)]
    assert not is_valid(code[:position] + wrong + code[position + 1 :])


@pytest.mark.parametrize(
    "code",
    [
        "",
        "91440300192203821",  # 17 characters
        "9144030019220382160",  # 19 characters
        "914403001922038217",  # wrong check character
        "91440300192203821I",  # I is not in the alphabet
        "9144030O1922038216",  # letter O instead of 0
        "91A40300192203821X",  # division code must be digits
        None,
        914403001922038216,
    ],
)
def test_malformed_codes_are_invalid(code):
    assert not is_valid(code)


def test_lower_case_is_accepted_as_upper_case():
    assert is_valid("9144030071526726xg")


def test_check_character_wraps_31_to_0():
    # Find a body whose weighted sum is a multiple of 31: its check character must be "0".
    for serial in range(10_000):
        first17 = f"91320300{serial:09d}"
        weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
        total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, weights, strict=True))
        if total % 31 == 0:
            assert check_digit(first17) == "0"
            assert is_valid(first17 + "0")
            return
    pytest.fail("no body with a weighted sum divisible by 31 found")


def test_check_digit_rejects_bad_input():
    with pytest.raises(ValueError):
        check_digit("123")
    with pytest.raises(ValueError):
        check_digit("9132030000000000I")


def test_make_code_builds_valid_distinct_codes():
    codes = {make_code("9", "1", "320302", n) for n in range(2000)}
    assert len(codes) == 2000
    assert all(is_valid(c) and c.startswith("91320302") for c in codes)


def test_make_code_completes_the_organisation_code_check_character():
    # 华为's organisation code is 19220382-1: the eight-character body gets its GB 11714 check.
    assert make_code("9", "1", "440300", "19220382") == "914403001922038216"
    assert make_code("9", "1", "440300", "192203821") == "914403001922038216"


def test_make_code_rejects_a_bad_division_code():
    with pytest.raises(ValueError):
        make_code("9", "1", "3203", 1)
