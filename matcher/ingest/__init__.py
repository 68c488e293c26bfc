"""Importers: files in the platform's format or CORDIS's into the store, whole or not at all.

Every row is validated before anything is written. By default one bad row refuses the
whole import (:class:`~matcher.domain.errors.InvalidImportError` names file, line, field and
problem); with ``skip_invalid`` the valid rows are written and the rejected ones reported.
"""

from matcher.ingest.cordis import import_cordis, read_cordis
from matcher.ingest.platform import (
    COLLABORATION_COLUMNS,
    ORGANISATION_COLUMNS,
    import_platform,
    write_collaborations,
    write_organisations,
)
from matcher.ingest.report import ImportReport

__all__ = [
    "COLLABORATION_COLUMNS",
    "ORGANISATION_COLUMNS",
    "ImportReport",
    "import_cordis",
    "import_platform",
    "read_cordis",
    "write_collaborations",
    "write_organisations",
]
