"""The address rate limits count: X-Forwarded-For is believed only as far as the settings
say proxies appended to it."""

from django.test import RequestFactory

from core.ratelimits import client_ip


def request(remote_addr: str, forwarded: str | None = None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote_addr, **extra)


def test_without_a_trusted_proxy_it_is_the_peer_address(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request("203.0.113.1", "198.51.100.1")) == "203.0.113.1"


def test_behind_one_proxy_it_is_the_address_the_proxy_appended(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request("10.0.0.2", "198.51.100.1")) == "198.51.100.1"
    # Whatever the client wrote itself stays to the left of the proxy's entry.
    assert client_ip(request("10.0.0.2", "1.2.3.4, 5.6.7.8,198.51.100.1")) == "198.51.100.1"


def test_behind_two_proxies_it_is_the_second_entry_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request("10.0.0.3", "1.2.3.4, 198.51.100.1, 10.0.0.2")) == "198.51.100.1"


def test_it_falls_back_to_the_peer_when_the_header_is_missing_or_garbage(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request("10.0.0.2")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", "unknown")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", " , ")) == "10.0.0.2"


def test_ipv6_clients_are_counted_too(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request("10.0.0.2", "2001:db8::1")) == "2001:db8::1"


def test_a_request_without_any_address_counts_as_one_shared_client(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request("")) == "0.0.0.0"
