"""Strange numbers and strings in what pages read from outside: the helpers that parse them
(`conversa.web.number`, `whole`) and the pages' query strings and forms answer them without
a server error (issue 16: "²" was taken for a digit, ids past 2⁶³ reached the database)."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conversa.web import MAX_ID, number, whole

STRANGE = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["²", "٣", "१२", "1²", "0", "00", "-1", " 1", "1e3", "0x10", "１２"]),
    st.just(str(2**63)),
    st.just(str(2**63 - 1)),
    st.just("9" * 40),
)


@given(STRANGE)
@example("²")
@example(str(2**63))
def test_number_is_an_id_or_none(value):
    parsed = number(value)
    assert parsed is None or (1 <= parsed <= MAX_ID and value.isascii() and value.isdecimal())


@given(STRANGE)
def test_whole_is_a_count_or_none(value):
    parsed = whole(value, most=1000)
    assert parsed is None or 0 <= parsed <= 1000


def test_what_number_takes():
    assert number("42") == 42
    assert number(str(MAX_ID)) == MAX_ID
    assert number(str(MAX_ID + 1)) is None
    assert number("²") is None
    assert number("0") is None
    assert number(None) is None
    assert whole("0") == 0


# Pages and the query parameters (or form fields) each reads as a number.
QUERIES = [
    ("/inbox/", "operator"),
    ("/inbox/", "number"),
    ("/inbox/", "tag"),
    ("/inbox/", "limit"),
    ("/inbox/list", "current"),
    ("/pipeline/", "stage"),
    ("/pipeline/", "owner"),
    ("/pipeline/", "pipeline"),
    ("/pipeline/list", "stage"),
    ("/pipeline/leads/new", "pipeline"),
    ("/automations/", "event"),
    ("/automations/", "number"),
    ("/intents/", "since"),
]


@pytest.fixture
def signed_in(org):
    """The organization's owner, signed in (one for all of a test's examples: pages only read)."""
    return org.client()


@pytest.mark.parametrize(("path", "param"), QUERIES)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(value=STRANGE)
def test_pages_answer_strange_numbers(signed_in, path, param, value):
    response = signed_in.get(path, {param: value})
    assert response.status_code < 500, f"{path}?{param}={value!r}: {response.status_code}"


FORMS = [
    ("/pipeline/leads/new", {"title": "x", "stage": "²", "owner": str(2**64), "value": "1"}),
    ("/inbox/settings/queues/new", {"name": "Q", "members": ["²"], "numbers": [str(2**64)]}),
    ("/inbox/settings/queues/new", {"name": "Q", "first_response_minutes": "²"}),
    ("/automations/new", {"name": "A", "stage": "²", "step_delay": "²", "step_template": "x"}),
]


@pytest.mark.parametrize(("path", "data"), FORMS)
def test_forms_answer_strange_numbers(signed_in, path, data):
    response = signed_in.post(path, data)
    assert response.status_code < 500, f"{path} {data}: {response.status_code}"
