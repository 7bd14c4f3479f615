"""Solver-independent plan auditor (SPEC 5 `audit`): re-reads the inputs, recomputes, checks.

Shares no code with the rest of the package on purpose; see optimizer.audit.inputs.
"""

from optimizer.audit.auditor import (
    CODES,
    AuditReport,
    Line,
    ProgramTotals,
    Violation,
    audit,
    audit_rows,
    audit_world,
)
from optimizer.audit.inputs import AuditInputError, World, load_world
from optimizer.audit.months import Month, MonthAudit, audit_months, load_months
from optimizer.audit.summary import audit_summary

__all__ = [
    "CODES",
    "AuditInputError",
    "AuditReport",
    "Line",
    "Month",
    "MonthAudit",
    "ProgramTotals",
    "Violation",
    "World",
    "audit",
    "audit_months",
    "audit_rows",
    "audit_summary",
    "audit_world",
    "load_months",
    "load_world",
]
