"""The service's own health record, and asking a service for it over HTTP."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from shared.serving import health


def test_ok_until_half_of_the_recent_requests_fail_in_the_model():
    record = health.Health(window=4)
    assert record.report() == {"status": "ok", "reasons": [], "recent_requests": 0,
                               "recent_model_failures": 0}
    record.scored(3)
    record.model_failed("1 invalid score(s)")
    assert record.report()["status"] == "ok"  # 1 of 4
    record.model_failed("ValueError: boom")
    report = record.report()
    assert report["status"] == "degraded" and report["recent_model_failures"] == 2
    assert "2 of the last 4 requests failed in the model" in report["reasons"][0]
    assert "ValueError: boom" in report["reasons"][0]
    record.scored(4)  # the failures leave the window: it recovers by itself
    assert record.report()["status"] == "ok"


def test_a_failed_log_write_degrades_until_a_write_succeeds():
    record = health.Health()
    record.log_failed("database is locked")
    assert record.report()["status"] == "degraded"
    assert "database is locked" in record.reasons()[0]
    record.log_written()
    assert record.report()["status"] == "ok"


def test_limits_are_checked():
    with pytest.raises(ValueError):
        health.Health(window=0)
    with pytest.raises(ValueError):
        health.Health(max_failed_share=0)


@pytest.fixture
def health_server() -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """A real HTTP server on loopback answering each GET with the next (status, body)."""
    answers: list[tuple[int, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            status, body = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health", answers
    finally:
        server.shutdown()
        server.server_close()


def test_check_url_reads_ok_degraded_and_garbage(health_server):
    url, answers = health_server
    answers += [(200, json.dumps({"status": "ok", "reasons": []}).encode()),
                (503, json.dumps({"status": "degraded", "reasons": ["log"]}).encode()),
                (200, b"<html>not the service</html>")]
    assert health.check_url(url)["status"] == "ok"
    assert health.check_url(url) == {"status": "degraded", "reasons": ["log"]}
    assert health.check_url(url)["status"] == "unreachable"


def test_check_url_says_why_it_cannot_reach_the_service():
    refused = health.check_url("http://127.0.0.1:9/health", timeout=2)
    assert refused["status"] == "unreachable" and "cannot be reached" in refused["reasons"][0]
    assert "not an http(s) URL" in health.check_url("file:///etc/passwd")["reasons"][0]
