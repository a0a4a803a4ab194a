"""``/rpc``, ``/xmlrpc``, ``/jsonrpc`` (and under ``/login``): XML-RPC and JSON-RPC as
Trac's XmlRpcPlugin speaks them, the ``XML_RPC`` permission and the ``system.*`` methods.

The protocol follows the request's Content-Type (``text/xml`` or ``application/json``);
a GET from a browser lists the methods with their help. Faults are answered with HTTP 200,
as the plugin does. RPC POSTs carry no form token: a cross-site form cannot send either
content type, which is what keeps a cookie-authenticated call safe.
"""

from __future__ import annotations

import base64
import json
import xmlrpc.client
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.core import hookimpl
from codeyard.perm import PermissionError_
from codeyard.rpc.api import (
    API_VERSION,
    FORBIDDEN,
    GENERIC,
    INTERNAL_ERROR,
    PARSE_ERROR,
    MethodNotFound,
    RpcError,
    RpcMethod,
    all_methods,
    want,
)
from codeyard.web.api import HTTPError, HTTPForbidden, HTTPUnauthorized, csrf_exempt

XML_TYPES = ("text/xml", "application/xml")
JSON_TYPES = ("application/json", "application/json-rpc")


class HTTPUnsupportedMediaType(HTTPError):
    code = 415
    title = "Unsupported media type"


@hookimpl
def permission_actions():
    return ["XML_RPC"]


@hookimpl
def web_routes():
    rules = []
    for prefix, login in (("", False), ("/login", True)):
        for path in ("rpc", "xmlrpc", "jsonrpc"):
            endpoint = f"rpc.{'login_' if login else ''}{path}"
            rules.append((Rule(f"{prefix}/{path}", endpoint=endpoint,
                               defaults={"login": login, "protocol": path},
                               methods=["GET", "HEAD", "POST"]), rpc))
    return rules


@hookimpl
def rpc_methods():
    return [
        RpcMethod("system.multicall", multicall, [[list, list]], None),
        RpcMethod("system.listMethods", list_methods, [[list]], None),
        RpcMethod("system.methodHelp", method_help, [[str, str]], None),
        RpcMethod("system.methodSignature", method_signature, [[list, str]], None),
        RpcMethod("system.getAPIVersion", get_api_version, [[list]], None),
    ]


# ---------------------------------------------------------------------------
# system.*

def multicall(req, signatures):
    """Takes an array of calls, each a struct ``{'methodName': string, 'params': array}``,
    and returns one entry per call: ``[result]`` when it succeeded, a fault struct
    (``faultCode``, ``faultString``) when it failed."""
    want(signatures, list, "signatures")
    results: list[Any] = []
    for call in signatures:
        try:
            if not isinstance(call, dict) or not isinstance(call.get("methodName"), str):
                raise RpcError("each call must be a struct with a methodName and params")
            if call["methodName"] == "system.multicall":
                raise RpcError("system.multicall cannot be nested")
            params = call.get("params", [])
            want(params, list, "params")
            results.append([call_method(req, call["methodName"], params)])
        except Exception as exc:  # each call fails on its own
            results.append(fault_of(exc, call.get("methodName") if isinstance(call, dict) else None))
    return results


def list_methods(req):
    """Returns the names of every method this server offers."""
    return list(all_methods(req.env))


def _method(req, name) -> RpcMethod:
    want(name, str, "method")
    method = all_methods(req.env).get(name)
    if method is None:
        raise MethodNotFound(name)
    return method


def method_help(req, method):
    """Returns the documentation of the named method: its signature, then its help."""
    found = _method(req, method)
    return f"{found.signature_text()}\n\n{found.description}"


def method_signature(req, method):
    """Returns the signatures of the named method, each a comma-separated list of types,
    the return type first."""
    return _method(req, method).signature_strings()


def get_api_version(req):
    """Returns [epoch, major, minor] of the API (the version of XmlRpcPlugin it follows):
    1 for Trac 0.11 and later, then the major (breaking changes) and minor (additions)."""
    return list(API_VERSION)


# ---------------------------------------------------------------------------
# Calling

def call_method(req, name: str, params: list) -> Any:
    req.perm.require("XML_RPC")
    method = all_methods(req.env).get(name)
    if method is None:
        raise MethodNotFound(name)
    if method.permission:
        req.perm.require(method.permission)
    method.check_args(params)
    result = method.func(req, *params)
    if result is None:
        return 0
    if isinstance(result, (tuple, set, frozenset)) or hasattr(result, "__next__"):
        return list(result)
    return result


def fault_of(exc: Exception, method: str | None) -> dict[str, Any]:
    code, message, _ = _classify(exc, method)
    return {"faultCode": code, "faultString": message}


def _classify(exc: Exception, method: str | None) -> tuple[int, str, str]:
    if isinstance(exc, RpcError):
        return exc.code, str(exc), exc.name
    if isinstance(exc, PermissionError_):
        return FORBIDDEN, str(exc), "PermissionError"
    if isinstance(exc, (ValueError, TypeError, LookupError)):
        return GENERIC, str(exc) or type(exc).__name__, "JSONRPCError"
    # Anything else is a fault in the server: its details go to the log, not to the caller.
    return GENERIC, f"'{type(exc).__name__}' while executing '{method}()'", "JSONRPCError"


# ---------------------------------------------------------------------------
# Encodings

def _for_xml(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return xmlrpc.client.DateTime(value)
    if isinstance(value, (bytes, bytearray)):
        return xmlrpc.client.Binary(bytes(value))
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _for_xml(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_for_xml(v) for v in value]
    if value is None:
        return 0
    return value


def _from_xml(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, dict):
        return {k: _from_xml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_xml(v) for v in value]
    return value


def _for_json(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return {"__jsonclass__": ["datetime", value.replace(microsecond=0).isoformat()]}
    if isinstance(value, (bytes, bytearray)):
        return {"__jsonclass__": ["binary", base64.b64encode(bytes(value)).decode("ascii")]}
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _for_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_for_json(v) for v in value]
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if list(value) == ["__jsonclass__"]:
            spec = value["__jsonclass__"]
            if not (isinstance(spec, list) and len(spec) == 2 and isinstance(spec[1], str)):
                raise ValueError("__jsonclass__ must be [kind, text]")
            kind, text = spec
            if kind == "datetime":
                moment = datetime.fromisoformat(text.rstrip("Z"))
                return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
            if kind == "binary":
                return base64.b64decode(text, validate=True)
            raise ValueError(f"Unknown __jsonclass__: {kind}")
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _xml_response(payload: Any, fault: dict | None = None) -> Response:
    if fault is not None:
        body = xmlrpc.client.dumps(xmlrpc.client.Fault(fault["faultCode"], fault["faultString"]),
                                   allow_none=True)
    else:
        body = xmlrpc.client.dumps((_for_xml(payload),), methodresponse=True, allow_none=True)
    return Response(body.encode("utf-8"), content_type="text/xml; charset=utf-8")


def _json_response(data: dict) -> Response:
    return Response(json.dumps(data) + "\n", content_type="application/json; charset=utf-8")


def _json_error(exc: Exception, method: str | None, rid: Any) -> dict:
    code, message, name = _classify(exc, method)
    return {"result": None, "id": rid, "error": {"name": name, "code": code, "message": message}}


def answer_xml(req, data: bytes) -> Response:
    try:
        params, name = xmlrpc.client.loads(data, use_datetime=True, use_builtin_types=True)
        if not isinstance(name, str) or not name:
            raise ValueError("the request names no method")
    except Exception as exc:  # malformed XML of any kind
        return _xml_response(None, {"faultCode": PARSE_ERROR,
                                    "faultString": f"The request is not valid XML-RPC: {exc}"})
    try:
        result = call_method(req, name, [_from_xml(p) for p in params])
    except Exception as exc:
        _log(req, exc, name)
        return _xml_response(None, fault_of(exc, name))
    try:
        return _xml_response(result)
    except Exception as exc:  # a value XML-RPC cannot carry (an int beyond 32 bits, …)
        _log(req, exc, name)
        return _xml_response(None, {"faultCode": INTERNAL_ERROR,
                                    "faultString": f"The result cannot be encoded: {exc}"})


def answer_json(req, data: bytes) -> Response:
    try:
        request = _from_json(json.loads(data.decode("utf-8")))
        if not isinstance(request, dict):
            raise ValueError("JSON object is not a dict")
    except Exception as exc:  # malformed JSON of any kind
        return _json_response({"result": None, "id": None, "error": {
            "name": "JSONRPCError", "code": PARSE_ERROR,
            "message": f"The request is not valid JSON-RPC: {exc}"}})
    rid = request.get("id")
    name = request.get("method")
    params = request.get("params", [])
    try:
        if not isinstance(name, str) or not name:
            raise RpcError("the request names no method", PARSE_ERROR)
        if params is None:
            params = []
        if not isinstance(params, list):
            raise RpcError("params must be an array", PARSE_ERROR)
        if name == "system.multicall":
            req.perm.require("XML_RPC")
            response = {"result": [_json_call(req, call, rid) for call in params],
                        "error": None, "id": rid}
        else:
            response = {"result": call_method(req, name, params), "error": None, "id": rid}
        return _json_response(_for_json(response))
    except Exception as exc:
        _log(req, exc, name)
        return _json_response(_json_error(exc, name, rid))


def _json_call(req, call: Any, rid: Any) -> dict:
    """One call of a JSON-RPC multicall: ``{"method", "params", "id"}`` in, a full
    response object out."""
    name = call.get("method") if isinstance(call, dict) else None
    own_id = (call.get("id") if isinstance(call, dict) else None) or rid
    try:
        if not isinstance(name, str) or name == "system.multicall":
            raise RpcError("each call must be an object with a method and params")
        params = call.get("params") or []
        want(params, list, "params")
        return {"result": call_method(req, name, params), "error": None, "id": own_id}
    except Exception as exc:
        return _json_error(exc, name, own_id)


def _log(req, exc: Exception, method: str | None) -> None:
    if not isinstance(exc, (RpcError, PermissionError_, ValueError, TypeError, LookupError)):
        req.env.log.error("RPC %s failed", method, exc_info=True)


# ---------------------------------------------------------------------------
# The handler

@csrf_exempt
def rpc(req, login: bool = False, protocol: str = "rpc"):
    """/rpc, /xmlrpc, /jsonrpc and /login/…: one RPC call per POST, or the method list."""
    if login and not req.is_authenticated:
        from codeyard.web.auth import HTTP_REALM

        realm = HTTP_REALM(req.env.config)
        raise HTTPUnauthorized("The RPC interface under /login needs you to log in.",
                               headers=[("WWW-Authenticate", f'Basic realm="{realm}"')])
    if req.method != "POST":
        if "XML_RPC" not in req.perm:
            raise HTTPForbidden("XML_RPC privileges are required to use the RPC interface.")
        return _method_page(req, protocol)
    mimetype = req.mimetype
    accepts = {"rpc": XML_TYPES + JSON_TYPES, "xmlrpc": XML_TYPES, "jsonrpc": JSON_TYPES}[protocol]
    if mimetype not in accepts:
        raise HTTPUnsupportedMediaType(
            f"An RPC call is sent as {' or '.join(accepts)}, not "
            f"{mimetype or 'without a Content-Type'}.")
    data = req.get_data(cache=True)
    if mimetype in XML_TYPES:
        return answer_xml(req, data)
    return answer_json(req, data)


def _method_page(req, protocol: str):
    namespaces: dict[str, list[RpcMethod]] = {}
    for method in all_methods(req.env).values():
        namespaces.setdefault(method.name.split(".", 1)[0], []).append(method)
    return "rpc/rpc.html", {"namespaces": namespaces, "protocol": protocol,
                            "api_version": ".".join(map(str, API_VERSION))}
