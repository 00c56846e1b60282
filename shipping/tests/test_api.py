"""The beamline software's API: ICAT+'s tracking shape, with the instrument's key."""

import pytest

from catalogue.tests.conftest import key_client, user_client
from shipping import services
from shipping.models import Parcel, ParcelStatus, Status

from .conftest import person

pytestmark = pytest.mark.django_db
URL = "/api/v1/tracking/parcels/"


@pytest.fixture
def loaded(participant, puck):
    for position, name in ((1, "lyso-1"), (2, "lyso-2")):
        services.item_create(
            actor=person(participant),
            parcel=puck.parcel,
            parent=puck,
            type="SAMPLE",
            name=name,
            position=position,
            experiment_plan={"requiredResolution": 1.5},
            processing_plan={"spaceGroup": "P43212"},
        )
    return puck.parcel


def test_the_running_sessions_parcels_in_icat_plus_shape(api_key, loaded, investigation):
    body = key_client(api_key[1]).get(URL).json()
    assert [parcel["_id"] for parcel in body] == [str(loaded.pk)]
    parcel = body[0]
    assert parcel["investigationId"] == investigation.pk
    assert parcel["investigationName"] == "MX-1"
    assert parcel["currentStatus"] == parcel["status"] == "CREATED"
    assert parcel["statuses"][0]["status"] == "CREATED"
    assert parcel["shippingAddress"]["postalCode"] == "12345"
    assert parcel["shippingTrackingInformation"] == {"trackingNumber": "", "forwarder": ""}
    (puck,) = parcel["items"]
    assert (puck["name"], puck["type"]) == ("Puck A", "UNIPUCK")
    samples = puck["content"]
    assert [(s["name"], s["sampleContainerPosition"], s["type"]) for s in samples] == [
        ("lyso-1", "1", "SAMPLE"),
        ("lyso-2", "2", "SAMPLE"),
    ]
    assert samples[0]["experimentPlan"] == [{"key": "requiredResolution", "value": 1.5}]
    assert samples[0]["processingPlan"] == [{"key": "spaceGroup", "value": "P43212"}]
    assert samples[0]["sampleId"] is not None


def test_a_list_costs_a_fixed_number_of_queries(api_key, loaded, participant, django_assert_num_queries):
    client = key_client(api_key[1])
    client.get(URL)  # the key's last_used is written once
    # The key (and its last use), the session (none running: then the last started), parcels,
    # statuses, items.
    with django_assert_num_queries(7):
        client.get(URL)
    for name in ("Dewar 2", "Dewar 3"):
        services.parcel_create(
            actor=person(participant), shipment=loaded.shipment, name=name, storage_conditions="4 °C"
        )
    with django_assert_num_queries(7):
        assert len(client.get(URL).json()) == 3


def test_another_instruments_key_sees_nothing(other_api_key, loaded, investigation):
    client = key_client(other_api_key[1])
    assert client.get(URL).json() == []
    assert client.get(URL, {"investigationId": investigation.pk}).status_code == 404
    assert client.get(f"{URL}{loaded.pk}/").status_code == 404


def test_a_person_names_the_session(participant, loaded, investigation):
    client = user_client(participant)
    assert client.get(URL).status_code == 400
    assert client.get(URL, {"investigationId": "x"}).json()["errors"] == {
        "investigationId": "expected an investigation id, got 'x'"
    }
    assert len(client.get(URL, {"investigationId": investigation.pk}).json()) == 1


def test_anonymous_is_asked_for_a_key(api_client, loaded):
    assert api_client.get(URL).status_code in (401, 403)


def test_the_beamline_takes_the_parcel_and_gives_it_back(api_key, loaded):
    Parcel.objects.filter(pk=loaded.pk).update(status=Status.STORES)
    client = key_client(api_key[1])
    url = f"{URL}{loaded.pk}/status/"
    response = client.post(url, {"status": "BEAMLINE", "comment": "mounted"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["createdByFullName"] == "API key MXCuBE on ID30"
    assert client.post(url, {"status": "BACK_STORES"}, format="json").status_code == 201
    assert list(loaded.statuses.values_list("status", "location")) == [
        ("CREATED", ""),
        ("BEAMLINE", "ID30"),
        ("BACK_STORES", "stores"),
    ]


def test_a_step_not_the_beamlines_is_refused_with_the_allowed_ones(api_key, loaded):
    Parcel.objects.filter(pk=loaded.pk).update(status=Status.BACK_STORES)
    response = key_client(api_key[1]).post(f"{URL}{loaded.pk}/status/", {"status": "BACK_USER"}, format="json")
    assert response.status_code == 403
    assert response.json()["errors"] == {
        "status": "only stores may set 'returned to the user' now; allowed for you: At the beamline"
    }


@pytest.mark.parametrize(
    ("body", "field"), [({"status": "LOST"}, "status"), ({}, "status"), ({"status": "SENT"}, "status")]
)
def test_bad_status_bodies_are_400_naming_the_field(api_key, loaded, body, field):
    before = ParcelStatus.objects.count()
    response = key_client(api_key[1]).post(f"{URL}{loaded.pk}/status/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {field}
    assert ParcelStatus.objects.count() == before
