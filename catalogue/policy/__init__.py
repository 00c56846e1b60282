"""The data policy: release dates, embargo and the notices before data become public. Reads
the model; writes the audit log through catalogue.people."""
