"""Kafka connection security (TLS, SASL) from the settings, as keyword arguments for both client libraries.

Faust (aiokafka underneath) takes ``broker_credentials``; kafka-python takes ``security_protocol``, ``ssl_context`` and
``sasl_*``. Both get a TLS context built by the same function, so the two kinds of client cannot disagree about which
certificates they trust.
"""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for broker connections, or None when the protocol has no TLS."""
    if settings.security_protocol not in TLS_PROTOCOLS:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.ssl_cafile)
    context.check_hostname = settings.ssl_check_hostname
    if settings.ssl_certfile is not None:
        password = settings.ssl_key_password.get_secret_value() if settings.ssl_key_password else None
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile, password=password)
    return context


def _sasl_login(settings: Settings) -> tuple[str, str]:
    # The settings validator guarantees both under a SASL protocol.
    assert settings.sasl_username is not None and settings.sasl_password is not None
    return settings.sasl_username, settings.sasl_password.get_secret_value()


def faust_options(settings: Settings) -> dict[str, Any]:
    """``faust.App`` keyword arguments; empty for PLAINTEXT."""
    # Imported here: the kafka-python commands (publish, consume, topics) should not pay for importing Faust.
    from faust import SASLCredentials, SSLCredentials

    context = tls_context(settings)
    if settings.security_protocol in SASL_PROTOCOLS:
        username, password = _sasl_login(settings)
        credentials = SASLCredentials(
            username=username, password=password, mechanism=settings.sasl_mechanism, ssl_context=context
        )
        return {"broker_credentials": credentials}
    if context is not None:
        return {"broker_credentials": SSLCredentials(context)}
    return {}


def kafka_python_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's producer, consumer and admin client."""
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    context = tls_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.security_protocol in SASL_PROTOCOLS:
        username, password = _sasl_login(settings)
        # kafka-python takes the SCRAM login through the same two arguments as PLAIN.
        options |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": username,
            "sasl_plain_password": password,
        }
    return options
