"""The portal in a real browser: sign in, open an investigation, expand a dataset, live refresh."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from catalogue.models import Datafile, Dataset, Instrument, Investigation, InvestigationUser, Sample
from techniques.models import DatasetDefinition, ParameterType, Technique

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"


@pytest.fixture(autouse=True)
def no_policy_violations(browser_page):
    """Every test here also checks that the Content-Security-Policy blocked nothing (and htmx ran no code)."""
    problems = []

    def console(message):
        if "Content Security Policy" in message.text or "htmx:evalDisallowedError" in message.text:
            problems.append(message.text)

    browser_page.on("console", console)
    browser_page.on("pageerror", lambda error: problems.append(str(error)))
    yield
    assert problems == []


VOCABULARY = [
    # name, label, unit, type
    ("TESTB_resolution", "Resolution", "angstrom", "numeric"),
    ("TESTB_wavelength", "Wavelength", "angstrom", "numeric"),
    ("TESTB_exposureTime", "Exposure time", "s", "numeric"),
    ("TESTB_numberOfImages", "Images", "", "numeric"),
    ("TESTB_transmission", "Transmission", "percent", "numeric"),
    ("TESTB_flux", "Flux", "1/s", "numeric"),
    ("TESTB_oscillationRange", "Oscillation range", "degree", "numeric"),
    ("TESTB_detectorDistance", "Detector distance", "mm", "numeric"),
    ("TESTB_xBeam", "X beam", "mm", "numeric"),
    ("TESTB_yBeam", "Y beam", "mm", "numeric"),
    ("TESTB_template", "Prefix", "", "string"),
    ("TESTBScaling_ccHalf", "CC(1/2)", "percent", "numeric"),
    ("TESTBScaling_spaceGroup", "Space group", "", "string"),
]


def _vocabulary():
    technique, _ = Technique.objects.get_or_create(code="TESTB", defaults={"name": "Browser test crystallography"})
    for name, label, unit, value_type in VOCABULARY:
        ParameterType.objects.update_or_create(
            name=name, defaults={"label": label, "unit": unit, "value_type": value_type, "technique": technique}
        )
    summary = [name for name, *_ in VOCABULARY if not name.startswith("TESTBScaling")]
    oscillation, _ = DatasetDefinition.objects.update_or_create(
        code="TESTB_OSC", defaults={"label": "Oscillation", "kind": "raw", "technique": technique, "summary": summary}
    )
    integration, _ = DatasetDefinition.objects.update_or_create(
        code="TESTB_PROC",
        defaults={
            "label": "Integration",
            "kind": "processed",
            "technique": technique,
            "summary": ["TESTBScaling_ccHalf", "TESTBScaling_spaceGroup"],
        },
    )
    return oscillation, integration


def _dataset(investigation, sample, name, start, definition, parameters, files, kind="raw") -> Dataset:
    dataset = Dataset.objects.create(
        investigation=investigation,
        sample=sample,
        name=name,
        location=f"/data/visitor/{investigation.name.lower()}/{kind}/{sample.name}/{name}",
        kind=kind,
        definition=definition,
        start_date=start,
        end_date=start + timedelta(minutes=3),
        parameters=parameters,
        file_count=files,
        size=files * 6_291_456,
        complete=True,
    )
    Datafile.objects.bulk_create(
        Datafile(dataset=dataset, path=f"{name}_{i:04}.cbf", size=6_291_456) for i in range(1, files + 1)
    )
    return dataset


@pytest.fixture
def world(db):
    """A participant's MX session, ended yesterday or running now, with raw and processed datasets."""

    def make(running=False):
        oscillation, integration = _vocabulary()
        user = get_user_model().objects.create_user(
            "amelia", password=PASSWORD, first_name="Amelia", last_name="Guzman"
        )
        instrument = Instrument.objects.create(name="ID30A-1", full_name="MASSIF-1, automated MX")
        now = timezone.now()
        start = now - timedelta(hours=2) if running else now - timedelta(days=2)
        investigation = Investigation.objects.create(
            name="MX-2485",
            visit_id="id30a1-20250304",
            title="Structure of the Hfq chaperone bound to small regulatory RNAs",
            instrument=instrument,
            start_date=start,
            end_date=start + timedelta(days=1),
            release_date=start + timedelta(days=3 * 365),
        )
        InvestigationUser.objects.create(user=user, investigation=investigation, role="pi")
        samples = [Sample.objects.create(investigation=investigation, name=name) for name in ("Hfq-A1", "Hfq-B3")]
        datasets = []
        for index, (sample, images) in enumerate([(samples[0], 4), (samples[0], 100), (samples[1], 4)]):
            prefix = "ref" if images == 4 else "osc"
            name = f"{prefix}-{sample.name}_{index + 1}"
            datasets.append(
                _dataset(
                    investigation,
                    sample,
                    name,
                    start + timedelta(minutes=10 * index),
                    oscillation,
                    {
                        "TESTB_resolution": 2.17996 - 0.1 * index,
                        "TESTB_wavelength": 0.966,
                        "TESTB_exposureTime": 0.1,
                        "TESTB_numberOfImages": images,
                        "TESTB_transmission": 100.0,
                        "TESTB_flux": 6.91e10,
                        "TESTB_oscillationRange": 0.1 if images == 100 else 1.0,
                        "TESTB_detectorDistance": 264.3,
                        "TESTB_xBeam": 129.161,
                        "TESTB_yBeam": 146.854,
                        "TESTB_template": f"{name}_####.cbf",
                    },
                    files=images,
                )
            )
        processed = _dataset(
            investigation,
            samples[0],
            "autoPROC-Hfq-A1_2",
            start + timedelta(minutes=25),
            integration,
            {"TESTBScaling_ccHalf": 99.7, "TESTBScaling_spaceGroup": "P 6"},
            files=5,
            kind="processed",
        )
        processed.inputs.add(datasets[1])
        return user, investigation, datasets

    return make


def _sign_in(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("amelia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My data")).to_be_visible()


def test_expand_a_dataset_row(browser_page, live_server, world, artifacts_dir):
    page = browser_page
    _user, investigation, datasets = world()
    _sign_in(page, live_server)
    page.get_by_role("link", name="MX-2485").click()
    expect(page.get_by_role("heading", name="MX-2485")).to_be_visible()

    collection = datasets[1]
    page.get_by_role("button", name=f"Key parameters of {collection.name}").click()
    detail = page.locator(f"#dataset-{collection.pk}-detail")
    expect(detail).to_contain_text("Resolution")
    expect(detail.locator(".param", has_text="Resolution")).to_contain_text("2.07996 Å")
    expect(detail.locator(".param", has_text="Wavelength")).to_contain_text("0.966 Å")
    expect(detail.locator(".param", has_text="Transmission")).to_contain_text("100 %")
    expect(detail.locator(".param", has_text="Flux")).to_contain_text("6.91e+10")
    expect(detail).to_contain_text("autoPROC-Hfq-A1_2")  # its processed dataset
    page.screenshot(path=str(artifacts_dir / "investigation.png"), full_page=True)

    page.get_by_role("button", name=f"Key parameters of {collection.name}").click()
    expect(detail).to_be_hidden()


def test_filter_the_dataset_table(browser_page, live_server, world):
    page = browser_page
    _user, investigation, datasets = world()
    _sign_in(page, live_server)
    page.goto(f"{live_server.url}{investigation.get_absolute_url()}")
    table = page.locator("#dataset-table")
    expect(table.locator("tr.dataset-row")).to_have_count(4)
    page.locator("select[name=sample]").select_option(label="Hfq-B3")
    expect(table.locator("tr.dataset-row")).to_have_count(1)
    expect(table).to_contain_text(datasets[2].name)
    assert "sample=" in page.url  # a reload keeps the filter


def test_new_datasets_appear_while_the_session_runs(browser_page, live_server, world):
    page = browser_page
    _user, investigation, datasets = world(running=True)
    _sign_in(page, live_server)
    page.goto(f"{live_server.url}{investigation.get_absolute_url()}")
    expect(page.get_by_text("Session in progress")).to_be_visible()
    _dataset(investigation, datasets[0].sample, "osc-Hfq-A1_new", timezone.now(), datasets[0].definition, {}, files=1)
    expect(page.locator("#dataset-table")).to_contain_text("osc-Hfq-A1_new", timeout=15_000)


def test_live_refresh_waits_while_a_row_is_expanded(browser_page, live_server, world):
    page = browser_page
    _user, investigation, datasets = world(running=True)
    _sign_in(page, live_server)
    page.goto(f"{live_server.url}{investigation.get_absolute_url()}")
    button = page.get_by_role("button", name=f"Key parameters of {datasets[1].name}")
    button.click()
    detail = page.locator(f"#dataset-{datasets[1].pk}-detail")
    expect(detail).to_contain_text("Resolution")
    _dataset(investigation, datasets[0].sample, "osc-Hfq-A1_new", timezone.now(), datasets[0].definition, {}, files=1)
    page.wait_for_timeout(11_000)  # one poll (every 10 s) skipped: the row stays open
    expect(detail).to_be_visible()
    expect(page.locator("#dataset-table")).not_to_contain_text("osc-Hfq-A1_new")
    button.click()
    expect(page.locator("#dataset-table")).to_contain_text("osc-Hfq-A1_new", timeout=15_000)
