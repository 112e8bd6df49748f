"""schemathesis over every operation of the final API with each role's token, in a world of two municipalities
(tests/controller/auth/world.py): no 5xx for any role, answers as documented, and nothing of Värnamo in any
answer to a caller limited to Jönköping, whatever the generated request (errors included).

The bootstrap token's run over the whole API is tests/controller/api/test_schemathesis.py; this one adds the
users (a Jönköping viewer, a Jönköping technician, a county technician, an admin) and the leak check. Only
schema-valid (positive) cases run here, on SQLite, a few per operation, to keep the suite's time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from tests.controller.auth.world import VMO_MARKS, World, open_world

EXAMPLES = int(os.environ.get("AVFLEET_SCHEMATHESIS_ROLE_EXAMPLES", "2"))
ROLES = {"viewjkpg": True, "techjkpg": True, "tech": False, "boss": False}  # user -> limited to Jönköping
# Operations that would end the world for the others (disabling the users the run acts as) or never end.
SKIPPED = ("/stream", "/auth/logout", "/users/{name}/disable")


@pytest.fixture(scope="module")
def world(tmp_path_factory, request) -> Iterator[World]:
    yield from open_world("sqlite", tmp_path_factory, request)


def test_every_role_gets_no_5xx_and_a_limited_one_nothing_of_another_municipality(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if not op.path.endswith(SKIPPED)]
    failures: list[str] = []
    calls = 0
    for user, limited in ROLES.items():
        headers = world.auth(user)
        for operation in operations:
            @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                nonlocal calls
                calls += 1
                response = case.call_and_validate(headers=headers,  # noqa: B023 (run() is called in this loop turn)
                                                  excluded_checks=[positive_data_acceptance, negative_data_rejection])
                if limited:  # noqa: B023
                    body = response.content.decode("utf-8", "replace")
                    leaked = [mark for mark in VMO_MARKS if mark in body]
                    assert not leaked, f"{case.method} {case.formatted_path}: {leaked} in {body[:300]}"

            try:
                run()
            except Exception as exc:  # every operation runs; the failures are listed together below
                failures.append(f"{user} {operation.label}: {str(exc).splitlines()[:8]}")
    assert not failures, "\n\n".join(failures)
    assert calls >= len(ROLES) * len(operations)
