"""Restore and download in a real browser, with a real worker on the restore queue: a participant
presses Restore in the dataset table, sees RESTORING with its progress and then ONLINE without
reloading the page (htmx polls the row's storage cell), and downloads the dataset as a ZIP."""

import io
import zipfile

import pytest
from django.conf import settings
from playwright.sync_api import expect

from catalogue.models import InvestigationUser, RestoreJob

from .conftest import make_user
from .test_storage import FILES, archived, dataset_with_files

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"


@pytest.fixture
def celery_worker_env(tmp_path, archive_root):
    return {
        "DATA_ROOTS": str(tmp_path / "data"),
        "DATA_FOLDER_PATTERN": settings.DATA_FOLDER_PATTERN,
        "STORAGE_ARCHIVE_ROOT": str(archive_root),
        "STORAGE_RESTORE_DELAY": "4",  # the tape's mount: long enough to see RESTORING
    }


def test_restore_from_the_table_then_download(
    browser_page, live_server, investigation, data_root, celery_worker_process, artifacts_dir
):
    user = make_user("amelia", email="amelia@example.org", first_name="Amelia")
    user.set_password(PASSWORD)
    user.save()
    InvestigationUser.objects.create(user=user, investigation=investigation)
    dataset = archived(dataset_with_files(investigation, data_root / "scan1", FILES, name="scan1"))

    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/?next={investigation.get_absolute_url()}")
    page.get_by_label("Username").fill("amelia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    cell = page.locator(f"#storage-{dataset.pk}")
    expect(cell.locator(".storage-badge")).to_have_text("Archived")
    cell.get_by_role("button", name="Restore").click()
    expect(page.locator(f"#storage-{dataset.pk} .storage-badge")).to_have_text("Restoring", timeout=10_000)
    page.screenshot(path=artifacts_dir / "restore-restoring.png")
    expect(page.locator(f"#storage-{dataset.pk} .storage-badge")).to_have_text("Online", timeout=30_000)
    assert RestoreJob.objects.get().state == RestoreJob.State.DONE
    assert page.url.endswith(investigation.get_absolute_url())  # never reloaded elsewhere

    page.goto(f"{live_server.url}{dataset.get_absolute_url()}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").first.click()
    with open(download.value.path(), "rb") as data:
        archive = zipfile.ZipFile(io.BytesIO(data.read()))
    assert archive.testzip() is None
    for path, content in FILES.items():
        assert any(name.endswith(path) and archive.read(name) == content for name in archive.namelist()), path
