"""The one way money is shown: enough digits for a fraction of a cent, and "unknown" when no
price was known (never a misleading $0).

Why not a fixed two decimals: one model call often costs $0.0004; rounded to cents every run
of a cheap model looked free. Stored amounts have six decimals (Numeric(14, 6)).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

UNKNOWN = "unknown"
SMALLEST = Decimal("0.000001")


def to_decimal(value: Decimal | str | float | int | None) -> Decimal | None:
    """Whatever a DB row, an event payload or a form holds, as a Decimal (None: unknown)."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def format_money(value: Decimal | str | float | int | None, *, unpriced: bool = False) -> str:
    """US dollars for people: "$1,234.50", "$0.25", "$0.00042", "$0.00", "unknown".

    `unpriced` says some of the calls behind `value` had no price: with nothing priced the
    amount is "unknown"; with part priced it is a lower bound ("$0.012 + unpriced calls")."""
    amount = to_decimal(value)
    if amount is None or (unpriced and amount == 0):
        return UNKNOWN
    text = _dollars(amount)
    return f"{text} + unpriced calls" if unpriced else text


def _dollars(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0:
        return "$0.00"
    if amount >= 1:
        return f"{sign}${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    if amount < SMALLEST:
        return f"{sign}< $0.000001"
    # below a dollar: six decimals, trailing zeros dropped, at least two kept ($0.50, $0.00042)
    digits = f"{amount.quantize(SMALLEST, ROUND_HALF_UP):f}".rstrip("0")
    whole, _, frac = digits.partition(".")
    return f"{sign}${whole}.{frac.ljust(2, '0')}"
