"""The logbook in a real browser: write a comment with an image, edit it, see its history, see a
machine's event appear live; screenshots at several widths (test-artifacts/)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from catalogue.models import Instrument, Investigation, InvestigationUser
from logbook import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"
WIDTHS = {"phone": (390, 844), "1280": (1280, 900), "1440": (1440, 900), "1920": (1920, 1080)}


@pytest.fixture(autouse=True)
def no_policy_violations(browser_page):
    problems = []
    browser_page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    browser_page.on("pageerror", lambda error: problems.append(str(error)))
    yield
    assert problems == []


def test_write_edit_history_and_live(browser_page, live_server, artifacts_dir, tmp_path):
    page = browser_page
    user = get_user_model().objects.create_user("amelia", password=PASSWORD, first_name="Amelia", last_name="Earhart")
    now = timezone.now()
    instrument = Instrument.objects.create(name="ID23-1", full_name="MX beamline")
    investigation = Investigation.objects.create(
        name="MX-2485", visit_id="id231", title="Lysozyme soaks", instrument=instrument,
        start_date=now - timedelta(hours=5), end_date=now + timedelta(hours=19), release_date=now + timedelta(days=900),
    )  # fmt: skip
    InvestigationUser.objects.create(user=user, investigation=investigation, role="pi")
    for text, category in (
        ("Beam delivered", "info"),
        ("ascan sy 0 1 10 0.1", "commandLine"),
        ("Detector timeout", "error"),
    ):
        services.event_create(
            investigation=investigation, type="notification", category=category, text=text, machine="bliss-id231",
            software="bliss", tags=["beam"] if category == "info" else [],
        )  # fmt: skip

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("amelia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/investigations/{investigation.pk}/")
    page.get_by_role("link", name="Logbook").click()
    expect(page.get_by_text("Beam delivered")).to_be_visible()

    image = tmp_path / "screenshot.png"
    Image.new("RGB", (300, 200), "orange").save(image)
    page.get_by_label("Comment").fill("Crystal 3 diffracts to 1.8 Å")
    page.get_by_label("Tags").fill("sample")
    page.get_by_label("Image or file").set_input_files(str(image))
    page.get_by_role("button", name="Post").click()
    expect(page.get_by_text("Crystal 3 diffracts to 1.8 Å")).to_be_visible()
    expect(page.locator("img.logbook-thumbnail")).to_be_visible()

    page.get_by_role("link", name="Edit").first.click()
    page.get_by_label("Comment").fill("Crystal 3 diffracts to 1.6 Å")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Crystal 3 diffracts to 1.6 Å")).to_be_visible()
    page.get_by_role("link", name="History").first.click()
    expect(page.get_by_text("Crystal 3 diffracts to 1.8 Å")).to_be_visible()
    expect(page.get_by_text("Version 2")).to_be_visible()
    page.get_by_role("link", name="Logbook").click()

    services.event_create(
        investigation=investigation, type="notification", category="info", text="Sample changer: puck 4"
    )
    expect(page.get_by_text("Sample changer: puck 4")).to_be_visible(timeout=15_000)

    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(artifacts_dir / f"logbook-{name}.png"), full_page=True)
