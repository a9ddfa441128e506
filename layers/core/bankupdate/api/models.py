"""Request and response bodies of the HTTP API (camelCase JSON, validated at the edge, documented in OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from bankupdate.domain.model import AccountType, BankingInterface, ChallengeStatus, UpdateMode, UpdateStatus

Label = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
Iban = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")]
# finAPI's ids are int64: a path id is below ID_END. The bound is written "below 2**63" because a float holds that
# number exactly (2**63 - 1 is no float): the OpenAPI generator keeps bounds as floats, scripts/openapi.py writes them
# back as the integers they are.
ID_END = 2**63
HttpsUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s]+$")]


class _Request(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, defer_build=True
    )


class _Response(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True)


class LoginCredentialIn(_Request):
    label: Label
    value: SecretStr = Field(min_length=1, max_length=170)


class AccountReferenceIn(_Request):
    iban: Iban


# finAPI wants the interface together with credentials it has not stored (and we cannot know what it has): the rule
# of TriggerUpdateRequest's validator, written so that a client generated from the OpenAPI document keeps it too.
_INTERFACE_WITH_CREDENTIALS: dict[str, Any] = {
    "if": {"properties": {"loginCredentials": {"type": "array"}}, "required": ["loginCredentials"]},
    "then": {"properties": {"interface": {"not": {"type": "null"}}}, "required": ["interface"]},
}


class TriggerUpdateRequest(_Request):
    model_config = ConfigDict(json_schema_extra=_INTERFACE_WITH_CREDENTIALS)

    interface: BankingInterface | None = None
    login_credentials: list[LoginCredentialIn] | None = Field(None, min_length=1, max_length=10)
    store_secrets: bool = False
    import_new_accounts: bool = False
    skip_positions_download: bool = False
    load_owner_data: bool = False
    account_types: list[AccountType] | None = Field(None, min_length=1, max_length=8)
    account_references: list[AccountReferenceIn] | None = Field(None, min_length=1, max_length=100)
    redirect_url: HttpsUrl | None = Field(
        None,
        description="Where the bank sends the user after a redirect approach; must be on the operator's allow-list",
    )
    wait_for_categorization: bool = False
    manage_saved_settings: list[Literal["CREDENTIALS", "DEFAULT_TWO_STEP_PROCEDURE"]] | None = Field(
        None, min_length=1, max_length=2, description="Web Form 2.0 mode only: let the user change what finAPI stored"
    )

    @model_validator(mode="after")
    def _interface_with_credentials(self) -> TriggerUpdateRequest:
        if self.login_credentials and self.interface is None:
            problem = PydanticCustomError("missing", "required when loginCredentials are given")
            raise ValidationError.from_exception_data(
                type(self).__name__, [InitErrorDetails(type=problem, loc=("interface",), input=None)]
            )
        return self


class AuthenticationAnswerRequest(_Request):
    """Send exactly the field the pending challenge asks for (``authentication.answerField``), nothing else."""

    login_credentials: list[LoginCredentialIn] | None = Field(
        None,
        min_length=1,
        max_length=10,
        description="CREDENTIALS_REQUIRED: one entry per label in `authentication.credentialLabels`",
    )
    challenge_response: SecretStr | None = Field(
        None, min_length=1, max_length=256, description="CHALLENGE_RESPONSE_REQUIRED: the TAN the user typed"
    )
    two_step_procedure_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[\x20-\x7e]+$",
        description="TWO_STEP_PROCEDURE_REQUIRED: the `procedureId` of one of `authentication.twoStepProcedures`",
    )
    redirect_callback: SecretStr | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="REDIRECT_REQUIRED: where the bank sent the user back, as received: the full URL "
        "(`https://app.example.com/bank-return?state=...&code=...`) or just its query string (`state=...&code=...`). "
        "The bank appends it to the `redirectUrl` given when the update was started; send it even when it carries "
        "`error=...` (the user cancelled at the bank), so the update ends at once",
    )
    decoupled_callback: bool | None = Field(
        None,
        description="DECOUPLED_AUTH_REQUIRED / DECOUPLED_AUTH_IN_PROGRESS: `true` asks the bank whether the user "
        "approved in the banking app; at most once every few seconds (429 TOO_EARLY with Retry-After otherwise)",
    )
    store_secrets: bool | None = Field(
        None, description="With loginCredentials: let finAPI (never this service) keep the PIN for background updates"
    )


class RegisterFinapiUserRequest(_Request):
    finapi_username: str = Field(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
    finapi_password: SecretStr = Field(min_length=1, max_length=512)


class TwoStepProcedureView(_Response):
    procedure_id: str
    procedure_name: str
    challenge_type: str | None = None
    implicit_execute: bool


class AuthenticationView(_Response):
    """What the bank asks for now. Render the screen from `status` and send back exactly `answerField`."""

    status: ChallengeStatus
    answer_field: str | None = Field(
        description="The one field the answer must carry; null for WEB_FORM_REQUIRED (answered in finAPI's web form)"
    )
    message: str | None = Field(None, description="The bank's own text for the user (often German); show it as is")
    previous_answer_rejected: bool = Field(
        False, description="The bank asks again for what it just got (a wrong TAN, wrong credentials)"
    )
    rounds_left: int = Field(
        description="How many more authentication rounds (questions from the bank) this update allows before it "
        "fails TOO_MANY_AUTHENTICATION_ROUNDS; 0: this is the last. It is not the number of attempts the bank "
        "gives: a bank may end the login sooner (e.g. at its third wrong TAN, failing the update BANK_REJECTED). "
        "What the bank says about it is in `message`"
    )
    credential_labels: list[str] = Field(
        [], description="CREDENTIALS_REQUIRED: the labels the bank wants (send each in loginCredentials)"
    )
    web_form_url: str | None = Field(
        None,
        description="WEB_FORM_REQUIRED: open this page of finAPI's web form. Always https (http to loopback only on "
        "the local stack); null when finAPI named an address that is not, which no browser should be sent to",
    )
    answer_field_label: str | None = Field(None, description="The bank's label for the input, e.g. `TAN`")
    redirect_url: str | None = Field(
        None,
        description="REDIRECT_REQUIRED: send the user's browser here (the bank's page); the bank sends them back to "
        "the update's `redirectUrl` with a query string, which goes into `redirectCallback`. Always https (http to "
        "loopback only on the local stack); null when finAPI named an address that is not",
    )
    two_step_procedures: list[TwoStepProcedureView] = Field(
        [], description="TWO_STEP_PROCEDURE_REQUIRED: the procedures the bank offers; send one `procedureId`"
    )
    photo_tan_mime_type: str | None = Field(None, description="photoTAN: the image type of `photoTanData`")
    photo_tan_data: str | None = Field(None, description="photoTAN: the image, base64; the user scans it")
    optical_data: str | None = Field(
        None, description="chipTAN optical: the flicker code the user's TAN generator reads off the screen"
    )
    round: int = Field(description="The authentication round of this update, from 1")
    expires_at: datetime | None = Field(None, description="Answer before this; afterwards 410 AUTHENTICATION_EXPIRED")


class AccountView(_Response):
    account_id: int
    name: str | None = None
    iban: str | None = None
    account_type: str | None = None
    status: str
    balance: float | None = Field(None, description="After the update, as finAPI reported it (= `balanceAfter`)")
    currency: str | None = Field(None, description="ISO 4217, as finAPI reports the account's currency")
    new_account: bool
    imported_transactions: int | None = Field(
        None,
        description="Transactions finAPI imported for this account since the connection's previous update (normally: "
        "by this one); null when not known. The transactions: GET .../transactions/changes?fromUpdate=<updateId>",
    )
    removed_transactions: int | None = Field(
        None, description="Transactions finAPI no longer has (a booking the bank dropped); null when not known"
    )
    balance_before: float | None = Field(
        None,
        description="The balance before the update (as the connection's previous update recorded it); null for a new "
        "account or when not known",
    )
    balance_after: float | None = Field(None, description="The balance after the update, as finAPI reported it")


class ResultView(_Response):
    accounts: list[AccountView]
    categorization_status: str | None = None
    finished_at: datetime | None = None


class ErrorView(_Response):
    code: str
    message: str
    user_message: str
    retryable: bool
    user_action_required: bool
    action_url: str | None = Field(
        None,
        description="Where the user can act on it (finAPI's web form), if anywhere; always https (http to loopback "
        "only on the local stack)",
    )


class UpdateView(_Response):
    update_id: str
    connection_id: int
    mode: UpdateMode
    status: UpdateStatus
    created_at: datetime
    updated_at: datetime
    authentication: AuthenticationView | None = None
    result: ResultView | None = None
    error: ErrorView | None = None
    counted_as_unattended: bool = Field(
        False,
        description="The user was present, but their IP address did not reach the bank (finAPI refused it, or none "
        "was known): the bank takes the update as unattended, against the connection's few unattended updates a day "
        "(the connection's unattendedLeftToday counts it).",
    )


class ScheduleView(_Response):
    """Background (scheduled, unattended) updates of the connection."""

    enabled: bool = Field(description="Background updates are switched on")
    next_due_at: datetime | None = Field(
        None, description="When the next background update is due; null: none (switched off, or the user must act)"
    )
    unattended_used_today: int = Field(description="Unattended accesses to the bank used today (the bank's day)")
    unattended_left_today: int = Field(description="Unattended accesses the bank still allows today")
    last_skip_reason: str | None = Field(
        None,
        description="Why the most recent scheduled run left the connection alone (e.g. BUDGET_EXHAUSTED, "
        "USER_ACTION_REQUIRED); null when that run updated it (or none has run)",
    )
    last_skip_at: datetime | None = Field(
        None,
        description="When that run skipped the connection: set exactly when `lastSkipReason` is, and cleared with "
        "it once a later run, or an update that puts the connection back on its schedule, updates the connection",
    )
    remedy: str | None = Field(
        None, description="What the user can do about the skip (or the last error), for the user to read"
    )


class ScheduleRequest(_Request):
    enabled: bool


class ConnectionView(_Response):
    connection_id: int
    active_update_id: str | None = None
    schedule: ScheduleView
    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_outcome: UpdateStatus | None = None
    last_error: ErrorView | None = None
    consent_expires_at: datetime | None = None
    user_action_required: bool
    redirect_approach: bool | None = Field(
        None,
        description="The bank's login happens on its website (send redirectUrl with updates); null: not known yet. "
        "A redirectUrl sent for a connection that does not use it is left out, as finAPI requires.",
    )


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. INVALID_REQUEST, UPDATE_ALREADY_RUNNING")
    message: str = Field(description="What went wrong, for developers")
    details: dict[str, Any] = Field(
        {},
        description="Always userMessage (for the user), retryable, userActionRequired; per code e.g. "
        "problems[{field, reason}], updateId, retryAfterSeconds, expected",
    )


class ErrorResponse(BaseModel):
    """Every answer our code gives that is not a success (also 422 INVALID_REQUEST for bodies that do not validate)."""

    error: ErrorDetail


class GatewayError(BaseModel):
    """API Gateway's own refusal (its JWT and IAM authorizers answer before our code runs; an HTTP API cannot reshape
    these bodies)."""

    message: str = Field(description="`Unauthorized` or `Forbidden`")


class Unauthorized(RootModel[GatewayError | ErrorResponse]):
    """401: API Gateway's `{"message":"Unauthorized"}`, or ours (UNAUTHENTICATED) for a token without `sub`."""


class AccountNowView(_Response):
    account_id: int
    name: str | None = None
    iban: str | None = None
    account_type: str | None = None
    balance: float | None = Field(None, description="As finAPI has it now (its last update of the account)")
    currency: str | None = Field(None, description="ISO 4217")
    last_successful_update: datetime | None = None


class ConnectionAccountsView(_Response):
    """A connection's bank and accounts, read live from finAPI (nothing of it is stored by this service)."""

    connection_id: int
    bank_name: str | None = None
    accounts: list[AccountNowView]


class AddedTransactionView(_Response):
    transaction_id: int = Field(description="finAPI's transaction id")
    account_id: int
    update_id: str = Field(description="The update whose end found it (finAPI imported it since the one before)")
    amount: float
    currency: str | None = None
    bank_booking_date: date
    value_date: date | None = None
    imported_at: datetime = Field(description="When finAPI imported it")
    purpose: str | None = None
    counterpart_name: str | None = None
    counterpart_iban: str | None = None
    type: str | None = Field(None, description="The bank's own word for it, e.g. Lastschrift")
    future_booked: bool = Field(
        description="The bank books it later (it is already in the balance); until then the bank may still drop it, "
        "and it then comes back in `removed`"
    )
    adjusting_entry: bool = Field(
        description="finAPI's adjusting entry (Zwischensaldo): makes the transactions add up to the balance, e.g. "
        "after more than 89 days without an update"
    )
    potential_duplicate: bool
    is_new: bool = Field(description="finAPI's own flag, as the app left it: this service never changes it")


class RemovedTransactionView(_Response):
    transaction_id: int
    account_id: int
    update_id: str = Field(description="The update whose end noticed it was gone")


class TransactionChanges(_Response):
    """A page of what changed since the cursor. Apply `added` and `removed` (a removed id you never had: ignore it),
    keep `nextCursor`, ask again while `hasMore`."""

    connection_id: int
    added: list[AddedTransactionView]
    removed: list[RemovedTransactionView]
    next_cursor: str = Field(
        description="Opaque; signed for this user and connection. Pass it as `cursor` to get what comes next (also "
        "when `hasMore` is false: the next update's changes)"
    )
    has_more: bool = Field(description="More changes are there now: ask again with `nextCursor` at once")


class ConnectionList(_Response):
    connections: list[ConnectionView]


class SyncedConnections(_Response):
    connection_ids: list[int]
