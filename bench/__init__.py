"""Benchmarks: each writes its raw results to bench/results/ and a table into docs/."""
