"""A real Kannel for the tests: bearerbox and smsbox (Debian `kannel`) with `fakesmsc`
(`kannel-extras`) as the SMSC, on free loopback ports, and the app served on loopback so
smsbox can call its get-url and dlr-url."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from urllib.parse import unquote_to_bytes

import pytest
import requests
from werkzeug.serving import make_server

BEARERBOX = shutil.which("bearerbox") or "/usr/sbin/bearerbox"
SMSBOX = shutil.which("smsbox") or "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SECRET = "kannel-test-secret"
SHORT_CODE = "8079"
# "Got message 3: <8079 +84912345678 text Bao cao so 12 da nhan>"
GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) ?(.*)>\s*$")


def have_kannel():
    return all(os.access(p, os.X_OK) for p in (BEARERBOX, SMSBOX, FAKESMSC))


needs_kannel = pytest.mark.skipif(not have_kannel(),
                                  reason="Debian kannel and kannel-extras (scripts/services.sh installs them)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


CONF = """\
group = core
admin-port = {admin}
admin-password = {admin_password}
status-password = {admin_password}
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox}
box-allow-ip = "127.0.0.1"
log-file = "{dir}/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake1
port = {smsc}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
log-file = "{dir}/smsbox.log"
log-level = 1
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = gateway
password = {password}
concatenation = true
max-messages = 10

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "{web}/sms/kannel/inbound?secret={secret}&from=%p&to=%P&text=%a&id=%I&smsc=%i&coding=%c&charset=%C"
"""


class Kannel:
    """bearerbox + smsbox with a fake SMSC, configured in `directory`."""

    def __init__(self, directory, web_url):
        self.dir = str(directory)
        self.ports = {k: free_port() for k in ("admin", "smsbox", "smsc", "sendsms")}
        self.password, self.admin_password = "sendsms-pass", "admin-pass"
        self.conf = os.path.join(self.dir, "kannel.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=self.dir, web=web_url, secret=SECRET, password=self.password,
                                admin_password=self.admin_password, **self.ports))
        self.procs = []

    def start(self):
        out = open(os.path.join(self.dir, "boxes.out"), "a")
        self.procs.append(subprocess.Popen([BEARERBOX, self.conf], stdout=out, stderr=subprocess.STDOUT))
        wait_until(lambda: port_open(self.ports["admin"]) and port_open(self.ports["smsbox"]), 20, "bearerbox")
        self.procs.append(subprocess.Popen([SMSBOX, self.conf], stdout=out, stderr=subprocess.STDOUT))
        wait_until(lambda: port_open(self.ports["sendsms"]), 20, "smsbox")
        return self

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def config(self, web_url):
        """The gateway's settings for this Kannel."""
        return {
            "KANNEL_SENDSMS_URL": f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms",
            "KANNEL_USERNAME": "gateway", "KANNEL_PASSWORD": self.password, "KANNEL_SECRET": SECRET,
            "KANNEL_FROM": SHORT_CODE, "KANNEL_CALLBACK_URL": web_url,
            "KANNEL_ADMIN_URL": f"http://127.0.0.1:{self.ports['admin']}",
            "KANNEL_ADMIN_PASSWORD": self.admin_password,
        }

    def status(self):
        return requests.get(f"http://127.0.0.1:{self.ports['admin']}/status.xml",
                            params={"password": self.admin_password}, timeout=5).text

    def smsc_online(self):
        return "<status>online" in self.status()

    def log(self):
        parts = []
        for name in ("bearerbox.log", "smsbox.log"):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    parts.append(f"--- {name}\n" + f.read()[-3000:])
        return "\n".join(parts)


class FakeSMSC:
    """Kannel's `fakesmsc`: sends the given MO messages ("sender receiver text words…") to
    bearerbox, then stays connected and collects every MT message it is given."""

    def __init__(self, kannel, messages=(), interval=0.2):
        # Its stdout is a pipe read line by line: fakesmsc writes each line as it happens.
        args = [FAKESMSC, "-H", "127.0.0.1", "-r", str(kannel.ports["smsc"]), "-i", str(interval),
                "-m", str(len(messages) or 1)]
        self.proc = subprocess.Popen(args + list(messages or [f"+84900000000 {SHORT_CODE} text"]),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.received, self.lines = [], []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("latin-1").rstrip("\n")
            self.lines.append(line)
            found = GOT.search(line)
            if found:
                sender, receiver, kind, data = found.groups()
                with self._lock:
                    self.received.append((sender, receiver, kind, decode(kind, data)))

    def messages(self):
        with self._lock:
            return list(self.received)

    def per_receiver(self):
        return Counter(r for _, r, _, _ in self.messages())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)


def decode(kind, data):
    """An MT message's text as fakesmsc prints it: plain, URL-encoded bytes, or URL-encoded UCS-2."""
    if kind == "text":
        return data
    raw = unquote_to_bytes(data.replace("+", "%20")) if kind in ("data", "ucs-2", "ucs2") else data.encode()
    return raw.decode("utf-16-be") if kind in ("ucs-2", "ucs2") else raw.decode("latin-1")


class LiveServer:
    """The app served by werkzeug on a free loopback port, in a thread (smsbox calls it)."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(10)
