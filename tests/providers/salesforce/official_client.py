"""The Salesforce emulator served over HTTPS on a loopback port, read by simple-salesforce.

simple-salesforce always speaks ``https://{instance}``, so the emulator is served with a
throwaway self-signed certificate the client's session trusts; nothing else of the client
changes: ``Salesforce(instance_url=..., session_id=...)`` as a user would write it.
"""

from __future__ import annotations

import datetime
import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from simple_salesforce import Salesforce

from crmsync.cli.serving import free_port
from crmsync.providers.salesforce.emulator import SalesforceEmulator

REDIRECT = "https://app.crmsync.test/oauth/callback/salesforce"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written to ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "emulator.pem", directory / "emulator.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def session_id(emulator: SalesforceEmulator) -> str:
    """An access token of the org's admin, as the web-server flow would hand out."""
    code = emulator.oauth.issue_code(
        client_id=emulator.config.client_id,
        redirect_uri=REDIRECT,
        scopes=["api", "refresh_token"],
        account_id=emulator.org_id,
        user=emulator.admin_id,
    )
    grant = emulator.oauth.exchange_code(
        code=code, client_id=emulator.config.client_id, redirect_uri=REDIRECT
    )
    return grant.access_token.token


@contextmanager
def official_client(app: Any, directory: Path) -> Iterator[Salesforce]:
    """``simple_salesforce.Salesforce`` on the emulator served at ``https://127.0.0.1:port``."""
    cert, key = self_signed(directory)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.02)
    http = requests.Session()
    http.trust_env = False  # no proxy, and no CA bundle from the environment over ours
    http.verify = str(cert)
    try:
        yield Salesforce(
            instance_url=f"https://127.0.0.1:{port}",
            session_id=session_id(app.state.emulator),
            session=http,
            version="60.0",
        )
    finally:
        http.close()
        server.should_exit = server.force_exit = True
        thread.join(timeout=10)
