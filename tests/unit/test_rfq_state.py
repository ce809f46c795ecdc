from decimal import Decimal

import pytest

from core.state_machine import InvalidTransition
from gateway.domain.rfq import TERMINAL_STATES, TRANSITIONS, RfqState, Trigger, next_state
from tests.stubs import T0, rfq

HAPPY_PATH = [
    (RfqState.RECEIVED, Trigger.OPEN, RfqState.QUOTING),
    (RfqState.QUOTING, Trigger.QUOTE, RfqState.QUOTING),
    (RfqState.QUOTING, Trigger.ACCEPT, RfqState.ACCEPTED_BINDING),
    (RfqState.ACCEPTED_BINDING, Trigger.FILL, RfqState.READY_TO_SETTLE),
    (RfqState.READY_TO_SETTLE, Trigger.SETTLE, RfqState.FILLED),
]


@pytest.mark.parametrize(("state", "trigger", "expected"), HAPPY_PATH + [
    (RfqState.RECEIVED, Trigger.REFUSE, RfqState.REJECTED),
    (RfqState.QUOTING, Trigger.EXPIRE, RfqState.EXPIRED),
    (RfqState.ACCEPTED_BINDING, Trigger.EXECUTION_FAILED, RfqState.REJECTED),
    (RfqState.READY_TO_SETTLE, Trigger.SETTLE_PARTIAL, RfqState.PARTIALLY_FILLED),
])
def test_table_transitions(state, trigger, expected):
    assert next_state(state, trigger) is expected


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
@pytest.mark.parametrize("trigger", list(Trigger))
def test_terminal_states_accept_nothing(state, trigger):
    with pytest.raises(InvalidTransition):
        next_state(state, trigger)


@pytest.mark.parametrize(("state", "trigger"), [
    (RfqState.RECEIVED, Trigger.ACCEPT),  # accept before quoting opens
    (RfqState.QUOTING, Trigger.FILL),  # a fill for an RFQ not accepted
    (RfqState.ACCEPTED_BINDING, Trigger.ACCEPT),  # accepted twice
    (RfqState.ACCEPTED_BINDING, Trigger.EXPIRE),  # locked funds are not expired by the quoting window
    (RfqState.READY_TO_SETTLE, Trigger.FILL),  # a second fill
])
def test_out_of_order_triggers_are_refused(state, trigger):
    with pytest.raises(InvalidTransition) as refused:
        next_state(state, trigger)
    assert refused.value.state == state.value and refused.value.trigger == trigger.value


def test_every_table_entry_leads_to_a_known_state_and_no_terminal_state_has_exits():
    assert all(target in RfqState for target in TRANSITIONS.values())
    assert not any(state in TERMINAL_STATES for state, _ in TRANSITIONS)


def test_apply_returns_a_new_value_and_leaves_the_original():
    original = rfq(state=RfqState.QUOTING)
    accepted = original.apply(Trigger.ACCEPT, T0, accepted_quote_id="q1-1")
    assert original.state is RfqState.QUOTING and original.accepted_quote_id is None
    assert accepted.state is RfqState.ACCEPTED_BINDING and accepted.accepted_quote_id == "q1-1"
    assert accepted.updated_at == T0


def test_invalid_rfq_values_are_refused_by_invariants():
    with pytest.raises(AssertionError):
        rfq(quantity=Decimal(0))
