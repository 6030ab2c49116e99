"""duban's benchmarks: ``make bench`` (``python -m bench`` from the repository root); see BENCHMARKS.md."""
