"""A Cloud API number's lifecycle through the adapter, against the sandbox's Graph API over
real HTTP: the number and token are checked, and there is nothing else to manage."""

import pytest

from conversa.numbers.models import Number
from conversa.providers import http
from conversa.providers.base import ProviderError
from conversa.providers.cloud import CloudProvider
from conversa.providers.registry import get_provider, graph_url
from conversa.sandbox import simulator
from tests.conftest import make_org

PHONE_NUMBER_ID = "106540352242922"


@pytest.fixture
def graph(live_server, settings, transactional_db) -> str:
    settings.CLOUD_API_URL = f"{live_server.url}/sandbox/graph"
    return graph_url()


@pytest.fixture
def number(graph) -> Number:
    """A Cloud number as a person types it in, its twin registered on the Graph side."""
    org = make_org()
    twin = simulator.create_cloud_number(PHONE_NUMBER_ID, "5511933334444", "", "app-secret")
    return Number(
        organization=org.org,
        name="Cloud number",
        provider=Number.Provider.CLOUD,
        provider_name=PHONE_NUMBER_ID,
        provider_token=twin.token,
    )


def test_create_with_a_good_token_checks_the_number_and_issues_no_token(graph, number):
    provider = CloudProvider(graph)

    assert provider.create_instance(number, "https://conversa.test/webhooks/cloud/k") == ""
    assert provider.phone_number(number) == {
        "display_phone_number": "+5511933334444",
        "verified_name": "Conversa Sandbox",
        "id": PHONE_NUMBER_ID,
    }
    assert provider.connection_state(number) == "connected"


def test_create_with_a_bad_token_is_a_permanent_error_that_names_the_token(graph, number):
    number.provider_token = "EAAG-not-the-token"

    with pytest.raises(ProviderError) as error:
        CloudProvider(graph).create_instance(number, "https://conversa.test/webhooks/cloud/k")

    assert error.value.transient is False
    assert error.value.status == 401
    assert "access token is invalid or expired" in str(error.value)
    assert "190" in str(error.value)


def test_create_with_an_unknown_phone_number_id_is_a_permanent_error(graph, number):
    number.provider_name = "999999999999999"

    with pytest.raises(ProviderError) as error:
        CloudProvider(graph).create_instance(number, "https://conversa.test/webhooks/cloud/k")

    assert error.value.transient is False
    assert "phone number id 999999999999999" in str(error.value)


def test_connection_state_raises_once_the_token_is_revoked(graph, number):
    number.provider_token = "revoked"

    with pytest.raises(ProviderError) as error:
        CloudProvider(graph).connection_state(number)

    assert error.value.status == 401


def test_the_rest_of_the_lifecycle_needs_no_call_to_meta(graph, number, monkeypatch):
    def no_call(*args, **kwargs):
        raise AssertionError("a Cloud number's lifecycle call reached the network")

    monkeypatch.setattr(http, "request", no_call)
    provider = CloudProvider(graph)

    assert provider.connect(number) is None
    provider.set_webhook(number, "https://conversa.test/webhooks/cloud/k")
    provider.restart(number)
    provider.logout(number)
    provider.delete_instance(number)


def test_the_graph_api_version_is_a_setting(graph, number, settings):
    assert settings.GRAPH_API_VERSION == "v25.0", "supported by Meta through 2027"
    assert get_provider(number).base_url == f"{settings.CLOUD_API_URL}/v25.0"
    settings.GRAPH_API_VERSION = "v26.0"
    provider = get_provider(number)
    assert provider.base_url.endswith("/sandbox/graph/v26.0")
    # The URL is the one called: the sandbox answers any version.
    assert provider.phone_number(number)["id"] == PHONE_NUMBER_ID


def test_a_cloud_api_url_with_its_own_version_is_used_as_it_is(settings):
    settings.CLOUD_API_URL = "https://graph.facebook.com/v23.0"
    assert graph_url() == "https://graph.facebook.com/v23.0"
    settings.CLOUD_API_URL = "https://graph.facebook.com"
    assert graph_url() == "https://graph.facebook.com/v25.0"
