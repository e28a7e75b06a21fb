"""Private servers standing in for managed ones: a certificate authority made on the spot,
PostgreSQL with TLS, Redis with TLS, Redis Sentinel, PgBouncer in transaction mode.

Each runs on its own loopback port from its own folder, as a child process stopped by its
pid; the shared servers on 5432 and 6379 are never touched. PostgreSQL and PgBouncer refuse
to run as root: when the tests run as root they run as the ``postgres`` system user (Debian's
PostgreSQL packages create it), or one made with ``useradd``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from linkport.processes import free_port, wait_for_port

SERVICE_USER = "linkport-test"


@dataclass(frozen=True)
class Authority:
    """A certificate authority of the tests' own: its certificate (PEM file) and key."""

    cert_path: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, folder: Path, name: str = "Linkport test CA") -> Authority:
        """A new CA, its certificate written to ``folder/<name>.crt``."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        path = folder / f"{name.replace(' ', '-').lower()}.crt"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(path, cert, key)

    def issue(self, folder: Path, name: str, *, ips: tuple[str, ...]) -> tuple[Path, Path]:
        """A server certificate for ``ips`` (subject alternative names): (cert, key) files."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path


def service_user() -> pwd.struct_passwd | None:
    """Who runs PostgreSQL and PgBouncer: None (this process's user) unless we are root, then
    ``postgres`` if it exists, else a system user made for the tests."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", SERVICE_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
        check=True,
    )
    return pwd.getpwnam(SERVICE_USER)


def service_folder() -> Path:
    """A folder the service user owns (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="linkport-managed-"))
    user = service_user()
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    return folder


def _own(user: pwd.struct_passwd | None, *paths: Path) -> None:
    if user is not None:
        for path in paths:
            os.chown(path, user.pw_uid, user.pw_gid)


def _as_service(command: list[str]) -> list[str]:
    user = service_user()
    return command if user is None else ["runuser", "-u", user.pw_name, "--", *command]


def postgres_binary(name: str) -> str:
    """``initdb``, ``pg_ctl``, … from PATH or Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    raise FileNotFoundError(name)


@dataclass
class PrivatePostgres:
    """A PostgreSQL of the tests' own, TLS on (``ssl=on``), trusting loopback connections."""

    folder: Path
    port: int
    ca: Authority

    def url(self, database: str = "postgres", host: str = "127.0.0.1") -> str:
        return f"postgresql://postgres@{host}:{self.port}/{database}"


@contextlib.contextmanager
def private_postgres(ca: Authority) -> Iterator[PrivatePostgres]:
    """initdb, then ``pg_ctl start`` with TLS, listening on 127.0.0.1 and 127.0.0.2 (the
    certificate names only 127.0.0.1: 127.0.0.2 is the wrong host for ``verify-full``)."""
    user = service_user()
    folder = service_folder()
    data = folder / "data"
    cert, key = ca.issue(folder, "postgres-server", ips=("127.0.0.1",))
    _own(user, cert, key)
    subprocess.run(
        _as_service(
            [
                postgres_binary("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1,127.0.0.2 -c ssl=on "
        f"-c ssl_cert_file={cert} -c ssl_key_file={key} -c fsync=off "
        "-c max_connections=100 -c shared_buffers=32MB"
    )
    pg_ctl = postgres_binary("pg_ctl")
    subprocess.run(
        _as_service(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield PrivatePostgres(folder, port, ca)
    finally:
        subprocess.run(
            _as_service([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def pgbouncer(postgres: PrivatePostgres, database: str) -> Iterator[int]:
    """Debian's PgBouncer in transaction pooling mode in front of ``postgres``; its port."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise FileNotFoundError("pgbouncer")
    user = service_user()
    folder = service_folder()
    port = free_port()
    config = folder / "pgbouncer.ini"
    config.write_text(
        f"""[databases]
{database} = host=127.0.0.1 port={postgres.port} dbname={database} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 5
max_client_conn = 200
server_tls_sslmode = verify-full
server_tls_ca_file = {postgres.ca.cert_path}
logfile = {folder / "pgbouncer.log"}
pidfile = {folder / "pgbouncer.pid"}
ignore_startup_parameters = extra_float_digits
"""
    )
    _own(user, config)
    postgres.ca.cert_path.chmod(0o644)
    process = subprocess.Popen(_as_service([binary, str(config)]), stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise FileNotFoundError("redis-server")
    return found


def _start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
    except RuntimeError:
        process.kill()
        process.wait(timeout=10)
        raise
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def tls_redis(ca: Authority, folder: Path, *, password: str) -> Iterator[int]:
    """A private ``redis-server`` speaking only TLS (``--port 0 --tls-port``), with a
    password; its port."""
    cert, key = ca.issue(folder, "redis-server", ips=("127.0.0.1",))
    port = free_port()
    process = _start(
        [
            _redis_server(),
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(ca.cert_path),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            "--logfile",
            "redis-tls.log",
        ],
        port,
    )
    try:
        yield port
    finally:
        _stop(process)


@dataclass
class SentinelSet:
    """A master, a replica and one sentinel watching them as ``master_name``."""

    master_port: int
    replica_port: int
    sentinel_port: int
    master_name: str
    master: subprocess.Popen[bytes]

    def kill_master(self) -> None:
        """SIGKILL the master (by its pid): the sentinel promotes the replica a second later."""
        _stop(self.master)


def _wait_for_replica(sentinel_port: int, master_name: str, timeout: float = 20.0) -> None:
    """Until the sentinel knows the replica (it finds it through the master, within a second
    or so): a failover before then has no replica to promote."""
    import time

    from redis import Redis as SyncRedis

    client = SyncRedis(host="127.0.0.1", port=sentinel_port)
    deadline = time.monotonic() + timeout
    try:
        while not any(
            dict(zip(r[::2], r[1::2], strict=True)).get(b"master-link-status") == b"ok"
            for r in client.execute_command("SENTINEL", "REPLICAS", master_name)  # type: ignore[no-untyped-call]
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinel found no replica")
            time.sleep(0.1)
    finally:
        client.close()


@contextlib.contextmanager
def redis_sentinel(
    folder: Path, *, password: str, master_name: str = "lp"
) -> Iterator[SentinelSet]:
    """Redis with a replica and a sentinel, all private, on loopback."""
    server = _redis_server()
    master_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)]
    auth = ["--requirepass", password, "--masterauth", password]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            _start(
                [server, "--port", str(master_port), *common, *auth, "--logfile", "m.log"],
                master_port,
            )
        )
        processes.append(
            _start(
                [
                    server,
                    "--port",
                    str(replica_port),
                    *common,
                    *auth,
                    "--logfile",
                    "r.log",
                    "--replicaof",
                    "127.0.0.1",
                    str(master_port),
                ],
                replica_port,
            )
        )
        config = folder / "sentinel.conf"
        config.write_text(
            f"""port {sentinel_port}
bind 127.0.0.1
dir {folder}
logfile sentinel.log
sentinel monitor {master_name} 127.0.0.1 {master_port} 1
sentinel auth-pass {master_name} {password}
sentinel down-after-milliseconds {master_name} 1000
sentinel failover-timeout {master_name} 5000
"""
        )
        processes.append(_start([server, str(config), "--sentinel"], sentinel_port))
        _wait_for_replica(sentinel_port, master_name)
        yield SentinelSet(master_port, replica_port, sentinel_port, master_name, processes[0])
    finally:
        for process in reversed(processes):
            _stop(process)
