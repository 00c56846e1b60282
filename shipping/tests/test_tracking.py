"""The catalogue's sample page shows the sample's parcels (shipping/templatetags/tracking.py): its
container and position, the status history; a fixed number of queries, and nothing of a shipment
to a viewer who may not see it (shipments are never public)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import Client, RequestFactory

from catalogue.tests.conftest import make_sample
from shipping import services
from shipping.models import Status

from .conftest import make_shipment, person

pytestmark = pytest.mark.django_db

TAG = Template("{% load tracking %}{% sample_tracking sample %}")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def render(user, sample) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return TAG.render(Context({"request": request, "sample": sample}))


def send_sample(user, parcel, parent, name="lysozyme", position=3):
    return services.item_create(
        actor=person(user), parcel=parcel, type="SAMPLE", name=name, parent=parent, position=position
    )


@pytest.fixture
def sample_item(participant, puck):
    item = send_sample(participant, puck.parcel, puck)
    services.parcel_status_change(actor=person(participant), parcel=puck.parcel, status=Status.READY, comment="packed")
    return item


def test_the_sample_page_shows_its_parcel_position_and_history(participant, sample_item):
    html = signed_in(participant).get(sample_item.sample.get_absolute_url()).content.decode()
    assert 'id="sample-tracking"' in html
    assert f'href="{sample_item.parcel.get_absolute_url()}">Dewar 1</a>' in html
    assert 'in container <strong>Puck A</strong>, position <strong class="tracking-position">3</strong>' in html
    assert html.count("parcel-status status-created") == 1 and html.count("parcel-status status-ready") == 2
    assert f'href="/shipping/samples/{sample_item.sample_id}/"' in html


def test_the_tag_costs_a_fixed_number_of_queries(participant, admin_user, sample_item, django_assert_num_queries):
    """The items the viewer may see (the logistics groups checked in the same SQL) with their parcels
    and containers, then their statuses."""
    sample = sample_item.sample
    with django_assert_num_queries(2):
        html = render(participant, sample)
    assert html.count("<tr>") == 1 + 2  # the header, created and ready
    # More history (a sample travels in one parcel): the same count.
    parcel = sample_item.parcel
    services.parcel_status_change(actor=person(admin_user), parcel=parcel, status=Status.APPROVED)
    services.parcel_status_change(actor=person(participant), parcel=parcel, status=Status.SENT, tracking_number="1Z9")
    with django_assert_num_queries(2):
        html = render(participant, sample)
    assert html.count("<tr>") == 1 + 4 and "Sent" in html


def test_a_sample_that_was_not_shipped_shows_nothing(participant, investigation, django_assert_num_queries):
    sample = make_sample(investigation, "never sent")
    with django_assert_num_queries(1):
        assert render(participant, sample).strip() == ""
    assert 'id="sample-tracking"' not in signed_in(participant).get(sample.get_absolute_url()).content.decode()


def test_a_viewer_who_may_not_see_the_shipment_sees_nothing_of_it(
    participant, other_user, released_investigation, django_assert_num_queries
):
    """The released session's sample is public; its shipment is not."""
    shipment = make_shipment(participant, released_investigation, name="Old crystals")
    parcel = services.parcel_create(
        actor=person(participant), shipment=shipment, name="Secret dewar", storage_conditions="4 °C"
    )
    sample = send_sample(participant, parcel, None, name="insulin", position=None).sample
    assert "Secret dewar" in render(participant, sample)
    for client in (signed_in(other_user), Client()):
        response = client.get(sample.get_absolute_url())
        assert response.status_code == 200  # the sample itself is public
        html = response.content.decode()
        assert "insulin" in html
        assert "Secret dewar" not in html and parcel.barcode not in html and 'id="sample-tracking"' not in html
    with django_assert_num_queries(0):
        assert render(AnonymousUser(), sample).strip() == ""


def test_the_stores_and_safety_staff_see_every_parcel(
    stores, safety, other_user, sample_item, django_assert_num_queries
):
    for user in (stores, safety):
        with django_assert_num_queries(2):
            assert "Dewar 1" in render(user, sample_item.sample)
    with django_assert_num_queries(1):
        assert render(other_user, sample_item.sample).strip() == ""
