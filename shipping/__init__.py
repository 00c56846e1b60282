"""Parcels and sample tracking: shipments of an investigation, their parcels and items with
experiment and processing plans, the status workflow, labels, the stores and statistics pages,
and the beamline software's API. Imports catalogue and techniques, never the reverse."""
