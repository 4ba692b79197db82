import httpx
import pytest

from conversa.providers.registry import sandbox_tenant
from conversa.sandbox import tenants


@pytest.fixture
def model(live_server, settings, transactional_db) -> str:
    """The simulator's model on the live server, over real HTTP, as every organization's
    default (no ASSISTANT_BASE_URL); retries without waiting, so that tests wait for nothing."""
    settings.PUBLIC_URL = live_server.url
    # The simulator's address is the operator's (trusted), as SANDBOX_URL makes it.
    settings.SANDBOX_URL = f"{live_server.url}/sandbox/evolution"
    settings.ASSISTANT_BASE_URL = ""
    settings.ASSISTANT_API_KEY = ""
    settings.ASSISTANT_MODEL = ""
    settings.ASSISTANT_RETRY_BASE_SECONDS = 0
    settings.ASSISTANT_TIMEOUT_SECONDS = 10
    return f"{live_server.url}/sandbox/v1"


def key_of(org) -> str:
    """The organization's own key to the simulator (what its calls send)."""
    return tenants.api_key_for(sandbox_tenant(org.org.pk))


def script(model_url: str, org, **faults) -> dict:
    """Tell the simulated model what to do next for `org` (POST /sandbox/v1/faults)."""
    response = httpx.post(
        f"{model_url}/faults",
        json=faults,
        headers={"Authorization": f"Bearer {key_of(org)}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def calls(model_url: str, org) -> int:
    """How many calls the simulated model answered for `org`."""
    return script(model_url, org)["calls"]
