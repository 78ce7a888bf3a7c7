"""API keys: where they come from, how they are compared, and that short ones are refused."""

import asyncio

import pytest

from shared.serving import guards
from shared.serving.guards import ApiKeyError, key_matches, load_keys

KEY = "k" * 8 + "0123456789abcdef"
OTHER = "another-long-key-0123456789"


def test_keys_come_from_a_file_and_the_environment(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(f"# service keys\n{KEY}\n\n", encoding="utf-8")
    digests = load_keys(path, {guards.KEYS_VARIABLE: f" {OTHER}, {KEY} "})
    assert len(digests) == 2  # the same key twice counts once
    assert key_matches(KEY, digests) and key_matches(OTHER, digests)
    assert not key_matches(KEY[:-1], digests) and not key_matches("", digests)
    assert load_keys(None, {}) == ()


def test_only_digests_are_kept(tmp_path):
    digests = load_keys(None, {guards.KEYS_VARIABLE: KEY})
    assert all(KEY.encode() not in digest for digest in digests)


@pytest.mark.parametrize("content", ["short\n", "# only a comment\n", "has a space in it 1234567\n"])
def test_unusable_key_files_are_refused_without_showing_the_key(tmp_path, content):
    path = tmp_path / "keys.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ApiKeyError) as error:
        load_keys(path, {})
    assert "short" not in str(error.value).replace("shorter", "")


def test_a_missing_key_file_is_refused(tmp_path):
    with pytest.raises(ApiKeyError, match="cannot read the API key file"):
        load_keys(tmp_path / "absent.txt", {})


def _call(app, path: str, client: str = "127.0.0.1") -> tuple[asyncio.Task, list[dict]]:
    """Start one ASGI request to ``app`` (its task) and collect what it sends."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": [], "client": (client, 5000)}
    return asyncio.ensure_future(app(scope, receive, send)), sent


def test_load_is_shed_only_past_the_stated_number_of_requests_in_flight():
    async def scenario() -> tuple[list[list[dict]], list[dict], list[dict], dict]:
        release = asyncio.Event()

        async def slow_app(scope, receive, send) -> None:
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        limit = guards.ConcurrencyLimit(slow_app, 4)
        calls = [_call(limit, "/predict") for _ in range(4)]
        await asyncio.sleep(0)
        over, over_sent = _call(limit, "/predict")
        probe, probe_sent = _call(limit, "/health")  # never counted, never shed
        await over
        release.set()
        await asyncio.gather(probe, *(task for task, _ in calls))
        after, after_sent = _call(limit, "/predict")  # room again, at once
        await after
        return [sent for _, sent in calls], over_sent, probe_sent + after_sent, limit.report()

    answered, shed, others, report = asyncio.run(scenario())
    assert [sent[0]["status"] for sent in answered] == [200] * 4
    assert shed[0]["status"] == 503 and (b"retry-after", b"1") in shed[0]["headers"]
    assert b"limit of 4 requests in flight" in shed[1]["body"]
    assert [m["status"] for m in others if "status" in m] == [200, 200]
    assert report == {"in_flight": 0, "peak_in_flight": 4, "max_concurrency": 4, "shed": 1}


def test_without_keys_the_admin_paths_answer_this_machine_only():
    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario() -> dict[tuple[str, str], int]:
        statuses = {}
        for path in ("/admin/reload", "/predict"):
            for client in ("127.0.0.1", "::1", "203.0.113.7"):
                task, sent = _call(guards.LoopbackAdmin(app), path, client)
                await task
                statuses[path, client] = sent[0]["status"]
        return statuses

    statuses = asyncio.run(scenario())
    assert statuses.pop(("/admin/reload", "203.0.113.7")) == 403
    assert set(statuses.values()) == {200}


def test_each_key_has_a_public_name_that_is_neither_the_key_nor_its_digest():
    digests = load_keys(None, {guards.KEYS_VARIABLE: f"{KEY} {OTHER}"})
    assert guards.matching_digest(OTHER, digests) == digests[1]
    assert guards.matching_digest("not-a-key-" + "x" * 20, digests) is None
    names = {guards.key_id(KEY), guards.key_id(OTHER)}
    assert len(names) == 2 and all(len(name) == 16 for name in names)
    assert guards.key_id(KEY) == guards.key_id_of_digest(digests[0])
    assert KEY not in guards.key_id(KEY) and guards.key_id(KEY) not in digests[0].hex()
