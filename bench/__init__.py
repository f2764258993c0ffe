"""Benchmarks of PeaceWatch (`python -m bench.ingest`); figures in docs/benchmarks.md."""
