"""Benchmark oracles that scoring components wrap: the PMO benchmark's 23 tasks (:mod:`.pmo`)."""
