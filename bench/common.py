"""What the benchmarks share: a free port, a Redis database no test run holds, a fresh PostgreSQL
database, percentiles, the launcher that measures a process's peak memory, the result lines.

    python bench/common.py --launcher    (started by `Launcher`, never by hand)
"""
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port():
    """A TCP port on loopback nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_db(base="redis://127.0.0.1:6379"):
    """(url, lock) of a flushed Redis database 1-15 no test run holds (the tests' lock files);
    keep the lock open while the benchmark runs."""
    import redis

    for n in range(15, 0, -1):
        lock = open(f"/tmp/gateway-tests-redis-6379-{n}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        url = f"{base}/{n}"
        redis.Redis.from_url(url).flushdb()
        return url, lock
    raise SystemExit("every Redis database 1-15 is held by a test run")


def percentile(values, fraction):
    """The value below which `fraction` (0-1) of `values` lie (nearest rank)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))]


@contextlib.contextmanager
def pg_database(prefix):
    """The URL of a new, empty PostgreSQL database (local server), dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_on_chosen_database(args, prefix, run):
    """run(args), on a fresh PostgreSQL database (args.database_url) when --postgres was given."""
    if not args.postgres:
        return run(args)
    with pg_database(prefix) as url:
        args.database_url = url
        return run(args)


def result(name, ratio, rss_mb=None):
    """The lines a script reads: `RATIO <name> <value>` (and `RSS_MB <name> <MiB>`), with the load."""
    print(f"LOAD {name} {os.getloadavg()[0]:.2f}")
    print(f"RATIO {name} {ratio:.3f}")
    if rss_mb is not None:
        print(f"RSS_MB {name} {rss_mb:.0f}")


class Launcher:
    """Starts and reaps the measured processes from a small helper process.

    Linux counts a child's RSS at exec time into its ru_maxrss: a process forked from this
    (large, by then) benchmark would report at least our size. Forked from the small launcher,
    each measured process reports its own peak, work horses included (wait4 ru_maxrss)."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--launcher"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def _ask(self, **message):
        self.proc.stdin.write(json.dumps(message) + "\n")
        return json.loads(self.proc.stdout.readline())

    def start(self, cmd, *, env=None, log=None):
        return self._ask(start=cmd, env=env, log=log)["pid"]

    def signal(self, pid, sig):
        self._ask(signal=pid, sig=int(sig))

    def reap(self, pid):
        """(exit code, peak RSS in MiB, output)."""
        answer = self._ask(reap=pid)
        return answer["rc"], answer["maxrss_kib"] / 1024, answer["output"]

    def stop(self, pid):
        """SIGTERM `pid` until it exits (a busy worker finishes its job first), SIGKILL after 30 s;
        then as `reap`."""
        answer = self._ask(stop=pid)
        return answer["rc"], answer["maxrss_kib"] / 1024, answer["output"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def launcher():
    """The launcher's loop: JSON requests on stdin, answers on stdout."""
    children = {}
    for line in sys.stdin:
        msg = json.loads(line)
        if "start" in msg:
            out = open(msg["log"], "a") if msg.get("log") else subprocess.PIPE
            p = subprocess.Popen(msg["start"], cwd=ROOT, env=msg.get("env"), stdout=out,
                                 stderr=subprocess.STDOUT if msg.get("log") else subprocess.DEVNULL, text=True)
            children[p.pid] = p
            answer = {"pid": p.pid}
        elif "signal" in msg:
            p = children[msg["signal"]]
            if p.returncode is None:
                os.kill(p.pid, msg["sig"])
            answer = {}
        else:
            p = children.pop(msg.get("reap") or msg["stop"])
            if "stop" in msg:
                _terminate(p.pid)
            output = p.stdout.read() if p.stdout else ""
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            answer = {"rc": p.returncode, "maxrss_kib": usage.ru_maxrss, "output": output}
        print(json.dumps(answer), flush=True)
    for p in children.values():  # the benchmark went away: leave nothing running
        if p.poll() is None:
            p.kill()


def _terminate(pid, patience=30):
    # Leaves the exited child unreaped (waitid WNOWAIT), for wait4 to collect with its usage.
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGTERM)
        for _ in range(15):
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return
            time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


if __name__ == "__main__" and sys.argv[1:] == ["--launcher"]:
    launcher()
