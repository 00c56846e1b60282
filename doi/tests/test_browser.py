"""A landing page in Chromium: read it, download a citation, and screenshots at desktop widths
and a phone's into test-artifacts/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from doi import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"1280": 1280, "1440": 1440, "1920": 1920, "phone": 390}


def test_landing_page_and_citation_download(browser_page, live_server, session_world, pi_actor, artifacts_dir):
    publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
    services.publication_update(
        actor=pi_actor,
        publication=publication,
        title="Crystal structure of human afamin, the vitamin E binding glycoprotein",
        abstract="Automated screening and data collection of crystals of recombinant human afamin.",
        related_identifiers=[
            {
                "relatedIdentifier": "10.1107/S2059798317010476",
                "relatedIdentifierType": "DOI",
                "relationType": "IsCitedBy",
            }
        ],  # fmt: skip
        funding=[{"funderName": "European Research Council", "awardNumber": "ERC-1234"}],
    )
    publication = services.publication_publish(actor=pi_actor, publication=publication)
    page = browser_page
    page.goto(live_server.url + publication.get_absolute_url())
    expect(page.locator("h1")).to_have_text(publication.title)
    expect(page.locator(".landing-citation")).to_contain_text(f"https://doi.org/{publication.doi}")
    with page.expect_download() as download:
        page.get_by_role("link", name="BibTeX").click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".bib")
    assert "@misc{" in Path(path).read_text()
    for name, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
        page.screenshot(path=str(artifacts_dir / f"doi-landing-{name}.png"), full_page=True)
