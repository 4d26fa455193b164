import pytest

from round_robin.errors import InvalidSubdomainError
from round_robin.zendesk.subdomain import normalize_subdomain


@pytest.mark.parametrize(
    "raw",
    ["acme", "ACME", " acme ", "acme.zendesk.com", "https://acme.zendesk.com", "https://acme.zendesk.com/",
     "Acme.Zendesk.Com"],
)
def test_accepted_forms_normalise_to_the_bare_subdomain(raw):
    assert normalize_subdomain(raw) == "acme"


def test_hyphens_and_digits_are_kept():
    assert normalize_subdomain("acme-support2") == "acme-support2"


@pytest.mark.parametrize(
    "raw",
    [
        "evil.com/", "evil.com", "acme.zendesk.com.evil.com", "a..b", "", "   ", None, "a" * 200, "a" * 64,
        "ácme", "acme\u200b", "http://acme.zendesk.com", "https://acme.zendesk.com/path", "https://evil.com",
        "-acme", "acme-", "acme_support", "acme.zendesk.com:443", "//acme.zendesk.com", "acme%2ezendesk.com",
        "ac\nme", "javascript:alert(1)", "https://acme.zendesk.com@evil.com",
    ],
)
def test_anything_else_is_refused(raw):
    with pytest.raises(InvalidSubdomainError):
        normalize_subdomain(raw)
