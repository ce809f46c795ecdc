"""A state machine as a transition table with one way to move: `TransitionTable.next_state`.

Every state machine of the product (the gateway's RFQ, the broker's RFQ and venue orders, the
venue's orders) is a table of (state, trigger) -> state built with this class, so an illegal
move is refused the same way everywhere: InvalidTransition, naming the machine, state and trigger.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

State = TypeVar("State", bound=Enum)
Trigger = TypeVar("Trigger", bound=Enum)


class InvalidTransition(Exception):
    """`trigger` is not allowed in `state` (the message names both by their values)."""

    def __init__(self, machine: str, state: Enum, trigger: Enum) -> None:
        super().__init__(f"cannot {trigger.value} {machine} in state {state.value}")
        self.machine = machine
        self.state = state
        self.trigger = trigger


@dataclass(frozen=True)
class TransitionTable(Generic[State, Trigger]):
    """`transitions` maps (state, trigger) to the next state; `terminal` states accept no trigger."""

    machine: str  # how the refusal names the thing moving, e.g. "an RFQ"
    transitions: Mapping[tuple[State, Trigger], State]
    terminal: frozenset[State] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        leaving_terminal = [key for key in self.transitions if key[0] in self.terminal]
        assert not leaving_terminal, f"{self.machine}: terminal states have transitions {leaving_terminal}"

    def next_state(self, state: State, trigger: Trigger) -> State:
        try:
            return self.transitions[(state, trigger)]
        except KeyError:
            raise InvalidTransition(self.machine, state, trigger) from None

    def allows(self, state: State, trigger: Trigger) -> bool:
        return (state, trigger) in self.transitions

    def is_terminal(self, state: State) -> bool:
        return state in self.terminal


def from_each(states: Iterable[State], trigger: Trigger, target: State) -> dict[tuple[State, Trigger], State]:
    """The same move from several states: {(s, trigger): target for s in states}."""
    return {(state, trigger): target for state in states}
