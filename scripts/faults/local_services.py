"""Throwaway PostgreSQL and Redis servers for the production tests, fault scripts and benchmark.

Each starts from the installed binaries (Debian's postgresql and redis-server packages) in a
temporary folder, on a free port, bound to 127.0.0.1, and is removed when it stops. Nothing here
ever connects to, restarts or stops a server it did not start: a developer's own databases are
not test fixtures.

    with LocalServices() as services:
        services.admin_url   # postgresql://postgres@127.0.0.1:PORT/postgres
        services.redis_port
        services.postgres.restart()   # a fast restart, as in a fail-over
        services.redis.stop(); services.redis.start()
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps them apart), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing() -> str:
    """Why throwaway servers cannot start here, or "" when the binaries are installed."""
    if postgres_bin() is None:
        return "PostgreSQL's server binaries are not installed (apt-get install postgresql)"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    return ""


class LocalPostgres:
    """A PostgreSQL cluster of its own. As root, it runs as the `postgres` user (initdb refuses
    root), in a folder that user owns."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError(missing())
        self.folder = Path(tempfile.mkdtemp(prefix="upwell-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres", "postgres")
            self.folder.chmod(0o700)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self._as, *args], check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def start(self) -> LocalPostgres:
        if not (self.data / "PG_VERSION").exists():
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        options = f"-p {self.port} -k {self.folder} -c listen_addresses={HOST} -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def restart(self) -> None:
        """A fast restart: open connections are cut, as in a fail-over."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses={HOST} -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        )

    def is_running(self) -> bool:
        result = subprocess.run(
            [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return result.returncode == 0

    def ensure_running(self) -> None:
        if not self.is_running():
            self.start()

    def stop(self) -> None:
        if self.data.exists() and self.is_running():
            subprocess.run(
                [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


class LocalRedis:
    """A redis-server of its own: no persistence, its own folder and port."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="upwell-redis-"))
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=HOST, port=self.port, socket_timeout=2).ping())
        except redis.RedisError:
            return False

    def start(self) -> LocalRedis:
        if self.proc is not None and self.proc.poll() is None:
            return self
        log = open(self.folder / "redis.log", "ab")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                HOST,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {self.folder / 'redis.log'}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        """Stop it as an outage would (the folder stays, so it can start again)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class LocalServices:
    """Both, started together and removed together."""

    def __init__(self) -> None:
        self.postgres = LocalPostgres()
        self.redis = LocalRedis()

    @property
    def admin_url(self) -> str:
        return self.postgres.admin_url

    @property
    def redis_host(self) -> str:
        return HOST

    @property
    def redis_port(self) -> int:
        return self.redis.port

    def __enter__(self) -> LocalServices:
        try:
            self.postgres.start()
            self.redis.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.redis.close()
        self.postgres.stop()
