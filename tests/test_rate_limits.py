"""Rate limits on the public chat endpoint (issue 7, part 2): per client address
and per conversation, 429 JSON with Retry-After, X-Forwarded-For trusted only
through PRESCREEN_TRUSTED_PROXIES, shared across app instances through Redis."""

from __future__ import annotations

import uuid

import pytest

from chatkit import CRITERIA, WEBHOOK, make_app, store_of, user_events
from dbkit import redis_url, run_sender  # noqa: F401  (fixture)

LIMITS = "5 per minute|3 per minute"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.setenv("PRESCREEN_CRITERIA", CRITERIA)
    for name in ("PRESCREEN_TRUSTED_PROXIES", "PRESCREEN_RATE_LIMITS", "PRESCREEN_RATELIMIT_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def apps(tmp_path):
    made = []

    def build(**config):
        app = make_app(tmp_path / "rl.sqlite3", **config)
        made.append(app)
        return app

    yield build
    for app in made:
        store_of(app).engine.dispose()


def send(client, sender, n, address="10.1.1.1", headers=None, message="help"):
    return client.post(WEBHOOK, json={"sender": sender, "message": message, "metadata": {"message_id": f"{sender}-{n}"}},
                       environ_base={"REMOTE_ADDR": address}, headers=headers or {})


def assert_429(response):
    assert response.status_code == 429, (response.status_code, response.get_data(as_text=True)[:200])
    assert response.content_type.startswith("application/json")
    data = response.get_json()
    assert isinstance(data.get("error"), str) and data["error"]
    assert data.get("retry") is True
    retry_after = response.headers.get("Retry-After")
    assert retry_after is not None, dict(response.headers)
    assert retry_after.isdigit() and 0 < int(retry_after) <= 60, retry_after


def test_the_fourth_message_of_one_conversation_is_429_with_retry_after(apps):
    app = apps(RATE_LIMITS=LIMITS)
    client = app.test_client()
    sender = run_sender("conv")
    for n in range(3):
        assert send(client, sender, n).status_code == 200
    refused = send(client, sender, 3)
    assert_429(refused)
    # the refused message is not stored: three turns, whole
    assert len(user_events(store_of(app).events(sender))) == 3
    # another conversation from the same address still gets through (the address has 5)
    assert send(client, run_sender("other"), 0).status_code == 200


def test_conversations_from_one_address_share_the_per_address_limit(apps):
    app = apps(RATE_LIMITS=LIMITS)
    client = app.test_client()
    codes = [send(client, run_sender(f"addr{i}"), 0, address="10.2.2.2").status_code for i in range(5)]
    assert codes == [200] * 5
    assert_429(send(client, run_sender("addr-sixth"), 0, address="10.2.2.2"))
    # another address is another client
    assert send(client, run_sender("elsewhere"), 0, address="10.2.2.3").status_code == 200


def test_malformed_requests_count_against_the_address(apps):
    """A scanner sending garbage is limited too (and still gets JSON)."""
    app = apps(RATE_LIMITS=LIMITS)
    client = app.test_client()
    codes = [client.post(WEBHOOK, data=b"garbage", content_type="application/json",
                         environ_base={"REMOTE_ADDR": "10.3.3.3"}).status_code for _ in range(8)]
    assert codes[:3] == [400] * 3          # without a sender, both limits key on the address
    assert set(codes[5:]) == {429}


def test_off_disables_the_limits(apps):
    app = apps(RATE_LIMITS="off")
    client = app.test_client()
    sender = run_sender("off")
    codes = [send(client, sender, n).status_code for n in range(12)]
    assert codes == [200] * 12


def test_off_is_case_insensitive_and_the_env_variable_works(apps, monkeypatch):
    monkeypatch.setenv("PRESCREEN_RATE_LIMITS", "OFF")
    app = apps(RATE_LIMITS=None)
    client = app.test_client()
    sender = run_sender("envoff")
    assert [send(client, sender, n).status_code for n in range(8)] == [200] * 8


def test_behind_a_trusted_proxy_forwarded_addresses_are_different_clients(apps):
    app = apps(RATE_LIMITS=LIMITS, TRUSTED_PROXIES=1)
    client = app.test_client()
    proxy = "10.9.9.9"
    # 8 patients behind the hospital proxy, one message each: more than 5 from the proxy's address
    for i in range(8):
        response = send(client, run_sender(f"behind{i}"), 0, address=proxy,
                        headers={"X-Forwarded-For": f"192.168.0.{i + 1}"})
        assert response.status_code == 200, (i, response.get_json())
    # one patient behind it is still limited by its own address
    codes = [send(client, run_sender(f"same{i}"), 0, address=proxy,
                  headers={"X-Forwarded-For": "192.168.1.1"}).status_code for i in range(6)]
    assert codes == [200] * 5 + [429]


def test_with_a_trusted_proxy_only_the_last_hop_is_believed(apps):
    """With one trusted proxy, a client cannot escape by prepending addresses of its own."""
    app = apps(RATE_LIMITS=LIMITS, TRUSTED_PROXIES=1)
    client = app.test_client()
    codes = [send(client, run_sender(f"chain{i}"), 0, address="10.9.9.9",
                  headers={"X-Forwarded-For": f"1.2.3.{i}, 172.16.0.5"}).status_code for i in range(6)]
    assert codes == [200] * 5 + [429]


def test_without_trusted_proxies_x_forwarded_for_is_ignored(apps):
    app = apps(RATE_LIMITS=LIMITS)
    client = app.test_client()
    codes = [send(client, run_sender(f"spoof{i}"), 0, address="10.4.4.4",
                  headers={"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"203.0.113.{i}",
                           "Forwarded": f"for=203.0.113.{i}"}).status_code for i in range(7)]
    assert codes == [200] * 5 + [429, 429]


def test_a_spoofed_header_does_not_escape_the_per_conversation_limit(apps):
    app = apps(RATE_LIMITS=LIMITS, TRUSTED_PROXIES=1)
    client = app.test_client()
    sender = run_sender("spoofconv")
    codes = [send(client, sender, n, address="10.9.9.9", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
             for n in range(4)]
    assert codes == [200, 200, 200, 429]


def test_the_default_limits_let_one_patient_typing_fast_through(apps):
    """No RATE_LIMITS configured: the documented default is generous for one patient."""
    app = apps(RATE_LIMITS=None)
    client = app.test_client()
    sender = run_sender("fast")
    codes = [send(client, sender, n).status_code for n in range(30)]
    assert codes == [200] * 30


def test_redis_storage_shares_the_count_between_app_instances(apps, redis_url):  # noqa: F811
    first = apps(RATE_LIMITS=LIMITS, RATELIMIT_STORAGE_URL=redis_url)
    second = apps(RATE_LIMITS=LIMITS, RATELIMIT_STORAGE_URL=redis_url)
    one, two = first.test_client(), second.test_client()
    # unique per run: Redis keeps counts between runs
    address = "10.{}.{}.{}".format(*uuid.uuid4().bytes[:3])
    sender = run_sender("redis")
    assert send(one, sender, 0, address=address).status_code == 200
    assert send(two, sender, 1, address=address).status_code == 200
    assert send(one, sender, 2, address=address).status_code == 200
    assert_429(send(two, sender, 3, address=address))
    # the per-address count is shared too: 3 used above (+1 refused), 2 left at most
    codes = [send(one if i % 2 else two, run_sender(f"redis{i}"), 0, address=address).status_code
             for i in range(4)]
    assert codes.count(429) >= 2 and codes[:1] == [200], codes


@pytest.mark.parametrize("depth", [50, 1010, 1100])   # 1000-1024: only orjson reads it
def test_a_deeply_nested_extra_field_does_not_escape_the_per_conversation_limit(apps, depth):
    """Issue 14: the limiter parsed the body with another JSON parser than the webhook, so a deeply
    nested extra field made it key the message by address while the webhook still served it."""
    import json
    app = apps(RATE_LIMITS="1000 per minute|3 per minute")
    client = app.test_client()
    sender = run_sender("nested")
    statuses = []
    for n in range(5):
        body = '{"sender": %s, "message": "help", "metadata": {"message_id": "m-%d"}, "x": %s}' % (
            json.dumps(sender), n, "[" * depth + "]" * depth)
        statuses.append(client.post(WEBHOOK, data=body, content_type="application/json",
                                    environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code)
    served = [s for s in statuses if s == 200]
    assert len(served) <= 3, statuses                       # never more than the conversation's limit
    assert all(s in (200, 400, 429) for s in statuses), statuses
