import pytest

from bankupdate.domain.backoff import poll_wait_seconds


def test_wait_grows_and_is_capped() -> None:
    # Given the default timing (2 s initial, 30 s cap)
    # When the waits of the first polls are computed
    waits = [poll_wait_seconds(n, initial=2, cap=30) for n in range(10)]
    # Then they never shrink, start at the initial wait and end at the cap
    assert waits[0] == 2
    assert waits == sorted(waits)
    assert waits[-1] == 30
    assert len(set(waits)) > 5


def test_zero_initial_wait_means_no_waiting() -> None:
    # Given tests that shorten the loop (initial 0)
    # Then every wait is zero
    assert {poll_wait_seconds(n, initial=0, cap=30) for n in range(5)} == {0}


def test_negative_poll_count_is_a_bug() -> None:
    with pytest.raises(ValueError, match="negative"):
        poll_wait_seconds(-1, initial=2, cap=30)
