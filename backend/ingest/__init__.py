"""Field ingestion: idempotent creates and the batch sync of a device's outbox."""
