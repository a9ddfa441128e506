"""The small use cases: register a finAPI user, sync connections, switch background updates, read what is there."""

from __future__ import annotations

import pytest

from bankupdate.domain.errors import NotFound
from tests.usecases.system import DEMO, System


def test_a_synced_user_has_their_finapi_connections_recorded(system: System) -> None:
    # Given a user with two connections at finAPI, one of which needs the user
    user = system.new_user("DEMO0001", "DEMO0002")
    system.sandbox.world.connections[user.connections[1]].user_action_required = True
    # When an operator syncs them
    synced = system.use_cases.sync_connections()(owner_id=user.owner_id)
    # Then both are recorded with what finAPI says
    assert sorted(synced) == sorted(user.connections)
    first, second = (system.connections.get(user.owner_id, c) for c in user.connections)
    assert first is not None and second is not None
    assert (first.health.user_action_required, second.health.user_action_required) == (False, True)
    listed = system.use_cases.read_updates().connections_of(owner_id=user.owner_id)
    assert [c.connection_id for c in listed] == user.connections


def test_a_user_without_a_finapi_user_cannot_be_synced(system: System) -> None:
    from bankupdate.domain.errors import UserNotRegistered

    with pytest.raises(UserNotRegistered):
        system.use_cases.sync_connections()(owner_id="nobody")


def test_opting_in_makes_the_connection_due_at_once_and_opting_out_takes_it_out(system: System) -> None:
    user = system.new_user()
    system.use_cases.sync_connections()(owner_id=user.owner_id)
    on = system.use_cases.set_schedule()(owner_id=user.owner_id, connection_id=user.connection, enabled=True)
    assert on.schedule.enabled and on.schedule.next_due_at == system.clock.now()
    assert [c for _, c, _ in system.schedules.due(now=system.clock.now())] == [user.connection]
    off = system.use_cases.set_schedule()(owner_id=user.owner_id, connection_id=user.connection, enabled=False)
    assert (off.schedule.enabled, off.schedule.next_due_at) == (False, None)
    assert list(system.schedules.due(now=system.clock.now())) == []


def test_an_unknown_connection_cannot_be_scheduled(system: System) -> None:
    user = system.new_user()
    with pytest.raises(NotFound):
        system.use_cases.set_schedule()(owner_id=user.owner_id, connection_id=user.connection, enabled=True)
    assert system.connections.get(user.owner_id, user.connection) is None


def test_a_user_reads_their_own_updates_and_connections_only(system: System) -> None:
    # Given an update of one user
    owner, stranger = system.new_user(), system.new_user()
    started = system.trigger(owner, credentials=DEMO)
    reads = system.use_cases.read_updates()
    # Then its owner reads it and its connection; anyone else finds neither
    assert reads.update(owner_id=owner.owner_id, update_id=started.update_id).update_id == started.update_id
    assert (
        reads.connection(owner_id=owner.owner_id, connection_id=owner.connection).active_update_id == started.update_id
    )
    with pytest.raises(NotFound):
        reads.update(owner_id=stranger.owner_id, update_id=started.update_id)
    with pytest.raises(NotFound):
        reads.connection(owner_id=stranger.owner_id, connection_id=owner.connection)
    assert reads.connections_of(owner_id=stranger.owner_id) == []


def test_registering_again_replaces_the_finapi_user(system: System) -> None:
    from pydantic import SecretStr

    user = system.new_user()
    system.use_cases.register_finapi_user()(owner_id=user.owner_id, username="someone-else", password=SecretStr("pw"))
    found = system.users.get(user.owner_id)
    assert found is not None and found.username == "someone-else"
