"""API bodies of the reports' JSON answers (equity, procurement); the inventory report answers a file."""

from __future__ import annotations

from pydantic import BaseModel


class EquityItem(BaseModel):
    municipality: str
    units: int
    schools: int
    devices_per_school: float | None
    mean_age_years: float | None
    past_warranty_pct: float | None
    availability_pct: float | None
    faults_per_device: float | None
    kwh_per_device: float | None
    left_on_hours_per_device: float | None


class EquityMedian(BaseModel):
    devices_per_school: float | None
    mean_age_years: float | None
    past_warranty_pct: float | None
    availability_pct: float | None
    faults_per_device: float | None
    kwh_per_device: float | None
    left_on_hours_per_device: float | None


class EquityAnswer(BaseModel):
    year: int
    items: list[EquityItem]
    median: EquityMedian


class ProcurementItem(BaseModel):
    model: str
    units: int
    unit_years: float
    mean_age_years: float | None
    faults_per_unit_year: float | None
    repairs_per_unit_year: float | None
    repaired_under_warranty_pct: float | None
    kwh_per_unit_year: float | None
    basis: str | None  # measured | rated | mixed


class ProcurementAnswer(BaseModel):
    year: int
    items: list[ProcurementItem]
