"""Performance benchmarks of the world core (run as ``python -m benchmarks.bench_world`` etc.; see README.md)."""
