"""The OpenAPI document: FastAPI's, plus what it cannot know about this API.

For every operation: ``security`` (bearer API key) and ``x-required-scopes`` (the scopes of
which the key must hold one, from the route's authenticator, see api.auth.required_scopes), and
the problem answers it can give, as ``application/problem+json`` with the ``Problem`` schema:
401/403/429 for authenticated operations, 413/415 for operations with a body, 422 everywhere
(every operation refuses a query parameter it does not take; in place of FastAPI's own validation
error schema), 404 where the path, a required query parameter or the body names a resource by id,
409 where a state conflict is possible, and 500/503 everywhere. An answer that may also come as
exact bytes (receipt files) lists ``application/octet-stream`` first.

Maps whose keys follow a pattern (field names, category codes) are described the way generated
clients read them: ``additionalProperties`` for the values and ``propertyNames`` for the keys
(pydantic writes ``patternProperties``, which generators turn into empty models that drop every
entry).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args
from uuid import UUID

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from pseudovault.api.auth import iter_routes, required_scopes
from pseudovault.api.errors import PROBLEM_MEDIA_TYPE, TITLES, Problem, ProblemFieldError
from pseudovault.vault.apikeys import SCOPE_DESCRIPTIONS, SCOPES

__all__ = ["install_openapi", "SECURITY_SCHEME"]

SECURITY_SCHEME = "apiKey"
BYTES_MEDIA_TYPE = "application/octet-stream"

_DESCRIPTION = """\
The HTTP API of pseudovault, a pseudonymization and fraud-record vault.

**Authentication**: every `/v1` operation needs an API key, sent as `Authorization: Bearer
pvk_<key id>_<secret>`. Keys are created with `pseudovault apikeys create --name NAME --scope
SCOPE` and carry scopes; each operation lists the scopes of which the key must hold one in
`x-required-scopes`.

**Errors** are RFC 9457 problem details (`application/problem+json`); no error body ever quotes
a value that was sent. **Rate limits** are per API key (token bucket); a 429 says when to retry
in `Retry-After`.

Scopes:

""" + "\n".join(f"- `{scope}`: {SCOPE_DESCRIPTIONS[scope]}" for scope in SCOPES)

_TAGS = [
    {"name": "checks", "description": "Ban checks at signup: allow, review or deny; hits and misses look alike."},
    {"name": "records", "description": "Fraud records (bans) keyed by pseudonyms: create, find, review, revoke."},
    {"name": "subjects", "description": "A person's recoverable PII, encrypted, revealed with a purpose, shredded."},
    {"name": "keys", "description": "The key hierarchy: status, rotation, rewrap."},
    {"name": "audit", "description": "The hash-chained, signed audit log of privileged actions."},
    {"name": "retention", "description": "Retention policies in force, what falls due, the sweeper, reviews."},
    {"name": "holds", "description": "Legal holds: nothing held is shredded, deleted or expired until release."},
    {"name": "erasure", "description": "Erasure requests and their signed receipts (no PII in them)."},
    {"name": "rights", "description": "Data-subject rights: access export, correction, restriction, provisions, "
     "request deadlines."},
    {"name": "separated", "description": "Data kept under another law in separate storage: read for a legal request."},
    {"name": "operations", "description": "Liveness, readiness, metrics."},
]


def _problem(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or TITLES.get(status, "Error"),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _mentions_uuid(annotation: Any, seen: frozenset[int] = frozenset()) -> bool:
    """Whether a type annotation is, or holds, a UUID (through Optional, Annotated, lists and
    request models): an id that may name nothing."""
    if annotation is UUID:
        return True
    if id(annotation) in seen:
        return False
    seen = seen | {id(annotation)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return any(_mentions_uuid(f.annotation, seen) for f in annotation.model_fields.values())
    return any(_mentions_uuid(arg, seen) for arg in get_args(annotation))


def _names_an_id(route: APIRoute) -> bool:
    """A path parameter, a required UUID in the query (an optional one filters a list), or a UUID
    in the body: the operation can answer 404."""
    if route.dependant.path_params:
        return True
    if any(p.field_info.is_required() and _mentions_uuid(p.field_info.annotation) for p in route.dependant.query_params):
        return True
    return route.body_field is not None and _mentions_uuid(route.body_field.field_info.annotation)


def _operation_problems(route: APIRoute, scopes: frozenset[str] | None) -> dict[str, dict[str, Any]]:
    problems: dict[int, str | None] = {
        500: "A fault of the server (never of the input).",
        503: "A store, the key provider or the rate limiter is unavailable.",
    }
    if scopes is not None:
        problems[401] = "No API key, or an invalid or revoked one."
        problems[403] = "The API key lacks the scope this operation needs."
        problems[429] = "The API key's rate limit is exhausted; see Retry-After."
    if route.body_field is not None:
        problems[413] = "The request body is over the size limit."
        problems[415] = "The request body is not JSON."
    # every operation refuses a query parameter it does not take (api.auth.ApiRoute)
    problems[422] = "The request is invalid: `errors` says where and why."
    if _names_an_id(route):
        problems[404] = "Not found (or no longer exists: the two are never told apart)."
    if route.methods and route.methods & {"POST", "PATCH", "DELETE"}:
        problems[409] = "The request conflicts with the current state."
    return {str(status): _problem(status, text) for status, text in sorted(problems.items())}


def _maps_for_generators(node: Any) -> None:
    """Rewrite, in place, every ``patternProperties`` map of one pattern as ``additionalProperties``
    (the values' schema) with ``propertyNames`` (the keys' pattern): the same constraint, in the
    form client generators understand."""
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1 and node.get("additionalProperties") in (None, False):
            ((pattern, values),) = patterns.items()
            del node["patternProperties"]
            node["additionalProperties"] = values
            node["propertyNames"] = {"pattern": pattern}
        for value in node.values():
            _maps_for_generators(value)
    elif isinstance(node, list):
        for value in node:
            _maps_for_generators(value)


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=_DESCRIPTION,
            routes=app.routes,
            tags=_TAGS,
        )
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for model in (Problem, ProblemFieldError):
            definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
            definition.pop("$defs", None)
            schemas[model.__name__] = definition
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        components["securitySchemes"] = {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "pvk_<key id>_<secret>",
                "description": "An API key from `pseudovault apikeys create`.",
            }
        }
        for path, route in iter_routes(app.routes):
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            scopes = required_scopes(route)
            path_item = schema["paths"].get(path, {})
            for method in route.methods or ():
                operation = path_item.get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for answer in responses.values():
                    # exact bytes first: generated clients take the first media type they know
                    content = answer.get("content")
                    if isinstance(content, dict) and BYTES_MEDIA_TYPE in content:
                        answer["content"] = {BYTES_MEDIA_TYPE: content.pop(BYTES_MEDIA_TYPE), **content}
                for status, answer in _operation_problems(route, scopes).items():
                    if status in responses and "content" in responses[status]:
                        responses[status]["content"] = answer["content"]
                    else:
                        responses[status] = answer
                if scopes is not None:
                    operation["security"] = [{SECURITY_SCHEME: []}]
                    operation["x-required-scopes"] = [s for s in SCOPES if s in scopes]
                else:
                    operation["security"] = []
        _maps_for_generators(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to replace the schema


def _model_names(annotation: Any, names: set[str], seen: set[type[BaseModel]]) -> None:
    """The property names (as the OpenAPI document spells them: aliases first) of every model
    that ``annotation`` is or holds (in a list, a union, a mapping, ...), recursively."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            names.add(field.alias or name)
            _model_names(field.annotation, names, seen)
        for name, computed in annotation.model_computed_fields.items():
            names.add(computed.alias or name)
            _model_names(computed.return_type, names, seen)
        return
    for argument in get_args(annotation):
        _model_names(argument, names, seen)


def route_declared_names(app: FastAPI) -> frozenset[str]:
    """What :func:`pseudovault.api.errors.declared_names` finds in ``app``'s OpenAPI document,
    read from its routes instead: their parameters (through their dependencies), bodies,
    response models and documented answers, and the problem models. Building the document takes
    about 0.2 s of CPU; this about 1 ms, so a server's first invalid request does not pay for the
    document (a test holds the two equal)."""
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    for model in (Problem, ProblemFieldError):
        _model_names(model, names, seen)
    for _path, route in iter_routes(app.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        parameters: list[Any] = []
        bodies: list[Any] = []
        dependants = [route.dependant]
        while dependants:
            dependant = dependants.pop()
            parameters += [*dependant.path_params, *dependant.query_params, *dependant.header_params, *dependant.cookie_params]
            bodies += dependant.body_params
            dependants.extend(dependant.dependencies)
        for parameter in parameters:
            if getattr(parameter.field_info, "include_in_schema", True):
                names.add(parameter.alias)
                _model_names(parameter.field_info.annotation, names, seen)
        if len(bodies) > 1 or any(getattr(body.field_info, "embed", False) for body in bodies):
            names.update(body.alias for body in bodies)  # the body is an object of these
        for body in bodies:
            _model_names(body.field_info.annotation, names, seen)
        if route.response_model is not None:
            _model_names(route.response_model, names, seen)
        for answer in route.responses.values():
            if isinstance(answer, Mapping) and "model" in answer:
                _model_names(answer["model"], names, seen)
    return frozenset(names)
