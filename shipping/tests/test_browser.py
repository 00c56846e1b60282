"""Shipping in a real browser (issue 15): a participant prepares a shipment (addresses, a parcel, a
puck with two samples and their plans), downloads its labels, and the parcel goes through every
status in the hands of the right people, each signed in with a password; then the history on the
parcel's page and the sample's own page. On the way, every shipping page fits the window at 1280,
1440, 1920 px and on a 390 px phone (screenshots in test-artifacts/shipping/)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from catalogue.models import Dataset, Instrument, InstrumentScientist, Investigation, InvestigationUser, Sample
from shipping.models import Parcel, ParcelStatus, Status
from techniques.models import Technique

from .conftest import PLANS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"
WIDTHS = [1280, 1440, 1920, 390]
NAVBAR_EXPANDS_AT = 1200  # navbar-expand-xl: below, the account menu is behind the toggler
# A dataset name without a break opportunity but its underscores: it must wrap, not widen the page.
LONG_DATASET = "mesh_Hfq_A1_rev1_B5_1_1_1719739_with_a_long_unbreakable_suffix"


@pytest.fixture(autouse=True)
def no_policy_violations(browser_page):
    """The Content-Security-Policy blocked nothing on any page (no inline script or style)."""
    problems = []

    def console(message):
        if "Content Security Policy" in message.text or "htmx:evalDisallowedError" in message.text:
            problems.append(message.text)

    browser_page.on("console", console)
    browser_page.on("pageerror", lambda error: problems.append(str(error)))
    yield
    assert problems == []


@pytest.fixture
def people(db):
    """MX-2485 on ID30A-1 with its participant, its local contact, the instrument's scientist and
    the stores; a technique with experiment and processing plans; a sample measured already."""
    instrument = Instrument.objects.create(name="ID30A-1", full_name="MASSIF-1, automated MX")
    start = timezone.now() + timedelta(days=7)
    investigation = Investigation.objects.create(
        name="MX-2485",
        visit_id="id30a1-20250304",
        title="Structure of the Hfq chaperone bound to small regulatory RNAs",
        instrument=instrument,
        start_date=start,
        end_date=start + timedelta(days=1),
        release_date=start + timedelta(days=3 * 365),
    )
    User = get_user_model()

    def user(username, first, last):
        return User.objects.create_user(
            username, password=PASSWORD, first_name=first, last_name=last, email=f"{username}@example.org"
        )

    amelia = user("amelia", "Amelia", "Guzman")
    InvestigationUser.objects.create(user=amelia, investigation=investigation, role=InvestigationUser.Role.PARTICIPANT)
    lena = user("lena", "Lena", "Okafor")
    InvestigationUser.objects.create(user=lena, investigation=investigation, role=InvestigationUser.Role.LOCAL_CONTACT)
    sam = user("sam", "Sam", "Ivanova")
    InstrumentScientist.objects.create(user=sam, instrument=instrument)
    stella = user("stella", "Stella", "Marchetti")
    stella.groups.add(Group.objects.get_or_create(name="stores")[0])
    Technique.objects.create(code="test-mx", name="Test MX", plans=PLANS)
    sample = Sample.objects.create(investigation=investigation, name="Hfq-A1")
    Dataset.objects.create(
        investigation=investigation,
        sample=sample,
        name=LONG_DATASET,
        location=f"/data/visitor/mx2485/{LONG_DATASET}",
        kind="raw",
        start_date=start,
        end_date=start + timedelta(minutes=3),
        complete=True,
    )
    return investigation


# --- Signing in and out ------------------------------------------------------------------------


def _sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".portal-account")).to_be_attached()


def _sign_out(page) -> None:
    if page.viewport_size["width"] < NAVBAR_EXPANDS_AT:
        page.locator(".navbar-toggler").click()
    page.locator(".portal-account .account-button").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".portal-account")).not_to_be_attached()


def _as(page, base_url: str, username: str) -> None:
    _sign_out(page)
    _sign_in(page, base_url, username)


def _move(page, status: str, *, tracking: str = "", location: str = "", comment: str = "") -> None:
    """On a parcel's page: fill the 'Move it on' form and press the status's button."""
    form = page.locator("#move-on")
    if tracking:
        form.get_by_label("Tracking number").fill(tracking)
    if location:
        form.get_by_label("Location").fill(location)
    if comment:
        form.get_by_label("Comment").fill(comment)
    _button(form, status).click()
    expect(page.locator("#parcel-status")).to_have_text(status)


def _field(scope, label: str):
    """A form field by its label, which may end with the required mark (*)."""
    return scope.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def _button(scope, label: str):
    """A button by its label (its name also holds its icon's glyph)."""
    return scope.get_by_role("button", name=re.compile(rf"(^|\W){re.escape(label)}$"))


def _buttons(page) -> list[str]:
    return [text.strip() for text in page.locator("#move-on button[name=status]").all_inner_texts()]


# --- Layout --------------------------------------------------------------------------------------

MEASURE = r"""() => {
  const viewport = window.innerWidth;
  const problems = [];
  if (document.documentElement.scrollWidth > viewport) {
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide in ${viewport}`);
  }
  // Whatever sticks out of the window, and is not inside a sideways scroller of its own.
  for (const element of document.querySelectorAll("main *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.right <= viewport + 0.5) continue;
    let scroller = element.parentElement, clipped = false;
    while (scroller && scroller !== document.body) {
      const overflow = getComputedStyle(scroller).overflowX;
      if (overflow === "auto" || overflow === "scroll" || overflow === "hidden") { clipped = true; break; }
      scroller = scroller.parentElement;
    }
    if (!clipped) {
      const classes = String(element.className || "").trim().split(/\s+/).filter(Boolean);
      const name = [element.tagName.toLowerCase(), ...classes].join(".");
      problems.push(`${name} ends at ${Math.round(box.right)}: "${element.textContent.trim().slice(0, 40)}"`);
    }
  }
  return problems.slice(0, 10);
}"""


def _check_fit(page, base_url: str, pages: dict[str, str], who: str, artifacts_dir) -> list[str]:
    """Each page at each width: no sideways scroll of the document; a full-page screenshot of each."""
    shots = artifacts_dir / "shipping"
    shots.mkdir(exist_ok=True)
    failures = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            page.goto(f"{base_url}{path}")
            expect(page.locator("main")).to_be_visible()
            if name == "statistics":
                page.wait_for_function("() => window.Chart && Object.keys(window.Chart.instances).length > 0")
            fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            problems = page.evaluate(MEASURE)
            if not fits or problems:
                failures += [f"{who} {name} {width}px: {problem}" for problem in problems or ["scrolls sideways"]]
            page.screenshot(path=str(shots / f"{who}-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    return failures


# --- The test ------------------------------------------------------------------------------------


def test_a_parcel_from_preparation_to_its_return(browser_page, live_server, people, artifacts_dir):
    page, base = browser_page, live_server.url
    investigation = people
    page.set_default_timeout(15_000)

    # Amelia, a participant, saves her address and makes a shipment for her session.
    _sign_in(page, base, "amelia")
    page.goto(f"{base}/shipping/")
    expect(page.get_by_role("heading", name="Shipments")).to_be_visible()
    page.get_by_role("link", name="New shipment").click()
    page.get_by_role("link", name="add an address").click()
    _field(page, "Name").fill("Amelia Guzman")
    page.get_by_label("Company name").fill("Institute of Structural Biology")
    _field(page, "Address").fill("71 avenue des Martyrs\nBuilding 3")
    page.get_by_label("Postal code").fill("38000")
    page.get_by_label("City").fill("Grenoble")
    page.get_by_label("Country").fill("France")
    page.get_by_label("Email").fill("amelia@example.org")
    page.get_by_role("button", name="Save address").click()
    expect(page.get_by_text("Address of Amelia Guzman saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="New shipment")).to_be_visible()
    page.get_by_label("Investigation").select_option(label=str(investigation))
    _field(page, "Name").fill("Hfq crystals")
    page.get_by_label("Technique").select_option(label="Test MX")
    page.get_by_label("Sender").select_option(index=1)
    page.get_by_label("Return to").select_option(index=1)
    page.get_by_label("Courier company").fill("DHL")
    page.get_by_role("button", name="Create shipment").click()
    expect(page.get_by_role("heading", name="Hfq crystals")).to_be_visible()
    expect(page.locator(".meta-grid")).to_contain_text("71 avenue des Martyrs")

    # A parcel (its barcode made for it), a puck, two samples with their plans.
    parcel_form = page.locator("form", has=page.get_by_role("button", name="Add parcel"))
    _field(parcel_form, "Name").fill("Dewar 1")
    parcel_form.get_by_label("Storage conditions").select_option(label="Liquid nitrogen (dry shipper)")
    parcel_form.get_by_label("Customs value (€)").fill("50")
    parcel_form.get_by_label("Return instructions").fill("Back to the institute, please.")
    parcel_form.get_by_role("button", name="Add parcel").click()
    expect(page.get_by_role("heading", name="Dewar 1")).to_be_visible()
    parcel = Parcel.objects.get(name="Dewar 1")
    expect(page.locator("h1 code")).to_have_text(parcel.barcode)
    parcel_url = parcel.get_absolute_url()

    add = page.locator("#add-item")
    _field(add, "Type").select_option(label="Container")
    _field(add, "Name").fill("Puck HFQ-1")
    add.get_by_label("Container type").select_option(label="Unipuck (16)")
    add.get_by_role("button", name="Add").click()
    expect(page.get_by_text("Container Puck HFQ-1 added.")).to_be_visible()
    for position, name, resolution, group in [(1, "Hfq-A1", "1.8", "P6"), (2, "Hfq-B3", "150 pm", "P 61 2 2")]:
        _field(add, "Type").select_option(label="Sample")
        _field(add, "Name").fill(name)
        _field(add, "In").select_option(label="Puck HFQ-1")
        add.get_by_label("Position").fill(str(position))
        add.get_by_label("Required resolution").fill(resolution)
        add.get_by_label("Workflow").fill("MXPressE")
        add.get_by_label("Space group").fill(group)
        add.get_by_role("button", name="Add").click()
        expect(page.get_by_text(f"Sample {name} added.")).to_be_visible()
    content = page.locator(".item-tree.root")
    expect(content.locator(".item-node .item-node")).to_have_count(2)
    first = content.locator(".item-node .item-node").first
    expect(first).to_contain_text("Hfq-A1")
    expect(first.locator(".plan-list")).to_contain_text("requiredResolution")
    expect(first.locator(".plan-list")).to_contain_text("spaceGroup")
    expect(first).to_contain_text(LONG_DATASET)  # measured already on the catalogue's sample
    second = content.locator(".item-node .item-node").nth(1)
    expect(second.locator(".plan-list")).to_contain_text("1.5")  # 150 pm in Å
    expect(second).to_contain_text("No datasets measured yet.")

    # The labels: a PDF.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Labels (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"parcel-{parcel.barcode}-labels.pdf"
    with open(download.path(), "rb") as pdf:
        data = pdf.read()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]

    # The preparing participant's pages fit every width (the forms are there while the parcel may change).
    shipment_url = f"/shipping/{parcel.shipment_id}/"
    failures = _check_fit(
        page, base, {"list": "/shipping/", "shipment": shipment_url, "parcel": parcel_url}, "participant", artifacts_dir
    )
    page.goto(f"{base}{parcel_url}")

    # Ready; sending needs the approval first.
    assert _buttons(page) == ["Ready"]
    _move(page, "Ready", comment="Puck packed in the dry shipper")
    assert _buttons(page) == ["Created"]  # back to preparation, not approval: not hers

    # Lena, the local contact, approves.
    _as(page, base, "lena")
    page.goto(f"{base}{parcel_url}")
    assert _buttons(page) == ["Created", "Approved"]  # a member too: she may send it back to preparation
    _move(page, "Approved", comment="No hazard")

    # Amelia sends it, with the courier's tracking number (required).
    _as(page, base, "amelia")
    page.goto(f"{base}{parcel_url}")
    _button(page.locator("#move-on"), "Sent").click()
    expect(page.locator("#move-on .invalid-feedback")).to_contain_text("tracking number is required")
    expect(page.locator("#parcel-status")).to_have_text("Approved")
    _move(page, "Sent", tracking="1Z999AA10123456784")
    expect(page.locator(".meta-grid")).to_contain_text("1Z999AA10123456784")
    expect(page.locator("#add-item")).to_have_count(0)  # sent: no more changes

    # Stella, at the stores, scans its barcode and receives it.
    _as(page, base, "stella")
    page.goto(f"{base}/shipping/stores/")
    page.get_by_label("Barcode").fill(parcel.barcode)
    page.get_by_label("Barcode").press("Enter")
    scanned = page.locator("#scanned")
    expect(scanned).to_contain_text("Dewar 1")
    scanned.get_by_role("button", name="Received at stores").click()
    expect(page.get_by_text("Parcel Dewar 1: received at stores.")).to_be_visible()

    # Sam, the instrument's scientist, takes it to the beamline and back.
    _as(page, base, "sam")
    page.goto(f"{base}{parcel_url}")
    assert _buttons(page) == ["At the beamline"]
    _move(page, "At the beamline", location="ID30A-1 sample changer")
    _move(page, "Back at stores", location="stores")

    # Stella sends it back, with the return tracking number.
    _as(page, base, "stella")
    page.goto(f"{base}/shipping/stores/?barcode={parcel.barcode}")
    scanned = page.locator("#scanned")
    scanned.get_by_label("Return tracking number").fill("1Z999AA10123459999")
    scanned.get_by_role("button", name="Returned to the user").click()
    expect(page.get_by_text("Parcel Dewar 1: returned to the user.")).to_be_visible()

    # The history on the parcel's page: who did what, where.
    page.goto(f"{base}{parcel_url}")
    expect(page.locator("#parcel-status")).to_have_text("Returned to the user")
    expect(page.locator("#move-on")).to_have_count(0)  # the end of the way
    rows = page.locator("#history tbody tr")
    expected = [
        ("Created", "Amelia Guzman"),
        ("Ready", "Amelia Guzman"),
        ("Approved", "Lena Okafor"),
        ("Sent", "Amelia Guzman"),
        ("Received at stores", "Stella Marchetti"),
        ("At the beamline", "Sam Ivanova"),
        ("Back at stores", "Sam Ivanova"),
        ("Returned to the user", "Stella Marchetti"),
    ]
    expect(rows).to_have_count(len(expected))
    for index, (status, who) in enumerate(expected):
        expect(rows.nth(index).locator(".parcel-status")).to_have_text(status)
        expect(rows.nth(index).locator("td").nth(2)).to_have_text(who)
    expect(rows.nth(5)).to_contain_text("ID30A-1 sample changer")
    expect(page.locator(".meta-grid")).to_contain_text("1Z999AA10123459999")
    assert list(ParcelStatus.objects.filter(parcel=parcel).values_list("status", flat=True)) == [
        Status.CREATED,
        Status.READY,
        Status.APPROVED,
        Status.SENT,
        Status.STORES,
        Status.BEAMLINE,
        Status.BACK_STORES,
        Status.BACK_USER,
    ]

    # The sample's catalogue page shows where it travelled.
    _as(page, base, "amelia")
    sample = Sample.objects.get(investigation=investigation, name="Hfq-A1")
    page.goto(f"{base}{sample.get_absolute_url()}")
    tracking = page.locator("#sample-tracking")
    expect(tracking).to_contain_text("Dewar 1")
    expect(tracking).to_contain_text("Puck HFQ-1")
    expect(tracking.locator(".tracking-position")).to_have_text("1")
    expect(tracking.locator("tbody tr")).to_have_count(len(expected))
    failures += _check_fit(page, base, {"sample": sample.get_absolute_url()}, "participant", artifacts_dir)

    # The stores' pages, with the parcel back with its user, fit every width too.
    _as(page, base, "stella")
    stores_pages = {
        "list": "/shipping/",
        "shipment": shipment_url,
        "parcel": parcel_url,
        "stores": f"/shipping/stores/?barcode={parcel.barcode}",
        "statistics": "/shipping/statistics/",
    }
    failures += _check_fit(page, base, stores_pages, "stores", artifacts_dir)
    assert failures == [], "\n".join(failures)
