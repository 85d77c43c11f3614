import os
import signal
import subprocess
import sys
import time

import redis

from bot.infra.redis.embedded import EmbeddedRedis
from tests.conftest import ROOT


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def test_started_once_shared_and_stopped_by_pid(tmp_path):
    server = EmbeddedRedis(tmp_path)
    assert server.ensure() is True
    pid = server.pid()
    try:
        assert oct(server.socket.stat().st_mode & 0o777) == "0o700"
        # another process of the group finds the running server instead of starting one
        code = ("from bot.infra.redis.embedded import EmbeddedRedis; import sys; "
                f"e = EmbeddedRedis({str(tmp_path)!r}); sys.exit(0 if e.ensure() is False else 1)")
        assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
        client = redis.Redis(unix_socket_path=str(server.socket))
        client.set("k", "v")  # a connected client does not keep it alive past stop()
        assert EmbeddedRedis(tmp_path).pid() == pid
    finally:
        server.stop()
    assert not _alive(pid) and not server.socket.exists() and not server.pidfile.exists()


def test_server_dies_with_a_killed_owner(tmp_path):
    code = ("from bot.infra.redis.embedded import EmbeddedRedis; import time; "
            f"EmbeddedRedis({str(tmp_path)!r}).ensure(); print('up', flush=True); time.sleep(60)")
    owner = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE)
    assert owner.stdout.readline().strip() == b"up"
    pid = EmbeddedRedis(tmp_path).pid()
    assert pid and _alive(pid)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_stale_pidfile_replaced(tmp_path):
    (tmp_path / "redis.pid").write_text("999999")
    server = EmbeddedRedis(tmp_path)
    try:
        assert server.ensure() is True and server.answers()
    finally:
        server.stop()


def test_the_embedded_server_keeps_its_data_across_a_restart(tmp_path):
    import redis

    from bot.infra.redis.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path)
    server.ensure()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("kept", "yes")
        client.close()
        server.stop()  # SIGTERM: the server writes its snapshot and exits
        assert (tmp_path / "redis.rdb").exists()
        server.ensure()
        assert redis.Redis.from_url(server.url).get("kept") == b"yes"
    finally:
        server.stop()
