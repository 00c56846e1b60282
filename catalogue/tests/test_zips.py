"""ZIP downloads and the selection (catalogue/storage/zips.py, selection.py, pages.py, api/zips.py):
the archive byte-exact and CRC-clean with its manifest, Content-Length exact, access as for the
datasets, 409 for data not online (nothing half-sent), records, pinned query counts, the selection's
services and pages, sendfile for single files; and, through a real gunicorn, a 5 GB sparse file and
a 70,000-file dataset with the worker's peak memory recorded."""

import io
import os
import zipfile
import zlib

import pytest
from django.test import Client
from django.urls import reverse

from catalogue.models import DataCollection, Datafile, Dataset, DownloadRecord
from catalogue.storage import selection as selection_services
from catalogue.storage.zips import dataset_folder, member_path

from .conftest import investigation_folder, make_dataset, user_client

pytestmark = pytest.mark.django_db

BIG = os.urandom(300_000)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def write_dataset(investigation, folder, files: dict[str, bytes], **fields) -> Dataset:
    """A complete dataset whose files are on disk and registered with their sizes and checksums."""
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    dataset = make_dataset(investigation, str(folder), **fields)
    Datafile.objects.bulk_create(
        Datafile(dataset=dataset, path=path, size=len(data), checksum=f"crc32:{zlib.crc32(data):08x}")
        for path, data in files.items()
    )
    size = sum(len(data) for data in files.values())
    Dataset.objects.filter(pk=dataset.pk).update(file_count=len(files), size=size, complete=True)
    dataset.refresh_from_db()
    return dataset


FILES = {"data.h5": BIG, "sub/a.txt": b"alpha", "sub/deeper/b.cbf": b"b" * 1000, "empty.log": b""}


@pytest.fixture
def datasets(investigation, released_investigation, data_root):
    embargoed = write_dataset(investigation, data_root / "scan 1", FILES, name="scan 1/é")
    released = write_dataset(
        released_investigation, investigation_folder(data_root, released_investigation) / "pub", {"x.h5": b"x" * 10}
    )
    return {"embargoed": embargoed, "released": released}


def open_zip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None  # every member's CRC
    return archive


def test_a_dataset_zip_holds_its_files_byte_exact_and_a_manifest(datasets, participant):
    dataset = datasets["embargoed"]
    response = user_client(participant).get(reverse("dataset-download", args=[dataset.pk]))
    assert response.status_code == 200
    data = body(response)
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Type"] == "application/zip"
    folder = dataset_folder(dataset.pk, dataset.name)
    assert folder == f"scan_1_{dataset.pk}"
    assert response["Content-Disposition"] == f'attachment; filename="{folder}.zip"'
    archive = open_zip(data)
    for path, content in FILES.items():
        info = archive.getinfo(f"{folder}/{path}")
        assert info.compress_type == zipfile.ZIP_STORED
        assert archive.read(info) == content
    lines = archive.read("MANIFEST.tsv").decode().splitlines()
    assert lines[0] == "path\tsize\tchecksum\tdataset_id"
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in lines[1:]}
    assert rows == {
        f"{folder}/{path}": [str(len(content)), f"crc32:{zlib.crc32(content):08x}", str(dataset.pk)]
        for path, content in FILES.items()
    }
    assert sorted(archive.namelist()) == sorted([f"{folder}/", "MANIFEST.tsv", *(f"{folder}/{path}" for path in FILES)])


def test_an_investigation_zip_and_the_api_routes(datasets, participant, investigation, data_root):
    second = write_dataset(investigation, data_root / "scan2", {"c.h5": b"c" * 5})
    client = user_client(participant)
    for url in (
        reverse("investigation-download", args=[investigation.pk]),
        reverse("api:investigation-download", args=[investigation.pk]),
    ):
        archive = open_zip(body(client.get(url)))
        folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
        assert folders == {dataset_folder(d.pk, d.name) for d in (datasets["embargoed"], second)}
    api = client.get(reverse("api:dataset-download", args=[second.pk]), headers={"accept": "application/zip"})
    assert open_zip(body(api)).read(f"{dataset_folder(second.pk, second.name)}/c.h5") == b"c" * 5


def test_hidden_datasets_answer_like_missing_ones(datasets, other_user):
    client = user_client(other_user)
    for name in ("dataset-download", "api:dataset-download"):
        assert client.get(reverse(name, args=[datasets["embargoed"].pk])).status_code == 404
        assert client.get(reverse(name, args=[987654321])).status_code == 404
    inv = datasets["embargoed"].investigation_id
    assert Client().get(reverse("investigation-download", args=[inv])).status_code == 404
    released = Client().get(reverse("dataset-download", args=[datasets["released"].pk]))
    assert open_zip(body(released)).read(f"{dataset_folder(datasets['released'].pk, 'pub')}/x.h5") == b"x" * 10
    assert not DownloadRecord.objects.filter(user__isnull=False).exists()


@pytest.mark.parametrize("status", [Dataset.StorageStatus.ARCHIVED, Dataset.StorageStatus.RESTORING])
def test_data_not_online_answer_409_offering_the_restore(datasets, participant, investigation, status):
    Dataset.objects.filter(pk=datasets["embargoed"].pk).update(storage_status=status)
    client = user_client(participant)
    page = client.get(reverse("investigation-download", args=[investigation.pk]))
    assert page.status_code == 409 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "scan" in html and f'name="dataset" value="{datasets["embargoed"].pk}"' in html
    assert f'action="{reverse("storage-restore")}"' in html
    api = client.get(reverse("api:dataset-download", args=[datasets["embargoed"].pk]))
    assert api.status_code == 409 and api.json()["datasets"] == [datasets["embargoed"].pk]
    assert not DownloadRecord.objects.exists()


def test_each_zip_download_is_one_record_without_personal_data_when_anonymous(datasets, participant, investigation):
    body(user_client(participant).get(reverse("investigation-download", args=[investigation.pk])))
    body(Client().get(reverse("dataset-download", args=[datasets["released"].pk])))
    Client().head(reverse("dataset-download", args=[datasets["released"].pk]))  # no bytes: no record
    records = list(
        DownloadRecord.objects.order_by("id").values(
            "user", "kind", "dataset_id", "investigation_id", "datasets", "bytes"
        )
    )
    total = sum(len(d) for d in FILES.values())
    assert records == [
        {"user": participant.pk, "kind": "investigation", "dataset_id": datasets["embargoed"].pk,
         "investigation_id": investigation.pk, "datasets": 1, "bytes": total},
        {"user": None, "kind": "dataset", "dataset_id": datasets["released"].pk,
         "investigation_id": datasets["released"].investigation_id, "datasets": 1, "bytes": 10},
    ]  # fmt: skip


def test_a_zip_costs_a_fixed_number_of_queries(datasets, django_assert_num_queries, investigation, data_root):
    for i in range(3):
        write_dataset(investigation, data_root / f"more{i}", {f"f{k}.h5": b"z" * k for k in range(5)})
    url = reverse("dataset-download", args=[datasets["released"].pk])
    # The name, the dataset with its investigation, the rows (sizes), the record; then the rows to
    # send and the manifest's.
    with django_assert_num_queries(6):
        body(Client().get(url))


def test_a_file_changed_on_disk_cuts_the_stream(datasets, participant, data_root):
    (data_root / "scan 1" / "sub" / "a.txt").write_bytes(b"longer than registered")
    response = user_client(participant).get(reverse("dataset-download", args=[datasets["embargoed"].pk]))
    with pytest.raises(Exception, match="on disk"):
        body(response)


def test_a_link_leading_out_cuts_the_stream(datasets, participant, data_root):
    target = data_root / "scan 1" / "sub" / "a.txt"
    target.unlink()
    target.symlink_to("/etc/hostname")
    response = user_client(participant).get(reverse("dataset-download", args=[datasets["embargoed"].pk]))
    with pytest.raises(Exception, match="cannot be opened"):
        body(response)


def test_member_names_stay_inside_their_folder():
    assert member_path("d_1", "..\\..\\evil") == "d_1/.._.._evil"
    assert dataset_folder(7, "../../etc/passwd") == "etc_passwd_7"
    assert dataset_folder(8, "...") == "dataset_8"


# --- The selection ------------------------------------------------------------------------------


def test_selection_services_add_only_readable_datasets(datasets, other_user, participant):
    ids = [datasets["embargoed"].pk, datasets["released"].pk, 987654321]
    assert selection_services.selection_add(user=other_user, dataset_ids=ids) == 1  # the released one
    assert selection_services.selection_add(user=participant, dataset_ids=ids) == 2
    assert selection_services.selection_add(user=participant, dataset_ids=ids) == 0
    assert DataCollection.objects.filter(kind="selection").count() == 2
    assert selection_services.selection_remove(user=participant, dataset_ids=[datasets["released"].pk]) == 1
    assert selection_services.selection_count(participant) == 1
    assert selection_services.selection_clear(user=participant) == 1
    assert selection_services.selection_count(participant) == 0


def test_selection_page_add_remove_clear_and_download(datasets, participant):
    client = user_client(participant)
    ids = [datasets["embargoed"].pk, datasets["released"].pk]
    added = client.post(reverse("selection-add"), {"dataset": ids, "next": "/datasets/"})
    assert added.status_code == 302 and added["Location"] == "/datasets/"
    page = client.get(reverse("selection"))
    html = page.content.decode()
    assert "scan 1/é" in html and reverse("selection-download") in html
    assert 'class="badge rounded-pill text-bg-light selection-count">2<' in html
    archive = open_zip(body(client.get(reverse("selection-download"))))
    assert len({name.split("/")[0] for name in archive.namelist() if "/" in name}) == 2
    assert DownloadRecord.objects.get().kind == "selection"
    client.post(reverse("selection-remove"), {"dataset": [datasets["released"].pk]})
    assert selection_services.selection_count(participant) == 1
    client.post(reverse("selection-clear"))
    assert "Your selection is empty" in client.get(reverse("selection")).content.decode()


def test_selection_add_by_htmx_answers_the_button(datasets, participant):
    client = user_client(participant)
    response = client.post(
        reverse("selection-add"), {"dataset": datasets["released"].pk}, headers={"HX-Request": "true"}
    )
    assert "In selection" in response.content.decode()


@pytest.mark.parametrize("value", ["abc", "", "-1", "99999999999999999999999"])
def test_bad_ids_answer_400_naming_the_field(participant, value):
    response = user_client(participant).post(reverse("selection-add"), {"dataset": value})
    assert response.status_code == 400 and b"dataset" in response.content


def test_anonymous_visitors_are_asked_to_sign_in(datasets):
    for url in (reverse("selection"), reverse("selection-download")):
        response = Client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
    page = Client().get(datasets["released"].get_absolute_url()).content.decode()
    assert "Sign in to select" in page


def test_the_selection_page_costs_a_fixed_number_of_queries(
    datasets, participant, django_assert_num_queries, data_root
):
    client = user_client(participant)
    ids = [datasets["embargoed"].pk, datasets["released"].pk]
    for i in range(5):
        ids.append(write_dataset(datasets["embargoed"].investigation, data_root / f"s{i}", {"a": b"a"}).pk)
    selection_services.selection_add(user=participant, dataset_ids=ids)
    client.get(reverse("selection"))
    # the session, the user, the totals, the nav bar's staff check, the page (the count is the totals')
    with django_assert_num_queries(5):
        client.get(reverse("selection"))


def test_the_selection_api(datasets, participant, api_key):
    client = user_client(participant)
    url = reverse("api:selection-list")
    ids = [datasets["embargoed"].pk, datasets["released"].pk]
    assert client.post(url, {"datasets": ids}, content_type="application/json").json() == {"changed": 2, "count": 2}
    listed = client.get(url).json()
    assert sorted(listed["datasets"]) == sorted(ids) and listed["size"] == datasets["embargoed"].size + 10
    assert open_zip(body(client.get(reverse("api:selection-download"))))
    bad = client.post(url, {"datasets": ["x"]}, content_type="application/json")
    assert bad.status_code == 400 and "datasets" in bad.json()["errors"]
    assert Client().get(url).status_code in (401, 403)
    assert Client(headers={"authorization": f"Api-Key {api_key[1]}"}).get(url).status_code == 403


def test_the_nav_bar_count_costs_no_query(datasets, participant):
    client = user_client(participant)
    client.post(reverse("selection-add"), {"dataset": [datasets["released"].pk]})
    html = client.get(reverse("home")).content.decode()
    assert 'selection-count">1<' in html


def test_bulk_text_above_the_threshold(datasets, participant, settings):
    settings.DOWNLOAD_BULK_THRESHOLD = 100
    settings.DOWNLOAD_BULK_TEXT = "Use Globus zq-bulk"
    html = user_client(participant).get(datasets["embargoed"].get_absolute_url()).content.decode()
    assert "Use Globus zq-bulk" in html and reverse("dataset-download", args=[datasets["embargoed"].pk]) in html
    html = user_client(participant).get(datasets["released"].get_absolute_url()).content.decode()
    assert "zq-bulk" not in html


# --- sendfile -----------------------------------------------------------------------------------


def test_sendfile_hands_the_file_to_nginx_after_the_checks(datasets, participant, settings, data_root):
    from django_sendfile.utils import _get_sendfile

    settings.DOWNLOAD_SENDFILE = settings.SENDFILE_BACKEND = "django_sendfile.backends.nginx"
    settings.SENDFILE_ROOT, settings.SENDFILE_URL = str(data_root.parent), "/protected-data"
    _get_sendfile.cache_clear()
    try:
        datafile = Datafile.objects.get(dataset=datasets["embargoed"], path="data.h5")
        url = reverse("datafile-download", args=[datafile.dataset_id, datafile.pk])
        response = user_client(participant).get(url, headers={"range": "bytes=0-9"})
        assert response.status_code == 200 and response.content == b""
        assert response["X-Accel-Redirect"] == "/protected-data/mx1/scan%201/data.h5"
        assert response["Content-Length"] == str(len(BIG))
        assert response["Content-Disposition"] == 'attachment; filename="data.h5"'
        assert DownloadRecord.objects.get().bytes == len(BIG)
        assert Client().get(url).status_code == 404  # embargoed: the access check comes first
        (data_root / "scan 1" / "data.h5").unlink()
        (data_root / "scan 1" / "data.h5").symlink_to("/etc/hostname")
        assert user_client(participant).get(url).status_code == 404  # and the real-path check
    finally:
        _get_sendfile.cache_clear()


# --- Through a real gunicorn: 5 GB, 70,000 files, the worker's memory ---------------------------

FIVE_GB = 5 * 2**30
MANY = 70_000


def _worker_pid(master: int) -> int:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as status:
                    fields = dict(line.split(":", 1) for line in status if ":" in line)
            except OSError:
                continue
            if int(fields["PPid"]) == master:
                return int(entry)
    raise AssertionError("no gunicorn worker")


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _download_sparse(url: str, path) -> int:
    """The answer written to disk, holes where it is all zeros (a 5 GB archive of zeros takes
    almost no space); returns its length."""
    import requests

    length = 0
    with requests.get(url, stream=True, timeout=120) as response, open(path, "wb") as out:
        assert response.status_code == 200, response.text[:500]
        assert int(response.headers["Content-Length"]) > 0
        for block in response.iter_content(chunk_size=2**20):
            if block.count(0) == len(block):
                out.seek(len(block), os.SEEK_CUR)
            else:
                out.write(block)
            length += len(block)
        out.truncate(length)
        assert length == int(response.headers["Content-Length"])
    return length


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_five_gigabytes_and_seventy_thousand_files_through_gunicorn(
    released_investigation, data_root, tmp_path, record_property
):
    """The archives test clean (every CRC) and the worker's peak memory stays flat: the same after
    a 5 GB archive as after a small one."""
    from django.conf import settings
    from django.db import connection

    from .processes import app_env, database_url, start_server

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL shared with the server process (run `make test`)")
    folder = investigation_folder(data_root, released_investigation)
    small = write_dataset(released_investigation, folder / "small", {"a.h5": b"a" * 1000})
    big_folder = folder / "big"
    big_folder.mkdir(parents=True)
    with open(big_folder / "zeros.raw", "wb") as sparse:
        os.truncate(sparse.fileno(), FIVE_GB)
    big = make_dataset(released_investigation, str(big_folder))
    Datafile.objects.create(dataset=big, path="zeros.raw", size=FIVE_GB)
    Dataset.objects.filter(pk=big.pk).update(file_count=1, size=FIVE_GB, complete=True)
    many_folder = folder / "many"
    for k in range(MANY // 1000):
        (many_folder / f"d{k:02d}").mkdir(parents=True)
    rows = []
    for i in range(MANY):
        path = f"d{i // 1000:02d}/f{i:05d}.txt"
        (many_folder / path).write_bytes(b"%05d" % i)
        rows.append(Datafile(dataset_id=0, path=path, size=5))
    many = make_dataset(released_investigation, str(many_folder))
    for row in rows:
        row.dataset_id = many.pk
    Datafile.objects.bulk_create(rows, batch_size=10_000)
    Dataset.objects.filter(pk=many.pk).update(file_count=MANY, size=5 * MANY, complete=True)

    env = app_env(
        DATABASE_URL=database_url(connection.settings_dict),
        CELERY_BROKER_URL="",
        DATA_ROOTS=str(data_root.parent),
        DATA_FOLDER_PATTERN=settings.DATA_FOLDER_PATTERN,
    )
    server, url = start_server(env, tmp_path / "gunicorn.log")
    try:
        worker = _worker_pid(server.popen.pid)
        _download_sparse(f"{url}{reverse('dataset-download', args=[small.pk])}", tmp_path / "small.zip")
        after_small = _peak_rss_mb(worker)
        _download_sparse(f"{url}{reverse('dataset-download', args=[big.pk])}", tmp_path / "big.zip")
        after_big = _peak_rss_mb(worker)
        _download_sparse(f"{url}{reverse('dataset-download', args=[many.pk])}", tmp_path / "many.zip")
        after_many = _peak_rss_mb(worker)
    finally:
        server.stop()
    record_property("peak_rss_mb", {"small": after_small, "5GB": after_big, "70000 files": after_many})
    print(f"worker peak RSS, MB: {after_small:.0f}; after 5 GB {after_big:.0f}; after 70,000 files {after_many:.0f}")
    with zipfile.ZipFile(tmp_path / "big.zip") as archive:
        info = archive.getinfo(f"{dataset_folder(big.pk, big.name)}/zeros.raw")
        assert info.file_size == FIVE_GB
        crc = 0
        zeros = bytes(2**24)
        for _ in range(FIVE_GB // len(zeros)):
            crc = zlib.crc32(zeros, crc)
        assert crc == info.CRC  # what the server computed while streaming
        assert archive.read("MANIFEST.tsv").decode().splitlines()[1].split("\t")[1] == str(FIVE_GB)
    with zipfile.ZipFile(tmp_path / "many.zip") as archive:
        assert len(archive.infolist()) == MANY + 2  # the files, the folder, the manifest
        assert archive.testzip() is None
        assert archive.read(f"{dataset_folder(many.pk, many.name)}/d69/f69999.txt") == b"69999"
    assert after_big < 150 and after_many < 150
    assert after_big - after_small < 10  # 5 GB more bytes: no more memory
