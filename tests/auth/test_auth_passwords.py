"""The production password hasher: Argon2id, RFC 9106 low-memory profile (tests run cheaper)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from paissive_income.auth import passwords

pytestmark = pytest.mark.production_hashing


def test_passwords_are_hashed_with_the_rfc_9106_low_memory_profile():
    hashed = passwords.hash_password("correct horse battery")
    profile = RFC_9106_LOW_MEMORY
    assert hashed.startswith(
        f"$argon2id$v=19$m={profile.memory_cost},t={profile.time_cost},p={profile.parallelism}$"
    )
    assert passwords.verify_password(hashed, "correct horse battery")
    assert not passwords.verify_password(hashed, "correct horse batterY")
    assert not passwords.needs_rehash(hashed)


def test_an_unknown_account_is_checked_against_a_production_cost_hash():
    # The timing equaliser must cost what a real account's check costs.
    assert passwords._DUMMY_HASH.startswith(f"$argon2id$v=19$m={RFC_9106_LOW_MEMORY.memory_cost},")
    assert not passwords.verify_password(None, "anything")


def test_a_hash_made_with_weaker_settings_is_upgraded():
    weak = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("pw")
    assert passwords.verify_password(weak, "pw")
    assert passwords.needs_rehash(weak)
