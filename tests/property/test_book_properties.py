"""An order-book side kept incrementally agrees with the plain dict it stands for."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.ingest.bybit.book import BookSide

prices = st.sampled_from([99.5, 99.75, 100.0, 100.25, 100.5, 101.0, 0.0001, 12345.678])
sizes = st.sampled_from([0.0, 0.0, 0.001, 1.0, 2.5, 1000.0])
batches = st.lists(st.lists(st.tuples(prices, sizes), max_size=8), max_size=30)


@settings(max_examples=300, deadline=None)
@given(batches, st.booleans())
def test_best_level_and_depth_match_a_plain_dict_after_any_updates(batches: list, is_bid: bool) -> None:
    side, model = BookSide(is_bid=is_bid), {}
    for batch in batches:
        side.apply(batch)
        for price, size in batch:
            if size == 0.0:
                model.pop(price, None)
            else:
                model[price] = size
        assert side.levels == model and side.prices == sorted(model)
        if model:
            assert side.best() == (max(model) if is_bid else min(model))
        assert math.isclose(side.depth_usd, sum(p * q for p, q in model.items()), rel_tol=1e-9, abs_tol=1e-6)
