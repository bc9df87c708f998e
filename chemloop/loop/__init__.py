"""Closed design-make-test campaigns: batch selection, rounds, results, storage."""
