"""A real Conversa for the browser: `conversa serve` in its own process on a fresh database."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, free_port, running_conversa

__all__ = ["free_port"]  # the tests that start a second server import it from here

# A time of day as the reader's language writes it: "14:02" in pt-BR, "2:02 p.m." or "2 p.m."
# in English (Django's formats).
CLOCK = r"\d{1,2}(:\d{2})?( [ap]\.m\.)?"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"

# What a quiet machine shows at once a loaded two-core one (the suite beside other work) can
# take many seconds to show; a longer wait costs time only when a test fails. Playwright's
# actions and navigations already wait up to 30 s.
expect.set_options(timeout=30_000)


# The browser tests drive one `conversa serve` as `make run` starts it: SQLite, the in-memory
# channel layer, the in-process worker, whichever run of the suite they are in. Each runs in one
# run only (on the other it would prove nothing new: the pages are the same; what the PostgreSQL
# topology adds, several processes over PostgreSQL and Redis, is tests/integration's). Most go
# with the SQLite run; these go with the PostgreSQL run, so that the two runs `make test` starts
# side by side end at about the same time.
IN_THE_POSTGRESQL_RUN = {"test_inbox", "test_presence", "test_csp"}


@pytest.fixture(scope="module", autouse=True)
def embedded_topology(request):
    on_postgresql = os.environ.get("DATABASE_URL", "").startswith("postgres")
    if on_postgresql != (request.module.__name__.rpartition(".")[2] in IN_THE_POSTGRESQL_RUN):
        pytest.skip("this browser test runs in the other run of the suite (see conftest.py)")


@pytest.fixture(scope="module")
def conversa_server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    folder = tmp_path_factory.mktemp("conversa")
    with running_conversa(folder, SANDBOX_DELIVERY_DELAY="0.3") as server:
        yield server


def simulator_context(browser, server, **options):
    """A browser for the simulator's pages: they are for members, so it is signed in as the
    demo's owner, and shows the demo organization's numbers."""
    return browser.new_context(storage_state=server["signed_in"], **options)


def simulator_page(browser, server, **options):
    return simulator_context(browser, server, **options).new_page()


def scan_with_simulator(page, browser, server):
    """Scan the pairing page's QR code from the simulator, as a phone would; returns the
    simulator's page and its address once `page` says the number is connected."""
    simulator_url = page.get_by_role("link", name="Open the simulator to scan it").get_attribute(
        "href"
    )
    simulator = simulator_page(browser, server, viewport={"width": 420, "height": 800})
    simulator.goto(f"{server['url']}{simulator_url}")
    simulator.get_by_role("button", name="Scan the QR code").click()
    expect(page.locator("#pairing")).to_have_attribute("data-status", "connected")
    return simulator, simulator_url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def pages_closed_after_each_test(browser):
    """An open page keeps its socket, and every event then has the server redraw its lists:
    pages left open by earlier tests would load the server for the rest of the module."""
    yield
    for context in browser.contexts:
        context.close()


@pytest.fixture(autouse=True)
def artifacts_folder():
    """Screenshots land in var/test-artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
