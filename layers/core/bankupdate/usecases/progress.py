"""Recording what finAPI answered to an update call, the same way after a trigger and after a user's answer."""

from __future__ import annotations

from datetime import timedelta

from bankupdate import finapi
from bankupdate.domain.model import UpdateRecord, UpdateStatus
from bankupdate.domain.steps import NextStep, StepOutput
from bankupdate.usecases.finapi_mapping import challenge_from
from bankupdate.usecases.services import Services


def workflow_input(services: Services, update_id: str, step: StepOutput) -> dict[str, object]:
    return {
        "updateId": update_id,
        "entry": step.next.value,
        "waitSeconds": step.wait_seconds,
        "authTimeoutSeconds": services.settings.auth_window_seconds,
        "failure": None,
    }


def first_poll(services: Services) -> StepOutput:
    return StepOutput(next=NextStep.POLL, wait_seconds=services.settings.poll_initial_wait_seconds)


def record_answer(
    services: Services, record: UpdateRecord, outcome: finapi.UpdateOutcome
) -> tuple[UpdateRecord, StepOutput]:
    now = services.clock()
    if isinstance(outcome, finapi.AuthenticationRequired):
        waiting = record.model_copy(
            update={
                "status": UpdateStatus.AUTHENTICATION_REQUIRED,
                "challenge": challenge_from(outcome.challenge, outcome.message),
                "auth_round": record.auth_round + 1,
                "auth_window_ends_at": now + timedelta(seconds=services.settings.auth_window_seconds),
                "updated_at": now,
            }
        )
        saved = services.updates.save(waiting, expected_version=record.version, drop_task_token=True)
        return saved, StepOutput(next=NextStep.AWAIT_USER)
    running = record.model_copy(
        update={
            "status": UpdateStatus.IN_PROGRESS,
            "challenge": None,
            "auth_window_ends_at": None,
            # The deadline counts from the moment finAPI accepted: time the user spent on SCA does not count.
            "triggered_at": now,
            "deadline_at": now + timedelta(seconds=services.settings.update_deadline_seconds),
            "updated_at": now,
        }
    )
    saved = services.updates.save(running, expected_version=record.version, drop_task_token=True)
    return saved, first_poll(services)


def record_unconfirmed_start(services: Services, record: UpdateRecord) -> tuple[UpdateRecord, StepOutput]:
    now = services.clock()
    running = record.model_copy(
        update={
            "status": UpdateStatus.IN_PROGRESS,
            "start_confirmed": False,
            "challenge": None,
            "auth_window_ends_at": None,
            "triggered_at": now,
            "deadline_at": now + timedelta(seconds=services.settings.update_deadline_seconds),
            "updated_at": now,
        }
    )
    saved = services.updates.save(running, expected_version=record.version, drop_task_token=True)
    return saved, first_poll(services)
