"""Weighted picks with the cumulative weights computed once: random.choices recomputes them on every call, and
the generator picks a few million times."""

from __future__ import annotations

from bisect import bisect
from itertools import accumulate


class Weighted:
    __slots__ = ("values", "cum", "total")

    def __init__(self, values, weights):
        self.values = list(values)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def __call__(self, rng):
        return self.values[bisect(self.cum, rng.random() * self.total)]
