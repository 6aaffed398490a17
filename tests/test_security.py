"""Kafka security settings reach both client libraries, and the secrets stay out of reprs, errors and logs."""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from unittest.mock import Mock

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from streams.analyze import Analyzer
from streams.app import create_app
from streams.security import faust_options, kafka_python_options, tls_context
from streams.settings import Settings

PASSWORD = "s3cret-Hunter2"
KEY_PASSWORD = "key-Pass-77"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, broker="kafka-1:9093,kafka-2:9093", **values)


def aiokafka_auth(configured: Settings) -> dict[str, object]:
    """What aiokafka receives, computed by Faust's own translation from the configuration of the app we build."""
    app = create_app(configured, Mock(spec=Analyzer)).app  # the agents never run here
    return credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for localhost and a client certificate with an encrypted key, made by openssl."""
    directory = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=newsstream test CA", "-days", "2")
    for name in ("server", "client"):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (directory / f"{name}.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
        )
    openssl("pkey", "-in", "client.key", "-aes256", "-passout", f"pass:{KEY_PASSWORD}", "-out", "client-encrypted.key")
    return directory


def handshake(client: ssl.SSLContext, pki: Path, require_client_certificate: bool) -> str:
    """A TLS handshake over loopback with a server whose certificate the test CA signed; returns the TLS version."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(pki / "server.crt", pki / "server.key")
    if require_client_certificate:
        server.load_verify_locations(pki / "ca.crt")
        server.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    errors: list[Exception] = []

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            with server.wrap_socket(connection, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        raw = socket.create_connection(listener.getsockname(), timeout=5)
        tls = client.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"x")  # TLS 1.3 reports a rejected client certificate only on the first exchange of data
        thread.join(timeout=5)
        version = tls.version()
        tls.close()
    finally:
        listener.close()
    if errors:
        raise errors[0]
    assert version is not None
    return version


def test_plaintext_is_the_default_and_adds_nothing_to_faust() -> None:
    plain = settings()
    assert kafka_python_options(plain) == {"security_protocol": "PLAINTEXT"}
    assert faust_options(plain) == {}
    assert tls_context(plain) is None


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_over_tls_reaches_kafka_python_and_aiokafka(mechanism: str, pki: Path) -> None:
    configured = settings(
        security_protocol="SASL_SSL",
        sasl_mechanism=mechanism,
        sasl_username="newsstream",
        sasl_password=PASSWORD,
        ssl_cafile=pki / "ca.crt",
    )
    kafka_python = kafka_python_options(configured)
    assert kafka_python["security_protocol"] == "SASL_SSL"
    assert kafka_python["sasl_mechanism"] == mechanism
    assert (kafka_python["sasl_plain_username"], kafka_python["sasl_plain_password"]) == ("newsstream", PASSWORD)
    assert isinstance(kafka_python["ssl_context"], ssl.SSLContext)

    aiokafka = aiokafka_auth(configured)
    assert aiokafka["security_protocol"] == "SASL_SSL"
    assert aiokafka["sasl_mechanism"] == mechanism
    assert (aiokafka["sasl_plain_username"], aiokafka["sasl_plain_password"]) == ("newsstream", PASSWORD)
    ca_subjects = [dict(item[0] for item in ca["subject"]) for ca in aiokafka["ssl_context"].get_ca_certs()]
    assert {"commonName": "newsstream test CA"} in ca_subjects


def test_sasl_without_tls_has_no_tls_context() -> None:
    configured = settings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256", sasl_username="u", sasl_password=PASSWORD
    )
    assert "ssl_context" not in kafka_python_options(configured)
    aiokafka = aiokafka_auth(configured)
    assert aiokafka["security_protocol"] == "SASL_PLAINTEXT"
    assert aiokafka["ssl_context"] is None


def test_the_tls_context_trusts_the_configured_ca_and_presents_the_client_certificate(pki: Path) -> None:
    configured = settings(
        security_protocol="SSL",
        ssl_cafile=pki / "ca.crt",
        ssl_certfile=pki / "client.crt",
        ssl_keyfile=pki / "client-encrypted.key",
        ssl_key_password=KEY_PASSWORD,
    )
    aiokafka = aiokafka_auth(configured)
    assert aiokafka["security_protocol"] == "SSL"
    for client in (kafka_python_options(configured)["ssl_context"], aiokafka["ssl_context"]):
        assert handshake(client, pki, require_client_certificate=True).startswith("TLS")


def test_without_the_client_certificate_a_broker_requiring_one_refuses(pki: Path) -> None:
    context = tls_context(settings(security_protocol="SSL", ssl_cafile=pki / "ca.crt"))
    assert context is not None
    with pytest.raises((ssl.SSLError, OSError)):
        handshake(context, pki, require_client_certificate=True)


def test_an_untrusted_broker_certificate_is_refused(pki: Path) -> None:
    context = tls_context(settings(security_protocol="SSL"))  # system CAs only: the test CA is unknown
    assert context is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(context, pki, require_client_certificate=False)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"security_protocol": "SASL_SSL", "sasl_username": "u"}, "needs sasl_username and sasl_password"),
        ({"sasl_username": "u", "sasl_password": PASSWORD}, "SASL credentials are set but security_protocol"),
        ({"ssl_cafile": "/ca.pem"}, "TLS files are set but security_protocol is PLAINTEXT"),
        ({"security_protocol": "SSL", "ssl_keyfile": "/k.pem"}, "ssl_keyfile needs ssl_certfile"),
        ({"sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
    ],
)
def test_half_configured_security_is_refused_without_echoing_secrets(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        settings(**values)
    assert message in str(error.value)
    assert PASSWORD not in str(error.value)


def test_secrets_are_masked_in_repr_and_dumps_but_reach_child_processes(
    pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = settings(
        security_protocol="SASL_SSL",
        sasl_username="u",
        sasl_password=PASSWORD,
        ssl_certfile=pki / "client.crt",
        ssl_keyfile=pki / "client-encrypted.key",
        ssl_key_password=KEY_PASSWORD,
    )
    for shown in (repr(configured), str(configured), configured.model_dump_json(), str(configured.model_dump())):
        assert PASSWORD not in shown and KEY_PASSWORD not in shown
    assert PASSWORD not in repr(faust_options(configured)["broker_credentials"])

    # A worker started by the demo or the tests gets its settings through the environment: the real secret.
    for name, value in configured.to_env().items():
        monkeypatch.setenv(name, value)
    inherited = Settings(_env_file=None)
    assert inherited == configured
    assert inherited.sasl_password is not None and inherited.sasl_password.get_secret_value() == PASSWORD


def test_building_the_app_with_sasl_logs_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    configured = settings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512", sasl_username="u", sasl_password=PASSWORD
    )
    with caplog.at_level(logging.DEBUG):
        app = create_app(configured, Mock(spec=Analyzer)).app
        logging.getLogger("test").info("configuration %r credentials %r", configured, app.conf.broker_credentials)
    assert "configuration" in caplog.text
    assert PASSWORD not in caplog.text
