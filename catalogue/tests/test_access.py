"""The access policy against every role, for each read endpoint of the API and each selector.

The expected visibility comes from one table (SEES_EMBARGOED): everybody sees released data;
embargoed data only the roles marked True. A hidden object answers exactly like a missing one.
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from rest_framework.test import APIClient

from catalogue import selectors
from catalogue.access import Actor, can_ingest, can_write_investigation
from catalogue.models import Datafile, Dataset

from .conftest import DATASETS_URL, key_client, make_dataset, make_sample, user_client

pytestmark = pytest.mark.django_db

# --- The rules ------------------------------------------------------------------------------

# Who sees the embargoed investigation on ID30 (and its samples, datasets, files).
SEES_EMBARGOED = {
    "anonymous": False,
    "participant": True,  # a user of the investigation
    "other_user": False,  # logged in, not a user of it
    "scientist": True,  # instrument scientist of ID30
    "other_scientist": False,  # instrument scientist of BM29
    "staff": True,  # facility admin
    "key": True,  # API key of ID30
    "other_key": False,  # API key of BM29
}
ROLES = list(SEES_EMBARGOED)
DATA = ["embargoed", "released"]


def visible(role: str, data: str) -> bool:
    return data == "released" or SEES_EMBARGOED[role]


# What each role may do with POST /api/v1/datasets/ for the embargoed investigation on ID30.
STORE_STATUS = {
    "anonymous": 401,
    "participant": 403,
    "other_user": 403,
    "scientist": 201,
    "other_scientist": 400,  # answered like a missing investigation
    "staff": 201,
    "key": 201,
    "other_key": 400,  # answered like a missing investigation
}


# --- The world -------------------------------------------------------------------------------


@pytest.fixture
def world(investigation, released_investigation, data_root):
    """For each kind of data: an investigation on ID30 with a sample, a dataset and a datafile."""
    objects = {}
    for data, inv in (("embargoed", investigation), ("released", released_investigation)):
        sample = make_sample(inv, f"{data} sample")
        dataset = make_dataset(inv, str(data_root / data), sample=sample, files=1)
        objects[data] = {
            "investigation": inv,
            "sample": sample,
            "dataset": dataset,
            "datafile": Datafile.objects.get(dataset=dataset),
        }
    return objects


@pytest.fixture
def people(participant, other_user, scientist, other_scientist, staff, api_key, other_api_key):
    return {
        "participant": participant,
        "other_user": other_user,
        "scientist": scientist,
        "other_scientist": other_scientist,
        "staff": staff,
        "key": api_key,
        "other_key": other_api_key,
    }


def client_for(role: str, people) -> APIClient:
    if role == "anonymous":
        return APIClient()
    if role in ("key", "other_key"):
        return key_client(people[role][1])
    return user_client(people[role])


def actor_for(role: str, people) -> Actor:
    if role == "anonymous":
        return Actor(user=AnonymousUser())
    if role in ("key", "other_key"):
        return Actor(user=AnonymousUser(), api_key=people[role][0])
    return Actor(user=people[role])


# --- API: lists and details ----------------------------------------------------------------

LISTS = {
    "investigation": "/api/v1/investigations/",
    "sample": "/api/v1/samples/",
    "dataset": "/api/v1/datasets/",
    "datafile": "/api/v1/datafiles/",
}
DETAILS = {
    "investigation": ("investigation", "/api/v1/investigations/{pk}/"),
    "sample": ("sample", "/api/v1/samples/{pk}/"),
    "dataset": ("dataset", "/api/v1/datasets/{pk}/"),
    "dataset status": ("dataset", "/api/v1/datasets/{pk}/status/"),
    "datafile": ("datafile", "/api/v1/datafiles/{pk}/"),
}
MISSING_PK = 987654321


@pytest.mark.parametrize("endpoint", list(LISTS))
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("role", ROLES)
def test_api_list(world, people, role, data, endpoint):
    response = client_for(role, people).get(LISTS[endpoint])
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert (world[data][endpoint].pk in ids) is visible(role, data)


@pytest.mark.parametrize("endpoint", list(DETAILS))
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("role", ROLES)
def test_api_detail(world, people, role, data, endpoint):
    kind, url = DETAILS[endpoint]
    client = client_for(role, people)
    response = client.get(url.format(pk=world[data][kind].pk))
    if visible(role, data):
        assert response.status_code == 200
        assert response.json()["id"] == world[data][kind].pk
    else:
        missing = client.get(url.format(pk=MISSING_PK))
        assert missing.status_code == 404
        assert (response.status_code, response.content) == (404, missing.content)


@pytest.mark.parametrize("role", ROLES)
def test_api_store(world, people, role, data_root):
    investigation = world["embargoed"]["investigation"]
    response = client_for(role, people).post(
        DATASETS_URL,
        {
            "proposal": investigation.name,
            "visit_id": investigation.visit_id,
            "name": "n",
            "location": str(data_root / "new"),
        },
        format="json",
    )
    assert response.status_code == STORE_STATUS[role]
    assert Dataset.objects.filter(location=str(data_root / "new")).exists() is (STORE_STATUS[role] == 201)
    if response.status_code == 400:
        assert response.json()["errors"] == {"investigation": "no investigation MX-1 / v1"}


# --- A hidden object answers like a missing one, in filters too ------------------------------

FILTERS = [
    ("/api/v1/datasets/", "investigation", "investigation"),
    ("/api/v1/datasets/", "sample", "sample"),
    ("/api/v1/samples/", "investigation", "investigation"),
    ("/api/v1/datafiles/", "dataset", "dataset"),
]


@pytest.mark.parametrize(("url", "parameter", "kind"), FILTERS)
def test_filtering_by_a_hidden_object_answers_like_a_missing_one(world, api_client, url, parameter, kind):
    hidden = api_client.get(url, {parameter: world["embargoed"][kind].pk})
    missing = api_client.get(url, {parameter: MISSING_PK})
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())


def test_hidden_inputs_and_outputs_are_not_listed(world, api_client, data_root):
    """A released processed dataset made from embargoed raw data must not reveal the raw dataset."""
    released = world["released"]["dataset"]
    embargoed = world["embargoed"]["dataset"]
    released.inputs.add(embargoed)
    output = make_dataset(world["embargoed"]["investigation"], str(data_root / "embargoed-output"))
    output.inputs.add(released)
    answer = api_client.get(f"{DATASETS_URL}{released.pk}/").json()
    assert (answer["inputs"], answer["outputs"]) == ([], [])
    in_list = next(row for row in api_client.get(DATASETS_URL).json()["results"] if row["id"] == released.pk)
    assert (in_list["inputs"], in_list["outputs"]) == ([], [])


# --- Selectors ------------------------------------------------------------------------------

SELECTOR_LISTS = {
    "investigation": selectors.investigation_list,
    "sample": selectors.sample_list,
    "dataset": selectors.dataset_list,
    "datafile": selectors.datafile_list,
}
SELECTOR_GETS = {
    "investigation": selectors.investigation_get,
    "sample": selectors.sample_get,
    "dataset": selectors.dataset_get,
}


@pytest.mark.parametrize("kind", list(SELECTOR_LISTS))
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("role", ROLES)
def test_selector_list(world, people, role, data, kind):
    rows = SELECTOR_LISTS[kind](actor_for(role, people))
    assert rows.filter(pk=world[data][kind].pk).exists() is visible(role, data)


@pytest.mark.parametrize("kind", list(SELECTOR_GETS))
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("role", ROLES)
def test_selector_get(world, people, role, data, kind):
    actor, target = actor_for(role, people), world[data][kind]
    if visible(role, data):
        assert SELECTOR_GETS[kind](actor, target.pk) == target
    else:
        with pytest.raises(Http404):
            SELECTOR_GETS[kind](actor, target.pk)


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("role", ROLES)
def test_search(world, people, role, data):
    found = selectors.search(actor_for(role, people), "sample")
    names = {sample.name for sample in found["samples"]}
    assert (f"{data} sample" in names) is visible(role, data)


@pytest.mark.parametrize("role", ROLES)
def test_can_ingest_and_write(world, people, role):
    actor = actor_for(role, people)
    may_write = STORE_STATUS[role] == 201
    assert can_write_investigation(actor, world["embargoed"]["investigation"]) is may_write
    assert can_ingest(actor) is (STORE_STATUS[role] in (201, 400))


@pytest.mark.parametrize("role", ROLES)
def test_dataset_related_shows_only_visible_inputs(world, people, role):
    released, embargoed = world["released"]["dataset"], world["embargoed"]["dataset"]
    released.inputs.add(embargoed)
    inputs, outputs = selectors.dataset_related(actor_for(role, people), released)
    assert inputs == ([embargoed] if SEES_EMBARGOED[role] else [])
    assert outputs == []


def test_my_investigations_are_only_those_i_take_part_in(world, people):
    mine = selectors.my_investigation_list(actor_for("participant", people))
    assert set(mine) == {world["embargoed"]["investigation"], world["released"]["investigation"]}
    assert list(selectors.my_investigation_list(actor_for("scientist", people))) == []
    assert list(selectors.my_investigation_list(actor_for("anonymous", people))) == []


def test_a_list_is_one_query_for_a_person_with_many_investigations(world, people, django_assert_num_queries):
    actor = actor_for("participant", people)
    with django_assert_num_queries(1):
        list(selectors.dataset_list(actor))
    with django_assert_num_queries(1):
        list(selectors.investigation_list(actor))
