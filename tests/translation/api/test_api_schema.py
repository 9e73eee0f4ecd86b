"""The OpenAPI schema the app serves, its docs page, and a property-based fuzz of the API
against it (schemathesis, in-process over WSGI): no 5xx, every response as documented."""

from __future__ import annotations

import json
from typing import get_args

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from translation.api.serializers import JobSerializer
from translation.jobs import selectors
from translation.models import Translation
from translation.protocol.messages import JobSource, JobStatusName

# Positive and negative (schema-violating) requests; the latter must be refused with a 4xx.
# Not `positive_data_acceptance`: a schema-valid upload of random bytes is rightly a 400.
CHECKS = [
    not_a_server_error,
    negative_data_rejection,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# With the session cookie put back on every request, a "negative" case that dropped it is not
# negative any more: the staff run checks conformance only.
STAFF_CHECKS = [check for check in CHECKS if check is not negative_data_rejection]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,  # the fixtures are shared on purpose
    ],
)


# Loaded when the module is collected (Django is set up by then; serving the schema needs no
# database): schemathesis' fixture-based loader does not run under pytest 9.
schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", get_wsgi_application())


@pytest.fixture
def keep_test_connection(db):
    """As Django's test client does: keep the test's transaction (and its connection) open
    across requests made straight to the WSGI handler."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def jobs(db) -> list[Translation]:
    """Rows in each state, so the fuzzer's ids are not all unknown."""
    return [
        Translation.objects.create(source="upload", requested_src="en", status=status)
        for status in Translation.Status.values
    ]


@pytest.fixture
def staff_cookie(client, django_user_model) -> dict[str, str]:
    user = django_user_model.objects.create_user("fuzz", password="pw", is_staff=True)
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def test_schema_is_served_as_openapi_3(client):
    response = client.get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/translations",
        "/api/translations/{translation_id}",
        "/api/translations/{translation_id}/audio",
        "/api/translations/{translation_id}/input",
        "/api/translations/{translation_id}/transcript",
        "/api/sessions",
        "/api/sessions/{session_id}/transcript",
        "/api/calls/{call_id}/transcript",
    }
    upload = schema["paths"]["/api/translations"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert set(upload["responses"]) == {
        *("202", "400", "403", "413", "415", "422", "503"),
        *("429", "507"),  # a client over its limits; a nearly full disk
    }
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert (
        "store_audio"
        in schema["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]["properties"]
    )
    audio = schema["paths"]["/api/translations/{translation_id}/audio"]["get"]
    assert set(audio["responses"]["200"]["content"]) == {"audio/wav"}
    assert set(audio["responses"]) == {"200", "404", "409", "503"}
    transcript = schema["paths"]["/api/sessions/{session_id}/transcript"]["get"]
    assert set(transcript["responses"]["200"]["content"]) == {
        "application/x-subrip",
        "text/vtt",
        "text/plain",
        "application/json",
    }
    assert set(transcript["responses"]) == {"200", "400", "404", "503"}
    assert set(schema["paths"]["/api/sessions"]["get"]["responses"]) == {"200", "403", "404", "503"}
    yaml = client.get("/api/schema")
    assert yaml.status_code == 200 and b"openapi: 3" in yaml.content


def test_docs_page_is_served_with_local_assets(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page and "/api/schema" in page
    assert "cdn.jsdelivr.net" not in page  # works offline


def test_job_fields_are_the_pushed_fields(db):
    """GET /api/translations/<id> and /ws/jobs/<id> share one shape."""
    row = Translation.objects.create(source="upload")
    pushed = json.loads(selectors.job_state(row).wire())
    assert set(JobSerializer().fields) == set(pushed) - {"type"}
    assert JobSerializer(row).data == {k: v for k, v in pushed.items() if k != "type"}
    assert pushed["finished_at"] is None and pushed["voice"] is None  # nulls are sent, both ways
    assert set(get_args(JobStatusName)) == set(Translation.Status.values)
    assert set(get_args(JobSource)) == set(Translation.Source.values)


@schema.parametrize()
@FUZZ
def test_api_conforms_to_its_schema(case, keep_test_connection, dispatched, jobs):
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_api_conforms_to_its_schema_as_staff(
    case, keep_test_connection, dispatched, jobs, staff_cookie
):
    case.call_and_validate(checks=STAFF_CHECKS, cookies=staff_cookie)
