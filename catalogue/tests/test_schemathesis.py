"""Property-based testing of the API against its own OpenAPI schema (schemathesis), on a live server
on loopback: anonymous, with an instrument key and as an admin (session cookie and CSRF token).
Every operation gets requests generated from the schema, valid ones and invalid ones; each answer
must not be a server error and must match the schema (status code documented, body of its shape).

Examples are bounded per operation, and generated from a fixed seed so that a run is reproducible:
raise EXAMPLES locally to search further, e.g. `SCHEMATHESIS_EXAMPLES=200 pytest -k schemathesis`.
"""

import os

import pytest
import requests
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from .conftest import make_dataset, make_sample

# On PostgreSQL only: the SQLite run of `make test` covers the same answers with test_hostile_input.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))  # per operation, role and mode
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture
def catalogue(investigation, released_investigation, vocabulary, raw_definition, processed_definition, data_root):
    """Something to read: datasets with files and links, samples, in an embargoed and a public session."""
    for session in (investigation, released_investigation):
        sample = make_sample(session)
        raw = make_dataset(session, f"{data_root}/{session.name}/raw", sample=sample, files=3)
        processed = make_dataset(session, f"{data_root}/{session.name}/proc", kind="processed", files=1)
        processed.inputs.add(raw)


@pytest.fixture
def api_schema(live_server, catalogue):
    return schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")


def anonymous(live_server, api_key, staff) -> requests.Session:
    return requests.Session()


def with_key(live_server, api_key, staff) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Api-Key {api_key[1]}"
    return session


def as_admin(live_server, api_key, staff) -> requests.Session:
    """The portal's session of a facility admin, with the CSRF token its unsafe requests need."""
    client = Client()
    client.force_login(staff)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    session.get(f"{live_server.url}/accounts/login/", timeout=10)  # sets the csrftoken cookie
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    return session


@pytest.mark.django_db
def test_the_schema_documents_the_error_answers(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    store = schema["paths"]["/api/v1/datasets/"]["post"]["responses"]
    assert {"200", "201", "400", "401", "403", "404", "413"} <= store.keys()
    assert store["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ValidationError"}
    assert {"400", "404"} <= schema["paths"]["/api/v1/datasets/"]["get"]["responses"].keys()
    assert "400" not in schema["paths"]["/api/v1/datasets/{id}/"]["get"]["responses"]  # no parameters to refuse
    assert schema["components"]["schemas"]["ParameterType"]["properties"]["technique"]["nullable"] is True


@pytest.mark.parametrize("role", [anonymous, with_key, as_admin])
def test_every_answer_is_documented_and_none_is_a_server_error(api_schema, live_server, api_key, staff, role):
    session = role(live_server, api_key, staff)
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode in MODES:
            failure = _explore(operation, mode, session)
            if failure:
                failures.append(f"{operation.label} ({mode}):\n{failure}")
    assert not failures, "\n\n".join(failures)


def _explore(operation, mode, session) -> str:
    """Generate EXAMPLES requests of this mode; the first failure's report, or ''."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests in every run
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time, the report shows the request
        suppress_health_check=list(HealthCheck),
    )
    def explore(case):
        case.call_and_validate(session=session, checks=CHECKS, timeout=30)

    try:
        explore()
    except Unsatisfiable:
        return ""  # negative mode on an operation with no parameter and no body: nothing can be invalid
    except (FailureGroup, Exception) as exc:  # schemathesis's report: the check, the answer, a curl command
        return str(exc)
    return ""
