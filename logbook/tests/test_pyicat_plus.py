"""The beamline's own client, pyicat-plus's IcatElogbookClient, unchanged, pointed at the portal on
loopback (live_server) with an instrument key: ICAT+'s /dataacquisition/{apiKey}/notification and /base64."""

import io

import pytest
from PIL import Image
from pyicat_plus.client.main import IcatClient

from catalogue.people.services import api_key_create
from catalogue.tests.conftest import make_dataset
from logbook.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def icat(live_server, investigation):
    _, secret = api_key_create(instrument=investigation.instrument, name="bliss")
    client = IcatClient(
        elogbook_url=live_server.url, elogbook_token=secret, elogbook_timeout=30, beamline="id30", proposal="mx1",
        elogbook_metadata={"machine": "bliss-id30", "software": "bliss"},
    )  # fmt: skip
    client.elogbook_client.raise_error = True
    return client


def test_pyicat_plus_writes_to_the_logbook(icat, investigation, data_root, tmp_path):
    make_dataset(investigation, str(data_root / "scan1"), name="scan1")
    icat.send_message("a user comment", msg_type="comment")
    icat.send_message("energy set to 12.7 keV", msg_type="info", tags=["energy"])
    icat.send_message("<b>motor</b> fault<script>x</script>", msg_type="error", mimetype="text/html")
    icat.send_message("ascan sy 0 1 10 0.1", msg_type="command", dataset="scan1")
    icat.send_message("beamline only", msg_type="info", beamline_only=True)
    text_file = tmp_path / "note.txt"
    text_file.write_text("from a file")
    icat.send_text_file(str(text_file))
    out = io.BytesIO()
    Image.new("RGB", (20, 10), "green").save(out, format="PNG")
    icat.send_binary_data(out.getvalue(), mimetype="image/png")

    events = {e.text or e.html or e.type: e for e in Event.objects.select_related("dataset")}
    comment = events["a user comment"]
    assert (comment.type, comment.category, comment.investigation_id) == ("annotation", "comment", investigation.pk)
    assert comment.machine == "bliss-id30" and comment.software == "bliss"
    assert [t.name for t in events["energy set to 12.7 keV"].tags.all()] == ["energy"]
    error = next(e for e in events.values() if e.category == "error")
    assert error.type == "notification" and "<b>motor</b> fault" in error.html and "script" not in error.html
    command = events["ascan sy 0 1 10 0.1"]
    assert command.category == "commandLine" and command.dataset.name == "scan1"
    beamline = events["beamline only"]
    assert beamline.investigation_id is None and beamline.instrument_id == investigation.instrument_id
    assert events["from a file"].investigation_id == investigation.pk
    attachment = events["attachment"].attachments.get()
    assert attachment.content_type == "image/png" and attachment.thumbnail_name


def test_a_bad_key_or_an_unknown_dataset_is_refused(icat, live_server, investigation):
    from icat_plus_client.exceptions import ApiException

    with pytest.raises(ApiException) as refused:
        icat.send_message("x", msg_type="info", dataset="no-such-dataset")
    assert refused.value.status == 400 and "datasetName" in refused.value.body
    bad = IcatClient(elogbook_url=live_server.url, elogbook_token="nope.nope", elogbook_timeout=30, beamline="id30")
    with pytest.raises(ApiException) as refused:
        bad.send_message("x", msg_type="info")
    assert refused.value.status == 401
    assert not Event.objects.exists()
