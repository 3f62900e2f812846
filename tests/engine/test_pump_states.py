"""The pump moves only along its transition table: a step returning any other state is a bug."""

from __future__ import annotations

import pytest

from crmsync.engine.pump import TRANSITIONS, IllegalTransition, Machine, State


def test_a_group_goes_claiming_sending_recording_then_round_again_or_done() -> None:
    machine = Machine()
    for to in (State.SENDING, State.RECORDING, State.CLAIMING, State.SENDING):
        machine.move(to)
    for to in (State.RECORDING, State.DRAINING, State.DONE):
        machine.move(to)
    assert machine.state is State.DONE


def test_an_illegal_transition_raises_and_leaves_the_state_as_it_was() -> None:
    machine = Machine()
    with pytest.raises(IllegalTransition, match="from claiming to recording"):
        machine.move(State.RECORDING)  # a group must be sent before it is recorded
    assert machine.state is State.CLAIMING


def test_a_yielding_pump_never_claims_again_and_done_and_failed_are_final() -> None:
    assert State.CLAIMING not in TRANSITIONS[State.YIELDING]
    assert TRANSITIONS[State.DONE] == TRANSITIONS[State.FAILED] == frozenset()
    machine = Machine(State.DONE)
    with pytest.raises(IllegalTransition):
        machine.move(State.CLAIMING)


def test_every_state_is_in_the_table_and_reached_from_claiming() -> None:
    assert set(TRANSITIONS) == set(State)
    reached, frontier = {State.CLAIMING}, [State.CLAIMING]
    while frontier:
        for to in TRANSITIONS[frontier.pop()] - reached:
            reached.add(to)
            frontier.append(to)
    assert reached == set(State)
