"""CSV export and import of a company's shared replies (tenant-wide and department ones).

UTF-8 both ways (a byte-order mark from a spreadsheet is accepted). A cell that a spreadsheet
would run as a formula (starting with = + - @, tab or CR) is exported behind an apostrophe
and the import takes it off again. The import is all or
nothing: every row is checked first, each problem is reported with its line number, and
if there is any, nothing is written. A row whose shortcut already exists in the same
scope updates that reply, so export, edit, import is a round trip.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import Department, Tenant
from apps.core.tenancy import tenant_scope

from .collation import folded
from .models import CannedReply, Scope
from .services import canned_reply_create, canned_reply_update, canned_reply_validate

__all__ = ["COLUMNS", "CsvImportError", "ImportResult", "canned_csv_export", "canned_csv_import"]

COLUMNS = ["shortcut", "title", "text", "language", "tags", "scope", "department"]
REQUIRED = {"shortcut", "title", "text"}
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_ROWS = 10_000


# A cell a spreadsheet would run as a formula (CSV injection): = + - @, and tab or CR before them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTED_FORMULA = re.compile(r"'+[=+\-@\t\r]")


def cell_export(value: str) -> str:
    """`value` safe to open in a spreadsheet: a formula start gets a leading apostrophe.

    A value that already starts with apostrophes before a formula start gets one more, so
    `cell_import` can always take exactly one off: every text survives export and import.
    """
    if value.startswith(FORMULA_STARTS) or _QUOTED_FORMULA.match(value):
        return "'" + value
    return value


def cell_import(value: str) -> str:
    """The inverse of `cell_export` (a spreadsheet that keeps the apostrophe gives it back too)."""
    return value[1:] if _QUOTED_FORMULA.match(value) else value


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0


@dataclass
class CsvImportError(Exception):
    """The file was refused; `errors` is [(line number or None for the whole file, message)]."""

    errors: list[tuple[int | None, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{line}: {message}" if line else message for line, message in self.errors)


def canned_csv_export(*, tenant: Tenant) -> str:
    with tenant_scope(tenant):
        replies = (
            CannedReply.objects.filter(tenant=tenant, scope__in=[Scope.TENANT, Scope.DEPARTMENT])
            .select_related("department")
            .order_by("scope", "department__name", "sort_key", "id")
        )
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for reply in replies:
            row = [
                reply.shortcut,
                reply.title,
                reply.text,
                reply.language,
                reply.tags,
                reply.scope,
                reply.department.name if reply.department else "",
            ]
            writer.writerow([cell_export(value) for value in row])
    return out.getvalue()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CsvImportError(
            [(line, _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."))]
        ) from error


def _flatten(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [f"{name}: {message}" for name, messages in error.message_dict.items() for message in messages]
    return list(error.messages)


def canned_csv_import(*, tenant: Tenant, data: bytes) -> ImportResult:
    """Create or update the shared replies in a CSV file, all or nothing (CsvImportError)."""
    if len(data) > IMPORT_MAX_BYTES:
        raise CsvImportError([(None, _("The file is too large (at most %(mb)s MB).") % {"mb": 5})])
    text = _decode(data)
    if "\x00" in text:
        raise CsvImportError([(None, _("The file is not a CSV text file."))])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise CsvImportError([(None, _("The file is empty."))]) from None
    except csv.Error as error:
        raise CsvImportError([(1, _("The header line cannot be read: %(error)s") % {"error": error})]) from None
    unknown = [name for name in header if name not in COLUMNS]
    missing = sorted(REQUIRED - set(header))
    if unknown or missing or len(set(header)) != len(header):
        problems = []
        if missing:
            problems.append(_("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)})
        if unknown:
            problems.append(_("Unknown columns: %(columns)s.") % {"columns": ", ".join(unknown)})
        if len(set(header)) != len(header):
            problems.append(_("A column appears twice."))
        raise CsvImportError(
            [(1, " ".join(problems) + " " + _("Expected: %(columns)s.") % {"columns": ", ".join(COLUMNS)})]
        )

    errors: list[tuple[int | None, str]] = []
    planned: list[tuple[CannedReply | None, dict]] = []
    seen: dict[tuple, int] = {}
    with tenant_scope(tenant):
        departments = {folded(d.name): d for d in Department.objects.filter(tenant=tenant)}
        existing = {
            (r.scope, r.department_id, r.shortcut_folded): r
            for r in CannedReply.objects.filter(tenant=tenant, scope__in=[Scope.TENANT, Scope.DEPARTMENT])
        }
        rows = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                errors.append((reader.line_num, _("This line cannot be read: %(error)s") % {"error": error}))
                break
            line = reader.line_num
            if not any(value.strip() for value in values):
                continue
            rows += 1
            if rows > IMPORT_MAX_ROWS:
                errors.append((line, _("Too many rows (at most %(max)s).") % {"max": IMPORT_MAX_ROWS}))
                break
            if len(values) != len(header):
                errors.append(
                    (
                        line,
                        _("Expected %(expected)s values, found %(found)s.")
                        % {"expected": len(header), "found": len(values)},
                    )
                )
                continue
            row = dict(zip(header, (cell_import(value) for value in values), strict=True))
            department_name = row.get("department", "").strip()
            scope = row.get("scope", "").strip().lower() or (Scope.DEPARTMENT if department_name else Scope.TENANT)
            department = None
            if scope == Scope.DEPARTMENT:
                department = departments.get(folded(department_name))
                if department is None:
                    errors.append((line, _("Unknown department “%(name)s”.") % {"name": department_name}))
                    continue
            elif scope != Scope.TENANT:
                errors.append((line, _("scope must be “tenant” or “department”.")))
                continue
            key = (scope, department.pk if department else None, folded(row["shortcut"].strip().lstrip("/")))
            if key in seen:
                errors.append((line, _("The same shortcut is already on line %(line)s.") % {"line": seen[key]}))
                continue
            seen[key] = line
            instance = existing.get(key)
            fields = {name: row.get(name, "") for name in ("title", "shortcut", "text", "language", "tags")}
            try:
                canned_reply_validate(
                    tenant=tenant, fields=fields, scope=scope, department=department, instance=instance
                )
            except ValidationError as error:
                errors.extend((line, message) for message in _flatten(error))
                continue
            planned.append((instance, {"fields": fields, "scope": scope, "department": department}))
    if errors:
        raise CsvImportError(errors)
    if not planned:
        raise CsvImportError([(None, _("The file has no replies."))])

    result = ImportResult()
    try:
        with transaction.atomic():
            _write(tenant, planned, result)
    except ValidationError as error:
        # A concurrent save took a shortcut after the checks; the transaction rolled back.
        raise CsvImportError([(None, message) for message in _flatten(error)]) from error
    return result


def _write(tenant: Tenant, planned: list[tuple[CannedReply | None, dict]], result: ImportResult) -> None:
    for instance, item in planned:
        if instance is None:
            canned_reply_create(tenant=tenant, scope=item["scope"], department=item["department"], **item["fields"])
            result.created += 1
        else:
            canned_reply_update(
                tenant=tenant, reply=instance, scope=item["scope"], department=item["department"], **item["fields"]
            )
            result.updated += 1
