"""Exports (CSV, XLSX, GeoJSON, HXL), streamed and redacted by role, and the PDF briefing."""
