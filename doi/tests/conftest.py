"""Publication fixtures on the catalogue's small world (catalogue/tests/conftest.py): a released
MX session with a PI (with an ORCID), a local contact, an instrument scientist and two datasets
of a technique with a PaNET id; DataCite's stand-in on loopback, configured in the settings."""

import pytest
from django.utils import timezone

from catalogue.access import Actor
from catalogue.models import InvestigationUser, UserProfile
from catalogue.tests.conftest import *  # noqa: F403 (the catalogue's fixtures)
from catalogue.tests.conftest import investigation_folder, make_dataset, make_user
from techniques.models import DatasetDefinition

from .datacite_standin import DataCiteStandIn


@pytest.fixture
def datacite_standin(settings):
    standin = DataCiteStandIn().start()
    settings.DATACITE_URL = standin.url
    settings.DATACITE_PREFIX = standin.prefix
    settings.DATACITE_USER = standin.user
    settings.DATACITE_PASSWORD = standin.password
    settings.DATACITE_TIMEOUT = 5
    yield standin
    standin.stop()


@pytest.fixture
def pi(released_investigation):
    user = make_user("ada", first_name="Ada", last_name="Lovelace")
    UserProfile.objects.create(user=user, orcid="0000-0002-1825-0097")
    InvestigationUser.objects.create(
        user=user, investigation=released_investigation, role=InvestigationUser.Role.PRINCIPAL_INVESTIGATOR
    )
    return user


@pytest.fixture
def session_world(released_investigation, pi, technique, data_root, scientist):
    """The released session with two datasets, a PI, a participant and a local contact."""
    technique.panet_id = "PaNET01164"
    technique.save()
    definition = DatasetDefinition.objects.create(code="TEST_raw", label="Raw", kind="raw", technique=technique)
    other = make_user("grace", first_name="Grace", last_name="Hopper")
    InvestigationUser.objects.create(user=other, investigation=released_investigation)
    contact = make_user("lc", first_name="Local", last_name="Contact")
    InvestigationUser.objects.create(
        user=contact, investigation=released_investigation, role=InvestigationUser.Role.LOCAL_CONTACT
    )
    folder = investigation_folder(data_root, released_investigation)
    datasets = [
        make_dataset(released_investigation, str(folder / f"ds{i}"), files=2, definition=definition,
                     start_date=timezone.now()) for i in range(2)
    ]  # fmt: skip
    return {"investigation": released_investigation, "pi": pi, "datasets": datasets, "technique": technique}


@pytest.fixture
def pi_actor(pi) -> Actor:
    return Actor(user=pi)
