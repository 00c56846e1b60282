"""Single-file downloads (catalogue/storage/downloads.py): the portal's and the API's route, access
as for the dataset, files only through the real-path checks, 409 for archived data, HTTP Range
(a cut download resumed byte-exactly, over real HTTP too) and the download records."""

import email.message
import mimetypes
import os
import re

import pytest
import requests
from django.test import Client
from django.urls import reverse

from catalogue.models import Datafile, Dataset, DownloadRecord
from catalogue.storage.downloads import Unsatisfiable, byte_range

from .conftest import investigation_folder, key_client, make_dataset, user_client

pytestmark = pytest.mark.django_db

SIZE = 300_000  # more than two of the response's 128 KiB blocks
CONTENT = os.urandom(SIZE)
TRICKY = 'a "b";c.h5'
NON_ASCII = "données_Å.txt"


def write(folder, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


@pytest.fixture
def files(investigation, released_investigation, data_root):
    """An embargoed dataset (MX-1) and a released one (MX-0), each with data.h5; the released one
    also has a tricky name, a non-ASCII name and a link to /etc/passwd registered as files."""
    embargoed_folder = data_root / "scan"
    released_folder = investigation_folder(data_root, released_investigation) / "pub"
    write(embargoed_folder, "data.h5", CONTENT)
    write(released_folder, "data.h5", CONTENT)
    write(released_folder, TRICKY, b"tricky")
    write(released_folder, NON_ASCII, b"non-ascii")
    write(released_folder, "frame_0001", b"no extension")
    (released_folder / "passwd").symlink_to("/etc/passwd")
    embargoed = make_dataset(investigation, str(embargoed_folder))
    released = make_dataset(released_investigation, str(released_folder))
    made = {"embargoed": embargoed, "released": released}
    for dataset, names in (
        (embargoed, ["data.h5"]),
        (released, ["data.h5", TRICKY, NON_ASCII, "frame_0001", "passwd"]),
    ):
        for name in names:
            made[(dataset.pk, name)] = Datafile.objects.create(dataset=dataset, path=name, size=10)
        Dataset.objects.filter(pk=dataset.pk).update(file_count=len(names), complete=True)  # as registration does
    made["data"] = made[(released.pk, "data.h5")]
    made["secret"] = made[(embargoed.pk, "data.h5")]
    return made


def portal_url(datafile: Datafile) -> str:
    return reverse("datafile-download", args=[datafile.dataset_id, datafile.pk])


def api_url(datafile: Datafile) -> str:
    return reverse("api:datafile-download", args=[datafile.pk])


def normal(response, url: str) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", response.content.replace(url.encode(), b""))


def body(response) -> bytes:
    """All the answer's bytes; the test client closes the file and the response at their end."""
    return b"".join(response.streaming_content)


# --- Access --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, sees_embargoed",
    [("anonymous", False), ("participant", True), ("other_user", False), ("scientist", True), ("staff", True)],
)
def test_who_downloads_what(request, files, role, sees_embargoed):
    client = Client() if role == "anonymous" else user_client(request.getfixturevalue(role))
    for url in (portal_url, api_url):
        assert body(client.get(url(files["data"]))) == CONTENT  # released: everybody
        secret = client.get(url(files["secret"]))
        if sees_embargoed:
            assert body(secret) == CONTENT
        else:
            missing_url = url(Datafile(pk=987654321, dataset_id=987654321))
            missing = client.get(missing_url)
            assert secret.status_code == missing.status_code == 404
            # The same answer but for its own address and CSRF token (the portal's 404 page shows both).
            assert normal(secret, url(files["secret"])) == normal(missing, missing_url)


def test_instrument_keys_download_their_instruments_files(files, api_key, other_api_key):
    assert body(key_client(api_key[1]).get(api_url(files["secret"]))) == CONTENT
    assert key_client(other_api_key[1]).get(api_url(files["secret"])).status_code == 404


def test_a_file_of_another_dataset_is_not_served_under_this_one(files, staff):
    crossed = reverse("datafile-download", args=[files["released"].pk, files["secret"].pk])
    assert user_client(staff).get(crossed).status_code == 404


def test_a_link_leading_out_serves_nothing(files, staff, data_root):
    client = user_client(staff)
    passwd = files[(files["released"].pk, "passwd")]
    # And a file swapped for a link after its registration.
    data = files["data"]
    (data_root.parent / "mx0" / "pub" / "data.h5").unlink()
    (data_root.parent / "mx0" / "pub" / "data.h5").symlink_to("/etc/passwd")
    for datafile in (passwd, data):
        for url in (portal_url, api_url):
            response = client.get(url(datafile))
            assert response.status_code == 404
            assert b"root:" not in response.content
    assert not DownloadRecord.objects.exists()


@pytest.mark.parametrize("status", [Dataset.StorageStatus.ARCHIVED, Dataset.StorageStatus.RESTORING])
def test_data_not_on_disk_answer_409(files, status):
    Dataset.objects.filter(pk=files["released"].pk).update(storage_status=status)
    page = Client().get(portal_url(files["data"]))
    assert page.status_code == 409
    assert "not on disk (archived)" in page.content.decode()
    assert "restored" in page.content.decode()
    api = Client().get(api_url(files["data"]))
    assert api.status_code == 409
    assert "not on disk (archived)" in api.json()["detail"]
    assert not DownloadRecord.objects.exists()


def test_hidden_archived_data_answer_404_not_409(files):
    Dataset.objects.filter(pk=files["embargoed"].pk).update(storage_status=Dataset.StorageStatus.ARCHIVED)
    assert Client().get(portal_url(files["secret"])).status_code == 404
    assert Client().get(api_url(files["secret"])).status_code == 404


# --- The answer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [portal_url, api_url])
def test_the_whole_file_with_its_headers(files, url):
    response = Client().get(url(files["data"]))
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert response["Content-Length"] == str(SIZE)
    assert response["Content-Type"] == (mimetypes.guess_type("data.h5")[0] or "application/octet-stream")
    assert response["Content-Disposition"] == 'attachment; filename="data.h5"'
    assert response["Accept-Ranges"] == "bytes"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name, data", [(TRICKY, b"tricky"), (NON_ASCII, b"non-ascii")])
def test_tricky_names_stay_one_safe_attachment(files, name, data):
    response = Client().get(api_url(files[(files["released"].pk, name)]))
    assert body(response) == data
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.isascii()
    header = email.message.Message()
    header["Content-Disposition"] = disposition
    assert header.get_filename() == name  # as a mail or HTTP client parses it (RFC 6266 / 5987)
    assert response["Content-Type"] == (mimetypes.guess_type(name)[0] or "application/octet-stream")


def test_a_file_of_unknown_type_is_octet_stream(files):
    response = Client().get(api_url(files[(files["released"].pk, "frame_0001")]))
    assert body(response) == b"no extension"
    assert response["Content-Type"] == "application/octet-stream"


def test_the_api_answers_clients_that_accept_only_bytes(files):
    response = Client().get(api_url(files["data"]), headers={"accept": "application/octet-stream"})
    assert body(response) == CONTENT
    missing = Client().get(api_url(files["data"]) + "x/", headers={"accept": "application/octet-stream"})
    assert missing.status_code == 404


# --- Ranges -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, first, last",
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1000", 1000, 1000),
        ("bytes=200000-", 200000, SIZE - 1),  # open-ended: a resume
        ("bytes=-500", SIZE - 500, SIZE - 1),  # suffix
        ("bytes=-999999", 0, SIZE - 1),  # a suffix longer than the file: all of it
        ("bytes=299000-999999", 299000, SIZE - 1),  # clipped to the end
        ("Bytes = 5-9".replace(" ", ""), 5, 9),
    ],
)
@pytest.mark.parametrize("url", [portal_url, api_url])
def test_one_range_gives_exactly_its_bytes(files, url, header, first, last):
    response = Client().get(url(files["data"]), headers={"range": header})
    assert response.status_code == 206
    assert body(response) == CONTENT[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"] == 'attachment; filename="data.h5"'


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0"])
@pytest.mark.parametrize("url", [portal_url, api_url])
def test_an_unsatisfiable_range_answers_416(files, url, header):
    response = Client().get(url(files["data"]), headers={"range": header})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert response["Accept-Ranges"] == "bytes"
    assert not DownloadRecord.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"range": "bytes=0-9,20-29"},  # several ranges: the whole file
        {"range": "bytes=abc"},  # malformed: ignored
        {"range": "items=0-9"},  # another unit: ignored
        {"range": "bytes=9-0"},  # last before first: ignored
        {"range": "bytes=0-9", "if-range": '"an-etag"'},  # If-Range: not the file's date, the whole file
        {"range": "bytes=0-9", "if-range": "Mon, 01 Jan 1990 00:00:00 GMT"},  # changed since: whole
    ],
)
def test_other_range_requests_get_the_whole_file(files, headers):
    response = Client().get(portal_url(files["data"]), headers=headers)
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert "Content-Range" not in response


def test_if_range_with_the_file_s_date_gets_the_range(files):
    whole = Client().get(portal_url(files["data"]))
    body(whole)
    resumed = Client().get(
        portal_url(files["data"]), headers={"range": "bytes=10-19", "if-range": whole["Last-Modified"]}
    )
    assert resumed.status_code == 206 and body(resumed) == CONTENT[10:20]


def test_byte_range_of_an_empty_file():
    assert byte_range("", 0) is None
    with pytest.raises(Unsatisfiable):
        byte_range("bytes=0-", 0)
    with pytest.raises(Unsatisfiable):
        byte_range("bytes=-5", 0)


def test_a_cut_download_resumes_byte_exactly_over_http(files, live_server):
    """As `curl -C -` does: the first answer cut after some bytes, the rest asked with Range."""
    url = live_server.url + api_url(files["data"])
    cut = 150_001
    received = b""
    with requests.get(url, stream=True, timeout=30) as first:
        assert first.status_code == 200 and first.headers["Content-Length"] == str(SIZE)
        for chunk in first.iter_content(chunk_size=10_000):
            received += chunk
            if len(received) >= cut:
                break  # the connection closes: a cut download
    received = received[:cut]
    resumed = requests.get(url, headers={"Range": f"bytes={len(received)}-"}, timeout=30)
    assert resumed.status_code == 206
    assert resumed.headers["Content-Range"] == f"bytes {cut}-{SIZE - 1}/{SIZE}"
    assert received + resumed.content == CONTENT
    assert sorted(DownloadRecord.objects.values_list("bytes", flat=True)) == [SIZE - cut, SIZE]


# --- Records ------------------------------------------------------------------------------------


def test_every_download_is_recorded(files, participant):
    body(user_client(participant).get(portal_url(files["secret"]), headers={"range": "bytes=10-19"}))
    body(Client().get(api_url(files["data"])))
    body(Client().head(portal_url(files["data"])))  # a HEAD sends no bytes: no record
    records = list(DownloadRecord.objects.order_by("id").values("user", "kind", "dataset_id", "datafile_id", "bytes"))
    assert records == [
        {
            "user": participant.pk,
            "kind": "file",
            "dataset_id": files["embargoed"].pk,
            "datafile_id": files["secret"].pk,
            "bytes": 10,
        },
        {
            "user": None,
            "kind": "file",
            "dataset_id": files["released"].pk,
            "datafile_id": files["data"].pk,
            "bytes": SIZE,
        },
    ]


def test_the_download_reads_one_row_and_writes_one(files, participant, django_assert_num_queries):
    with django_assert_num_queries(2):  # the file with its dataset (access in SQL), the record
        body(Client().get(portal_url(files["data"])))
    client = user_client(participant)
    with django_assert_num_queries(4):  # + the session and the user
        body(client.get(portal_url(files["data"])))


# --- The dataset page and the schema -------------------------------------------------------------


def test_the_file_list_links_downloads_while_the_data_are_online(files):
    dataset = files["released"]
    link = f'href="{portal_url(files["data"])}"'
    assert link in Client().get(dataset.get_absolute_url()).content.decode()
    Dataset.objects.filter(pk=dataset.pk).update(storage_status=Dataset.StorageStatus.ARCHIVED)
    page = Client().get(dataset.get_absolute_url()).content.decode()
    assert "data.h5" in page and link not in page


def test_the_schema_documents_the_download():
    schema = Client().get(reverse("api:schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/datafiles/{id}/download/"]["get"]
    answers = operation["responses"]
    assert answers["200"]["content"]["application/octet-stream"]["schema"] == {"type": "string", "format": "binary"}
    assert "206" in answers and "404" in answers and "416" in answers
    assert "application/json" in answers["409"]["content"]
    assert any(p["name"] == "Range" and p["in"] == "header" for p in operation["parameters"])
