"""Portal pages: who sees what, what the pages show, their filters, and what they cost."""

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalogue.ingestion.registration import datafiles_register
from catalogue.models import InvestigationUser
from catalogue.templatetags.portal import group_label, param_value
from techniques.models import DatasetDefinition, ParameterType, Technique

from .conftest import make_dataset, make_investigation, make_sample, make_user

pytestmark = pytest.mark.django_db

# --- The world: a small vocabulary with labels and units, datasets with parameters ------------


def _parameter(name, label, value_type, unit="", technique=None) -> ParameterType:
    parameter, _ = ParameterType.objects.update_or_create(
        name=name, defaults={"label": label, "value_type": value_type, "unit": unit, "technique": technique}
    )
    return parameter


@pytest.fixture
def vocab(db) -> dict:
    technique, _ = Technique.objects.get_or_create(code="TESTX", defaults={"name": "Views test technique"})
    numeric, string = ParameterType.ValueType.NUMERIC, ParameterType.ValueType.STRING
    _parameter("TESTX_resolution", "Resolution", numeric, "angstrom", technique)
    _parameter("TESTX_wavelength", "Wavelength", numeric, "angstrom", technique)
    _parameter("TESTX_exposureTime", "Exposure time", numeric, "s", technique)
    _parameter("TESTX_detector", "Detector", string, "", technique)
    _parameter("TESTXScaling_ccHalf", "CC(1/2)", numeric, "", technique)
    raw, _ = DatasetDefinition.objects.update_or_create(
        code="TESTX_OSC",
        defaults={
            "label": "Test oscillation",
            "kind": "raw",
            "technique": technique,
            "summary": ["TESTX_resolution", "TESTX_wavelength", "TESTX_exposureTime"],
        },
    )
    processed, _ = DatasetDefinition.objects.update_or_create(
        code="TESTX_PROC",
        defaults={
            "label": "Test integration",
            "kind": "processed",
            "technique": technique,
            "summary": ["TESTXScaling_ccHalf"],
        },
    )
    return {"technique": technique, "raw": raw, "processed": processed}


PARAMETERS = {
    "TESTX_resolution": 1.234567891,
    "TESTX_wavelength": 0.966,
    "TESTX_exposureTime": 0.1,
    "TESTX_detector": "EIGER2 X 16M",
}


@pytest.fixture
def world(investigation, released_investigation, vocab, data_root) -> dict:
    """On the embargoed investigation: two samples, a raw dataset (3 files) processed into one output."""
    lysozyme = make_sample(investigation, "lysozyme")
    thaumatin = make_sample(investigation, "thaumatin")
    raw = make_dataset(
        investigation,
        str(data_root / "raw1"),
        sample=lysozyme,
        files=3,
        name="osc-lysozyme-1",
        definition=vocab["raw"],
        parameters=PARAMETERS,
        start_date=timezone.now(),
    )
    processed = make_dataset(
        investigation,
        str(data_root / "proc1"),
        sample=lysozyme,
        files=1,
        name="autoproc-lysozyme-1",
        kind="processed",
        definition=vocab["processed"],
        parameters={"TESTXScaling_ccHalf": 99.9},
    )
    processed.inputs.add(raw)
    other = make_dataset(investigation, str(data_root / "raw2"), sample=thaumatin, name="osc-thaumatin-1")
    public_sample = make_sample(released_investigation, "insulin")
    public = make_dataset(
        released_investigation, str(data_root / "pub1"), sample=public_sample, files=1, name="public-1"
    )
    return {
        "investigation": investigation,
        "released": released_investigation,
        "lysozyme": lysozyme,
        "thaumatin": thaumatin,
        "raw": raw,
        "processed": processed,
        "other": other,
        "public_sample": public_sample,
        "public": public,
    }


def client_for(request, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    return client


def object_pages(investigation, sample, dataset) -> list[str]:
    return [
        reverse("investigation-detail", args=[investigation.pk]),
        reverse("investigation-detail", args=[investigation.pk]) + "?tab=samples",
        reverse("investigation-detail", args=[investigation.pk]) + "?tab=participants",
        reverse("investigation-datasets", args=[investigation.pk]),
        reverse("sample-detail", args=[sample.pk]),
        reverse("dataset-detail", args=[dataset.pk]),
        reverse("dataset-row", args=[dataset.pk]),
    ]


# --- Access: every page for every role -----------------------------------------------------------

EMBARGOED = {
    "anonymous": 404,
    "other_user": 404,
    "other_scientist": 404,
    "participant": 200,
    "scientist": 200,
    "staff": 200,
}


@pytest.mark.parametrize(("role", "status"), EMBARGOED.items())
def test_embargoed_pages_only_for_those_allowed(request, world, role, status):
    client = client_for(request, role)
    for url in object_pages(world["investigation"], world["lysozyme"], world["raw"]):
        assert client.get(url).status_code == status, url


@pytest.mark.parametrize("role", list(EMBARGOED))
def test_released_pages_for_everyone(request, world, role):
    client = client_for(request, role)
    for url in object_pages(world["released"], world["public_sample"], world["public"]):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "name", ["investigation-detail", "investigation-datasets", "sample-detail", "dataset-detail", "dataset-row"]
)
def test_missing_objects_are_404(client, name):
    assert client.get(reverse(name, args=[999999])).status_code == 404


def test_hidden_looks_like_missing(client, world):
    hidden_url, missing_url = (
        reverse("dataset-detail", args=[world["raw"].pk]),
        reverse("dataset-detail", args=[999999]),
    )
    hidden, missing = client.get(hidden_url), client.get(missing_url)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content.replace(hidden_url.encode(), b"") == missing.content.replace(missing_url.encode(), b"")


@pytest.mark.parametrize("role", list(EMBARGOED))
@pytest.mark.parametrize("name", ["home", "investigation-list", "search", "login"])
def test_public_pages(request, world, role, name):
    assert client_for(request, role).get(reverse(name), {"q": "lyso"}).status_code == 200


# --- Layout ------------------------------------------------------------------------------------


def test_navbar_anonymous(client, settings, db):
    settings.FACILITY_NAME = "Test Light Source"
    html = client.get(reverse("home")).content.decode()
    assert "Test Light Source" in html
    assert reverse("login") in html and "Sign out" not in html
    assert reverse("api:docs") in html and reverse("technique-list") in html
    assert reverse("admin:index") not in html


def test_navbar_staff_has_admin_and_a_logout_form(client, staff):
    client.force_login(staff)
    html = client.get(reverse("home")).content.decode()
    assert reverse("admin:index") in html
    assert f'action="{reverse("logout")}" method="post"' in html


def test_login_page_signs_in(client, participant):
    participant.set_password("a-long-test-password")
    participant.save()
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "participant", "password": "a-long-test-password"})
    assert response.status_code == 302 and response.url == reverse("home")


# --- Home and the investigation list -------------------------------------------------------------


def test_home_anonymous_shows_open_data(client, world, other_investigation):
    html = client.get(reverse("home")).content.decode()
    assert "Open data" in html
    assert world["released"].get_absolute_url() in html
    assert world["investigation"].get_absolute_url() not in html


def test_home_signed_in_shows_my_data_only(client, world, participant):
    public_elsewhere = make_investigation(world["investigation"].instrument, "MX-9", released=True)
    client.force_login(participant)
    html = client.get(reverse("home")).content.decode()
    assert "My data" in html
    assert world["investigation"].get_absolute_url() in html and world["released"].get_absolute_url() in html
    assert public_elsewhere.get_absolute_url() not in html


def test_investigation_list_columns(client, world):
    world["released"].doi = "10.1234/TEST-DOI"
    world["released"].save()
    html = client.get(reverse("investigation-list")).content.decode()
    assert "MX-0" in html and "ID30" in html
    assert "https://doi.org/10.1234/TEST-DOI" in html
    assert "10\xa0bytes" in html  # volume of its one 10-byte file


def _listed(client, **params) -> set[str]:
    page = client.get(reverse("investigation-list"), params).context["page_obj"]
    return {investigation.name for investigation in page}


def test_investigation_list_filters(client, staff, world, other_investigation):
    client.force_login(staff)
    assert _listed(client) == {"MX-0", "MX-1", "SAXS-1"}
    assert _listed(client, instrument="BM29") == {"SAXS-1"}
    assert _listed(client, q="saxs") == {"SAXS-1"}
    assert _listed(client, q="Investigation MX-1") == {"MX-1"}
    recent = (timezone.now() - timedelta(days=30)).date().isoformat()
    assert _listed(client, start_after=recent) == {"MX-1", "SAXS-1"}
    assert _listed(client, start_before=recent) == {"MX-0"}


def test_investigation_list_sections(client, participant, world, other_investigation):
    assert _listed(client, section="open") == {"MX-0"}
    assert _listed(client, section="mine") == {"MX-0"}  # anonymous: falls back to all visible
    client.force_login(participant)
    assert _listed(client, section="mine") == {"MX-0", "MX-1"}
    assert _listed(client, section="open") == {"MX-0"}


def test_investigation_list_paginates_by_25(client, instrument):
    for i in range(30):
        make_investigation(instrument, f"P-{i}", released=True)
    assert len(client.get(reverse("investigation-list")).context["page_obj"]) == 25
    assert len(client.get(reverse("investigation-list"), {"page": 2}).context["page_obj"]) == 5


# --- The investigation page ----------------------------------------------------------------------


def test_investigation_header_and_dataset_table(client, participant, world):
    client.force_login(participant)
    html = client.get(world["investigation"].get_absolute_url()).content.decode()
    assert "Investigation MX-1" in html and "Embargoed until" in html
    for text in ("osc-lysozyme-1", "autoproc-lysozyme-1", "osc-thaumatin-1", "Test oscillation", "lysozyme"):
        assert text in html
    assert world["raw"].get_absolute_url() in html
    assert f'hx-get="{reverse("dataset-row", args=[world["raw"].pk])}"' in html


def _table_rows(response) -> dict[str, int]:
    """The rows of a dataset table as the page shows them (Jinja2 renders the investigation's table, so
    the test client records no context for it): each dataset's name and its processed count."""
    rows = {}
    for row in response.content.decode().split('<tr class="dataset-row">')[1:]:
        name = re.search(r'<td class="c-dataset dataset-name">\s*<a href="[^"]*" title="([^"]*)"', row).group(1)
        processed = re.search(r'title="(\d+) processed datasets?"', row)
        rows[html.unescape(name)] = int(processed.group(1)) if processed else 0
    return rows


def test_investigation_datasets_show_processed_count(client, participant, world):
    client.force_login(participant)
    rows = _table_rows(client.get(reverse("investigation-datasets", args=[world["investigation"].pk])))
    assert rows == {"osc-lysozyme-1": 1, "autoproc-lysozyme-1": 0, "osc-thaumatin-1": 0}


def _dataset_names(client, investigation, **params) -> set[str]:
    return set(_table_rows(client.get(reverse("investigation-datasets", args=[investigation.pk]), params)))


def test_dataset_table_filters(client, participant, world):
    client.force_login(participant)
    investigation = world["investigation"]
    assert _dataset_names(client, investigation, sample=world["thaumatin"].pk) == {"osc-thaumatin-1"}
    assert _dataset_names(client, investigation, definition="TESTX_PROC") == {"autoproc-lysozyme-1"}
    assert _dataset_names(client, investigation, sample=world["lysozyme"].pk, definition="TESTX_OSC") == {
        "osc-lysozyme-1"
    }


def test_dataset_table_filter_choices_are_this_investigations(client, participant, world):
    client.force_login(participant)
    filterset = client.get(world["investigation"].get_absolute_url()).context["filterset"]
    form = filterset.form
    assert {str(sample) for sample in form.fields["sample"].queryset} == {"lysozyme", "thaumatin"}
    assert {d.code for d in form.fields["definition"].queryset} == {"TESTX_OSC", "TESTX_PROC"}
    for name in ("sample", "definition"):  # the page reads them as rows: the same as the form's fields
        assert [(str(value), label) for value, label in filterset.choices(name)] == [
            (str(value), str(label)) for value, label in form.fields[name].choices
        ]


def test_dataset_table_paginates_by_50_keeping_filters(client, participant, world, data_root):
    for i in range(55):
        make_dataset(world["investigation"], str(data_root / f"many{i}"), sample=world["thaumatin"])
    client.force_login(participant)
    url = reverse("investigation-datasets", args=[world["investigation"].pk])
    first = client.get(url, {"sample": world["thaumatin"].pk})
    assert len(_table_rows(first)) == 50
    assert f"?sample={world['thaumatin'].pk}&amp;page=2" in first.content.decode()
    assert len(_table_rows(client.get(url, {"sample": world["thaumatin"].pk, "page": 2}))) == 6


def test_htmx_table_request_keeps_the_page_address(client, participant, world):
    client.force_login(participant)
    investigation = world["investigation"]
    response = client.get(
        reverse("investigation-datasets", args=[investigation.pk]), {"definition": "TESTX_OSC"}, HTTP_HX_REQUEST="true"
    )
    assert response["HX-Replace-Url"] == f"{investigation.get_absolute_url()}?definition=TESTX_OSC"


def test_live_refresh_only_while_the_session_runs(client, participant, world, data_root):
    running = make_investigation(world["investigation"].instrument, "MX-LIVE", days_ago=0)
    InvestigationUser.objects.create(user=participant, investigation=running)
    client.force_login(participant)
    for investigation, live in ((running, True), (world["investigation"], False)):
        for url in (investigation.get_absolute_url(), reverse("investigation-datasets", args=[investigation.pk])):
            html = client.get(url, {"sample": ""}).content.decode()
            assert ('hx-trigger="every 10s' in html) is live, url
    html = client.get(reverse("investigation-datasets", args=[running.pk]), {"page": 1}).content.decode()
    assert f'hx-get="{reverse("investigation-datasets", args=[running.pk])}?page=1"' in html


def test_samples_tab(client, participant, world):
    client.force_login(participant)
    response = client.get(world["investigation"].get_absolute_url(), {"tab": "samples"})
    assert {(s.name, s.dataset_count) for s in response.context["page_obj"]} == {("lysozyme", 2), ("thaumatin", 1)}
    assert world["lysozyme"].get_absolute_url() in response.content.decode()


def test_participants_tab(client, scientist, participant, world):
    participant.first_name, participant.last_name = "Ada", "Lovelace"
    participant.save()
    pi = make_user("pi-user")
    InvestigationUser.objects.create(user=pi, investigation=world["investigation"], role="pi")
    client.force_login(scientist)
    response = client.get(world["investigation"].get_absolute_url(), {"tab": "participants"})
    assert [m.user.username for m in response.context["page_obj"]] == ["pi-user", "participant"]
    html = response.content.decode()
    assert "Ada Lovelace" in html and "Principal investigator" in html and "Participant" in html


# The page's content is rendered by Jinja2 (templates/jinja2/catalogue/_investigation_content.html).


def test_filter_form_shows_the_chosen_and_the_refused_values(client, participant, world):
    client.force_login(participant)
    url = world["investigation"].get_absolute_url()
    assert client.get(url).content.decode().count('<option value="" selected>') == 2  # All samples, All definitions
    html = client.get(url, {"sample": world["thaumatin"].pk, "definition": "TESTX_OSC"}).content.decode()
    assert f'<option value="{world["thaumatin"].pk}" selected>thaumatin</option>' in html
    assert '<option value="TESTX_OSC" selected>Test oscillation</option>' in html
    assert '<option value="" selected>' not in html and "aria-invalid" not in html
    html = client.get(url, {"sample": "nope"}).content.decode()
    assert '<select name="sample" class="form-select form-select-sm w-auto" aria-invalid="true"' in html
    assert '<select name="definition" class="form-select form-select-sm w-auto" id="id_definition">' in html


def test_investigation_page_escapes_what_it_shows(client, staff, world):
    investigation = world["investigation"]
    investigation.title, investigation.summary = "<script>alert(1)</script>", "line 1\n<b>line 2</b>"
    investigation.save()
    client.force_login(staff)
    html = client.get(investigation.get_absolute_url()).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "line 1<br>&lt;b&gt;line 2&lt;/b&gt;" in html


def test_the_pages_forms_carry_a_working_csrf_token(staff, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    investigation = world["investigation"]
    html = client.get(investigation.get_absolute_url()).content.decode()
    mint = reverse("doi:mint-investigation", args=[investigation.pk])
    assert f'action="{mint}"' in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]
    assert client.post(mint).status_code == 403
    assert client.post(mint, {"csrfmiddlewaretoken": token}).status_code == 302


def test_htmx_table_is_the_pages_table(client, participant, world):
    client.force_login(participant)
    investigation, params = world["investigation"], {"sample": world["lysozyme"].pk}
    page = client.get(investigation.get_absolute_url(), params).content.decode()
    table = client.get(reverse("investigation-datasets", args=[investigation.pk]), params).content.decode()
    assert table.strip().startswith('<div id="dataset-table"') and table.strip() in page


# --- The expanded row ----------------------------------------------------------------------------


def test_dataset_row_shows_the_definitions_summary(client, participant, world):
    client.force_login(participant)
    response = client.get(reverse("dataset-row", args=[world["raw"].pk]))
    summary = response.context["summary"]
    assert [(p.label, p.value, p.unit) for p in summary] == [
        ("Resolution", 1.234567891, "Å"),
        ("Wavelength", 0.966, "Å"),
        ("Exposure time", 0.1, "s"),
    ]
    html = response.content.decode()
    assert "1.23457" in html and "Å" in html
    assert "EIGER2" not in html  # not in the summary
    assert world["processed"].get_absolute_url() in html  # its processed dataset


def test_dataset_row_without_definition_shows_the_first_12_parameters(client, participant, world, data_root):
    parameters = {f"TESTX_p{i:02}": i for i in range(15)}
    dataset = make_dataset(world["investigation"], str(data_root / "nodef"), parameters=parameters)
    client.force_login(participant)
    summary = client.get(reverse("dataset-row", args=[dataset.pk])).context["summary"]
    assert [p.name for p in summary] == [f"TESTX_p{i:02}" for i in range(12)]
    assert summary[0].label == "TESTX_p00"  # not in the vocabulary: its name


def test_dataset_row_of_processed_links_its_input(client, participant, world):
    client.force_login(participant)
    html = client.get(reverse("dataset-row", args=[world["processed"].pk])).content.decode()
    assert world["raw"].get_absolute_url() in html and "CC(1/2)" in html and "99.9" in html


# --- Dataset and sample pages --------------------------------------------------------------------


def test_dataset_page(client, participant, world):
    client.force_login(participant)
    response = client.get(world["raw"].get_absolute_url())
    groups = dict(response.context["view"].groups)
    assert [p.name for p in groups["TESTX"]] == [
        "TESTX_detector",
        "TESTX_exposureTime",
        "TESTX_resolution",
        "TESTX_wavelength",
    ]
    html = response.content.decode()
    for text in ("osc-lysozyme-1", world["raw"].location, "Test oscillation", "EIGER2 X 16M", "1.23457", "Complete"):
        assert text in html
    assert world["investigation"].get_absolute_url() in html and world["lysozyme"].get_absolute_url() in html
    assert world["processed"].get_absolute_url() in html
    assert [f.path for f in response.context["page_obj"]] == ["f000.h5", "f001.h5", "f002.h5"]


def test_dataset_page_groups_by_prefix(client, participant, world):
    client.force_login(participant)
    response = client.get(world["processed"].get_absolute_url())
    assert [group for group, _ in response.context["view"].groups] == ["TESTXScaling"]
    assert "TESTX Scaling" in response.content.decode()
    assert world["raw"].get_absolute_url() in response.content.decode()  # its input


def test_dataset_files_paginate_by_50_and_filter_by_path(client, participant, world):
    dataset = world["other"]
    datafiles_register(dataset_id=dataset.pk, files=[{"path": f"img_{i:03}.cbf", "size": 1000} for i in range(60)])
    client.force_login(participant)
    first = client.get(dataset.get_absolute_url()).context["page_obj"]
    assert [f.path for f in first][:2] == ["img_000.cbf", "img_001.cbf"] and len(first) == 50
    second = client.get(dataset.get_absolute_url(), {"page": 2}).context["page_obj"]
    assert [f.path for f in second] == [f"img_{i:03}.cbf" for i in range(50, 60)]
    assert [f.path for f in client.get(dataset.get_absolute_url(), {"path": "_05"}).context["page_obj"]] == [
        f"img_{i:03}.cbf" for i in range(50, 60)
    ]


def test_dataset_table_rows(client, participant, staff, world, data_root):
    """The table (rendered by Jinja2): escaped names, the sample, the processed count, the staff-only
    warnings badge, the registering badge, and the empty message."""
    investigation = world["investigation"]
    make_dataset(
        investigation,
        str(data_root / "odd"),
        name="<b>odd</b> & 'quoted'",
        warnings=[{"field": "parameters.x", "value": 1, "rule": "a"}, {"field": "inputs", "value": [], "rule": "b"}],
        files=2,
    )
    client.force_login(participant)
    html = client.get(investigation.get_absolute_url()).content.decode()
    assert "&lt;b&gt;odd&lt;/b&gt; &amp; &#39;quoted&#39;" in html and "<b>odd</b>" not in html
    assert f'href="{world["lysozyme"].get_absolute_url()}">lysozyme</a>' in html
    assert 'title="1 processed dataset"' in html  # the raw dataset's output
    assert "registering</span>" in html  # osc-thaumatin-1 has no files registered yet
    assert "warnings-badge" not in html
    client.force_login(staff)
    assert "2 warnings</span>" in client.get(investigation.get_absolute_url()).content.decode()
    empty = make_sample(investigation, "no data yet")
    assert "No datasets for this sample." in client.get(empty.get_absolute_url()).content.decode()


def test_registering_dataset_is_flagged(client, participant, world):
    client.force_login(participant)
    assert "Registering files" in client.get(world["other"].get_absolute_url()).content.decode()


def test_sample_page(client, participant, world):
    world["lysozyme"].parameters = {"TESTX_detector": "none", "free_note": "kept cold"}
    world["lysozyme"].save()
    client.force_login(participant)
    response = client.get(world["lysozyme"].get_absolute_url())
    assert {d.name for d in response.context["page_obj"]} == {"osc-lysozyme-1", "autoproc-lysozyme-1"}
    html = response.content.decode()
    assert "Detector" in html and "kept cold" in html and world["investigation"].get_absolute_url() in html


# --- Search ------------------------------------------------------------------------------------


def test_search_finds_what_the_actor_may_see(client, participant, world):
    results = client.get(reverse("search"), {"q": "lysozyme"}).context["results"]
    assert results == {"investigations": [], "samples": [], "datasets": []}
    client.force_login(participant)
    response = client.get(reverse("search"), {"q": "lysozyme"})
    results = response.context["results"]
    assert [s.name for s in results["samples"]] == ["lysozyme"]
    assert {d.name for d in results["datasets"]} == {"osc-lysozyme-1", "autoproc-lysozyme-1"}
    assert [i.name for i in client.get(reverse("search"), {"q": "MX-1"}).context["results"]["investigations"]] == [
        "MX-1"
    ]


# --- Template helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.234567891, "1.23457"),
        (6.91e10, "6.91e+10"),
        (100.0, "100"),
        (4, "4"),
        (True, "yes"),
        ("P 21 21 21", "P 21 21 21"),
    ],
)
def test_param_value(value, shown):
    assert param_value(value) == shown


def test_group_label():
    assert group_label("MXAutoprocIntegration") == "MX Autoproc Integration"
    assert group_label("InstrumentMonochromator") == "Instrument Monochromator"


# --- Query counts: the same with a few rows and with 30 more -----------------------------------
#
# A signed-in person costs 2 more queries: the session and the user.


def _warm(client, user):
    client.force_login(user)
    client.get(reverse("search"))  # the session row exists and is loaded the same way each time


@pytest.mark.parametrize("extra", [0, 30])
def test_home_query_count(client, participant, world, extra, django_assert_num_queries):
    for i in range(extra):
        public = make_investigation(world["investigation"].instrument, f"OPEN-{i}", released=True)
        InvestigationUser.objects.create(user=participant, investigation=public)
    with django_assert_num_queries(2):  # COUNT, page
        assert client.get(reverse("home")).status_code == 200
    _warm(client, participant)
    with django_assert_num_queries(5):  # + session, user, the navbar's staff check
        assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize("extra", [0, 30])
def test_investigation_list_query_count(client, participant, world, data_root, extra, django_assert_num_queries):
    for i in range(extra):
        public = make_investigation(world["investigation"].instrument, f"OPEN-{i}", released=True)
        make_dataset(public, str(data_root / f"open{i}"), files=2)
    with django_assert_num_queries(3):  # instrument choices, COUNT, page
        response = client.get(reverse("investigation-list"))
    assert len(response.context["page_obj"]) == min(25, 1 + extra)
    _warm(client, participant)
    with django_assert_num_queries(7):  # + the instrument filter's lookup, the navbar's staff check
        assert (
            client.get(reverse("investigation-list"), {"instrument": "ID30", "q": "", "section": "mine"}).status_code
            == 200
        )


@pytest.mark.parametrize("extra", [0, 30])
def test_investigation_page_query_count(client, participant, world, data_root, extra, django_assert_num_queries):
    investigation = world["investigation"]
    for i in range(extra):
        sample = make_sample(investigation, f"s{i}")
        dataset = make_dataset(
            investigation, str(data_root / f"more{i}"), sample=sample, files=1, definition=world["raw"].definition
        )
        world["processed"].inputs.add(dataset)
        InvestigationUser.objects.create(user=make_user(f"user{i}"), investigation=investigation)
    _warm(client, participant)
    url = investigation.get_absolute_url()
    # investigation, sample and definition choices, page, the navbar's staff check (its tallies count
    # the investigation's datasets)
    with django_assert_num_queries(7):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(4):  # the table alone: no filter form
        assert client.get(reverse("investigation-datasets", args=[investigation.pk])).status_code == 200
    with django_assert_num_queries(10):  # + the two filter lookups, and a COUNT of the filtered rows
        response = client.get(url, {"sample": world["lysozyme"].pk, "definition": "TESTX_OSC"})
    assert len(response.context["page_obj"]) == 1
    with django_assert_num_queries(6):  # investigation, COUNT, page, the navbar's staff check
        assert client.get(url, {"tab": "samples"}).status_code == 200
    with django_assert_num_queries(6):
        assert client.get(url, {"tab": "participants"}).status_code == 200


@pytest.mark.parametrize("extra", [0, 30])
def test_dataset_pages_query_count(client, participant, world, data_root, extra, django_assert_num_queries):
    raw = world["raw"]
    for i in range(extra):
        output = make_dataset(world["investigation"], str(data_root / f"out{i}"), kind="processed", files=1)
        output.inputs.add(raw)
    datafiles_register(dataset_id=raw.pk, files=[{"path": f"extra_{i:03}.cbf", "size": 1} for i in range(extra)])
    _warm(client, participant)
    # dataset, vocabulary, inputs, outputs, file page, the navbar's staff check, the storage history,
    # whether the reader may archive it (the dataset's file_count counts its files)
    with django_assert_num_queries(10):
        response = client.get(raw.get_absolute_url())
    assert len(response.context["outputs"]) == 1 + extra
    with django_assert_num_queries(6):  # dataset, vocabulary, inputs, outputs
        assert client.get(reverse("dataset-row", args=[raw.pk])).status_code == 200


@pytest.mark.parametrize("extra", [0, 30])
def test_sample_page_query_count(client, participant, world, data_root, extra, django_assert_num_queries):
    for i in range(extra):
        make_dataset(world["investigation"], str(data_root / f"lys{i}"), sample=world["lysozyme"], files=1)
    world["lysozyme"].parameters = {"TESTX_detector": "none"}
    world["lysozyme"].save()
    _warm(client, participant)
    # sample, vocabulary, COUNT, page, the navbar's staff check, the sample's parcels ({% sample_tracking %})
    with django_assert_num_queries(8):
        response = client.get(world["lysozyme"].get_absolute_url())
    assert response.context["page_obj"].paginator.count == 2 + extra


@pytest.mark.parametrize("extra", [0, 30])
def test_search_query_count(client, participant, world, data_root, extra, django_assert_num_queries):
    for i in range(extra):
        make_dataset(
            world["investigation"],
            str(data_root / f"lysozyme-more{i}"),
            sample=make_sample(world["investigation"], f"lysozyme {i}"),
        )
    _warm(client, participant)
    with django_assert_num_queries(6):  # investigations, samples, datasets, the navbar's staff check
        response = client.get(reverse("search"), {"q": "lysozyme"})
    assert len(response.context["results"]["samples"]) == min(20, 1 + extra)
