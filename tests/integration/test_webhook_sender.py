"""The webhook sender against real sockets on loopback: https as deployed stacks send it
(the certificate checked against the URL's host while the connection goes to the address
that was checked), and one deadline for the whole exchange, however a receiver stalls."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.adapters.http_webhook_sender import HttpWebhookSender

TIMEOUT_SECONDS = 0.5


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` (the receiver's), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _trusting(cert_file: Path) -> ssl.SSLContext:
    """What a sender trusts: here the test certificate, as it trusts public CAs deployed."""
    return ssl.create_default_context(cafile=str(cert_file))


@dataclass
class Server:
    port: int
    # Set once `answer` ran to its end with the sender still there.
    answered_in_full: threading.Event


def _serving(answer: Callable[[socket.socket], None], tls: ssl.SSLContext | None = None) -> Server:
    """A one-connection server on loopback running `answer`."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            if tls is not None:
                connection = tls.wrap_socket(connection, server_side=True)
            answer(connection)
            done.set()
        except OSError:
            pass  # the sender hung up
        finally:
            connection.close()
            listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return Server(int(listener.getsockname()[1]), done)


def _read_request(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return body


def _ok(connection: socket.socket) -> None:
    _read_request(connection)
    connection.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def _trickle(connection: socket.socket) -> None:
    """A header a byte every 0.2 s for 4 s (each read is quick), then a 200."""
    _read_request(connection)
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(20):
        time.sleep(0.2)
        connection.sendall(b"X")
    connection.sendall(b": y\r\nContent-Length: 0\r\n\r\n")


def _server_tls(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def sender(certificate: tuple[Path, Path]) -> Iterator[HttpWebhookSender]:
    yield HttpWebhookSender(
        allow_loopback=True, timeout_seconds=TIMEOUT_SECONDS, tls=_trusting(certificate[0])
    )


def test_https_checks_the_certificate_of_the_urls_host(
    sender: HttpWebhookSender, certificate: tuple[Path, Path]
) -> None:
    tls = _server_tls(*certificate)
    server = _serving(_ok, tls)
    assert sender.send(f"https://localhost:{server.port}/hooks", b"{}", {}).status == 204

    # The same server under a name its certificate does not carry
    server = _serving(_ok, tls)
    result = sender.send(f"https://127.0.0.1:{server.port}/hooks", b"{}", {})
    assert result.status is None and "CERTIFICATE_VERIFY_FAILED" in (result.error or "")


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline(
    sender: HttpWebhookSender, certificate: tuple[Path, Path], scheme: str
) -> None:
    tls = _server_tls(*certificate) if scheme == "https" else None
    server = _serving(_trickle, tls)

    result = sender.send(f"{scheme}://localhost:{server.port}/hooks", b"{}", {})

    assert (result.status, result.error) == (None, f"no answer within {TIMEOUT_SECONDS:g} s")
    # The sender hung up at its deadline, before the receiver got to its 200
    assert not server.answered_in_full.is_set()


def test_a_tls_handshake_that_never_finishes_is_cut_off_at_the_deadline(
    sender: HttpWebhookSender,
) -> None:
    def accept_and_say_nothing(connection: socket.socket) -> None:
        time.sleep(4)

    server = _serving(accept_and_say_nothing)

    result = sender.send(f"https://localhost:{server.port}/hooks", b"{}", {})

    assert (result.status, result.error) == (None, f"no answer within {TIMEOUT_SECONDS:g} s")
    assert not server.answered_in_full.is_set()


def test_a_host_whose_name_servers_answer_late_is_cut_off_at_the_deadline(
    sender: HttpWebhookSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_in_time = threading.Event()  # never set: the name servers answer after the test

    def slow_resolve(host: str, port: int) -> list[str]:
        answer_in_time.wait(4)
        return ["127.0.0.1"]

    monkeypatch.setattr("core.adapters.http_webhook_sender.resolve", slow_resolve)
    server = _serving(_ok)

    result = sender.send(f"http://localhost:{server.port}/hooks", b"{}", {})

    assert (result.status, result.error) == (None, f"no answer within {TIMEOUT_SECONDS:g} s")
    assert not server.answered_in_full.is_set()


def test_a_name_that_resolves_to_no_address_is_refused(
    sender: HttpWebhookSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.adapters.http_webhook_sender.resolve", lambda host, port: [])
    result = sender.send("http://localhost:9/hooks", b"{}", {})
    assert (result.status, result.error) == (None, "refused: localhost does not resolve")
