"""The demo logbook as data (events.yaml, mesh-scan.png) and its loader."""
