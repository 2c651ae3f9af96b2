"""The error tree's kinds and the one table of socket errors in words (core/errors.py)."""

from __future__ import annotations

import errno
import os
import pickle
import socket

import httpx
import pytest

from core import errors
from core.errors import ErrorKind, describe_gaierror, describe_os_error, network_cause


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (socket.EAI_NONAME, ErrorKind.NO_SUCH_DOMAIN, "no such domain"),
        (socket.EAI_AGAIN, ErrorKind.DNS_TEMPORARY, "DNS lookup failed, temporarily"),
        (socket.EAI_FAIL, ErrorKind.DNS_FAILURE, "the DNS server failed"),
        (socket.EAI_SYSTEM, ErrorKind.DNS_FAILURE, "DNS lookup failed"),
        (12345, ErrorKind.DNS_FAILURE, "DNS lookup failed"),
    ],
)
def test_lookup_failures_in_words(code: int, kind: ErrorKind, words: str) -> None:
    assert describe_gaierror(socket.gaierror(code, "C library words")) == (kind, words)


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (OSError(errno.ENETUNREACH, "x"), ErrorKind.NO_ROUTE, "no route to the network"),
        (OSError(errno.EHOSTUNREACH, "x"), ErrorKind.NO_ROUTE, "no route to the host"),
        (OSError(errno.ENETDOWN, "x"), ErrorKind.NO_ROUTE, "the network is down"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "x"), ErrorKind.REFUSED, "connection refused"),
        (ConnectionResetError(), ErrorKind.RESET, "connection reset"),
        (TimeoutError(), ErrorKind.TIMEOUT, "no answer in time"),
        (
            OSError(errno.ENOSYS, os.strerror(errno.ENOSYS)),
            ErrorKind.OTHER,
            "function not implemented",
        ),
        (
            OSError("All connection attempts failed"),
            ErrorKind.OTHER,
            "all connection attempts failed",
        ),
        (OSError("[Errno -2] Name or service not known"), ErrorKind.OTHER, "network error"),
        (OSError(), ErrorKind.OTHER, "network error"),
    ],
)
def test_socket_failures_in_words_without_errno(exc: OSError, kind: ErrorKind, words: str) -> None:
    assert describe_os_error(exc) == (kind, words)
    assert "Errno" not in words


def test_network_cause_finds_the_socket_error_behind_an_http_client_error() -> None:
    try:
        try:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        except socket.gaierror as inner:
            raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution") from inner
    except httpx.ConnectError as exc:
        assert network_cause(exc) == (ErrorKind.DNS_TEMPORARY, "DNS lookup failed, temporarily")
    assert network_cause(ValueError("not a network error")) is None


def test_network_cause_prefers_an_error_with_an_errno_and_survives_cycles() -> None:
    outer = OSError("All connection attempts failed")
    outer.__cause__ = OSError(errno.ECONNREFUSED, "Connection refused")
    assert network_cause(outer) == (ErrorKind.REFUSED, "connection refused")

    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert network_cause(first) is None


def test_each_failure_class_has_its_kind_and_raisers_can_refine_it() -> None:
    assert errors.ConnectionRefused("x").kind is ErrorKind.REFUSED
    assert errors.NetworkUnreachable("x").kind is ErrorKind.NO_ROUTE
    assert errors.HandshakeTimeout("x").kind is ErrorKind.TIMEOUT
    assert errors.RegistrationUnknown("x").kind is ErrorKind.NOT_PUBLISHED
    assert errors.UsageError("x").kind is ErrorKind.OTHER
    refined = errors.DnsFailure("could not resolve a.test", kind=ErrorKind.DNS_TEMPORARY)
    assert refined.kind is ErrorKind.DNS_TEMPORARY
    assert errors.DnsFailure("y").kind is ErrorKind.DNS_FAILURE  # the class is untouched
    assert str(refined) == "could not resolve a.test"


def test_kind_survives_pickling() -> None:
    refined = errors.RdapServerError("cannot connect", kind=ErrorKind.NO_ROUTE)
    copy = pickle.loads(pickle.dumps(refined))
    assert copy.kind is ErrorKind.NO_ROUTE and str(copy) == "cannot connect"


def test_network_level_kinds_are_the_lookup_and_the_route() -> None:
    network = {kind for kind in ErrorKind if kind.network_level}
    assert network == {
        ErrorKind.NO_SUCH_DOMAIN,
        ErrorKind.DNS_TEMPORARY,
        ErrorKind.DNS_FAILURE,
        ErrorKind.NO_ROUTE,
    }


def test_stored_kinds_parse_and_unknown_ones_are_other() -> None:
    assert ErrorKind.parse("no_route") is ErrorKind.NO_ROUTE
    assert ErrorKind.parse(None) is None
    assert ErrorKind.parse("added_in_a_later_version") is ErrorKind.OTHER
