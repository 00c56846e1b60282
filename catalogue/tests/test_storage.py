"""Archive and restore (catalogue/storage: backends, services, views, the IDS-style API): copies
verified before files leave the disk, restores merged per dataset and resumed when cut short, one
e-mail per requester and batch, failures reported and never left RESTORING, data released back
after their time online, and the routes' answers to good and bad requests."""

import hashlib
import os
import zlib
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from catalogue import tasks
from catalogue.models import Datafile, Dataset, RestoreJob, RestoreRequest, StorageEvent
from catalogue.storage import services
from catalogue.storage.backends import (
    ArchiveError,
    CommandArchive,
    FilesystemArchive,
    checksum_hasher,
)

from .conftest import investigation_folder, make_dataset, make_user, user_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("archive_root")]

ONLINE, ARCHIVED, RESTORING = "online", "archived", "restoring"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs what the block queues on commit (the eager tasks, the e-mails)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def dataset_with_files(investigation, folder, contents: dict[str, bytes], *, checksums=True, **fields) -> Dataset:
    """A complete dataset whose files exist in folder, registered with sizes and (sha256) checksums."""
    for path, data in contents.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    dataset = make_dataset(investigation, str(folder), **fields)
    Datafile.objects.bulk_create(
        Datafile(
            dataset=dataset,
            path=path,
            size=len(data),
            checksum=f"sha256:{hashlib.sha256(data).hexdigest()}" if checksums else "",
        )
        for path, data in contents.items()
    )
    Dataset.objects.filter(pk=dataset.pk).update(
        file_count=len(contents), size=sum(map(len, contents.values())), complete=True
    )
    dataset.refresh_from_db()
    return dataset


FILES = {"data/frame_0001.h5": os.urandom(5000), "data/frame_0002.h5": os.urandom(7000), "notes.txt": b"beam ok\n"}


@pytest.fixture
def dataset(investigation, data_root):
    return dataset_with_files(investigation, data_root / "scan1", FILES, name="scan1")


def on_disk(dataset) -> dict[str, bytes]:
    base = dataset.location
    return {
        path: open(os.path.join(base, path), "rb").read() for path in FILES if os.path.exists(os.path.join(base, path))
    }


def archived(dataset) -> Dataset:
    assert services.dataset_archive(dataset_id=dataset.pk, reason="test")
    dataset.refresh_from_db()
    return dataset


# --- Backends --------------------------------------------------------------------------------


def test_checksums_by_prefix_or_length():
    data = b"abc"
    for checksum in (
        hashlib.md5(data).hexdigest(),
        "sha256:" + hashlib.sha256(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        f"{zlib.adler32(data):08x}",
        "adler32:" + f"{zlib.adler32(data):08x}",
    ):
        hasher, expected = checksum_hasher(checksum)
        hasher.update(data)
        assert hasher.hexdigest() == expected, checksum
    assert checksum_hasher("") is None
    assert checksum_hasher("crc99:1234") is None


def test_archive_copies_verifies_then_frees_the_disk(dataset, archive_root):
    assert services.dataset_archive(dataset_id=dataset.pk, reason="older than 30 days")
    dataset.refresh_from_db()
    assert dataset.storage_status == ARCHIVED
    assert on_disk(dataset) == {}  # removed from main storage
    assert os.path.isdir(dataset.location)  # the location stays: the dataset's identity
    for path, data in FILES.items():
        assert (archive_root / str(dataset.pk) / path).read_bytes() == data
    event = StorageEvent.objects.get(dataset=dataset)
    assert (event.status, event.reason, event.actor) == (ARCHIVED, "older than 30 days", None)
    # Again: nothing to do.
    assert not services.dataset_archive(dataset_id=dataset.pk, reason="again")


def test_a_copy_that_does_not_verify_leaves_the_data_online(investigation, data_root, archive_root):
    dataset = dataset_with_files(investigation, data_root / "bad", {"a.h5": b"12345"})
    Datafile.objects.filter(dataset=dataset).update(checksum="sha256:" + "0" * 64)  # the file changed since
    with pytest.raises(ArchiveError, match="checksum"):
        services.dataset_archive(dataset_id=dataset.pk, reason="test")
    dataset.refresh_from_db()
    assert dataset.storage_status == ONLINE
    assert (data_root / "bad" / "a.h5").read_bytes() == b"12345"
    assert "Archiving failed" in StorageEvent.objects.get(dataset=dataset).reason
    assert not (archive_root / str(dataset.pk) / "a.h5").exists()  # no half copy left under the final name
    # A file smaller on disk than registered: the copy's size does not verify.
    Datafile.objects.filter(dataset=dataset).update(checksum="", size=6)
    with pytest.raises(ArchiveError, match="bytes copied"):
        services.dataset_archive(dataset_id=dataset.pk, reason="test")


def test_the_task_reports_a_failed_archive_and_keeps_going(investigation, data_root):
    dataset = dataset_with_files(investigation, data_root / "gone", {"a.h5": b"x"})
    os.unlink(data_root / "gone" / "a.h5")
    assert tasks.archive_dataset.apply(args=[dataset.pk, "test"]).get() is False
    assert Dataset.objects.get(pk=dataset.pk).storage_status == ONLINE
    assert "not readable on disk" in StorageEvent.objects.get(dataset=dataset).reason


def test_restore_never_writes_through_a_link_out_of_the_location(dataset, tmp_path, committed):
    archived(dataset)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.rmdir(os.path.join(dataset.location, "data"))
    os.symlink(outside, os.path.join(dataset.location, "data"))  # planted while the data were away
    with committed():
        job = services.restore_request(user=make_user("u", email="u@example.org"), datasets=Dataset.objects.all())
    assert job.queued == 1
    dataset.refresh_from_db()
    assert dataset.storage_status == ARCHIVED  # retried, then failed and reported
    assert list(outside.iterdir()) == []
    assert RestoreJob.objects.get().state == RestoreJob.State.FAILED
    assert "leads out" in RestoreJob.objects.get().error


def test_the_command_backend_runs_its_templates_without_a_shell(dataset, archive_root, settings):
    archive_root.mkdir()
    backend = CommandArchive(
        archive=["cp", "-R", "{location}", "{archive}"],
        restore=["cp", "-R", "{archive}/.", "{location}"],
        status=["test", "-d", "{archive}"],
        timeout=30,
    )
    files = services.stored_files(dataset)
    assert not backend.is_archived(dataset)
    backend.archive(dataset, files)
    assert backend.is_archived(dataset)
    backend.purge(dataset, files)
    assert on_disk(dataset) == {}
    done = []
    backend.restore(dataset, files, lambda n, size: done.append((n, size)))
    assert on_disk(dataset) == FILES
    assert done == [(3, sum(map(len, FILES.values())))]
    # A name with shell syntax is one argument, never run.
    hostile = CommandArchive(archive=["echo", "{location}; touch /tmp/pwned"], timeout=30)
    hostile._checked("archive", dataset)
    assert not os.path.exists("/tmp/pwned")
    with pytest.raises(ArchiveError, match="timed out"):
        CommandArchive(restore=["sleep", "5"], timeout=1).restore(dataset, files)
    with pytest.raises(ArchiveError, match="exited with 1"):
        CommandArchive(restore=["false"], timeout=5).restore(dataset, files)
    with pytest.raises(ArchiveError, match="no restore command"):
        CommandArchive(restore=[], timeout=5).restore(dataset, files)
    settings.STORAGE_BACKEND = "command"
    settings.STORAGE_RESTORE_COMMAND = ["false"]
    assert isinstance(services.archive_backend(), CommandArchive)


def test_a_restore_cut_short_resumes_without_copying_again(dataset, archive_root):
    archived(dataset)
    backend = FilesystemArchive(delay=0)
    files = services.stored_files(dataset)
    first = files[0]
    target = os.path.join(dataset.location, first.path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as back:  # one file back before the worker died
        back.write(FILES[first.path])
    mtime = os.stat(target).st_mtime_ns
    progress = []
    backend.restore(dataset, files, lambda n, size: progress.append(size))
    assert on_disk(dataset) == FILES
    assert os.stat(target).st_mtime_ns == mtime  # not copied again
    assert sum(progress) == sum(map(len, FILES.values()))


# --- Restore requests ----------------------------------------------------------------------------


def test_two_users_asking_for_a_dataset_make_one_restore_and_two_e_mails(
    dataset, django_capture_on_commit_callbacks, committed
):
    archived(dataset)
    alice, bob = make_user("alice", email="alice@example.org"), make_user("bob", email="bob@example.org")
    with django_capture_on_commit_callbacks(execute=True) as sent:
        first = services.restore_request(user=alice, datasets=Dataset.objects.filter(pk=dataset.pk))
    assert (first.queued, first.joined) == (1, 0)
    assert len(sent) == 2  # on commit: the task (run eagerly, restoring the dataset), then its e-mail
    dataset.refresh_from_db()
    assert dataset.storage_status == ONLINE
    assert on_disk(dataset) == FILES
    assert [m.to for m in mail.outbox] == [["alice@example.org"]]
    assert f"/datasets/{dataset.pk}/" in mail.outbox[0].body

    # The second request while it is restored joins the job: no second restore.
    Dataset.objects.filter(pk=dataset.pk).update(storage_status=ARCHIVED)
    with django_capture_on_commit_callbacks(execute=False):  # the worker has not run yet
        services.restore_request(user=alice, datasets=Dataset.objects.filter(pk=dataset.pk))
        joined = services.restore_request(user=bob, datasets=Dataset.objects.filter(pk=dataset.pk))
    assert (joined.queued, joined.joined) == (0, 1)
    job = RestoreJob.objects.get(state=RestoreJob.State.QUEUED)
    assert job.requests.count() == 2
    mail.outbox.clear()
    with committed():
        services.restore_run(job_id=job.pk)
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "bob@example.org"]
    assert services.restore_run(job_id=job.pk) is None  # delivered again: nothing to do
    assert len(mail.outbox) == 2
    events = list(StorageEvent.objects.filter(dataset=dataset).values_list("status", flat=True))
    assert events == [ONLINE, RESTORING, ONLINE, RESTORING, ARCHIVED]  # newest first


def test_a_batch_gets_one_e_mail_once_all_its_restores_ended(investigation, data_root, committed):
    first = archived(dataset_with_files(investigation, data_root / "one", {"a": b"1"}))
    second = archived(dataset_with_files(investigation, data_root / "two", {"b": b"2"}))
    user = make_user("carol", email="carol@example.org")
    with committed():  # the eager tasks run the two jobs one after the other
        services.restore_request(user=user, datasets=Dataset.objects.filter(pk__in=[first.pk, second.pk]))
    assert RestoreJob.objects.filter(state=RestoreJob.State.DONE).count() == 2
    assert len(mail.outbox) == 1  # not one per dataset
    assert "one" in mail.outbox[0].body and "two" in mail.outbox[0].body


def test_a_failing_restore_is_retried_then_reported_and_not_left_restoring(dataset, archive_root, committed):
    archived(dataset)
    (archive_root / str(dataset.pk) / "notes.txt").unlink()  # the tape lost a file
    user = make_user("dave", email="dave@example.org")
    with committed():
        services.restore_request(user=user, datasets=Dataset.objects.filter(pk=dataset.pk))
    job = RestoreJob.objects.get()
    assert job.state == RestoreJob.State.FAILED
    assert job.attempts == 3  # the first run and settings.STORAGE_RESTORE_RETRIES more
    assert "not in the archive" in job.error
    dataset.refresh_from_db()
    assert dataset.storage_status == ARCHIVED
    assert "could not be restored" in mail.outbox[0].body and "notes.txt" in mail.outbox[0].body
    assert StorageEvent.objects.filter(dataset=dataset, reason__startswith="Restore failed").exists()


def test_restored_data_are_released_back_after_their_time(dataset, committed):
    archived(dataset)
    with committed():
        services.restore_request(user=make_user("erin"), datasets=Dataset.objects.filter(pk=dataset.pk))
    dataset.refresh_from_db()
    assert dataset.storage_status == ONLINE and dataset.online_until > timezone.now() + timedelta(days=13)
    # Asking again while it is online keeps it online longer.
    Dataset.objects.filter(pk=dataset.pk).update(online_until=timezone.now() + timedelta(days=1))
    assert services.restore_request(user=make_user("frank"), datasets=Dataset.objects.all()).online == 1
    assert Dataset.objects.get(pk=dataset.pk).online_until > timezone.now() + timedelta(days=13)
    assert services.restored_release() == 0
    assert tasks.release_restored_datasets.apply(kwargs={}).get() == 0
    assert services.restored_release(now=timezone.now() + timedelta(days=15)) == 1
    dataset.refresh_from_db()
    assert (dataset.storage_status, dataset.online_until) == (ARCHIVED, None)
    assert on_disk(dataset) == {}
    assert "Released back" in StorageEvent.objects.filter(dataset=dataset).first().reason


def test_the_schedule_archives_what_is_old_enough(investigation, data_root, settings, committed):
    now = timezone.now()
    old = dataset_with_files(investigation, data_root / "old", {"a": b"1"}, end_date=now - timedelta(days=40))
    recent = dataset_with_files(investigation, data_root / "new", {"b": b"2"}, end_date=now - timedelta(days=5))
    settings.STORAGE_ARCHIVE_AFTER_DAYS = 0
    assert tasks.archive_due_datasets.apply().get() == 0  # off by default
    settings.STORAGE_ARCHIVE_AFTER_DAYS = 30
    with committed():
        assert services.archive_due() == 1
        assert Dataset.objects.get(pk=old.pk).storage_status == ONLINE  # queued for when this commits
    assert Dataset.objects.get(pk=old.pk).storage_status == ARCHIVED
    assert Dataset.objects.get(pk=recent.pk).storage_status == ONLINE


def test_lost_restores_are_sent_again(dataset, django_capture_on_commit_callbacks, committed):
    archived(dataset)
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the message
        services.restore_request(user=make_user("gina"), datasets=Dataset.objects.all())
    assert services.restores_resend(older_than=timedelta(minutes=5)) == 0  # within the grace period
    RestoreJob.objects.update(heartbeat=timezone.now() - timedelta(hours=2))
    with committed():
        assert tasks.reconcile_restores.apply().get() == 1
    assert Dataset.objects.get(pk=dataset.pk).storage_status == ONLINE


# --- Portal routes ---------------------------------------------------------------------------------


def test_the_restore_button_restores_and_answers_the_storage_cell(dataset, participant, client, committed):
    archived(dataset)
    client.force_login(participant)
    page = client.get(reverse("investigation-datasets", args=[dataset.investigation_id]))
    assert b"restore-button" in page.content
    with committed():
        answer = client.post(reverse("storage-restore"), {"dataset": dataset.pk}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    assert f'id="storage-{dataset.pk}"'.encode() in answer.content
    assert b"storage-restoring" in answer.content and b"every 3s" in answer.content  # polled until online
    assert b"storage-online" in client.get(reverse("dataset-storage", args=[dataset.pk])).content
    assert RestoreRequest.objects.get().user == participant


def test_restore_forms_answer_bad_input_and_hidden_data_plainly(dataset, other_user, participant, client, committed):
    archived(dataset)
    client.force_login(other_user)  # may not read the embargoed dataset
    answer = client.post(reverse("storage-restore"), {"dataset": dataset.pk, "next": "/"})
    assert answer.status_code == 302
    assert Dataset.objects.get(pk=dataset.pk).storage_status == ARCHIVED
    for data, field in (
        ({"dataset": "1" * 400}, "dataset"),
        ({"dataset": "x"}, "dataset"),
        ({"investigation": "-1"}, "investigation"),
        ({}, "dataset"),
    ):
        answer = client.post(reverse("storage-restore"), data)
        assert answer.status_code == 400 and answer.content.startswith(field.encode()), data
    assert not RestoreJob.objects.exists()
    client.logout()
    assert client.post(reverse("storage-restore"), {"dataset": dataset.pk}).status_code == 302  # to sign in
    assert not RestoreJob.objects.exists()
    client.force_login(participant)
    with committed():
        answer = client.post(
            reverse("storage-restore"), {"investigation": dataset.investigation_id, "next": "https://evil.example/"}
        )
    assert answer.url == reverse("my-requests")  # never sent away to another site
    assert Dataset.objects.get(pk=dataset.pk).storage_status == ONLINE


def test_my_requests_shows_progress_in_a_fixed_number_of_queries(
    investigation, data_root, participant, client, django_assert_num_queries, django_capture_on_commit_callbacks
):
    for index in range(6):
        archived(dataset_with_files(investigation, data_root / f"s{index}", {"a": b"x" * index}))
    with django_capture_on_commit_callbacks(execute=False):
        services.restore_request(user=participant, datasets=Dataset.objects.all())
    client.force_login(participant)
    with django_assert_num_queries(5):  # session, user, the menu, count, the rows with their jobs and datasets
        page = client.get(reverse("my-requests"))
    assert page.content.count(b"Waiting for a tape drive") == 6
    assert page.content.count(b"storage-restoring") == 6


def test_staff_archive_a_dataset_with_a_reason(dataset, scientist, participant, client, committed):
    client.force_login(participant)
    assert client.post(reverse("dataset-archive", args=[dataset.pk]), {"reason": "x"}).status_code == 403
    client.force_login(scientist)
    page = client.get(dataset.get_absolute_url())
    assert b"Archive now" in page.content
    client.post(reverse("dataset-archive", args=[dataset.pk]), {"reason": ""})
    assert Dataset.objects.get(pk=dataset.pk).storage_status == ONLINE
    with committed():
        client.post(reverse("dataset-archive", args=[dataset.pk]), {"reason": "disk full on ID30"})
    assert Dataset.objects.get(pk=dataset.pk).storage_status == ARCHIVED
    page = client.get(dataset.get_absolute_url())
    assert b"disk full on ID30" in page.content and b"scientist" in page.content  # the history, with who


def test_the_admin_archives_and_restores(dataset, client, committed):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    url = reverse("admin:catalogue_dataset_changelist")
    with committed():
        answer = client.post(url, {"action": "archive_now", "_selected_action": [dataset.pk]}, follow=True)
    assert b"1 dataset(s) queued" in answer.content, answer.content.decode()[-3000:]
    assert Dataset.objects.get(pk=dataset.pk).storage_status == ARCHIVED
    with committed():
        client.post(url, {"action": "restore_now", "_selected_action": [dataset.pk]})
    assert Dataset.objects.get(pk=dataset.pk).storage_status == ONLINE
    assert client.get(reverse("admin:catalogue_restorejob_changelist")).status_code == 200


# --- The IDS-style API ---------------------------------------------------------------------------


def test_ids_status_restore_and_prepared_download(dataset, participant, committed):
    archived(dataset)
    api = user_client(participant)
    status = api.get(reverse("api:ids-get-status"), {"datasetIds": str(dataset.pk)})
    assert (status.status_code, status.content, status["Content-Type"]) == (
        200,
        b"ARCHIVED",
        "text/plain; charset=utf-8",
    )
    size = api.get(reverse("api:ids-get-size"), {"investigationIds": str(dataset.investigation_id)})
    assert int(size.content) == sum(map(len, FILES.values()))
    datafile = Datafile.objects.filter(dataset=dataset).first()
    with committed():
        prepared = api.post(reverse("api:ids-prepare-data") + f"?datafileIds={datafile.pk}")
    assert prepared.status_code == 200
    prepared_id = prepared.content.decode()
    # Restored eagerly on commit; a worker would take a while, and isPrepared says when.
    assert api.get(reverse("api:ids-is-prepared"), {"preparedId": prepared_id}).content == b"true"
    assert api.get(reverse("api:ids-get-status"), {"datasetIds": str(dataset.pk)}).content == b"ONLINE"
    data = api.get(reverse("api:ids-get-data"), {"preparedId": prepared_id})
    assert data.status_code == 200 and data["Content-Type"] == "application/zip"
    # Someone else's prepared id is nobody's.
    assert (
        user_client(make_user("x")).get(reverse("api:ids-is-prepared"), {"preparedId": prepared_id}).status_code == 404
    )
    restore = api.post(reverse("api:ids-restore"), {"datasetIds": str(dataset.pk)})
    assert restore.status_code == 202 and restore.json()["online"] == 1


def test_ids_answers_bad_and_hidden_ids_by_field(dataset, other_user, api_client, instrument_client):
    other = user_client(other_user)
    url = reverse("api:ids-get-status")
    for query, field, code in (
        ({"datasetIds": "1,x"}, "datasetIds", 400),
        ({"datasetIds": "9" * 400}, "datasetIds", 400),
        ({"investigationIds": "0"}, "investigationIds", 400),
        ({}, "datasetIds", 400),
        ({"datasetIds": str(dataset.pk)}, "datasetIds", 404),  # embargoed: as if missing
        ({"datafileIds": "987654321"}, "datafileIds", 404),
    ):
        answer = other.get(url, query)
        named = answer.json()["errors"] if code == 400 else answer.json()["detail"]
        assert answer.status_code == code and field in named, (query, answer.content)
    assert api_client.post(reverse("api:ids-restore"), {"datasetIds": str(dataset.pk)}).status_code in (401, 404)
    answer = instrument_client.post(reverse("api:ids-restore"), {"datasetIds": str(dataset.pk)})
    assert answer.status_code == 403 and "people" in answer.json()["detail"]
    assert not RestoreJob.objects.exists()
    assert other.get(reverse("api:ids-get-data"), {"preparedId": "nope"}).status_code == 404


def test_ids_get_data_of_archived_data_is_409(dataset, participant, django_capture_on_commit_callbacks):
    archived(dataset)
    api = user_client(participant)
    with django_capture_on_commit_callbacks(execute=False):  # the restore has not run yet
        prepared_id = api.post(reverse("api:ids-prepare-data") + f"?datasetIds={dataset.pk}").content.decode()
    assert api.get(reverse("api:ids-is-prepared"), {"preparedId": prepared_id}).content == b"false"
    answer = api.get(reverse("api:ids-get-data"), {"preparedId": prepared_id})
    assert answer.status_code == 409


def test_released_data_restore_for_anyone_signed_in(released_investigation, data_root, other_user, committed):
    folder = investigation_folder(data_root, released_investigation) / "open"
    dataset = archived(dataset_with_files(released_investigation, folder, {"x.h5": b"open data"}))
    with committed():
        answer = user_client(other_user).post(reverse("api:ids-restore") + f"?datasetIds={dataset.pk}")
    assert answer.status_code == 202 and answer.json()["queued"] == 1
    assert Dataset.objects.get(pk=dataset.pk).storage_status == ONLINE
