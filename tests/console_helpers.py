"""Helpers for the console tests: log in through the real form, read CSRF tokens from pages."""
import re

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf(client, path="/console/login"):
    """The session's CSRF token, as a page carries it."""
    html = client.get(path).get_data(as_text=True)
    return CSRF.search(html).group(1)


def login(client, name="admin", password="demo1234"):
    """Log in through the form; returns the CSRF token of the new session."""
    token = csrf(client)
    resp = client.post("/console/login", data={"login": name, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return csrf(client, "/console/downloads")


def post(client, path, token, data=None, **kwargs):
    """A form POST carrying the CSRF token."""
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


def post_json(client, path, token, data):
    return client.post(path, json=data, headers={"X-CSRF-Token": token})
