"""The demo catalogue of `manage.py load_demo`, as data: people.yaml and one file per session in
sessions/ (README.md: the format and the file makers), read by loader.py through the ingestion
service. Reads the model, the access and path policies, ingestion, people and techniques."""

from .loader import API_KEY_INSTRUMENT, API_KEY_NAME, DemoReport, account_roles, load_demo, sessions
from .reading import DemoError, DemoSession, at

__all__ = [
    "API_KEY_INSTRUMENT",
    "API_KEY_NAME",
    "DemoError",
    "DemoReport",
    "DemoSession",
    "account_roles",
    "at",
    "load_demo",
    "sessions",
]
