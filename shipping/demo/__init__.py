"""The demo's shipment as a data file (shipment.yaml), and the loader that stores it through the
services, as people would in the portal."""
