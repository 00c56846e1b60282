"""Where the data's bytes leave the catalogue: downloads of single files (HTTP Range, recorded for
the statistics), and later archive and restore. Reads the model, the access policy (through the
selectors) and the path policy (files are opened only through catalogue.locations)."""
