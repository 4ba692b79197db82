"""Every operation of `/api/openapi.json` has an example request and an example answer, and
every example is valid for its own schema (issue 21, item 7)."""

import json

import jsonschema_rs
import pytest
from django.test import Client


@pytest.fixture(scope="module")
def document(django_db_blocker):
    with django_db_blocker.unblock():
        answer = Client().get("/api/openapi.json")
    assert answer.status_code == 200
    return json.loads(answer.content)


def validator(schema: dict, document: dict):
    """A validator for `schema` whose $refs point into the document's components."""
    return jsonschema_rs.validator_for({**schema, "components": document["components"]})


def examples_of(operation: dict):
    """(where, schema, example) for each parameter, request body and answer."""
    for parameter in operation.get("parameters", []):
        yield f"parameter {parameter['name']}", parameter.get("schema", {}), parameter
    for kind, media in operation.get("requestBody", {}).get("content", {}).items():
        yield f"request {kind}", media.get("schema", {}), media
    for status, answer in operation["responses"].items():
        for kind, media in answer.get("content", {}).items():
            yield f"answer {status} {kind}", media.get("schema", {}), media


def test_every_operation_has_a_request_and_an_answer_example(document):
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            has_request = bool(operation.get("parameters")) or "requestBody" in operation
            if not has_request:
                # Nothing to send but the path itself: the path is the example request.
                has_request = "{" not in path
            answers = [
                s
                for s, a in operation["responses"].items()
                if s.startswith("2") and a.get("content")
            ]
            bodiless = all(s == "204" for s in operation["responses"] if s.startswith("2"))
            if not has_request:
                missing.append(f"{name}: no request example")
            if not answers and not bodiless:
                missing.append(f"{name}: no answer example")
            for where, _schema, holder in examples_of(operation):
                if "example" not in holder and "examples" not in holder:
                    missing.append(f"{name}: {where} without an example")
    assert not missing, "\n".join(missing)


def test_every_example_is_valid_for_its_schema(document):
    wrong = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for where, schema, holder in examples_of(operation):
                if "binary" in json.dumps(schema):
                    continue  # a file's bytes: the example only names the field
                values = (
                    [holder["example"]]
                    if "example" in holder
                    else [e["value"] for e in holder.get("examples", {}).values()]
                )
                check = validator(schema, document)
                for value in values:
                    errors = [e.message for e in check.iter_errors(value)]
                    if errors:
                        wrong.append(f"{method.upper()} {path} {where}: {value!r}: {errors[:2]}")
    assert not wrong, "\n".join(wrong)


def test_an_operations_own_example_is_kept():
    """A handwritten example (a schema field's `examples`) wins over a generated one."""
    from conversa import openapi

    schema = {"type": "string", "examples": ["Vendas SP"]}
    assert openapi.example(schema, {}, "name") == "Vendas SP"
    assert openapi.example({"type": "string", "maxLength": 3}, {}, "name") == "tex"
    assert openapi.example({"type": "string", "pattern": r"^\+?[0-9]{8,15}$"}, {}, "to") == (
        "5511988887777"
    )
