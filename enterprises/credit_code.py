"""The unified social credit code (统一社会信用代码) of GB 32100-2015.

18 characters: registration authority (1), organisation type (1), administrative
division code (6), organisation serial (9, the old organisation code incl. its own check
character) and one check character computed here over the first 17.
"""

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}

# The old organisation code (GB 11714) that forms characters 9–17 has its own check
# character over its first eight: weights below, check = 11 - sum % 11 (10 → "X", 11 → "0").
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def check_digit(first17):
    """The GB 32100-2015 check character for the first 17 characters of a code."""
    first17 = first17.upper()
    if len(first17) != 17 or any(ch not in _VALUE for ch in first17):
        raise ValueError(f"expected 17 characters of {ALPHABET!r}, got {first17!r}")
    total = sum(_VALUE[ch] * weight for ch, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code):
    """Whether `code` is a well-formed 18-character code with a correct check character."""
    if not isinstance(code, str) or len(code) != 18:
        return False
    code = code.upper()
    if any(ch not in _VALUE for ch in code):
        return False
    if not code[2:8].isdigit():
        return False
    return check_digit(code[:17]) == code[17]


def organisation_code(base8):
    """Complete an 8-character organisation code body with its GB 11714 check character."""
    base8 = base8.upper()
    if len(base8) != 8 or any(ch not in _ORG_ALPHABET for ch in base8):
        raise ValueError(f"expected 8 digits or letters, got {base8!r}")
    total = sum(_ORG_ALPHABET.index(ch) * w for ch, w in zip(base8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return base8 + {10: "X", 11: "0"}.get(check, str(check))


def make_code(registration_authority, type, division_code, org_serial):  # `type`: the standard's word
    """Build a valid 18-character code.

    `registration_authority` and `type` are one character each (e.g. "9" and "1" for an
    enterprise registered with market regulation), `division_code` six digits, and
    `org_serial` either the nine-character organisation code or an integer / eight
    characters, which is completed with its own check character.
    """
    if isinstance(org_serial, int):
        org_serial = f"{org_serial:08d}"
    org_serial = str(org_serial).upper()
    if len(org_serial) == 8:
        org_serial = organisation_code(org_serial)
    division_code = str(division_code)
    if len(division_code) != 6 or not division_code.isdigit():
        raise ValueError(f"division code must be six digits, got {division_code!r}")
    first17 = f"{registration_authority}{type}{division_code}{org_serial}".upper()
    # The organisation code may use letters outside the credit-code alphabet (I, O, S, V, Z).
    if len(first17) != 17 or any(ch not in _VALUE for ch in first17):
        raise ValueError(f"cannot build a code from {first17!r}")
    return first17 + check_digit(first17)
