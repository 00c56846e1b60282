"""Benchmark tooling, apart from the product's code path: the synthetic catalogue generator
(`manage.py generate_catalogue`) and the facility-scale benchmark (`manage.py benchmark`).
Reads the whole of `catalogue` and `techniques`; nothing in the product imports it."""
