"""Exact fen arithmetic for price caps and the margin rule (no floats anywhere near an edge)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.score.problem import lattice_cap, margin_lo

fen = st.integers(min_value=1, max_value=10**9)
ratio = st.integers(min_value=1, max_value=200).map(lambda x: Fraction(x, 100))
step = st.sampled_from([1, 5, 10, 50, 100])


def cap(field: int, r: Fraction, strict: bool, s: int) -> int:
    return int(lattice_cap(np.array([field], np.int64), r, strict, s)[0])


@settings(max_examples=300, deadline=None)
@given(fen, ratio, st.booleans(), step)
def test_cap_is_the_highest_lattice_price_under_the_cap(field: int, r: Fraction, strict: bool,
                                                       s: int) -> None:
    p = cap(field, r, strict, s)
    limit = r * field
    assert (p < limit) if strict else (p <= limit)
    nxt = p + s
    assert not ((nxt < limit) if strict else (nxt <= limit))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10**14 - 1),
       st.integers(min_value=1, max_value=100_000).map(lambda x: Fraction(x, 10_000)),
       st.booleans(), step)
def test_cap_is_exact_at_the_largest_prices_allowed(field: int, r: Fraction, strict: bool,
                                                  s: int) -> None:
    """Prices up to 10^12 yuan and ratios up to 10 with 4 decimals (the input limits): num*F
    passes int64 there (it raised, exit 1); the cap must still be exact, checked in Python
    integers."""
    p = cap(field, r, strict, s)
    top = (r.numerator * field - (1 if strict else 0)) // r.denominator
    assert p == top // s * s


def test_spec_edge_cases() -> None:
    # offsite: market 12.00, 30-day min 9.00 -> 8.99 (the 30-day rule binds)
    assert min(cap(900, Fraction(1), True, 1), cap(1200, Fraction(9, 10), True, 1)) == 899
    # market 10.00, min 9.50 -> 8.99 (the 0.9 rule binds)
    assert min(cap(950, Fraction(1), True, 1), cap(1000, Fraction(9, 10), True, 1)) == 899
    # yanxuan at market 10.00: 9.50 allowed (non-strict)
    assert cap(1000, Fraction(95, 100), False, 1) == 950


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**8),
       st.integers(min_value=0, max_value=300).map(lambda x: Fraction(x, 1000)),
       st.integers(min_value=0, max_value=500).map(lambda x: Fraction(x, 1000)), step)
def test_margin_lo_is_the_least_price_keeping_the_rule(cost: int, fee: Fraction, rate: Fraction,
                                                       s: int) -> None:
    lo = int(margin_lo(np.array([cost], np.int64), fee, rate, s)[0])
    assert lo % s == 0 and lo >= s
    assert lo * (1 - fee) - cost >= rate * lo  # exact
    below = lo - s
    if below >= s:
        assert below * (1 - fee) - cost < rate * below
