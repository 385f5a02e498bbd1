"""Access control: credentials, constant-time checks, and session tokens that cannot be forged."""

import pytest
from pydantic import ValidationError

from visionary_app.services.access.sessions import (
    SHARED,
    AccessControl,
    hash_password,
    is_password_hash,
)
from visionary_app.settings import Settings, parse_users

KEY = b"test-session-key-0123456789abcdef"


def test_open_by_default():
    access = AccessControl(key=b"")
    assert not access.enabled and access.check("", "anything") is None


def test_shared_password_signs_in_everyone_as_the_shared_principal():
    access = AccessControl(key=KEY, shared_password="s3cret pass")
    assert access.enabled and not access.asks_for_name
    assert access.check("", "s3cret pass") == SHARED
    assert access.check("", "s3cret pas") is None
    assert access.check("", "") is None


def test_named_users_sign_in_as_themselves_whatever_the_case_of_the_name():
    access = AccessControl(key=KEY, users=parse_users("Alice:wonder-land, bob:builder:7"))
    assert access.asks_for_name
    assert access.check("alice", "wonder-land") == "user:alice"
    assert access.check(" ALICE ", "wonder-land") == "user:alice"
    assert access.check("bob", "builder:7") == "user:bob"  # a colon may be in a password
    assert access.check("bob", "wonder-land") is None
    assert access.check("carol", "wonder-land") is None


def test_tokens_round_trip_and_resist_tampering_expiry_and_revocation():
    access = AccessControl(key=KEY, users={"alice": "pw", "bob": "pw2"}, session_seconds=60)
    token = access.issue("user:alice", now=1000)
    assert access.verify(token, now=1030) == "user:alice"
    assert access.verify(token, now=1061) is None  # expired
    session_id, encoded, expires, tag, signature = token.split(".")
    longer = f"{session_id}.{encoded}.{int(expires) + 3600}.{tag}.{signature}"
    assert access.verify(longer, now=1030) is None
    forged = AccessControl(key=b"another key", users=access.users).issue("user:bob", now=1000)
    assert access.verify(forged, now=1030) is None
    for junk in ("", "a.b", "a.b.c", "a.b.c.d", "....", "é.1.x.y", "a.b.c.d.e", token[1:]):
        assert access.verify(junk) is None
    access.users.pop("alice")
    assert access.verify(token, now=1030) is None  # removed from the list


def test_a_shared_token_stops_working_once_users_are_listed():
    shared = AccessControl(key=KEY, shared_password="pw")
    token = shared.issue(SHARED)
    assert shared.verify(token) == SHARED
    assert AccessControl(key=KEY, users={"alice": "pw"}).verify(token) is None


@pytest.mark.parametrize("text", ["alice", "alice:", ":pw", "alice:pw,bob"])
def test_malformed_user_lists_are_refused_at_start_up(text):
    with pytest.raises(ValueError, match="name:password"):
        Settings(_env_file=None, access_users=text)


@pytest.mark.parametrize("field", ["session_secret", "url_signing_key"])
def test_a_blank_key_means_unset(field):
    assert getattr(Settings(_env_file=None, **{field: "  "}), field) is None
    assert getattr(Settings(_env_file=None, **{field: ""}), field) is None


@pytest.mark.parametrize("field", ["session_secret", "url_signing_key"])
@pytest.mark.parametrize("weak", ["x", "secret", "a" * 31])
def test_a_short_key_refuses_to_start_with_a_clear_error(field, weak):
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        Settings(_env_file=None, **{field: weak})


def test_a_long_key_is_kept():
    key = "k" * 32
    assert Settings(_env_file=None, session_secret=key).session_secret.get_secret_value() == key


def test_changing_a_password_ends_the_sessions_signed_in_with_the_old_one():
    access = AccessControl(key=KEY, users={"alice": "old", "bob": "pw2"})
    alice, bob = access.issue("user:alice"), access.issue("user:bob")
    access.users["alice"] = "new"  # the admin changes Alice's password and restarts
    assert access.verify(alice) is None
    assert access.verify(bob) == "user:bob"  # nobody else is signed out
    assert access.verify(access.issue("user:alice")) == "user:alice"
    shared = AccessControl(key=KEY, shared_password="one")
    token = shared.issue(SHARED)
    shared.shared_password = "two"
    assert shared.verify(token) is None


def test_hashed_passwords_sign_in_and_plain_ones_are_flagged(caplog):
    hashed = hash_password("correct horse")
    assert is_password_hash(hashed) and "correct horse" not in hashed
    access = AccessControl(key=KEY, users={"alice": hashed, "bob": "plain"})
    assert "passwords of bob are configured in plain text" in caplog.text
    assert "alice" not in caplog.text.split("plain text")[0].split("passwords of")[-1]
    assert access.check("alice", "correct horse") == "user:alice"
    assert access.check("alice", "wrong") is None
    assert access.check("nobody", "correct horse") is None
    assert access.check("bob", "plain") == "user:bob"
    assert parse_users(f"alice:{hashed}") == {"alice": hashed}  # "$" and "=" in a hash are fine
