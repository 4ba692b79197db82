import pytest

from conversa.webhooks import services
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver(settings):
    # The test's receiver is on the loopback, which the guard refuses outside development.
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def endpoint_of(receiver):
    def make(org, events=("message.received",)):
        endpoint, secret = services.create_endpoint(
            acting_member=org.owner, url=receiver.url, events=list(events)
        )
        return endpoint, secret

    return make
