"""Outgoing HTTP clients with one TLS context for the process: building a context reads the system's certificates
(tens of milliseconds), so a client made for each call would pay that on every call."""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls() -> ssl.SSLContext:
    """The process's TLS context, as httpx builds it by default (certificates from certifi)."""
    return httpx.create_ssl_context()


def client(**options: Any) -> httpx.Client:
    """An ``httpx.Client`` that verifies certificates with the shared context; ``options`` as ``httpx.Client``'s."""
    return httpx.Client(verify=tls(), **options)
