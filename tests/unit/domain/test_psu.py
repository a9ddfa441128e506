import pytest

from bankupdate.domain.errors import InvalidRequest
from bankupdate.domain.psu import derive_psu

IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) BankApp/2.1"


def test_explicit_headers_win() -> None:
    # Given the app sends all three PSU headers
    headers = {"psu-ip-address": "203.0.113.9", "psu-device-os": "Android 14", "psu-user-agent": "BankApp/3"}
    # When PSU metadata is derived from a request that came from elsewhere
    psu = derive_psu(headers, source_ip="198.51.100.1", request_user_agent=IPHONE_UA)
    # Then the explicit values are used
    assert (psu.ip_address, psu.device_os, psu.user_agent) == ("203.0.113.9", "Android 14", "BankApp/3")


def test_values_come_from_the_request_when_headers_are_absent() -> None:
    psu = derive_psu({}, source_ip="198.51.100.1", request_user_agent=IPHONE_UA)
    assert psu.ip_address == "198.51.100.1"
    assert psu.device_os == "iOS"
    assert psu.user_agent == IPHONE_UA


def test_ipv6_source_is_not_sent_because_finapi_wants_ipv4() -> None:
    psu = derive_psu({}, source_ip="2001:db8::1", request_user_agent="curl/8")
    assert psu.ip_address is None


@pytest.mark.parametrize("bad", ["2001:db8::1", "999.1.1.1", "localhost", "1.2.3.4; DROP"])
def test_explicit_non_ipv4_address_is_rejected(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="IPv4"):
        derive_psu({"psu-ip-address": bad}, source_ip=None, request_user_agent=None)


def test_oversized_header_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="PSU-User-Agent"):
        derive_psu({"psu-user-agent": "x" * 300}, source_ip=None, request_user_agent=None)


def test_unknown_device_when_nothing_tells() -> None:
    psu = derive_psu({}, source_ip=None, request_user_agent=None)
    assert (psu.device_os, psu.user_agent) == ("unknown", "unknown")
