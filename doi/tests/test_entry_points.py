"""Where people mint: the investigation page and the selection page link to doi/'s mint views
(the catalogue does not import doi; whether the person may mint is the doi view's decision)."""

import pytest
from django.urls import reverse

from catalogue.storage.selection import selection_add

pytestmark = pytest.mark.django_db


def test_the_investigation_page_offers_mint_a_doi_to_signed_in_people(client, session_world):
    investigation = session_world["investigation"]
    mint = reverse("doi:mint-investigation", args=[investigation.pk])
    assert mint not in client.get(investigation.get_absolute_url()).content.decode()
    client.force_login(session_world["pi"])
    assert mint in client.get(investigation.get_absolute_url()).content.decode()
    response = client.post(mint)
    assert response.status_code == 302 and "/doi/manage/" in response["Location"]


def test_the_selection_page_links_to_mint_a_doi(client, session_world):
    pi = session_world["pi"]
    selection_add(user=pi, dataset_ids=[d.pk for d in session_world["datasets"]])
    client.force_login(pi)
    assert reverse("doi:mint-selection") in client.get(reverse("selection")).content.decode()
