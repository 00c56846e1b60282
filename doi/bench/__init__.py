"""Publications at scale: synthetic publications (synthetic.py) and their benchmark (benchmarks.py)."""
