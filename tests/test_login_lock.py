"""The console's log-in lock (five wrong passwords lock a login and address for 15 minutes) when
Redis, which keeps its counts, is unreachable: officials still log in, nothing is counted."""
import logging
import socket

import redis as redis_lib

from tests.console_helpers import csrf


def redis_down(app):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.extensions["gateway.redis"] = redis_lib.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)


def attempt(client, password):
    token = csrf(client)
    return client.post("/console/login", data={"login": "admin", "password": password, "csrf_token": token})


def test_with_redis_down_the_right_password_logs_in(app, client, demo, caplog):
    redis_down(app)
    with caplog.at_level(logging.WARNING, logger="gateway.console.views"):
        response = attempt(client, "demo1234")
    assert response.status_code == 302 and response.location == "/console/"
    assert client.get("/console/").status_code == 200  # the session is an official's
    assert "console login lock not counted: Redis is unreachable" in caplog.text


def test_with_redis_down_a_wrong_password_is_refused_and_not_counted(app, client, demo):
    redis_down(app)
    for _ in range(6):
        response = attempt(client, "nope")
        assert response.status_code == 401
        assert "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(as_text=True)
    assert attempt(client, "demo1234").status_code == 302  # no lock was counted meanwhile


def test_with_redis_up_the_lock_counts_and_a_right_password_clears_it(app, client, demo):
    conn = app.extensions["gateway.redis"]
    for _ in range(4):
        assert attempt(client, "nope").status_code == 401
    key, = conn.keys("console:login-failures:admin:*")
    assert int(conn.get(key)) == 4 and 0 < conn.ttl(key) <= 15 * 60
    assert attempt(client, "demo1234").status_code == 302
    assert conn.get(key) is None
