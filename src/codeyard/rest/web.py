"""``/api/v1/…``: the dispatcher of the JSON REST API, its OpenAPI document and the page
listing the endpoints.

Every answer under /api/v1 is JSON — errors too, as ``{"error": {"status", "message"}}``,
including those the site raises before the handler (a body too large, wrong Basic
credentials), through the ``error_response`` hook. Lists are paged with ``?page=`` and
``?per_page=`` and answered as ``{"items": […], "total", "page", "per_page"}``.

A request authenticated by HTTP Basic or an API token needs no form token; any other
request that writes (POST, PUT, PATCH, DELETE) carries the ``trac_form_token`` cookie's
value in an ``X-Form-Token`` header (or ``__FORM_TOKEN`` in a form body).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Response

from codeyard.core import hookimpl
from codeyard.perm import PermissionError_
from codeyard.rest.api import (
    API_PREFIX,
    DEFAULT_PER_PAGE,
    ApiError,
    Call,
    Endpoint,
    Paged,
    Param,
    Reply,
    all_endpoints,
    array,
    bad_request,
    check,
    obj,
)
from codeyard.web.api import HTTPError, csrf_exempt

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# Ways of authenticating that a cross-site page cannot make a browser use on its own.
NO_CSRF_AUTH = ("basic", "token")


@hookimpl
def web_routes():
    return [(Rule(f"{API_PREFIX}/", endpoint="rest.api", defaults={"path": ""}, methods=METHODS),
             api),
            (Rule(f"{API_PREFIX}/<path:path>", endpoint="rest.api", methods=METHODS), api)]


@hookimpl
def error_response(req, error):
    if is_api_path(req):
        return json_error(error.code, error.message, getattr(error, "extra_headers", []))
    return None


def is_api_path(req) -> bool:
    path = req.path or ""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


# ---------------------------------------------------------------------------
# The endpoints of the API itself

ERROR_SCHEMA = obj({"error": obj({"status": {"type": "integer"}, "message": {"type": "string"}},
                                 ("status", "message"))}, ("error",))


@hookimpl
def rest_endpoints():
    return [
        Endpoint("GET", "/", "This page: the endpoints, grouped, with their parameters and "
                 "permissions", index_page, "api", raw_response="text/html"),
        Endpoint("GET", "/openapi.json", "The OpenAPI 3.1 document of the API", openapi,
                 "api", response_schema={"type": "object"}),
        Endpoint("GET", "/user", "Who the request speaks for, and their permissions",
                 whoami, "api", response_schema=obj({"user": {"type": "string"},
                                                     "authenticated": {"type": "boolean"},
                                                     "permissions": array({"type": "string"})})),
    ]


def whoami(call: Call):
    req = call.req
    return {"user": req.authname, "authenticated": req.is_authenticated,
            "permissions": sorted(req.perm.granted_actions())}


def index_page(call: Call):
    from codeyard.web import chrome

    groups: dict[str, list[Endpoint]] = {}
    for endpoint in all_endpoints(call.env):
        groups.setdefault(endpoint.tag, []).append(endpoint)
    return chrome.render(call.req, "rest/index.html", {
        "groups": groups, "base": call.req.url_for("rest.api", path=""),
        "openapi": call.req.url_for("rest.api", path="openapi.json")})


def openapi(call: Call):
    return openapi_document(call.env, call.req.absolute(call.req.url_for("rest.api", path="")))


def openapi_document(env, server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the endpoints of ``env``'s enabled plugins."""
    paths: dict[str, dict[str, Any]] = {}
    tags: list[str] = []
    for endpoint in all_endpoints(env):
        if endpoint.tag not in tags:
            tags.append(endpoint.tag)
        paths.setdefault(endpoint.openapi_path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{env.project_name} REST API", "version": "1",
                 "description": "The JSON REST API of a codeyard project. Errors are "
                                "answered as {\"error\": {\"status\", \"message\"}}."},
        "servers": [{"url": server_url.rstrip("/")}],
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "token": {"type": "http", "scheme": "bearer",
                          "description": "An API token made in the preferences (API tokens)."},
            },
        },
        "security": [{"basic": []}, {"token": []}, {}],
    }


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    description = endpoint.summary
    if endpoint.permission:
        description += f"\n\nPermission: {endpoint.permission}."
    op: dict[str, Any] = {"operationId": endpoint.operation_id, "summary": endpoint.summary,
                          "description": description, "tags": [endpoint.tag]}
    if endpoint.permission:
        op["x-permission"] = endpoint.permission
    params = []
    for param in endpoint.all_params():
        entry: dict[str, Any] = {"name": param.name, "in": param.where,
                                 "required": param.required or param.where == "path",
                                 "schema": param.schema}
        if param.description:
            entry["description"] = param.description
        params.append(entry)
    if params:
        op["parameters"] = params
    if endpoint.raw_body:
        op["requestBody"] = {"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}
    elif endpoint.request_schema is not None:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": endpoint.request_schema}}}
    schema = endpoint.response_schema
    if endpoint.paged:
        schema = obj({"items": array(schema or {}), "total": {"type": "integer"},
                      "page": {"type": "integer"}, "per_page": {"type": "integer"}},
                     ("items", "total", "page", "per_page"))
    if endpoint.raw_response:
        content: dict[str, Any] = {endpoint.raw_response: {"schema": {"type": "string"}}}
    elif endpoint.status == 204:
        content = {}
    else:
        content = {"application/json": {"schema": schema or {}}}
    ok: dict[str, Any] = {"description": "Success"}
    if content:
        ok["content"] = content
    op["responses"] = {
        str(endpoint.status): ok,
        "default": {"description": "An error", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    }
    return op


# ---------------------------------------------------------------------------
# Dispatch

def _router(env) -> tuple[Map, list[Endpoint]]:
    def compute():
        endpoints = all_endpoints(env)
        rules = [Rule(e.rule_path, endpoint=n, methods=[e.method.upper()])
                 for n, e in enumerate(endpoints)]
        return Map(rules, strict_slashes=False, merge_slashes=False), endpoints

    return env.memo("rest.router", compute)


def json_response(value: Any, status: int = 200, headers=None) -> Response:
    body = "" if status == 204 else json.dumps(value, ensure_ascii=False, default=str) + "\n"
    response = Response(body, status=status, content_type="application/json; charset=utf-8",
                        headers=headers)
    response.headers["Cache-Control"] = "no-cache"
    return response


def json_error(status: int, message: str, headers=None) -> Response:
    return json_response({"error": {"status": status, "message": message}}, status, headers)


@csrf_exempt
def api(req, path: str = ""):
    """/api/v1/<path> — one REST call, answered in JSON."""
    try:
        return _answer(req, "/" + path)
    except ApiError as exc:
        return json_error(exc.status, exc.message, exc.headers)
    except PermissionError_ as exc:
        if not req.is_authenticated:
            from codeyard.web.auth import HTTP_REALM

            return json_error(401, f"{exc} Log in (HTTP Basic) or send an API token.",
                              [("WWW-Authenticate", f'Basic realm="{HTTP_REALM(req.env.config)}"')])
        return json_error(403, str(exc))
    except HTTPError as exc:  # raised by code shared with the pages
        return json_error(exc.code or 500, exc.message, exc.extra_headers)
    except HTTPException as exc:
        return json_error(exc.code or 500, exc.description or exc.name)
    except Exception:
        req.env.log.error("REST %s %s failed", req.method, req.path, exc_info=True)
        return json_error(500, "Something went wrong while answering this request. The "
                               "problem has been logged.")


def _answer(req, path: str):
    the_map, endpoints = _router(req.env)
    adapter = the_map.bind("api", "/")
    try:
        number, path_args = adapter.match(path, method=req.method)
    except NotFound:
        raise ApiError(404, f"No API endpoint at {API_PREFIX}{path} (see {API_PREFIX}/ "
                            "for the list).") from None
    except MethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.valid_methods or []))
        raise ApiError(405, f"{req.method} is not allowed at {API_PREFIX}{path} "
                            f"(allowed: {allowed}).", [("Allow", allowed)]) from None
    endpoint = endpoints[number]
    if req.method in WRITES and not _needs_no_form_token(req):
        if not req.check_form_token():
            raise ApiError(403, "A request that writes without HTTP Basic or an API token (a "
                                "browser's, by its cookies) must send the form token, the "
                                "trac_form_token cookie's value, in an X-Form-Token header.")
    call = Call(req, endpoint, _arguments(req, endpoint, path_args))
    if endpoint.paged:
        call.page = call.args.pop("page", None) or 1
        call.per_page = call.args.pop("per_page", None) or DEFAULT_PER_PAGE
    call.body = _body(req, endpoint)
    if_match = req.headers.get("If-Match")
    if if_match:
        call.if_match = if_match.strip().removeprefix("W/").strip('"')
    result = endpoint.handler(call)
    if isinstance(result, Response):
        return result
    if isinstance(result, Reply):
        return json_response(result.value, result.status, result.headers)
    if isinstance(result, Paged):
        return json_response({"items": result.items, "total": result.total,
                              "page": call.page, "per_page": call.per_page}, endpoint.status)
    if endpoint.paged and isinstance(result, list):
        page = call.page_of(result)
        return json_response({"items": page.items, "total": page.total, "page": call.page,
                              "per_page": call.per_page}, endpoint.status)
    return json_response(result, endpoint.status)


def _needs_no_form_token(req) -> bool:
    method = getattr(req, "auth_method", None)
    if method in NO_CSRF_AUTH:
        return True
    # A front server that checked HTTP Basic itself (REMOTE_USER) leaves the header in place.
    return method == "remote" and req.headers.get("Authorization", "")[:6].lower() == "basic "


def _arguments(req, endpoint: Endpoint, path_args: Mapping[str, Any]) -> dict[str, Any]:
    params = endpoint.all_params()
    known = {p.name for p in params if p.where == "query"}
    unknown = sorted(set(req.args) - known - {"__FORM_TOKEN"})
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise bad_request(f"Unknown query parameter {unknown[0]!r} (known: {allowed}).")
    args: dict[str, Any] = {}
    for param in params:
        if param.where == "path":
            raw = path_args.get(param.name, "")
            try:
                args[param.name] = _convert(raw, param)
            except ApiError:
                raise ApiError(404, f"No API resource at {API_PREFIX}{req.path[len(API_PREFIX):]}"
                                    f": {param.name} must be {param.schema.get('type')}.") from None
            continue
        if param.schema.get("type") == "array":
            values = req.args.getlist(param.name)
            args[param.name] = [v for value in values for v in value.split(",") if v] \
                if values else None
            if args[param.name] is not None:
                check(args[param.name], param.schema, param.name)
            continue
        raw = req.args.get(param.name)
        if raw is None:
            if param.required:
                raise bad_request(f"The query parameter {param.name!r} is missing.")
            args[param.name] = None
            continue
        args[param.name] = _convert(raw, param)
    return args


def _convert(raw: str, param: Param) -> Any:
    kinds = param.schema.get("type")
    kind = kinds if isinstance(kinds, str) else (kinds or ["string"])[0]
    value: Any = raw
    if kind == "integer":
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f"{param.name} must be an integer, not {raw!r}.") from None
    elif kind == "boolean":
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise bad_request(f"{param.name} must be true or false, not {raw!r}.")
        value = raw.lower() in ("1", "true", "yes", "on")
    check(value, param.schema, param.name)
    return value


def _body(req, endpoint: Endpoint) -> Any:
    if endpoint.raw_body:
        return req.get_data(cache=True)
    if endpoint.request_schema is None:
        return None
    data = req.get_data(cache=True)
    if req.mimetype != "application/json":
        raise ApiError(415, f"The body of {endpoint.method} {API_PREFIX}{endpoint.openapi_path} "
                            "is JSON: send it with Content-Type: application/json "
                            f"(not {req.mimetype or 'none'}).")
    try:
        body = json.loads(data.decode("utf-8")) if data.strip() else None
    except UnicodeDecodeError:
        raise bad_request("The body is not UTF-8 text.") from None
    except RecursionError:  # arrays in arrays… deeper than the parser descends
        raise bad_request("The body is nested too deeply.") from None
    except ValueError as exc:
        raise bad_request(f"The body is not valid JSON: {exc}") from None
    if body is None:
        raise bad_request("The request has no JSON body.")
    check(body, endpoint.request_schema, "body")
    return body

