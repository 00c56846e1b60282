"""Shipping fixtures on the catalogue's small world (catalogue/tests/conftest.py): MX-1 on ID30
(embargoed) with its participant, local contact, scientists, stores and safety staff, keys; a
technique with experiment and processing plans; a shipment with one parcel."""

import pytest
from django.contrib.auth.models import Group

from catalogue.access import Actor
from catalogue.models import InvestigationUser
from catalogue.tests.conftest import *  # noqa: F403 (the catalogue's fixtures)
from catalogue.tests.conftest import make_user
from shipping import services
from shipping.models import Address
from techniques.models import Technique

PLANS = {
    "experiment": [
        {"key": "requiredResolution", "label": "Required resolution", "type": "numeric", "unit": "angstrom",
         "minimum": 0.5, "maximum": 10},
        {"key": "numberOfImages", "label": "Number of images", "type": "numeric", "unit": "", "minimum": 1},
        {"key": "workflowType", "label": "Workflow", "type": "string", "unit": "",
         "permitted_values": ["MXPressE", "SAD"]},
    ],
    "processing": [
        {"key": "spaceGroup", "label": "Space group", "type": "string", "unit": ""},
        {"key": "anomalous", "label": "Anomalous", "type": "boolean", "unit": ""},
    ],
}  # fmt: skip


@pytest.fixture
def plan_technique(db) -> Technique:
    return Technique.objects.create(code="test-mx", name="Test MX", plans=PLANS)


def person(user) -> Actor:
    return Actor(user=user)


@pytest.fixture
def local_contact(investigation):
    user = make_user("contact", email="contact@example.org")
    InvestigationUser.objects.create(user=user, investigation=investigation, role=InvestigationUser.Role.LOCAL_CONTACT)
    return user


def _group_member(username: str, group: str):
    user = make_user(username)
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def stores(db):
    return _group_member("storekeeper", "stores")


@pytest.fixture
def safety(db):
    return _group_member("safety-officer", "safety")


@pytest.fixture
def admin_user(db):
    return make_user("root", is_staff=True, is_superuser=True)


def make_address(user, name="Ada Lovelace", investigation=None) -> Address:
    return services.address_create(
        actor=person(user),
        investigation=investigation,
        name=name,
        company_name="University of Somewhere",
        address="1 Crystal Road",
        postal_code="12345",
        city="Somewhere",
        country="Utopia",
        email="ada@example.org",
    )


def make_shipment(user, inv, technique=None, name="Crystals"):
    address = make_address(user)
    return services.shipment_create(
        actor=person(user),
        investigation=inv,
        name=name,
        shipping_address=address,
        return_address=address,
        technique=technique,
    )


@pytest.fixture
def shipment(participant, investigation, plan_technique):
    participant.email = "participant@example.org"
    participant.save()
    return make_shipment(participant, investigation, plan_technique)


@pytest.fixture
def parcel(participant, shipment):
    return services.parcel_create(
        actor=person(participant), shipment=shipment, name="Dewar 1", storage_conditions="liquid nitrogen"
    )


@pytest.fixture
def puck(participant, parcel):
    return services.item_create(
        actor=person(participant), parcel=parcel, type="CONTAINER", name="Puck A", container_type="UNIPUCK"
    )
