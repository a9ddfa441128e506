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


def test_an_ipv6_source_is_passed_on_because_finapi_replaces_it_itself() -> None:
    # Given a user on an IPv6 network (most mobile networks) and no explicit header
    # When PSU metadata is derived
    psu = derive_psu({}, source_ip="2001:db8::1", request_user_agent="curl/8")
    # Then the address goes on: finAPI swaps a non-IPv4 address for its own, and the user still counts as present
    assert psu.ip_address == "2001:db8::1"


def test_an_explicit_ipv6_header_is_taken_in_canonical_form() -> None:
    psu = derive_psu({"psu-ip-address": "2001:DB8:0:0::1"}, source_ip="198.51.100.1", request_user_agent=None)
    assert psu.ip_address == "2001:db8::1"


def test_an_ipv4_mapped_ipv6_address_becomes_the_ipv4_address() -> None:
    psu = derive_psu({}, source_ip="::ffff:198.51.100.7", request_user_agent=None)
    assert psu.ip_address == "198.51.100.7"


@pytest.mark.parametrize("bad", ["999.1.1.1", "localhost", "1.2.3.4; DROP", "2001:db8::g"])
def test_an_explicit_header_that_is_no_ip_address_is_rejected(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="PSU-IP-Address") as refused:
        derive_psu({"psu-ip-address": bad}, source_ip=None, request_user_agent=None)
    assert refused.value.details == {"field": "PSU-IP-Address"}


def test_a_source_that_is_no_ip_address_is_left_out() -> None:
    assert derive_psu({}, source_ip="unknown", request_user_agent=None).ip_address is None


def test_oversized_header_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="PSU-User-Agent"):
        derive_psu({"psu-user-agent": "x" * 300}, source_ip=None, request_user_agent=None)


def test_unknown_device_when_nothing_tells() -> None:
    psu = derive_psu({}, source_ip=None, request_user_agent=None)
    assert (psu.device_os, psu.user_agent) == ("unknown", "unknown")
