"""Fee rates per order under the non-stacking rule (SPEC 3), exact as Fractions.

An order's fee depends on the program it is sold in and on which "hub" programs (those charging a
fee with scope all_help_sell, e.g. 严选's commission) the SKU is also enrolled in. Everything else
about the SKU is irrelevant, so a program has a handful of fee *variants*, one per hub pattern.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

from optimizer.rules.rulebook import Rulebook


@dataclass(frozen=True)
class FeeVariant:
    """`pattern[h]` is whether the SKU is in hub program h; None: the fee does not depend on it."""

    pattern: tuple[bool, ...] | None
    rate: Fraction


@dataclass(frozen=True)
class FeeTable:
    hub: tuple[str, ...]  # programs with an all_help_sell fee item
    variants: dict[str, tuple[FeeVariant, ...]]
    alone: dict[str, FeeVariant]  # the variant that applies when the SKU is in this program only


def order_fee_rate(rulebook: Rulebook, program: str, enrolled: frozenset[str]) -> Fraction:
    """min(cap, max(applicable rates)) per fee group, summed over groups."""
    prog = rulebook.programs[program]
    applicable: dict[str, list[Fraction]] = {}
    for item in prog.fees.values():
        if item.scope == "own":
            applicable.setdefault(item.group, []).append(Fraction(item.rate))
    if prog.help_sell:
        for other in sorted(enrolled):
            for item in rulebook.programs[other].fees.values():
                if item.scope == "all_help_sell":
                    applicable.setdefault(item.group, []).append(Fraction(item.rate))
    total = Fraction(0)
    for group, rates in applicable.items():
        cap = rulebook.fee_groups[group].cap
        rate = max(rates)
        total += rate if cap is None else min(Fraction(cap), rate)
    return total


def fee_table(rulebook: Rulebook) -> FeeTable:
    hub = tuple(pid for pid, p in rulebook.programs.items()
                if any(item.scope == "all_help_sell" for item in p.fees.values()))
    variants: dict[str, tuple[FeeVariant, ...]] = {}
    alone: dict[str, FeeVariant] = {}
    for pid, prog in rulebook.programs.items():
        alone_rate = order_fee_rate(rulebook, pid, frozenset({pid}))
        if not prog.help_sell or not hub:
            variants[pid] = (FeeVariant(None, alone_rate),)
            alone[pid] = variants[pid][0]
            continue
        found = []
        for bits in itertools.product((False, True), repeat=len(hub)):
            if pid in hub and not bits[hub.index(pid)]:
                continue  # a SKU sold in a hub program is in it
            enrolled = frozenset(h for h, b in zip(hub, bits, strict=True) if b) | {pid}
            found.append(FeeVariant(bits, order_fee_rate(rulebook, pid, enrolled)))
        if len({v.rate for v in found}) == 1:
            found = [FeeVariant(None, found[0].rate)]
        variants[pid] = tuple(found)
        alone_bits = tuple(h == pid for h in hub)
        alone[pid] = next(v for v in found if v.pattern in (None, alone_bits))
    return FeeTable(hub, variants, alone)
