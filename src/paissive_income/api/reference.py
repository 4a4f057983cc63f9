"""The API reference page's content, read from the OpenAPI document: pure functions, no Flask."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from http import HTTPStatus

from paissive_income.text import MULTI_LINE_PATTERN, SINGLE_LINE_PATTERN, VISIBLE_LINE_PATTERN

METHOD_ORDER = ("get", "post", "put", "patch", "delete")
TOKEN_VARIABLE = "PAISSIVE_TOKEN"
# The text rule's patterns, in the words a reader needs (text.py enforces them).
PATTERN_WORDS = {
    SINGLE_LINE_PATTERN: "one line, no control characters",
    MULTI_LINE_PATTERN: "no control characters except tab and line breaks",
    VISIBLE_LINE_PATTERN: "one line with a visible character, no control characters",
}
_REF = "#/components/schemas/"

TypePart = tuple[str, "str | None"]  # text, and the schema it names (a link) or None


@dataclass(frozen=True)
class Field:
    """One parameter or property: name, type, whether required, limits and description."""

    name: str
    type: list[TypePart]
    required: bool
    limits: str
    description: str
    where: str = ""


@dataclass(frozen=True)
class Response:
    """One documented answer of an operation."""

    status: str
    reason: str
    description: str
    type: list[TypePart]


@dataclass(frozen=True)
class OperationDoc:
    """Everything the page shows of one operation."""

    operation_id: str
    method: str
    path: str
    summary: str
    parameters: list[Field]
    body: list[TypePart]
    body_fields: list[Field]
    responses: list[Response]
    needs_token: bool
    curl: str


@dataclass(frozen=True)
class SchemaDoc:
    """One component schema: its name, description and properties."""

    name: str
    description: str
    fields: list[Field]


def schema_name(schema: dict) -> str | None:
    """Return the component name a ``$ref`` schema points to, or None."""
    ref = schema.get("$ref", "")
    return ref.removeprefix(_REF) if ref.startswith(_REF) else None


def type_parts(schema: dict) -> list[TypePart]:
    """Describe a schema's type in words, naming (and linking) the component schemas it uses."""
    if name := schema_name(schema):
        return [(name, name)]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts: list[TypePart] = []
            for option in schema[key]:
                parts += ([(" or ", None)] if parts else []) + type_parts(option)
            return parts
    if "enum" in schema:
        return [
            ("one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"]), None)
        ]
    kind = schema.get("type", "any")
    if kind == "array":
        return [("array of ", None), *type_parts(schema.get("items", {}))]
    if isinstance(kind, list):
        return [(" or ".join(kind), None)]
    if schema.get("format"):
        return [(f"{kind} ({schema['format']})", None)]
    return [(kind, None)]


def limits(schema: dict) -> str:
    """Return a schema's constraints in words: lengths, ranges, item counts, pattern, default."""
    words = []
    for low, high, unit in (
        ("minLength", "maxLength", "characters"),
        ("minItems", "maxItems", "items"),
        ("minimum", "maximum", ""),
    ):
        if low in schema or high in schema:
            words.append(_range(schema.get(low), schema.get(high), unit))
    if "pattern" in schema:
        words.append(PATTERN_WORDS.get(schema["pattern"], f"matches {schema['pattern']}"))
    if "default" in schema and schema["default"] not in (None, "", [], {}):
        words.append(f"default {json.dumps(schema['default'], ensure_ascii=False)}")
    return "; ".join(words)


def _range(low, high, unit: str) -> str:
    text = (
        f"{low}–{high}"
        if low is not None and high is not None
        else (f"at least {low}" if low is not None else f"at most {high}")
    )
    return f"{text} {unit}".strip()


def object_fields(schema: dict, components: dict) -> list[Field]:
    """Return the properties of an object schema (following one ``$ref``) as fields."""
    if name := schema_name(schema):
        schema = components.get(name, {})
    required = set(schema.get("required", ()))
    return [
        Field(key, type_parts(prop), key in required, limits(prop), prop.get("description", ""))
        for key, prop in schema.get("properties", {}).items()
    ]


def example_value(schema: dict, components: dict, depth: int = 0):
    """Return a value that satisfies ``schema`` for a curl example: its example, else by type."""
    if name := schema_name(schema):
        schema = components.get(name, {})
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema or "oneOf" in schema:
        return example_value((schema.get("anyOf") or schema["oneOf"])[0], components, depth)
    kind = schema.get("type")
    if kind == "object" and depth < 3:
        required = schema.get("required", ())
        props = schema.get("properties", {})
        return {
            k: example_value(v, components, depth + 1) for k, v in props.items() if k in required
        }
    if kind == "array":
        return [example_value(schema.get("items", {}), components, depth + 1)] * max(
            1, schema.get("minItems", 1)
        )
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    return {"boolean": True, "string": "text", "null": None}.get(kind, {})


def curl_example(base_url: str, method: str, path: str, body) -> str:
    """Return a curl command line for one call, every argument quoted for a POSIX shell."""
    # The token is a shell variable, so it must stay in double quotes; nothing else is expanded.
    words = ["curl", "-X", method.upper(), shlex.quote(base_url.rstrip("/") + path)]
    words += ["-H", f'"Authorization: Bearer ${TOKEN_VARIABLE}"']
    if body is not None:
        words += ["-H", shlex.quote("Content-Type: application/json")]
        words += ["--data", shlex.quote(json.dumps(body, ensure_ascii=False))]
    return " ".join(words)


def _example_path(path: str, parameters: list[dict]) -> str:
    for param in parameters:
        if param["in"] == "path":
            example = example_value(param.get("schema", {}), {})
            path = path.replace("{" + param["name"] + "}", str(example))
    return path


def _response(status: str, answer: dict) -> Response:
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    reason = HTTPStatus(int(status)).phrase if status.isdigit() else ""
    return Response(
        status, reason, answer.get("description", ""), type_parts(schema) if schema else []
    )


def _parameter(param: dict) -> Field:
    schema = param.get("schema", {})
    return Field(
        param["name"],
        type_parts(schema),
        bool(param.get("required")),
        limits(schema),
        param.get("description") or schema.get("description", ""),
        where=param["in"],
    )


def operation_doc(
    path: str, method: str, entry: dict, components: dict, base_url: str
) -> OperationDoc:
    """Return what the page shows of one operation of the document."""
    parameters = entry.get("parameters", [])
    body = entry.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    example = example_value(body, components) if body else None
    return OperationDoc(
        operation_id=entry["operationId"],
        method=method.upper(),
        path=path,
        summary=entry.get("summary", ""),
        parameters=[_parameter(p) for p in parameters],
        body=type_parts(body) if body else [],
        body_fields=object_fields(body, components) if body else [],
        responses=[_response(s, a) for s, a in entry.get("responses", {}).items()],
        needs_token=bool(entry.get("security")),
        curl=curl_example(base_url, method, _example_path(path, parameters), example),
    )


def operations_by_tag(document: dict, base_url: str) -> dict[str, list[OperationDoc]]:
    """Return every operation of the document, grouped by its first tag, by path then method."""
    components = document.get("components", {}).get("schemas", {})
    groups: dict[str, list[OperationDoc]] = {}
    for path in sorted(document.get("paths", {})):
        methods = document["paths"][path]
        for method in sorted(methods, key=lambda m: (METHOD_ORDER + (m,)).index(m)):
            entry = methods[method]
            tag = (entry.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append(
                operation_doc(path, method, entry, components, base_url)
            )
    return groups


def schema_docs(document: dict) -> list[SchemaDoc]:
    """Return every component schema of the document, by name."""
    components = document.get("components", {}).get("schemas", {})
    return [
        SchemaDoc(name, schema.get("description", ""), object_fields(schema, components))
        for name, schema in sorted(components.items())
    ]
