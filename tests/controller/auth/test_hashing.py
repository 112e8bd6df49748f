"""The production password hash is Argon2id at argon2-cffi's defaults (RFC 9106 low-memory), whatever the tests use."""

from __future__ import annotations

from argon2 import PasswordHasher, extract_parameters, profiles

from avfleet.controller.auth import hashing


def test_production_hashes_at_full_cost_and_test_hashes_still_verify() -> None:
    cheap = hashing.hash_password("a-long-enough-password")  # this package's fixture: CHEAPEST
    previous = hashing.use_parameters(hashing.PRODUCTION)
    try:
        full = hashing.hash_password("a-long-enough-password")
        assert extract_parameters(full) == profiles.RFC_9106_LOW_MEMORY
        assert extract_parameters(full).memory_cost == PasswordHasher().memory_cost == 65536
        assert extract_parameters(full).type.name == "ID"
        # A stored hash carries its own cost: one made cheap still verifies, a wrong password never does.
        assert hashing.verify_password(cheap, "a-long-enough-password")
        assert hashing.verify_password(full, "a-long-enough-password")
        assert not hashing.verify_password(full, "another-long-password")
        assert not hashing.verify_password(None, "a-long-enough-password")
    finally:
        hashing.use_parameters(previous)
    assert extract_parameters(cheap) == profiles.CHEAPEST
    assert hashing.PRODUCTION == profiles.RFC_9106_LOW_MEMORY  # what a process that never calls use_parameters has
