"""Recording what finAPI answered to an update call, the same way after a trigger and after a user's answer."""

from __future__ import annotations

from datetime import timedelta

from bankupdate import finapi
from bankupdate.domain.model import Challenge, UpdateRecord, UpdateStatus
from bankupdate.domain.steps import NextStep, StepOutput
from bankupdate.usecases.finapi_mapping import challenge_from
from bankupdate.usecases.services import Services


def workflow_input(services: Services, update_id: str, step: StepOutput) -> dict[str, object]:
    return {
        "updateId": update_id,
        "entry": step.next.value,
        "authTimeoutSeconds": services.settings.auth_window_seconds,
        "failure": None,
    }


def first_poll() -> StepOutput:
    """PollUpdateStatus looks right away and chooses its own gaps from then on."""
    return StepOutput(next=NextStep.POLL)


def record_answer(
    services: Services, record: UpdateRecord, outcome: finapi.UpdateOutcome
) -> tuple[UpdateRecord, StepOutput]:
    if isinstance(outcome, finapi.AuthenticationRequired):
        return await_answer(services, record, challenge_from(outcome.challenge, outcome.message))
    return start_polling(services, record, confirmed=True)


def await_answer(services: Services, record: UpdateRecord, challenge: Challenge) -> tuple[UpdateRecord, StepOutput]:
    """A new authentication round: the challenge is shown, the workflow parks in AwaitUser."""
    now = services.clock()
    waiting = record.model_copy(
        update={
            "status": UpdateStatus.AUTHENTICATION_REQUIRED,
            "challenge": challenge,
            "auth_round": record.auth_round + 1,
            "auth_window_ends_at": now + timedelta(seconds=services.settings.auth_window_seconds),
            "updated_at": now,
        }
    )
    saved = services.updates.save(waiting, expected_version=record.version, drop_task_token=True)
    return saved, StepOutput(next=NextStep.AWAIT_USER)


def record_unconfirmed_start(services: Services, record: UpdateRecord) -> tuple[UpdateRecord, StepOutput]:
    """finAPI's answer to the update call was lost: poll anyway, and count only a result written from now on."""
    return start_polling(services, record, confirmed=False)


def start_polling(services: Services, record: UpdateRecord, *, confirmed: bool) -> tuple[UpdateRecord, StepOutput]:
    now = services.clock()
    running = record.model_copy(
        update={
            "status": UpdateStatus.IN_PROGRESS,
            "start_confirmed": confirmed,
            "challenge": None,
            "auth_window_ends_at": None,
            # The deadline counts from the moment finAPI accepted: time the user spent on SCA does not count.
            "triggered_at": now,
            "deadline_at": now + timedelta(seconds=services.settings.update_deadline_seconds),
            "updated_at": now,
        }
    )
    saved = services.updates.save(running, expected_version=record.version, drop_task_token=True)
    return saved, first_poll()
