"""The logbook's REST API (DRF) and ICAT+'s data-acquisition routes that pyicat-plus posts to."""
