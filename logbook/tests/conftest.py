"""Logbook fixtures on the catalogue's small world (catalogue/tests/conftest.py): MX-1 on ID30 (embargoed)
with its participant, scientists and keys; attachments under the test's own folder."""

import pytest

from catalogue.tests.conftest import *  # noqa: F403 (the catalogue's fixtures)


@pytest.fixture(autouse=True)
def attachment_root(settings, tmp_path):
    root = tmp_path / "logbook"
    settings.LOGBOOK_ATTACHMENT_ROOT = root
    settings.LOGBOOK_MAX_ATTACHMENT_MB = 1
    return root
