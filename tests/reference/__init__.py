"""Reference implementations for tests: slow, simple, independent of the optimiser."""
