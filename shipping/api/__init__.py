"""The beamline software's API (instrument API key, or a session): a session's parcels with their
containers, samples and plans in ICAT+'s tracking shape (`/tracking/{sessionId}/parcel`), and the
"at the beamline" / "back at stores" status changes."""
