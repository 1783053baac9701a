"""The money format: small amounts keep their digits, unpriced is "unknown", never $0."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.money import format_money


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0.00042"), "$0.00042"),
        (Decimal("0.000001"), "$0.000001"),
        (Decimal("0.0000004"), "< $0.000001"),
        (Decimal("0.5"), "$0.50"),
        (Decimal("0.123456"), "$0.123456"),
        (Decimal("0.000000"), "$0.00"),
        (Decimal("1"), "$1.00"),
        (Decimal("1234.567"), "$1,234.57"),
        ("0.002100", "$0.0021"),
        (0.25, "$0.25"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_amounts(value, shown):
    assert format_money(value) == shown


def test_unpriced_calls_make_zero_unknown_and_a_sum_a_lower_bound():
    assert format_money(Decimal(0), unpriced=True) == "unknown"
    assert format_money(Decimal("0.0031"), unpriced=True) == "$0.0031 + unpriced calls"
