"""finAPI's two test banks, as the sandbox plays them (finAPI wiki: DEMO0001 and DEMO0002)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from finapi_sandbox.photo_tan import photo_tan_png

GERMAN_TIME = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class Procedure:
    id: str
    name: str
    challenge_type: str | None
    decoupled: bool = False


@dataclass(frozen=True)
class AccountTemplate:
    name: str
    account_type: str
    balance: float


@dataclass(frozen=True)
class Bank:
    id: int
    blz: str
    name: str
    bic: str
    interfaces: tuple[str, ...]
    properties: tuple[str, ...]
    accounts: tuple[AccountTemplate, ...]

    @property
    def redirect(self) -> bool:
        return "REDIRECT_APPROACH" in self.properties

    @property
    def label(self) -> str:
        return f"{self.blz} - {self.name}"


PROCEDURES = (
    Procedure("901", "smsTAN", "TEXT"),
    Procedure("902", "pushTAN", "TEXT"),
    Procedure("903", "chipTAN optisch", "FLICKER_CODE"),
    Procedure("904", "chipTAN QR", "PHOTO"),
    Procedure("905", "Demo Decoupled Auth", None, decoupled=True),
)

_ACCOUNTS = (
    AccountTemplate("Girokonto", "Checking", 1250.75),
    AccountTemplate("Zweitkonto", "Checking", 310.20),
    AccountTemplate("Tagesgeld", "Savings", 5000.00),
)

BANKS = {
    "DEMO0001": Bank(
        280001,
        "DEMO0001",
        "finAPI Test Bank",
        "DEMODEM1XXX",
        ("XS2A", "FINTS_SERVER"),
        ("DECOUPLED_APPROACH",),
        _ACCOUNTS,
    ),
    "DEMO0002": Bank(
        280002, "DEMO0002", "finAPI Test Redirect Bank", "DEMODEM2XXX", ("XS2A",), ("REDIRECT_APPROACH",), _ACCOUNTS
    ),
}

LOGIN_FIELDS = (("Onlinebanking-ID", False), ("PIN", True))  # (label, isSecret)
SECRET_LABELS = frozenset(label for label, secret in LOGIN_FIELDS if secret)

# finAPI's (deprecated) account type ids, as the spec's `Account.accountTypeId` lists them.
ACCOUNT_TYPE_IDS = {
    "Checking": 1,
    "Savings": 2,
    "CreditCard": 3,
    "Security": 4,
    "Loan": 5,
    "Pocket": 6,
    "Membership": 7,
    "Bausparen": 8,
}

PHOTO_TAN_PNG = photo_tan_png()
FLICKER_CODE = "0388A01239230520422D3132"
