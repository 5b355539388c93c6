"""The servers the tests start: ranges as HTTP says, faults as asked, nothing beyond 127.0.0.1."""

from __future__ import annotations

import http.client
import time

import pytest

from .servers import HOST, Faults, RangeServer


@pytest.fixture
def served(tmp_path):
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 40)  # 10240 bytes
    return tmp_path


def get(server: RangeServer, headers: dict | None = None, method: str = "GET"):
    connection = http.client.HTTPConnection(HOST, server.port, timeout=10)
    try:
        connection.request(method, "/data.bin", headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_ranges_single_multiple_and_the_whole_file(served):
    content = (served / "data.bin").read_bytes()
    with RangeServer(served) as server:
        assert server.url("data.bin").startswith(f"http://{HOST}:")
        status, headers, body = get(server, {"Range": "bytes=10-19"})
        assert (status, body, headers["Content-Range"]) == (206, content[10:20],
                                                            "bytes 10-19/10240")
        status, headers, body = get(server, {"Range": "bytes=0-3,100-103"})
        assert status == 206 and headers["Content-Type"].startswith("multipart/byteranges")
        assert content[0:4] in body and content[100:104] in body
        status, _, body = get(server)
        assert (status, body) == (200, content)
        status, headers, _ = get(server, method="HEAD")
        assert status == 200 and headers["Content-Length"] == "10240"
        assert get(server, {"Range": "bytes=20000-20010"})[0] == 416
        assert server.traffic.fetched("data.bin") == [(10, 19), (0, 3), (100, 103), (0, 10239)]
        assert server.traffic.requests == 5


@pytest.mark.parametrize("fault, status", [("503", 503), ("429", 429)])
def test_http_errors(served, fault, status):
    with RangeServer(served, faults=Faults(next=[fault])) as server:
        assert get(server, {"Range": "bytes=0-9"})[0] == status
        assert get(server, {"Range": "bytes=0-9"})[0] == 206  # the next one is served
        assert server.traffic.faults == {fault: 1}


@pytest.mark.parametrize("fault", ["cut", "short"])
def test_cut_and_short_bodies(served, fault):
    with RangeServer(served, faults=Faults(next=[fault])) as server:
        with pytest.raises(http.client.IncompleteRead):
            get(server, {"Range": "bytes=0-999"})
        assert server.traffic.faults == {fault: 1} and server.traffic.fetched("data.bin") == []


def test_drawn_faults_and_latency(served):
    with RangeServer(served, latency=0.05, faults=Faults(rate=0.5, kinds=("503",),
                                                         seed=3)) as server:
        started = time.monotonic()
        statuses = [get(server, {"Range": "bytes=0-9"})[0] for _ in range(20)]
        assert time.monotonic() - started >= 20 * 0.05
        assert server.traffic.faults["503"] == statuses.count(503)
    assert 0 < statuses.count(503) < 20 and set(statuses) == {206, 503}


def test_a_stopped_server_refuses(served):
    server = RangeServer(served).start()
    port = server.port
    server.stop()
    server.stop()  # twice: nothing more to do
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    with pytest.raises(OSError):
        connection.request("GET", "/data.bin")
        connection.getresponse()
