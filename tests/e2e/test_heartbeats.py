"""A heartbeat over HTTP against `make run`'s server: the ping URL works with no key, and
the server's request log names the route as declared, never the secret in the path."""

from urllib.parse import urlsplit

from tests.e2e import client


def test_the_request_log_names_the_ping_route_never_the_secret(start_server):
    local = start_server()
    body = {"service_name": "backups", "name": "nightly", "interval_seconds": 3600}
    made = client.expect(client.post(local.url, "/api/heartbeats/", body), 201)
    path = urlsplit(made["ping_url"]).path
    assert client.expect(client.post(local.url, path, token=None))["status"] == "up"
    assert client.expect(client.get(local.url, path, token=None))["status"] == "up"
    assert client.post(local.url, path + "x", token=None).status == 404

    output = local.output()
    assert output.count('"POST /api/heartbeats/{heartbeat_id}/ping/{secret}" 200') == 1
    assert output.count('"GET /api/heartbeats/{heartbeat_id}/ping/{secret}" 200') == 1
    assert '"POST /api/heartbeats/{heartbeat_id}/ping/{secret}" 404' in output
    assert made["secret"] not in output
