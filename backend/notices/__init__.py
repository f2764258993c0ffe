"""Live notices of created and changed records (`GET /api/v1/stream`)."""
