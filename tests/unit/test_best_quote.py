from datetime import timedelta
from decimal import Decimal

from core.types import Side
from gateway.domain.quotes import QuoteStatus, best_quote, is_eligible
from tests.stubs import T0, quote, rfq


def test_buy_takes_the_lowest_offer():
    quotes = [quote(quote_id="a", offer_price=Decimal("228.10"), sequence=1),
              quote(quote_id="b", offer_price=Decimal("227.95"), sequence=2),
              quote(quote_id="c", offer_price=Decimal("228.00"), sequence=3)]
    assert best_quote(rfq(side=Side.BUY), quotes, T0).quote_id == "b"


def test_sell_takes_the_highest_bid():
    quotes = [quote(quote_id="a", bid_price=Decimal("227.10"), sequence=1),
              quote(quote_id="b", bid_price=Decimal("227.30"), sequence=2),
              quote(quote_id="c", bid_price=Decimal("226.00"), sequence=3)]
    assert best_quote(rfq(side=Side.SELL), quotes, T0).quote_id == "b"


def test_the_earlier_quote_wins_a_tie_whatever_the_list_order():
    later = quote(quote_id="later", offer_price=Decimal("228.00"), bid_price=Decimal("227"), sequence=9)
    earlier = quote(quote_id="earlier", offer_price=Decimal("228.00"), bid_price=Decimal("227"), sequence=3)
    assert best_quote(rfq(side=Side.BUY), [later, earlier], T0).quote_id == "earlier"
    assert best_quote(rfq(side=Side.SELL), [later, earlier], T0).quote_id == "earlier"


def test_sub_penny_differences_count():
    quotes = [quote(quote_id="a", offer_price=Decimal("227.440"), sequence=1),
              quote(quote_id="b", offer_price=Decimal("227.435"), sequence=2)]
    assert best_quote(rfq(), quotes, T0).quote_id == "b"


def test_expired_withdrawn_and_out_of_limit_quotes_do_not_count():
    buy = rfq(limit_price=Decimal("228.00"))
    stale = quote(quote_id="stale", offer_price=Decimal("227.00"), valid_until=T0 - timedelta(seconds=1))
    replaced = quote(quote_id="replaced", offer_price=Decimal("227.10"), status=QuoteStatus.REPLACED, sequence=2)
    too_dear = quote(quote_id="dear", offer_price=Decimal("228.01"), sequence=3)
    fine = quote(quote_id="fine", offer_price=Decimal("227.99"), sequence=4)
    assert best_quote(buy, [stale, replaced, too_dear, fine], T0).quote_id == "fine"
    assert best_quote(buy, [stale, replaced, too_dear], T0) is None


def test_a_quote_is_valid_until_its_valid_until_time_exclusive():
    expiring = quote(valid_until=T0 + timedelta(seconds=5))
    assert is_eligible(expiring, rfq(), T0 + timedelta(seconds=4))
    assert not is_eligible(expiring, rfq(), T0 + timedelta(seconds=5))


def test_one_sided_quote_only_serves_its_side_and_size_must_cover_quantity():
    offer_only = quote(bid_price=None, offer_price=Decimal("228"))
    assert is_eligible(offer_only, rfq(side=Side.BUY), T0)
    assert not is_eligible(offer_only, rfq(side=Side.SELL), T0)
    small = quote(offer_size=Decimal(9))
    assert not is_eligible(small, rfq(quantity=Decimal(10)), T0)
    assert is_eligible(quote(offer_size=Decimal(10)), rfq(quantity=Decimal(10)), T0)


def test_sell_limit_is_a_floor():
    sell = rfq(side=Side.SELL, limit_price=Decimal("227.00"))
    assert not is_eligible(quote(bid_price=Decimal("226.99")), sell, T0)
    assert is_eligible(quote(bid_price=Decimal("227.00")), sell, T0)
