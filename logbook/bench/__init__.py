"""The logbook at facility scale: synthetic logbooks for a generated catalogue (synthetic.py,
manage.py generate_logbook) and their benchmark items (benchmarks.py, manage.py benchmark_logbook)."""
