"""The portal's layout (issue 12): the dataset table and the navigation bar fit every width, for
every role, on the demo's four investigations; the pages around the table (gallery, expanded row,
admin, API docs) are complete.

The browser test loads the demo once and drives one Chromium through 5 roles x 4 investigations x
4 widths, saving a screenshot of each page under test-artifacts/layout/.
"""

import re
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.template import Context, Template
from django.urls import reverse
from playwright.sync_api import expect

from catalogue.models import Dataset, Investigation
from catalogue.portal.pages import ROW_THUMBNAILS

# settings.DATA_FOLDER_PATTERN's default, the layout of the seeds' facility.
DEFAULT_FOLDER_PATTERN = "{root}/visitor/{proposal}/{instrument}/{start:%Y%m%d}"
ROLES = ["anonymous", "alice", "bob", "carol", "admin"]
WIDTHS = [1280, 1440, 1920, 390]
NAVBAR_EXPANDS_AT = 1200  # navbar-expand-xl
GENERIC = ["c-date", "c-sample", "c-dataset", "c-definition", "c-files", "c-size", "c-processed", "c-data"]


@pytest.fixture
def demo_root(settings, tmp_path, monkeypatch):
    settings.DATA_ROOTS = [tmp_path / "demo"]
    settings.DATA_FOLDER_PATTERN = DEFAULT_FOLDER_PATTERN
    settings.STORAGE_ARCHIVE_ROOT = tmp_path / "archive"  # the demo archives some datasets
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    return tmp_path / "demo"


# --- In the browser ----------------------------------------------------------------------------

# What overflows, measured in the page: the document, the navbar, and the dataset table's scroller
# (which may scroll sideways when the technique's columns do not fit: then the generic columns
# must still lie inside the viewport and the scroller's visible part).
MEASURE = r"""(generic) => {
  const viewport = document.documentElement.clientWidth;
  const problems = [];
  const inside = (element, right, what) => {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && (box.left < -0.5 || box.right > right + 0.5)) {
      problems.push(`${what} spans ${Math.round(box.left)}..${Math.round(box.right)} of ${Math.round(right)}`);
    }
  };
  if (document.documentElement.scrollWidth > viewport) {
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide in ${viewport}`);
  }
  for (const navbar of document.querySelectorAll(".portal-navbar, .portal-navbar .navbar-collapse")) {
    if (navbar.scrollWidth > navbar.clientWidth) {
      problems.push(`the navbar overflows: ${navbar.scrollWidth} > ${navbar.clientWidth}`);
    }
    inside(navbar, viewport, "the navbar");
  }
  let scrolls = false;
  for (const scroller of document.querySelectorAll(".dataset-scroller")) {
    const edge = Math.min(viewport, scroller.getBoundingClientRect().right);
    scrolls = scrolls || scroller.scrollWidth > scroller.clientWidth;
    // The generic columns' header (wide) and the cells of every row (wide or card-like).
    for (const name of generic) {
      for (const cell of scroller.querySelectorAll(`thead th.${name}, tbody tr.dataset-row > td.${name}`)) {
        const shown = cell.offsetParent !== null && (cell.closest("thead") || cell).getBoundingClientRect().width > 1;
        const row = cell.closest("tr").textContent.trim().replace(/\s+/g, " ").slice(0, 40);
        if (shown) inside(cell, edge, `${name} of "${row}"`);
      }
    }
    // Names break between their parts, never a character per line.
    for (const name of scroller.querySelectorAll("td.c-dataset a, td.c-sample a")) {
      const box = name.getBoundingClientRect();
      const lineHeight = parseFloat(getComputedStyle(name).lineHeight) || 20;
      if (box.width < 40 || box.height > 4 * lineHeight) {
        problems.push(`"${name.textContent}" is ${Math.round(box.width)} x ${Math.round(box.height)} px`);
      }
    }
    // The expanded rows fit what is visible of the table, their values one line each.
    for (const detail of scroller.querySelectorAll(".dataset-detail:not([hidden]) .dataset-summary")) {
      inside(detail, edge, "an expanded row");
      for (const value of detail.querySelectorAll(".param dd")) {
        const lines = value.getBoundingClientRect().height / (parseFloat(getComputedStyle(value).lineHeight) || 20);
        if (lines > 2.5) problems.push(`the value "${value.textContent.trim()}" takes ${Math.round(lines)} lines`);
      }
    }
  }
  return {problems, scrolls};
}"""


def _sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".portal-account")).to_be_attached()


def _account_menu_reachable(page, width: int) -> None:
    """The account menu and its sign-out are on screen, behind the toggler below xl."""
    if width < NAVBAR_EXPANDS_AT:
        toggler = page.locator(".portal-navbar .navbar-toggler")
        expect(toggler).to_be_visible()
        toggler.click()
        expect(page.locator("#portal-nav.show")).to_be_visible()
    account = page.locator(".portal-account > button")
    expect(account).to_be_in_viewport()
    account.click()
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_in_viewport()
    box, viewport = sign_out.bounding_box(), page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport, box
    page.keyboard.press("Escape")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_demo_fits_every_width_for_every_role(browser_page, live_server, demo_root, artifacts_dir):
    call_command("load_demo", stdout=StringIO())
    investigations = list(Investigation.objects.order_by("name"))
    assert len(investigations) == 4
    shots = artifacts_dir / "layout"
    shots.mkdir(exist_ok=True)
    browser = browser_page.context.browser
    failures, scrolled = [], set()
    for role in ROLES:
        context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        if role != "anonymous":
            _sign_in(page, live_server.url, role)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for index, investigation in enumerate(investigations):
                response = page.goto(f"{live_server.url}{investigation.get_absolute_url()}")
                rows = page.locator("tr.dataset-row")
                if response.status == 200 and rows.count():
                    # Expand the first dataset: its parameters and images load into the table.
                    rows.first.locator("[data-expand]").click()
                    expect(page.locator(".dataset-detail:not([hidden]) .dataset-summary")).to_be_visible()
                result = page.evaluate(MEASURE, GENERIC)
                failures += [f"{role} {investigation.name} {width}px: {problem}" for problem in result["problems"]]
                if result["scrolls"]:
                    scrolled.add(width)
                name = f"{role}-{investigation.name}-{width}.png"
                page.screenshot(path=str(shots / name), full_page=True)
                if index == 0 and role != "anonymous":
                    _account_menu_reachable(page, width)
        context.close()
    assert failures == [], "\n".join(failures)
    # The generic columns fit everywhere; only the technique's columns may need a scroll, and never on
    # a phone, where each row is a card.
    assert 390 not in scrolled


# --- On the server -------------------------------------------------------------------------------


@pytest.fixture
def demo(demo_root, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", stdout=StringIO())
    return demo_root


@pytest.mark.django_db
def test_the_public_mx_session_shows_its_images(client, demo):
    """Crystal snapshots and diffraction thumbnails in the MX galleries, plots of autoPROC: real PNGs."""
    oscillation = Dataset.objects.get(definition__code="MX_OSCILLATION")
    page = client.get(oscillation.get_absolute_url())
    view = page.context["view"]
    assert [f.path for f in view.gallery] == [
        "snapshots/crystal_000deg.png",
        "snapshots/crystal_090deg.png",
        "snapshots/diffraction_0001.png",
        "snapshots/diffraction_1640.png",
    ]
    assert re.search(r'class="badge rounded-pill text-bg-light gallery-count">4<', page.content.decode())
    image = client.get(reverse("dataset-image", args=[oscillation.pk, view.gallery[0].pk]))
    assert image.status_code == 200 and b"".join(image.streaming_content).startswith(b"\x89PNG\r\n\x1a\n")
    for dataset in Dataset.objects.filter(investigation__name="MX-1111", kind="raw"):
        assert client.get(dataset.get_absolute_url()).context["view"].gallery, dataset.name
    integration = client.get(Dataset.objects.get(definition__code="MX_INTEGRATION").get_absolute_url())
    assert [f.path for f in integration.context["view"].plots] == [
        "cc_half_vs_resolution.png",
        "completeness_vs_resolution.png",
    ]
    assert 'gallery-count">2<' in integration.content.decode()


@pytest.mark.django_db
def test_the_expanded_row_shows_the_first_images_for_one_query(client, demo, django_assert_num_queries):
    oscillation = Dataset.objects.get(definition__code="MX_OSCILLATION")
    url = reverse("dataset-row", args=[oscillation.pk])
    client.get(url)  # warm up
    # Dataset, vocabulary of its summary, inputs, outputs, and the images: one query more than
    # before the thumbnails.
    with django_assert_num_queries(5):
        response = client.get(url)
    thumbnails = response.context["thumbnails"]
    assert len(thumbnails) == ROW_THUMBNAILS
    html = response.content.decode()
    for datafile in thumbnails:
        assert reverse("dataset-image", args=[oscillation.pk, datafile.pk]) in html
    # A definition without images costs no query for them.
    characterisation = Dataset.objects.get(definition__code="MX_CHARACTERISATION")
    with django_assert_num_queries(4):
        assert client.get(reverse("dataset-row", args=[characterisation.pk])).context["thumbnails"] == []


@pytest.mark.django_db
def test_the_table_keeps_its_generic_columns_and_breakable_names(client, demo):
    response = client.get(Investigation.objects.get(name="MX-1111").get_absolute_url())
    html = response.content.decode()
    headers = re.findall(r'<th scope="col" class="(c-[a-z]+)', html)
    assert headers == ["c-expand", *GENERIC]  # first, before the technique's columns
    assert "has-technique-columns" in html and 'class="text-end param-col"' in html
    assert ">mesh-<wbr>AFAMIN-<wbr>rev1-<wbr>B5-<wbr>1_<wbr>1_<wbr>1719739</a>" in html
    assert 'title="mesh-AFAMIN-rev1-B5-1_1_1719739"' in html
    assert html.count('<span class="badge storage-badge storage-online">Online</span>') == 10
    assert html.count('<span class="badge storage-badge storage-archived">Archived</span>') == 3  # the demo's on tape


def test_breakable_escapes_and_breaks_after_separators():
    rendered = Template("{% load portal %}{{ name|breakable }}").render(Context({"name": "<b>_x-y.z/w_"}))
    assert rendered == "&lt;b&gt;_<wbr>x-<wbr>y.z/<wbr>w_"


@pytest.mark.django_db
def test_favicon_admin_and_api_docs_lead_back_to_the_portal(client):
    home = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in home
    admin_user = get_user_model().objects.create_superuser("root", password="x")
    client.force_login(admin_user)
    index = client.get(reverse("admin:index")).content.decode()
    assert f"{django_settings.FACILITY_NAME} · catalogue admin" in index
    assert '<a href="/">View portal</a>' in index
    docs = client.get(reverse("api:docs")).content.decode()
    assert '<a class="api-docs-home" href="/">' in docs and "swagger-ui" in docs
