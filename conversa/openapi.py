"""What the OpenAPI adds to django-ninja's: the one error shape on every operation, and an
example request and answer for every operation.

An operation's own examples (`openapi_extra`, a schema field's `examples`) are kept; the rest are
written here from the schema itself, with values that read like Conversa's data (a Brazilian
phone number, a date-time with its offset, an id) and that keep to the schema's bounds,
patterns and choices. tests/api/test_openapi_examples.py validates every example against its
schema, so an example that the API would refuse fails there.
"""

import re
from typing import Any

ERROR_SCHEMA = "Error"
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
}

ERROR_JSON_SCHEMA = {
    "title": ERROR_SCHEMA,
    "description": "Every 4xx answer of the API: a machine `error` code, a `detail` in words "
    "(in the caller's language), for a 422 the `errors` of each input, and for a conversation "
    "someone else has the `assignee`.",
    "type": "object",
    "required": ["error", "detail"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "string",
            "description": " · ".join(f"{s} {c}" for s, c in ERROR_CODES.items())
            + "; a service's own code otherwise",
        },
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "loc", "msg"],
                "properties": {
                    "type": {"type": "string"},
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "ctx": {"type": "object"},
                },
            },
        },
        "assignee": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
    },
}

ERROR_EXAMPLE = {
    "error": "invalid",
    "detail": "The request is not valid",
    "errors": [{"type": "missing", "loc": ["body", "payload", "name"], "msg": "Field required"}],
}

# A field's name → a value that reads like the real thing (checked against the schema before
# it is used: one that does not fit falls back to the type's own).
BY_NAME: dict[str, Any] = {
    "phone": "5511988887777",
    "phone_number": "5511988887777",
    "email": "ana@example.com",
    "name": "Ana Souza",
    "display_name": "Ana Souza",
    "title": "Plano anual",
    "body": "Olá! Seu pedido saiu para entrega.",
    "text": "Olá! Seu pedido saiu para entrega.",
    "note": "Cliente pediu retorno amanhã",
    "reason": "pediu por telefone",
    "evidence": "disse sim no balcão",
    "question": "Qual o horário de atendimento?",
    "emoji": "👍",
    "colour": "#16a34a",
    "color": "#16a34a",
    "currency": "BRL",
    "time_zone": "America/Sao_Paulo",
    "language": "pt-BR",
    "shortcode": "oi",
    "url": "https://erp.example.com/conversa",
    "base_url": "https://evolution.example.com",
    "cursor": "eyJrIjogIjIwMjYtMDYtMDFUMTI6MDA6MDArMDA6MDAiLCAiaWQiOiA0Mn0",
    "next_cursor": "eyJrIjogIjIwMjYtMDYtMDFUMTI6MDA6MDArMDA6MDAiLCAiaWQiOiA0Mn0",
    "idempotency_key": "pedido-1234",
    "q": "ana",
    "status": "open",
    "origin": "API",
    "verdict": "ALLOW",
    "provider_message_id": "3EB0C431C26A1B2D9F12",
    "latitude": -23.5505,
    "longitude": -46.6333,
}


def resolve(schema: dict, components: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def fits(value: Any, schema: dict) -> bool:
    """Whether a by-name value keeps to a string or number schema's own rules."""
    kind = schema.get("type")
    if isinstance(value, str):
        if kind not in (None, "string") or "enum" in schema or "format" in schema:
            return False
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10**9):
            return False
        return not (pattern := schema.get("pattern")) or re.search(pattern, value) is not None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if kind not in ("number", "integer") or (kind == "integer" and not isinstance(value, int)):
            return False
        return schema.get("minimum", -(10**18)) <= value <= schema.get("maximum", 10**18)
    return False


def example(schema: dict, components: dict, name: str = "", depth: int = 0) -> Any:
    """A value for `schema`, its own example first."""
    schema = resolve(schema, components)
    for key in ("example", "default"):
        if key in schema and schema[key] is not None:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [resolve(s, components) for s in schema[key]]
            real = [s for s in options if s.get("type") != "null"] or options
            return example(real[0], components, name, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        properties = schema.get("properties", {})
        return {
            key: example(value, components, key, depth + 1) for key, value in properties.items()
        }
    if kind == "array":
        if depth > 6:
            return []
        item = example(schema.get("items", {}), components, singular(name), depth + 1)
        return [item] * max(schema.get("minItems", 1), 1)
    if name in BY_NAME and fits(BY_NAME[name], {**schema, "type": kind}):
        return BY_NAME[name]
    if kind == "integer":
        wanted = 42 if name == "id" or name.endswith("_id") else 1
        return min(max(wanted, schema.get("minimum", wanted)), schema.get("maximum", wanted))
    if kind == "number":
        return float(min(max(1.5, schema.get("minimum", 1.5)), schema.get("maximum", 1.5)))
    if kind == "boolean":
        return True
    return string_example(schema, name)


def string_example(schema: dict, name: str) -> str:
    formats = {
        "date-time": "2026-06-01T12:00:00-03:00",
        "date": "2026-06-01",
        "time": "09:00",
        "email": "ana@example.com",
        "uri": "https://erp.example.com/conversa",
        "uuid": "2f1c6a52-3c1e-4f3a-9a38-6f8f0b1d2c44",
        "binary": "…",
    }
    if schema.get("format") in formats:
        return formats[schema["format"]]
    pattern = schema.get("pattern", "")
    text = "texto"
    if pattern:
        samples = ("boas_vindas", "5511988887777", "#16a34a", "09:00", "2026-06-01", "abc123", "x")
        text = next((t for t in samples if fits(t, {**schema, "type": "string"})), "x")
    low, high = schema.get("minLength", 0), schema.get("maxLength", 10**9)
    text = text if len(text) >= low else text + "x" * (low - len(text))
    return text[:high]


def singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else name


def error_response(status: str) -> dict:
    body = {**ERROR_EXAMPLE}
    if status.isdigit() and status != "422":
        body = {"error": ERROR_CODES.get(int(status), "refused"), "detail": "Why, in words"}
    return {
        "description": "refused: the one error shape",
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                "example": body,
            }
        },
    }


def complete(schema: dict) -> dict:
    """Add the error shape and the examples to an OpenAPI document, in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_SCHEMA] = ERROR_JSON_SCHEMA
    for operations in schema["paths"].values():
        for operation in operations.values():
            add_examples(operation, components)
            # ninja keys answers by int status; JSON makes them strings anyway.
            responses = {str(k): v for k, v in operation.get("responses", {}).items()}
            operation["responses"] = responses
            for status in [s for s in responses if s.startswith("4")]:
                # A declared refusal (`409: dict`) is answered by the one handler too.
                responses[status] = error_response(status)
            responses.setdefault("4XX", error_response("4XX"))
    return schema


def add_examples(operation: dict, components: dict) -> None:
    for parameter in operation.get("parameters", []):
        if "example" not in parameter and "examples" not in parameter:
            parameter["example"] = example(
                parameter.get("schema", {}), components, parameter["name"]
            )
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if "example" not in media and "examples" not in media:
            media["example"] = example(media.get("schema", {}), components)
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("4"):
            continue
        # An answer without a body (204) has nothing to show.
        for media in response.get("content", {}).values():
            if "example" not in media and "examples" not in media:
                media["example"] = example(media.get("schema", {}), components)
