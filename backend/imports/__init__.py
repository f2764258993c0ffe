"""Importers of conflict-event datasets (ACLED, UCDP GED) into incidents."""
