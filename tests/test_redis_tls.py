"""Redis over TLS (rediss://): Debian's redis-server with a TLS port and a certificate made here;
the chat (the webhook's scripts on held redis-py connections, RQ) and a real worker (the push of
the code image) work through it, and a plain connection to that port is refused."""
from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import time

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.chat import CLEAN, REGISTRATION, WECHAT_ENV, Chat
from tests.support.workers import start_worker, stop_worker, wait_for

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _cert(name: str, key, issuer=None, issuer_key=None, ca: bool = False):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(path, obj):
    if isinstance(obj, x509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tls_redis(tmp_path):
    if not shutil.which(REDIS_SERVER):
        pytest.skip("Debian's redis-server is not installed")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("healthcode test CA", ca_key, ca=True)
    server_cert = _cert("localhost", key, issuer=ca.subject, issuer_key=ca_key)
    ca_file = _pem(tmp_path / "ca.pem", ca)
    port = _free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                             "--tls-cert-file", _pem(tmp_path / "server.pem", server_cert),
                             "--tls-key-file", _pem(tmp_path / "server.key", key), "--tls-ca-cert-file", ca_file,
                             "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"rediss://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url, ssl_ca_certs=ca_file)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        client.close()
        yield url, ca_file, port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_chat_and_workers_work_through_rediss(tls_redis, env, tmp_path):
    from bot import create_app
    from bot.devtools.platform_stub import PlatformStub
    from bot.domain.models import Notice
    from bot.services import Services

    url, ca_file, port = tls_redis
    with pytest.raises(redis.ConnectionError):  # the port speaks TLS only
        redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping()
    with PlatformStub() as stub:
        tls_env = {**env, **WECHAT_ENV, "REDIS_URL": url, "REDIS_CA_FILE": ca_file, "WECHAT_API_BASE": stub.base_url}
        svc = Services.from_env(tls_env)
        try:
            chat = Chat(create_app(services=svc), user="o-tls")
            assert "申报成功" in chat.run(*REGISTRATION, *CLEAN, "1")
            assert "绿码" in chat.say("2")  # my code: the state and the dedupe keys live in the TLS Redis
            keys = redis.Redis.from_url(url, ssl_ca_certs=ca_file).keys("chat:*")
            assert keys, "the conversation store wrote nothing through rediss://"
            worker = start_worker(tls_env, tmp_path / "worker.log")
            try:
                def images():
                    return [m for m in stub.state.messages if m.get("msgtype") == "image" and m["touser"] == "o-tls"]
                assert wait_for(lambda: len(images()) >= 2, 60), (tmp_path / "worker.log").read_text()[-3000:]
            finally:
                stop_worker(worker)
            with svc.db.session() as s:
                assert {n.status for n in s.query(Notice)} == {"delivered"}
        finally:
            svc.close()
