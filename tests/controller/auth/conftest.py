"""Cheap password hashes for the auth tests: Argon2 at full cost is ~50 ms and 64 MiB per hash, and
these tests make users by the dozen (test_hashing.py checks the production parameters once)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from argon2 import profiles

from avfleet.controller.auth import hashing


@pytest.fixture(autouse=True, scope="package")
def cheap_password_hashes() -> Iterator[None]:
    if os.environ.get("AVFLEET_TEST_FULL_ARGON2"):  # to measure what the cheap hashes save
        yield
        return
    previous = hashing.use_parameters(profiles.CHEAPEST)
    try:
        yield
    finally:
        hashing.use_parameters(previous)
