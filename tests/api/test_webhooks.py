"""Webhooks through the API: registered, told of job ends with a real POST, signed, retried, logged.

The receiver is a real HTTP server on loopback (so these studios allow private addresses);
the refusal of private addresses is tested with a studio that does not.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.api.conftest import BASE, bearer, finished_job, routes, token_for
from tests.support.studios import fresh_studio
from visionary_app.services.webhooks import SignatureInvalid, verify
from visionary_app.settings import get_settings


class Receiver:
    """A loopback HTTP server that records each POST and answers with the statuses it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []  # used in turn; 200 once they run out
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.received.append((headers, body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


async def _studio(monkeypatch, tmp_path, **settings):
    built = fresh_studio(
        monkeypatch, tmp_path, access_users="alice:alice-password,bob:bob-password",
        webhook_retry_seconds="0.2,0.2", webhook_timeout_seconds="2", **settings,
    )  # fmt: skip
    # Long: a job end wakes the sender, and it sleeps until the next retry is due; nothing
    # here waits for the safety poll.
    built.webhooks.poll_s = 60
    return built


@pytest.fixture
async def hooked(tmp_path, monkeypatch) -> AsyncIterator[tuple]:
    """A studio whose webhooks may reach loopback, its sender running, and an API client."""
    studio = await _studio(monkeypatch, tmp_path, webhooks_allow_private="true")
    sender = asyncio.create_task(studio.webhooks.run())
    transport = httpx.ASGITransport(app=routes())
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield studio, client
    sender.cancel()
    await studio.aclose()
    get_settings.cache_clear()


async def _deliveries(client, headers, hook_id, *, until, timeout_s=15.0) -> list[dict]:
    for _ in range(int(timeout_s * 20)):
        answer = await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=headers)
        assert answer.status_code == 200, answer.text
        found = answer.json()["deliveries"]
        if until(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"the deliveries never got there: {found}")


async def test_a_job_end_is_posted_signed_and_logged(hooked, receiver):
    studio, client = hooked
    alice = bearer(await token_for(studio, "alice"))
    made = await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=alice)
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["secret"].startswith("whsec_")
    assert (
        "secret" not in (await client.get("/api/v1/webhooks", headers=alice)).json()["webhooks"][0]
    )

    job = (await client.post("/api/v1/generations", json={"prompt": "a fox"}, headers=alice)).json()
    ended = await finished_job(client, alice, job["id"])
    log = await _deliveries(
        client, alice, hook["id"], until=lambda found: found and found[0]["status"] != "pending"
    )

    assert [(d["status"], d["attempts"], d["response_status"]) for d in log] == [
        ("delivered", 1, 200)
    ]
    assert log[0]["event"] == "job.succeeded" and log[0]["job_id"] == job["id"]
    ((headers, body),) = receiver.received
    verify(hook["secret"], headers, body)  # raises if the signature, digest or time is off
    assert headers["webhook-id"] == log[0]["id"]
    payload = json.loads(body)
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["job_id"] == job["id"]
    assert payload["data"]["image_ids"] == ended["image_ids"]
    with pytest.raises(SignatureInvalid):
        verify(hook["secret"], headers, body.replace(b"a fox", b"a cat"))
    with pytest.raises(SignatureInvalid):
        verify(studio.webhooks.secret(__import__("uuid").uuid4()), headers, body)


async def test_a_failed_delivery_is_retried_with_the_same_id_then_given_up(hooked, receiver):
    studio, client = hooked
    alice = bearer(await token_for(studio, "alice"))
    hook = (await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=alice)).json()

    receiver.answers = [500]  # the first attempt fails, the retry gets through
    first = (await client.post("/api/v1/generations", json={"prompt": "one"}, headers=alice)).json()
    await finished_job(client, alice, first["id"])
    log = await _deliveries(
        client, alice, hook["id"], until=lambda found: found and found[0]["status"] == "delivered"
    )
    assert log[0]["attempts"] == 2 and log[0]["response_status"] == 200
    assert [h["webhook-id"] for h, _ in receiver.received] == [log[0]["id"]] * 2

    receiver.answers = [503, 503, 503]  # every attempt fails: 1 + 2 retries, then failed
    second = (
        await client.post("/api/v1/generations", json={"prompt": "two"}, headers=alice)
    ).json()
    await finished_job(client, alice, second["id"])
    log = await _deliveries(
        client, alice, hook["id"],
        until=lambda found: len(found) == 2 and found[0]["status"] == "failed",
    )  # fmt: skip
    assert log[0]["job_id"] == second["id"]
    assert (log[0]["attempts"], log[0]["response_status"]) == (3, 503)
    assert log[0]["error"] == "The receiver answered 503."
    assert len(receiver.received) == 5


async def test_a_cancelled_job_is_told_and_strangers_see_no_webhook(hooked, receiver):
    studio, client = hooked
    alice = bearer(await token_for(studio, "alice"))
    bob = bearer(await token_for(studio, "bob"))
    hook = (await client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=alice)).json()

    assert (await client.get("/api/v1/webhooks", headers=bob)).json() == {"webhooks": []}
    path = f"/api/v1/webhooks/{hook['id']}"
    assert (await client.get(f"{path}/deliveries", headers=bob)).status_code == 404
    assert (await client.delete(path, headers=bob)).status_code == 404

    job = await studio.runner.submit(
        "user:alice", "[slow] never mind", studio.pipeline.default_options()
    )
    assert await studio.runner.cancel(job.id, "user:alice")
    log = await _deliveries(
        client, alice, hook["id"], until=lambda found: found and found[0]["status"] == "delivered"
    )
    assert log[0]["event"] == "job.cancelled"
    assert json.loads(receiver.received[0][1])["data"]["error"] == "Cancelled."

    assert (await client.delete(path, headers=alice)).status_code == 204
    assert (await client.get("/api/v1/webhooks", headers=alice)).json() == {"webhooks": []}


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "https://"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("https://example.com/a b", "spaces"),
        ("https://", "no host"),
    ],
)
async def test_a_url_of_the_wrong_form_is_refused(hooked, url, why):
    studio, client = hooked
    alice = bearer(await token_for(studio, "alice"))
    answer = await client.post("/api/v1/webhooks", json={"url": url}, headers=alice)
    assert answer.status_code == 422 and why in answer.json()["detail"]


@pytest.fixture
async def guarded(tmp_path, monkeypatch) -> AsyncIterator[tuple]:
    """A studio as shipped: webhooks may not reach private addresses."""
    studio = await _studio(monkeypatch, tmp_path)
    transport = httpx.ASGITransport(app=routes())
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield studio, client
    await studio.aclose()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("http://[::ffff:192.168.1.1]/hook", "private"),
    ],
)
async def test_private_addresses_are_refused_unless_an_admin_allows_them(guarded, url, why):
    studio, client = guarded
    alice = bearer(await token_for(studio, "alice"))
    answer = await client.post("/api/v1/webhooks", json={"url": url}, headers=alice)
    assert answer.status_code == 422 and why in answer.json()["detail"], answer.text


async def test_an_address_that_turns_private_is_refused_when_sending(guarded, receiver):
    """DNS rebinding: a URL registered while it looked public reaches loopback later."""
    studio, _client = guarded
    webhooks = studio.webhooks
    webhooks.allow_private = True  # registered as if its name had resolved to a public address
    hook = await webhooks.register("user:alice", receiver.url)
    webhooks.allow_private = False
    job = await studio.runner.submit("user:alice", "[slow] x", studio.pipeline.default_options())
    await studio.runner.cancel(job.id, "user:alice")

    assert await webhooks.deliver_due() == 1
    [(delivery, _url)] = await webhooks.deliveries("user:alice", hook.id)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "loopback" in delivery.error
    assert receiver.received == []
