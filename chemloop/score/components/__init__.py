"""Built-in scoring components, one module each (found by chemloop.score.registry)."""
