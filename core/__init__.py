"""Cross-cutting infrastructure: settings, database, clock, logging."""
