"""The RPC value encodings and method descriptions, without a server."""

from __future__ import annotations

import xmlrpc.client
from datetime import UTC, datetime, timedelta, timezone

import pytest

from codeyard.rpc.api import RpcError, RpcMethod, to_us, want
from codeyard.rpc.web import _for_json, _for_xml, _from_json, _from_xml


def test_json_dates_and_binaries_round_trip():
    moment = datetime(2026, 1, 31, 13, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    encoded = _for_json({"when": moment, "data": b"\x00\xff", "list": [None, 1]})
    assert encoded == {"when": {"__jsonclass__": ["datetime", "2026-01-31T11:00:05"]},
                       "data": {"__jsonclass__": ["binary", "AP8="]}, "list": [None, 1]}
    decoded = _from_json(encoded)
    assert decoded["when"] == moment and decoded["when"].tzinfo is UTC
    assert decoded["data"] == b"\x00\xff"
    with pytest.raises(ValueError, match="Unknown __jsonclass__"):
        _from_json({"__jsonclass__": ["complex", "1+j"]})
    with pytest.raises(ValueError):
        _from_json({"__jsonclass__": ["binary", "not base64!"]})


def test_xml_values_are_utc_and_none_is_zero():
    moment = datetime(2026, 1, 31, 13, 0, 5, tzinfo=timezone(timedelta(hours=-5)))
    body = xmlrpc.client.dumps((_for_xml([moment, b"ab", None]),), methodresponse=True)
    (values,), _ = xmlrpc.client.loads(body, use_builtin_types=True)
    assert values == [datetime(2026, 1, 31, 18, 0, 5), b"ab", 0]
    assert _from_xml([datetime(2026, 1, 1), bytearray(b"x")]) == [
        datetime(2026, 1, 1, tzinfo=UTC), b"x"]


def test_arguments_are_checked_by_count_and_type():
    def get(req, name, version=None):
        """Returns it."""

    method = RpcMethod("x.get", get, [[str, str], [str, str, int]])
    assert method.signature_text() == "string x.get(string name, int version=None)"
    assert method.signature_strings() == ["string,string", "string,string,int"]
    method.check_args(["a"])
    method.check_args(["a", 1])
    with pytest.raises(RpcError, match=r"takes 1 to 2 arguments \(3 given\)"):
        method.check_args(["a", 1, 2])
    with pytest.raises(RpcError, match="name must be string, not int"):
        want(5, str, "name")
    with pytest.raises(RpcError, match="not a boolean"):
        want(True, int, "id")
    assert to_us(datetime(1970, 1, 1, 0, 0, 1)) == 1_000_000
    with pytest.raises(RpcError):
        to_us("yesterday")
