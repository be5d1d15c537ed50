"""Haskell's number formatting, as Ganeti's htools print numbers.

The planning tools print Doubles with GHC's ``printf``/``show``; both start
from the shortest decimal digits that identify the double (not its exact
binary value, as C's printf does) and round those digits half to even.
Reproducing that is what makes our printed scores byte-identical.
"""

from __future__ import annotations

import math


def _digits(value: float) -> tuple[list[int], int]:
    """Shortest digits and decimal exponent: value = 0.d1d2... * 10**exponent."""
    text = repr(abs(value))
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    exponent += len(whole)
    stripped = digits.lstrip("0")
    exponent -= len(digits) - len(stripped)
    stripped = stripped.rstrip("0")
    if not stripped:
        return [0], 0
    return [int(c) for c in stripped], exponent


def _round_to(count: int, digits: list[int]) -> tuple[int, list[int]]:
    """GHC's ``roundTo`` in base 10: keep ``count`` digits, half to even."""

    def step(n: int, even: bool, rest: list[int]) -> tuple[int, list[int]]:
        if not rest:
            return 0, [0] * n
        if n == 0:
            first = rest[0]
            if first == 5 and even and all(d == 0 for d in rest[1:]):
                return 0, []
            return (1 if first >= 5 else 0), []
        carry, tail = step(n - 1, rest[0] % 2 == 0, rest[1:])
        value = carry + rest[0]
        if value == 10:
            return 1, [0, *tail]
        return 0, [value, *tail]

    carry, result = step(count, True, digits)
    if carry:
        return 1, [1, *result]
    return 0, result


def fixed(value: float, precision: int) -> str:
    """``printf "%.<precision>f"`` of a Haskell Double."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    sign = "-" if value < 0 or (value == 0 and math.copysign(1, value) < 0) else ""
    digits, exponent = _digits(value)
    if digits == [0]:
        body = "0" + ("." + "0" * precision if precision > 0 else "")
        return sign + body
    if exponent <= 0:
        padded = [0] * (-exponent) + digits
        carry, rounded = _round_to(precision, padded)
        whole = "1" if carry else "0"
        frac = rounded[1:] if carry else rounded
        frac_text = "".join(map(str, frac))
    else:
        carry, rounded = _round_to(precision + exponent, digits)
        split = exponent + carry
        whole = "".join(map(str, rounded[:split])) or "0"
        frac_text = "".join(map(str, rounded[split:]))
    if precision > 0:
        return f"{sign}{whole}.{frac_text}"
    return f"{sign}{whole}"


def fixed_width(value: float, width: int, precision: int) -> str:
    """``printf "%<width>.<precision>f"``: right-aligned in ``width``."""
    return fixed(value, precision).rjust(width)


def show_double(value: float) -> str:
    """Haskell's ``show`` of a Double (``1.0``, ``0.75``, ``1.0e-2``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    sign = "-" if value < 0 else ""
    digits, exponent = _digits(value)
    if digits == [0]:
        return sign + "0.0"
    text = "".join(map(str, digits))
    if 0.1 <= abs(value) < 10**7:
        if exponent <= 0:
            return f"{sign}0.{'0' * -exponent}{text}"
        whole = text[:exponent].ljust(exponent, "0")
        frac = text[exponent:] or "0"
        return f"{sign}{whole}.{frac}"
    frac = text[1:] or "0"
    return f"{sign}{text[0]}.{frac}e{exponent - 1}"


def fixed_shortest(value: float) -> str:
    """``printf "%f"`` of a Haskell Double: shortest digits, fixed notation (``1.0``)."""
    if math.isnan(value) or math.isinf(value):
        return show_double(value)
    sign = "-" if value < 0 else ""
    digits, exponent = _digits(value)
    if digits == [0]:
        return sign + "0.0"
    text = "".join(map(str, digits))
    if exponent <= 0:
        return f"{sign}0.{'0' * -exponent}{text}"
    whole = text[:exponent].ljust(exponent, "0")
    return f"{sign}{whole}.{text[exponent:] or '0'}"
