"""Ingestion: instruments and pipelines store datasets (services; many at once: batch), their files are registered
(registration, by the worker through an outbox), and the beamline client speaks the API (client).
Reads the model, the access and path policies and techniques; imports no other concern."""
