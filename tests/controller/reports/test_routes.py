"""GET /api/v1/reports/{inventory,equity,procurement}: files, tenancy and the audit trail (SQLite, PostgreSQL)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import openpyxl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from avfleet.controller.api.app import create_app
from avfleet.controller.auth import service as users
from avfleet.controller.auth.models import AuditEntry
from avfleet.controller.db import write_transaction
from avfleet.controller.settings import load_settings
from tests.controller.conftest import API_TOKEN
from tests.controller.reports.support import JKPG, VMO, YEAR, build_fleet

ADMIN = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    build_fleet(engine)
    settings = load_settings(database_url=db_url, api_tokens=[API_TOKEN], broker_password="x" * 20)
    with TestClient(create_app(settings, engine)) as c:
        yield c


def limited_token(engine: Engine, name: str, municipalities: list[str]) -> dict[str, str]:
    with write_transaction(engine) as conn:
        users.create_user(conn, name, "viewer", municipalities, None)
        secret, _ = users.create_token(conn, name, "test")
    return {"Authorization": f"Bearer {secret}"}


def test_reports_answer_files_and_keep_to_the_callers_municipalities(client: TestClient, engine: Engine) -> None:
    res = client.get("/api/v1/reports/inventory", headers=ADMIN,
                     params={"municipality": JKPG, "year": YEAR, "format": "xlsx", "lang": "sv"})
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert res.headers["content-disposition"] == 'attachment; filename="inventarierapport-jonkoping-2025.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(res.content))
    cells = [c for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert "Medeltid till åtgärd" in cells and 170 in cells  # kWh of Jönköping's year, a number cell

    res = client.get("/api/v1/reports/inventory", headers=ADMIN, params={"year": YEAR, "format": "csv", "lang": "en"})
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    assert "Evidence for procurement" in res.content.decode("utf-8-sig")
    assert client.get("/api/v1/reports/inventory", headers=ADMIN,
                      params={"municipality": "Atlantis", "year": YEAR}).status_code == 404
    assert client.get("/api/v1/reports/inventory", params={"year": YEAR}).status_code == 401

    viewer = limited_token(engine, "vmo-viewer", [VMO])
    # Another municipality's report: 404, as if it did not exist; the county report: 403.
    assert client.get("/api/v1/reports/inventory", headers=viewer,
                      params={"municipality": JKPG, "year": YEAR, "format": "csv"}).status_code == 404
    assert client.get("/api/v1/reports/inventory", headers=viewer,
                      params={"year": YEAR, "format": "csv"}).status_code == 403
    own = client.get("/api/v1/reports/inventory", headers=viewer,
                     params={"municipality": VMO, "year": YEAR, "format": "pdf"})
    assert own.status_code == 200 and own.headers["content-type"] == "application/pdf"
    assert own.content.startswith(b"%PDF")

    equity = client.get("/api/v1/reports/equity", headers=viewer, params={"year": YEAR}).json()
    assert [i["municipality"] for i in equity["items"]] == [VMO]
    assert equity["median"]["availability_pct"] == 75.0  # the median of its own municipalities
    county = client.get("/api/v1/reports/equity", headers=ADMIN, params={"year": YEAR}).json()
    assert len(county["items"]) == 3 and county["median"]["kwh_per_device"] == 72.0
    models = client.get("/api/v1/reports/procurement", headers=viewer, params={"year": YEAR}).json()["items"]
    assert [m["model"] for m in models] == ["BenQ MW560"] and models[0]["units"] == 2
    assert client.get("/api/v1/reports/equity", headers=ADMIN, params={"year": 1900}).status_code == 422

    a = AuditEntry.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(a.actor, a.action, a.target, a.result).where(a.action == "report.download")
                            .order_by(a.id)).all()
    assert [(r.actor, r.target, r.result) for r in rows] == [
        ("admin", f"inventory/{JKPG}/{YEAR}", "ok"), ("admin", f"inventory/county/{YEAR}", "ok"),
        ("admin", f"inventory/Atlantis/{YEAR}", "failed"), ("vmo-viewer", f"inventory/{JKPG}/{YEAR}", "failed"),
        ("vmo-viewer", f"inventory/county/{YEAR}", "failed"), ("vmo-viewer", f"inventory/{VMO}/{YEAR}", "ok")]
