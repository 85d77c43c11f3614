"""Benchmarks (`make bench`): each measures its own baseline in the same run where one exists,
prints raw figures, and the runner writes var/bench.json (one key per figure)."""
