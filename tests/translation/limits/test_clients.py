"""Who a client is: its user when signed in, else its address; X-Forwarded-For only through
the configured number of trusted proxies."""

from types import SimpleNamespace

import pytest
from django.test import RequestFactory

from translation.limits.clients import Client, client_ip, client_of_request, client_of_scope

ANONYMOUS = SimpleNamespace(is_authenticated=False, is_staff=False, pk=None)


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        ("", 0, "10.0.0.9"),
        ("6.6.6.6", 0, "10.0.0.9"),  # not configured: the header is anyone's to write
        ("1.2.3.4", 1, "1.2.3.4"),
        ("6.6.6.6, 1.2.3.4", 1, "1.2.3.4"),  # a spoofed first hop is not believed
        ("6.6.6.6, 1.2.3.4, 172.16.0.2", 2, "1.2.3.4"),
        ("1.2.3.4", 3, "1.2.3.4"),  # fewer hops than proxies: the farthest one
        (" , ", 1, "10.0.0.9"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(forwarded, proxies, expected):
    assert client_ip("10.0.0.9", forwarded, trusted_proxies=proxies) == expected


def test_request_client_is_its_ip_until_signed_in(settings, django_user_model, db):
    settings.TRUSTED_PROXY_COUNT = 0
    factory = RequestFactory()
    request = factory.post("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6")
    request.user = ANONYMOUS
    assert client_of_request(request) == Client("ip:10.0.0.9", "anonymous")
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_of_request(request) == Client("ip:6.6.6.6", "anonymous")

    user = django_user_model.objects.create_user("ann", password="pw")
    request.user = user
    assert client_of_request(request) == Client(f"user:{user.pk}", "signed_in")
    staff = django_user_model.objects.create_user("sam", password="pw", is_staff=True)
    request.user = staff
    assert client_of_request(request) == Client(f"user:{staff.pk}", "staff")


def test_websocket_client_from_its_scope(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    scope = {
        "client": ["10.0.0.9", 50_000],
        "headers": [(b"x-forwarded-for", b"6.6.6.6"), (b"origin", b"http://x")],
        "user": ANONYMOUS,
    }
    assert client_of_scope(scope) == Client("ip:10.0.0.9", "anonymous")
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_of_scope(scope) == Client("ip:6.6.6.6", "anonymous")
    # Repeated headers are one list, as HTTP says: the last hop is the proxy's.
    scope["headers"] = [(b"x-forwarded-for", b"6.6.6.6"), (b"X-Forwarded-For", b"1.2.3.4")]
    assert client_of_scope(scope) == Client("ip:1.2.3.4", "anonymous")
    assert client_of_scope({}) == Client("ip:unknown", "anonymous")
