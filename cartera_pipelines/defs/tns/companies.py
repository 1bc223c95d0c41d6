"""Discovery of company-years from the servers' EMPRESAS rows: normalise, key and de-duplicate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cartera_pipelines.defs.tns.nit import Nit, NitError, parse_nit, possible_nine_digit_nit
from cartera_pipelines.defs.tns.partitions import company_year_key


@dataclass(frozen=True)
class EmpresaRow:
    """One EMPRESAS row as read from a server."""

    server: str
    codigo: str
    nombre: str | None
    nit: str
    anofis: object
    archivo: str | None


def location(server: str, archivo: str) -> str:
    """``<server>:<ARCHIVO>``: where a company-year lives."""
    return f"{server}:{archivo}"


@dataclass(frozen=True)
class CompanyYear:
    server: str
    company_code: str
    company_name: str | None
    nit: Nit
    nit_raw: str
    fiscal_year: int
    archivo: str

    @property
    def key(self) -> str:
        return company_year_key(self.nit.number, self.fiscal_year)

    @property
    def version(self) -> str:
        """Where it lives: a change means the partition must be extracted again."""
        return location(self.server, self.archivo)


@dataclass(frozen=True)
class Duplicate:
    ignored: CompanyYear
    kept: CompanyYear


@dataclass(frozen=True)
class Rejected:
    row: EmpresaRow
    reason: str


@dataclass
class Discovery:
    companies: list[CompanyYear] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def by_key(self) -> dict[str, CompanyYear]:
        return {c.key: c for c in self.companies}

    def nits(self) -> list[str]:
        return sorted({c.nit.number for c in self.companies})

    def warnings(self) -> list[str]:
        """One line per company-year not loaded (duplicates, rows that could not be read) and per possible
        duplicate NIT."""
        lines = [
            f"company-year {d.ignored.key} is on {d.kept.server} ({d.kept.archivo}) and also on "
            f"{d.ignored.server} ({d.ignored.archivo}): the copy on {d.ignored.server} is not loaded"
            for d in self.duplicates
        ]
        lines += [
            f"EMPRESAS row {r.row.codigo!r} on {r.row.server} skipped: {r.reason}" for r in self.rejected
        ]
        lines += [
            f"NIT {p['written']} of {p['company_year']} may be {p['may be']} written without its dash "
            f"(also discovered as: {p['also discovered as'] or 'none'})"
            for p in self.possible_duplicates()
        ]
        return lines

    def possible_duplicates(self) -> list[dict[str, str]]:
        """Company-years whose ten-digit NIT, written without dash, may be a nine-digit NIT and its DIAN
        check digit: both spellings, and how the nine-digit NIT was written where it was discovered."""
        return possible_duplicates(self.companies)

    def duplicate_rows(self) -> list[dict[str, object]]:
        return [
            {
                "company_year": d.ignored.key,
                "not loaded from": f"{d.ignored.server}: {d.ignored.archivo}",
                "loaded from": f"{d.kept.server}: {d.kept.archivo}",
            }
            for d in self.duplicates
        ]

    def rejected_rows(self) -> list[dict[str, object]]:
        return [{"server": r.row.server, "CODIGO": r.row.codigo, "reason": r.reason} for r in self.rejected]


def possible_duplicates(companies: Iterable[CompanyYear]) -> list[dict[str, str]]:
    """See :meth:`Discovery.possible_duplicates` (also used by the check on ``tns_companies``)."""
    companies = list(companies)
    spellings: dict[str, set[str]] = {}
    for company in companies:
        spellings.setdefault(company.nit.number, set()).add(company.nit_raw)
    found = []
    for company in sorted(companies, key=lambda c: c.key):
        nine = possible_nine_digit_nit(company.nit)
        if nine is None:
            continue
        found.append(
            {
                "company_year": company.key,
                "written": company.nit_raw,
                "may be": Nit(nine, company.nit.number[-1], company.nit.number[-1]).formatted,
                "also discovered as": ", ".join(sorted(spellings.get(nine, ()))),
            }
        )
    return found


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_row(row: EmpresaRow) -> CompanyYear:
    """A normalised company-year, or ``ValueError`` saying what is wrong with the row."""
    nit = parse_nit(row.nit)
    try:
        year = int(str(row.anofis).strip())
    except (TypeError, ValueError):
        raise ValueError(f"ANOFIS {row.anofis!r} is not a year") from None
    if not 1900 <= year <= 2200:
        raise ValueError(f"ANOFIS {year} is not a plausible fiscal year")
    archivo = _clean(row.archivo)
    if archivo is None:
        raise ValueError("ARCHIVO is empty")
    code = _clean(row.codigo)
    if code is None:
        raise ValueError("CODIGO is empty")
    return CompanyYear(
        server=row.server,
        company_code=code,
        company_name=_clean(row.nombre),
        nit=nit,
        nit_raw=str(row.nit).strip(),
        fiscal_year=year,
        archivo=archivo,
    )


def discover(rows_by_server: Sequence[tuple[str, Iterable[EmpresaRow]]]) -> Discovery:
    """Company-years unique by (NIT, ANOFIS) across servers.

    ``rows_by_server`` is in the servers file's order: on a duplicate the first server's copy is
    kept (a stable rule, so a partition never flips between servers) and the others are reported.
    A row that cannot be parsed is reported with its reason, never dropped silently.
    """
    result = Discovery()
    kept: dict[str, CompanyYear] = {}
    for _server, rows in rows_by_server:
        for row in rows:
            try:
                company = parse_row(row)
            except (NitError, ValueError) as exc:
                result.rejected.append(Rejected(row, str(exc)))
                continue
            first = kept.get(company.key)
            if first is None:
                kept[company.key] = company
                result.companies.append(company)
            else:
                result.duplicates.append(Duplicate(ignored=company, kept=first))
    return result


class LocationMoved(RuntimeError):
    """A company-year is no longer where the extraction was told to read it (one line, both places)."""


def confirm_location(expected: CompanyYear, now: CompanyYear | None) -> None:
    """Raise :class:`LocationMoved` unless ``now`` (where the servers' EMPRESAS place the company-year at
    this moment) is ``expected`` (where the extraction reads it)."""
    if now is not None and now.version == expected.version:
        return
    there = f"{now.server}: {now.archivo}" if now is not None else "in no server's EMPRESAS"
    raise LocationMoved(
        f"company-year {expected.key} moved: it was read from {expected.server}: {expected.archivo}, "
        f"EMPRESAS now places it {'on ' if now is not None else ''}{there}; discovery runs first, then "
        "the tns_companies_sensor requests its extraction again"
    )
