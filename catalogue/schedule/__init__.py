"""The beamline schedule: each instrument's sessions by month and their calendar feeds (iCalendar,
with signed tokens for embargoed sessions). Reads the model and the access policy."""
