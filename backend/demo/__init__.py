"""The demo mission (a fictional peace process, seeded from a fixed seed) and the field simulator."""
