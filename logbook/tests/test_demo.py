import pytest
from django.core.management import call_command

from catalogue.tests.test_demo import DEFAULT_FOLDER_PATTERN
from logbook.models import Attachment, Event

pytestmark = pytest.mark.django_db


def test_the_demo_logbook_loads_once(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.DATA_ROOTS = [tmp_path / "demo"]
    settings.DATA_FOLDER_PATTERN = DEFAULT_FOLDER_PATTERN
    settings.STORAGE_ARCHIVE_ROOT = tmp_path / "archive"
    settings.LOGBOOK_MAX_ATTACHMENT_MB = 10
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo")
    call_command("load_logbook_demo")
    count = Event.objects.count()
    assert count == 7 and Attachment.objects.filter(thumbnail_name__gt="").count() == 1
    assert Event.objects.filter(type="broadcast").count() == 1
    call_command("load_logbook_demo")
    assert Event.objects.count() == count
