"""The console's files: served with a strict Content-Security-Policy header that also
forbids framing (which a meta element cannot), the same policy index.html carries."""

import re

from chalicelib import console


def directives(policy: str) -> dict[str, str]:
    found = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            found[name] = value.strip()
    return found


def test_every_console_file_comes_with_the_policy_and_no_sniffing(client):
    for path in ("/", "/console/console.css", "/console/favicon.svg"):
        answer = client.anonymous.get(path)
        assert answer.status_code == 200, path
        policy = directives(answer.headers["Content-Security-Policy"])
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'", path
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert answer.headers["Referrer-Policy"] == "no-referrer", path


def test_the_page_repeats_the_header_policy_but_framing_which_only_a_header_can_forbid():
    page = (console.ROOT / "index.html").read_text()
    [meta] = re.findall(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', page)
    header = directives(console.CONTENT_SECURITY_POLICY)
    assert header.pop("frame-ancestors") == "'none'"
    assert directives(meta) == header


def test_nothing_but_a_console_file_is_served(client):
    for name in ("..%2Fapp.py", "missing.js", ".hidden.css", "console.py"):
        assert client.anonymous.get(f"/console/{name}").status_code == 404, name
