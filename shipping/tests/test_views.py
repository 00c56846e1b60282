"""The portal's shipping pages: forms, their errors on the fields, the workflow's buttons, the
stores' scan, the statistics and their CSV."""

import pytest
from django.test import Client

from shipping import services
from shipping.models import Address, Item, Parcel, ParcelStatus, Shipment, Status

from .conftest import make_address, person

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_participant_creates_a_shipment_and_a_parcel(participant, investigation, plan_technique):
    client = signed_in(participant)
    address = {"name": "Ada", "address": "1 Road", "postal_code": "1", "city": "Town", "country": "Utopia"}
    assert client.post("/shipping/addresses/new/", address).status_code == 302
    sender = Address.objects.get()
    body = {
        "investigation": investigation.pk,
        "name": "Crystals",
        "technique": plan_technique.pk,
        "shipping_address": sender.pk,
        "return_address": sender.pk,
    }
    response = client.post("/shipping/new/", body)
    shipment = Shipment.objects.get()
    assert response["Location"] == f"/shipping/{shipment.pk}/"
    response = client.post(f"/shipping/{shipment.pk}/", {"name": "Dewar", "storage_conditions": "liquid nitrogen"})
    parcel = Parcel.objects.get()
    assert response["Location"] == f"/shipping/parcels/{parcel.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Dewar" in page and parcel.barcode in page and "Ready" in page  # the next step's button


def test_a_shipment_of_someone_elses_investigation_is_refused(other_user, participant, investigation):
    sender = make_address(other_user)
    body = {"investigation": investigation.pk, "name": "X", "shipping_address": sender.pk, "return_address": sender.pk}
    response = signed_in(other_user).post("/shipping/new/", body)
    assert response.status_code == 400
    assert "investigation" in response.context["form"].errors
    assert not Shipment.objects.exists()


def test_a_duplicate_barcode_is_a_form_error(participant, parcel):
    response = signed_in(participant).post(
        f"/shipping/{parcel.shipment_id}/",
        {"name": "Other", "storage_conditions": "4 °C", "barcode": parcel.barcode},
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"barcode": [f"a parcel with barcode '{parcel.barcode}' exists already"]}
    assert Parcel.objects.count() == 1


def test_a_sample_with_plans_from_the_form(participant, puck):
    body = {
        "type": "SAMPLE",
        "name": "lyso-1",
        "parent": puck.pk,
        "position": "4",
        "experiment_plan.requiredResolution": "150 pm",
        "processing_plan.spaceGroup": "P43212",
    }
    response = signed_in(participant).post(f"/shipping/parcels/{puck.parcel_id}/items/", body)
    assert response.status_code == 302
    sample = Item.objects.get(type="SAMPLE")
    assert (sample.position, sample.experiment_plan) == (4, {"requiredResolution": 1.5})


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"experiment_plan.requiredResolution": "2 s"}, "experiment_plan.requiredResolution", "cannot be converted"),
        ({"experiment_plan.numberOfImages": "many"}, "experiment_plan.numberOfImages", "expected a number"),
        ({"position": "17"}, "position", "outside the Unipuck (16)"),
    ],
)
def test_bad_items_are_form_errors_naming_the_field(participant, puck, fields, field, reason):
    body = {"type": "SAMPLE", "name": "lyso-1", "parent": puck.pk, "position": "1"} | fields
    response = signed_in(participant).post(f"/shipping/parcels/{puck.parcel_id}/items/", body)
    assert response.status_code == 400
    assert reason in " ".join(response.context["item_form"].errors[field])
    assert f'data-field="{field}"' in response.content.decode()
    assert Item.objects.count() == 1


def test_a_free_plan_line_without_equals_is_a_form_error(participant, investigation):
    from .conftest import make_shipment

    shipment = make_shipment(participant, investigation)
    parcel = services.parcel_create(actor=person(participant), shipment=shipment, name="B", storage_conditions="4 °C")
    body = {"type": "SAMPLE", "name": "s", "experiment_plan": "colour red"}
    response = signed_in(participant).post(f"/shipping/parcels/{parcel.pk}/items/", body)
    assert response.status_code == 400
    assert response.context["item_form"].errors == {"experiment_plan": ["'colour red' is not 'key = value'"]}


def test_the_status_buttons_move_it_and_refusals_say_why(participant, parcel, other_scientist):
    client = signed_in(participant)
    response = client.post(f"/shipping/parcels/{parcel.pk}/status/", {"status": "READY"})
    assert response.status_code == 302
    response = client.post(f"/shipping/parcels/{parcel.pk}/status/", {"status": "APPROVED"})
    assert response.status_code == 403
    assert "allowed for you: Created" in response.content.decode()
    assert Parcel.objects.get(pk=parcel.pk).status == Status.READY
    # Someone who does not see the parcel: as if it did not exist.
    assert (
        signed_in(other_scientist).post(f"/shipping/parcels/{parcel.pk}/status/", {"status": "READY"}).status_code
        == 404
    )


def test_the_labels_download(participant, parcel):
    response = signed_in(participant).get(f"/shipping/parcels/{parcel.pk}/labels.pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_the_stores_scan_and_move_on(stores, parcel):
    Parcel.objects.filter(pk=parcel.pk).update(status=Status.SENT)
    client = signed_in(stores)
    page = client.get("/shipping/stores/", {"barcode": f" {parcel.barcode} "})
    assert page.status_code == 200
    assert 'value="STORES"' in page.content.decode()
    response = client.post(f"/shipping/parcels/{parcel.pk}/status/", {"status": "STORES", "next": "stores"})
    assert response["Location"] == "/shipping/stores/"
    assert ParcelStatus.objects.filter(parcel=parcel, status="STORES").exists()
    assert client.get("/shipping/stores/", {"barcode": "NOPE"}).status_code == 404


def test_the_stores_page_is_for_staff(participant):
    assert signed_in(participant).get("/shipping/stores/").status_code == 404
    assert Client().get("/shipping/stores/").status_code == 302


def test_statistics_and_their_csv(admin_user, parcel, instrument):
    client = signed_in(admin_user)
    page = client.get("/shipping/statistics/")
    assert page.status_code == 200
    assert page.context["stats"]["instruments"] == [("ID30", 1)]
    csv = client.get("/shipping/statistics/", {"export": "csv"}).content.decode().splitlines()
    assert csv[0].startswith("month,CREATED,READY")
    assert csv[1].endswith(",1")
    assert client.get("/shipping/statistics/", {"start": "2020-13-01"}).status_code == 400


def test_the_sample_page_shows_its_parcel_position_and_history(participant, puck):
    item = services.item_create(
        actor=person(participant), parcel=puck.parcel, parent=puck, type="SAMPLE", name="lyso-9", position=9
    )
    page = signed_in(participant).get(f"/shipping/samples/{item.sample_id}/").content.decode()
    assert "Puck A" in page and "position <strong>9</strong>" in page and "Created" in page


def test_lists_cost_a_fixed_number_of_queries(participant, investigation, django_assert_num_queries):
    from .conftest import make_shipment

    client = signed_in(participant)
    make_shipment(participant, investigation)
    client.get("/shipping/")
    # Session, user, the stores and safety groups, the beamline-staff menu, the shipments (+ savepoints).
    with django_assert_num_queries(8):
        client.get("/shipping/")
    for name in ("Two", "Three"):
        make_shipment(participant, investigation, name=name)
    with django_assert_num_queries(8):
        assert client.get("/shipping/").content.decode().count("/shipping/") > 3


def test_a_parcel_page_costs_the_same_for_more_samples(participant, puck, django_assert_num_queries):
    client = signed_in(participant)
    url = f"/shipping/parcels/{puck.parcel_id}/"
    services.item_create(
        actor=person(participant), parcel=puck.parcel, parent=puck, type="SAMPLE", name="a", position=1
    )
    client.get(url)
    with django_assert_num_queries(14) as first:
        client.get(url)
    for position in (2, 3, 4):
        services.item_create(
            actor=person(participant),
            parcel=puck.parcel,
            parent=puck,
            type="SAMPLE",
            name=f"s{position}",
            position=position,
        )
    with django_assert_num_queries(len(first.captured_queries)):
        client.get(url)
