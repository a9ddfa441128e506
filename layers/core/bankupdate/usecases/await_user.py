"""AwaitUser: the workflow parks here (waitForTaskToken) until the user answered the bank's challenge."""

from __future__ import annotations

from bankupdate.domain import events
from bankupdate.domain.model import UpdateStatus
from bankupdate.domain.steps import NextStep, StepOutput
from bankupdate.observability import logger
from bankupdate.usecases.services import Services


def await_user(services: Services, update_id: str, task_token: str) -> None:
    stored = services.updates.get(update_id)
    record = stored.record if stored else None
    if record is None or record.status is not UpdateStatus.AUTHENTICATION_REQUIRED or record.challenge is None:
        # Nothing to wait for (finished meanwhile, or gone): let the workflow move on instead of idling to timeout.
        services.workflow.resume(task_token, StepOutput(next=NextStep.FINALIZE).to_state())
        return
    if not services.updates.park_task_token(update_id, token=task_token, auth_round=record.auth_round):
        logger.warning("authentication round moved on before the workflow parked", extra={"update_id": update_id})
        services.workflow.resume(task_token, StepOutput(next=NextStep.FINALIZE).to_state())
        return
    services.events.publish(
        events.AUTHENTICATION_REQUIRED,
        events.AuthenticationRequested(
            update_id=update_id,
            owner_id=record.owner_id,
            connection_id=record.connection_id,
            challenge_status=record.challenge.status.value,
            auth_round=record.auth_round,
            expires_at=record.auth_window_ends_at,
        ),
    )
