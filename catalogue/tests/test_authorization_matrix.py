"""The authorization matrix, generated from the URL resolver.

Every URL pattern of the site (portal, API with its router and @action routes and format
suffixes, staff views, admin) is one test. Each runs its rule against every role (anonymous,
participant, another user, scientist of this instrument and of another, admin, key of this
instrument and of another) and, where the route takes an object, against an embargoed object,
a released one and another investigation's (embargoed, on the other instrument). It fails on a
leak (a hidden object's marker in a page, a count, an answer that differs from a missing
object's) and on a wrongful denial. A new route without a rule fails: "add a rule for <route>".
"""

import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib import admin, auth
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from catalogue.models import AuditEntry, Datafile, Dataset, Investigation, PreparedDownload, RestoreJob
from catalogue.storage.selection import selection_add, selection_clear, selection_count
from doi.tests.matrix import RULES as DOI_RULES
from logbook.tests.matrix import RULES as LOGBOOK_RULES
from shipping.models import Address, Item, Parcel, Shipment
from techniques.models import DatasetDefinition

from .conftest import investigation_folder, make_dataset, make_sample, make_user, parameter_type

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "participant", "other_user", "scientist", "other_scientist", "admin", "key", "other_key")
KEYS = ("key", "other_key")
TARGETS = ("embargoed", "released", "other")  # "other": another investigation's, embargoed, on BM29
MISSING = 987654321
WRITES = ("post", "put", "patch", "delete")
PNG = b"\x89PNG\r\n\x1a\n"  # every target's one file

# Who sees a target's data before its release date (released data: everybody).
SEES_EMBARGOED = {
    "embargoed": {"participant", "scientist", "admin", "key"},
    "other": {"other_scientist", "admin", "other_key"},
}
# The beamline pages: the instrument's scientists and admins.
INSTRUMENT_OF = {"embargoed": "ID30", "released": "ID30", "other": "BM29"}
MANAGES = {"ID30": {"scientist", "admin"}, "BM29": {"other_scientist", "admin"}}


def sees(role: str, target: str, api: bool) -> bool:
    if role in KEYS and not api:
        role = "anonymous"  # portal pages ignore API keys
    return target == "released" or role in SEES_EMBARGOED[target]


def token(target: str) -> str:
    """A marker in the target's investigation title, sample, dataset and file names."""
    return f"zq{target}zq"


# --- The routes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # namespaced name; for an unnamed pattern, namespace + pattern
    pattern: str
    kwargs: tuple[str, ...]
    actions: tuple[str, ...]  # HTTP methods a DRF viewset route answers; () for other views

    @property
    def id(self) -> str:
        return self.name + ("[.json]" if "format" in self.kwargs else "")

    @property
    def api(self) -> bool:
        return self.name.startswith("api:")

    def url(self, **kwargs) -> str:
        if "format" in self.kwargs:
            kwargs["format"] = "json"
        return reverse(self.name, kwargs=kwargs)


def _walk(resolver, prefix="", namespace="", kwargs=()):
    for pattern in resolver.url_patterns:
        names = kwargs + tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            space = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _walk(pattern, prefix + str(pattern.pattern), space, names)
        else:
            full = prefix + str(pattern.pattern)
            actions = tuple(getattr(pattern.callback, "actions", None) or ())
            yield Route(namespace + (pattern.name or full), full, names, actions)


ROUTES = {route.id: route for route in _walk(get_resolver())}


# --- The world ---------------------------------------------------------------------------------


@pytest.fixture
def world(
    investigation,
    released_investigation,
    other_investigation,
    participant,
    other_user,
    scientist,
    other_scientist,
    api_key,
    other_api_key,
    technique,
    data_root,
):
    definition = DatasetDefinition.objects.create(
        code="TEST_matrix", label="Matrix", kind="raw", technique=technique, views={"gallery": ["*.png"]}
    )
    world = {"technique": technique, "parameter": parameter_type("TEST_energy", "numeric", "keV", technique)}
    for target, inv in (
        ("embargoed", investigation),
        ("released", released_investigation),
        ("other", other_investigation),
    ):
        Investigation.objects.filter(pk=inv.pk).update(title=f"Investigation {inv.name} {token(target)}")
        inv.refresh_from_db()
        sample = make_sample(inv, f"sample-{token(target)}")
        location = investigation_folder(data_root, inv) / target
        location.mkdir(parents=True)
        (location / f"{token(target)}.png").write_bytes(PNG)
        dataset = make_dataset(
            inv, str(location), sample=sample, name=f"dataset-{token(target)}", definition=definition
        )
        datafile = Datafile.objects.create(dataset=dataset, path=f"{token(target)}.png", size=8)
        world[target] = {"investigation": inv, "sample": sample, "dataset": dataset, "datafile": datafile}
    # A released dataset processed from embargoed data, and embargoed processing of released data.
    world["released"]["dataset"].inputs.add(world["embargoed"]["dataset"], world["other"]["dataset"])
    world["other"]["dataset"].inputs.add(world["released"]["dataset"])
    for target in TARGETS:
        world[target].update(shipping_world(world[target], target))
    admin = make_user("root", is_staff=True, is_superuser=True)
    people = {
        "participant": participant,
        "other_user": other_user,
        "scientist": scientist,
        "other_scientist": other_scientist,
        "admin": admin,
    }
    clients = {"anonymous": Client()}
    for role, user in people.items():
        clients[role] = Client()
        clients[role].force_login(user)
    for role, (_, secret) in (("key", api_key), ("other_key", other_api_key)):
        clients[role] = Client(headers={"authorization": f"Api-Key {secret}"})
    world["clients"] = clients
    return world


def shipping_world(objects: dict, target: str) -> dict:
    """A shipment of the target's investigation with one parcel holding its sample."""
    address = Address.objects.create(name="Ada", address="1 Road", postal_code="1", city="Town", country="Utopia")
    shipment = Shipment.objects.create(
        investigation=objects["investigation"],
        name=f"shipment-{token(target)}",
        shipping_address=address,
        return_address=address,
    )
    parcel = Parcel.objects.create(
        shipment=shipment, name=f"parcel-{token(target)}", barcode=f"BC-{target}", storage_conditions="4 °C"
    )
    item = Item.objects.create(parcel=parcel, type=Item.Type.SAMPLE, name="s", sample=objects["sample"])
    return {"shipment": shipment, "parcel": parcel, "item": item}


class Matrix:
    """Runs a route's checks and collects every problem, so one failure shows the whole row."""

    def __init__(self, world, route: Route):
        self.world, self.route, self.problems = world, route, []

    def call(self, role: str, url: str, method: str = "get", data=None, **extra):
        client = self.world["clients"][role]
        if method == "get":
            return client.get(url, data, **extra)
        return getattr(client, method)(url, data or {}, content_type="application/json", **extra)

    def expect(self, ok: bool, role: str, what: str, target: str = "") -> None:
        if not ok:
            self.problems.append(f"{self.route.id} {role}{' / ' + target if target else ''}: {what}")

    def status(self, response, expected, role, target="") -> bool:
        expected = expected if isinstance(expected, tuple) else (expected,)
        self.expect(response.status_code in expected, role, f"status {response.status_code}, want {expected}", target)
        return response.status_code in expected

    def no_leak(self, response, role: str, shown: set[str] = frozenset(), target: str = "") -> None:
        """Hidden targets' markers must not appear; those in shown must."""
        body = response.content.decode(errors="replace")
        for other in TARGETS:
            present = token(other) in body
            if not sees(role, other, self.route.api):
                self.expect(not present, role, f"leaks {other}", target)
            elif other in shown:
                self.expect(present, role, f"does not show {other}", target)

    def like_missing(self, response, missing, url: str, missing_url: str, role: str, target: str) -> None:
        same = _normal(response.content, url) == _normal(missing.content, missing_url)
        self.expect(response.status_code == 404 and same, role, "hidden answers unlike missing", target)

    def signin_redirect(self, response, role, target="") -> None:
        ok = response.status_code == 302 and "/login/" in response["Location"]
        self.expect(ok, role, f"status {response.status_code}, want a redirect to sign in", target)


def _normal(content: bytes, url: str) -> bytes:
    """A page without its own address and its CSRF token (masked afresh in every response)."""
    return CSRF_TOKEN.sub(b"", content.replace(url.encode(), b""))


CSRF_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


# --- Rules -------------------------------------------------------------------------------------


def public(query: dict | None = None, shows: tuple[str, ...] = (), kwargs=lambda world: {}):
    """Everybody: 200; markers of hidden targets never; those in shows where the role may see them."""

    def check(m: Matrix):
        url = m.route.url(**kwargs(m.world))
        for role in ROLES:
            response = m.call(role, url, data=query)
            if m.status(response, 200, role):
                m.no_leak(response, role, {t for t in shows if sees(role, t, m.route.api)})
        read_only_api(m, url)

    return check


def api_list(kind: str):
    """Exactly the visible objects, and a count that says so."""

    def check(m: Matrix):
        url = m.route.url()
        for role in ROLES:
            response = m.call(role, url)
            if m.status(response, 200, role):
                body = response.json()
                want = {m.world[t][kind].pk for t in TARGETS if sees(role, t, api=True)}
                got = {row["id"] for row in body["results"]}
                m.expect((got, body["count"]) == (want, len(want)), role, f"lists {got} ({body['count']}), want {want}")
        if m.route.name == "api:dataset-list":
            store(m, url)
        else:
            read_only_api(m, url)

    return check


def facets(m: Matrix):
    """Counts of exactly the visible datasets (one per target), from the tallies and, with a name
    filter, counted on the datasets."""
    url = m.route.url()
    for query in (None, {"q": "zq"}):
        for role in ROLES:
            response = m.call(role, url, data=query)
            if m.status(response, 200, role):
                body = response.json()
                want = Counter(INSTRUMENT_OF[t] for t in TARGETS if sees(role, t, api=True))
                got = {row["value"]: row["count"] for row in body["instrument"]}
                years = sum(row["count"] for row in body["year"])
                m.expect((got, years) == (want, want.total()), role, f"counts {got} ({years}), want {want} ({query})")
    read_only_api(m, url)


def read_only_api(m: Matrix, url: str) -> None:
    """Methods a viewset does not declare answer 405 to everyone."""
    if not m.route.api:
        return
    for method in WRITES:
        if method not in m.route.actions:
            for role in ROLES:
                m.status(m.call(role, url, method), 405, role, method)


# Storing a dataset: who may write where (others answer as if the investigation were missing).
WRITES_TO = {"scientist": {"ID30"}, "other_scientist": {"BM29"}, "admin": {"ID30", "BM29"}, "key": {"ID30"}}
WRITES_TO["other_key"] = {"BM29"}
STORE_REFUSED = {"anonymous": 401, "participant": 403, "other_user": 403}


def store(m: Matrix, url: str, post=None) -> None:
    """post(role, body): the single store's answer, or what stands for it (batch_store)."""
    post = post or (lambda role, body: m.call(role, url, "post", body))
    for role in ROLES:
        for target in TARGETS:
            inv = m.world[target]["investigation"]
            own_folder = Path(m.world[target]["dataset"].location).parent
            body = {"proposal": inv.name, "visit_id": inv.visit_id, "name": "new", "location": f"{own_folder}/{role}"}
            response = post(role, body)
            if role in STORE_REFUSED:
                m.status(response, STORE_REFUSED[role], role, target)
            elif INSTRUMENT_OF[target] in WRITES_TO[role]:
                m.status(response, 201, role, target)
                store_elsewhere(m, role, target, post)
            elif m.status(response, 400, role, target):
                want = {"investigation": f"no investigation {inv.name} / {inv.visit_id}"}
                m.expect(response.json()["errors"] == want, role, f"refusal {response.json()}", target)


def store_elsewhere(m: Matrix, role: str, target: str, post) -> None:
    """Whoever may write to the target may not store another investigation's folder into it: neither
    a stored dataset's folder, nor a new folder there, nor the data root. All three answer alike."""
    inv = m.world[target]["investigation"]
    answers = set()
    for other in TARGETS:
        if other == target:
            continue
        stored = m.world[other]["dataset"].location
        for location in (stored, f"{Path(stored).parent}/new-{role}", str(Path(stored).parent.parent)):
            body = {"proposal": inv.name, "visit_id": inv.visit_id, "name": "stolen", "location": location}
            response = post(role, body)
            if m.status(response, 400, role, f"{target} <- {location}"):
                errors = response.json()["errors"]
                m.expect(set(errors) == {"location"}, role, f"refusal {errors}", target)
                answers.add(errors.get("location", "").replace(f"'{location}'", "<location>"))
    m.expect(len(answers) == 1, role, f"refusals differ: {answers}", target)


@dataclass
class BatchItem:
    """One dataset's answer in a batch, standing for the single store's response in store()."""

    status_code: int
    body: dict

    def json(self) -> dict:
        return self.body


def batch_store(m: Matrix) -> None:
    """POST /api/v1/datasets/batch/: the single store's rule, each dataset sent alone in a batch. The
    same 401 and 403 for the whole request; otherwise a 200 whose one item answers as the single
    store would (201, or a 400 with the same errors, the hidden investigations' like missing ones)."""
    url = m.route.url()

    def post(role: str, body: dict):
        response = m.call(role, url, "post", {"datasets": [body]})
        if response.status_code != 200:
            return response
        m.no_leak(response, role)
        [item] = response.json()["results"]
        return BatchItem(item["status"], item.get("dataset") or {"errors": item.get("errors")})

    store(m, url, post)
    read_only_api(m, url)


def object_page(kind: str, shows: bool = True, kwargs=None):
    """The target's page: 200 for whoever sees it (no other hidden marker), else exactly a missing one's 404."""
    kwargs = kwargs or (lambda world, target: {"pk": world[target][kind].pk})

    def check(m: Matrix):
        missing_kwargs = dict.fromkeys(kwargs(m.world, "released"), MISSING)
        missing_url = m.route.url(**missing_kwargs)
        for role in ROLES:
            missing = m.call(role, missing_url)
            m.status(missing, 404, role, "missing")
            for target in TARGETS:
                url = m.route.url(**kwargs(m.world, target))
                response = m.call(role, url)
                if not sees(role, target, m.route.api):
                    m.like_missing(response, missing, url, missing_url, role, target)
                elif not m.status(response, 200, role, target):
                    continue
                elif response["Content-Type"].startswith("text/html"):
                    m.no_leak(response, role, {target} if shows else set(), target)
                elif m.route.api:
                    m.expect(response.json()["id"] == m.world[target][kind].pk, role, "another object", target)
        read_only_api(m, m.route.url(**kwargs(m.world, "released")))

    return check


def image(m: Matrix):
    """A dataset's image: like object_page, and a file of another dataset is never served."""
    object_page("dataset", kwargs=lambda w, t: {"pk": w[t]["dataset"].pk, "file_pk": w[t]["datafile"].pk})(m)
    crossed = m.route.url(pk=m.world["released"]["dataset"].pk, file_pk=m.world["embargoed"]["datafile"].pk)
    for role in ROLES:
        m.status(m.call(role, crossed), 404, role, "file of another dataset")


def file_bytes(kwargs):
    """A file's download: its exact bytes to whoever reads its dataset, else exactly a missing file's
    404; on the portal's route, a file of another dataset is never served."""

    def check(m: Matrix):
        missing_url = m.route.url(**dict.fromkeys(kwargs(m.world, "released"), MISSING))
        for role in ROLES:
            missing = m.call(role, missing_url)
            m.status(missing, 404, role, "missing")
            for target in TARGETS:
                url = m.route.url(**kwargs(m.world, target))
                response = m.call(role, url)
                if not sees(role, target, m.route.api):
                    if m.status(response, 404, role, target):
                        m.like_missing(response, missing, url, missing_url, role, target)
                elif m.status(response, 200, role, target):
                    m.expect(b"".join(response.streaming_content) == PNG, role, "other bytes", target)
        if "file_pk" in m.route.kwargs:
            crossed = m.route.url(pk=m.world["released"]["dataset"].pk, file_pk=m.world["embargoed"]["datafile"].pk)
            for role in ROLES:
                m.status(m.call(role, crossed), 404, role, "file of another dataset")
        read_only_api(m, m.route.url(**kwargs(m.world, "released")))

    return check


def zip_bytes(kind: str):
    """A ZIP of a dataset or an investigation: the target's file, byte-exact, to whoever reads it;
    else exactly a missing object's 404."""

    def check(m: Matrix):
        missing_url = m.route.url(pk=MISSING)
        for role in ROLES:
            missing = m.call(role, missing_url)
            m.status(missing, 404, role, "missing")
            for target in TARGETS:
                url = m.route.url(pk=m.world[target][kind].pk)
                response = m.call(role, url)
                if not sees(role, target, m.route.api):
                    if m.status(response, 404, role, target):
                        m.like_missing(response, missing, url, missing_url, role, target)
                elif m.status(response, 200, role, target):
                    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
                    names = [n for n in archive.namelist() if n.endswith(".png")]
                    ok = [n.endswith(f"/{token(target)}.png") for n in names] == [True]
                    m.expect(ok and archive.read(names[0]) == PNG, role, f"archive holds {names}", target)
        read_only_api(m, m.route.url(pk=m.world["released"][kind].pk))

    return check


PEOPLE = ("participant", "other_user", "scientist", "other_scientist", "admin")


def selection(m: Matrix):
    """The selection: people only (the portal asks others to sign in, the API refuses them); adding a
    hidden dataset adds nothing and answers as adding a missing one; pages, lists and ZIPs of the
    selection show only what the person reads."""
    route, api = m.route, m.route.api
    url = route.url()
    for role in ROLES:
        client = m.world["clients"][role]
        portal_role = "anonymous" if role in KEYS and not api else role
        if portal_role not in PEOPLE:
            response = client.get(url) if not route.name.endswith(("add", "remove", "clear")) else client.post(url)
            if api:
                m.status(response, 403 if role in KEYS else (401, 403), role)
            else:
                m.signin_redirect(response, role)
            continue
        user = auth.get_user(client)
        ids = [m.world[t]["dataset"].pk for t in TARGETS]
        if route.name in ("selection-add", "api:selection-list"):
            answers = set()
            for pk in (MISSING, *ids):
                selection_clear(user=user)
                if api:
                    response = client.post(url, {"datasets": [pk]}, content_type="application/json")
                else:
                    response = client.post(url, {"dataset": [pk], "next": "/"})
                answers.add((response.status_code, selection_count(user)))
            want = {(200 if api else 302, 0), (200 if api else 302, 1)}
            m.expect(answers == want, role, f"answers {answers}")
            if not api:
                m.status(client.get(url), 405, role, "GET")
        selection_clear(user=user)
        selection_add(user=user, dataset_ids=ids)
        visible = {t for t in TARGETS if sees(role, t, api)}
        if route.name in ("selection", "api:selection-list"):
            response = client.get(url)
            if m.status(response, 200, role):
                if api:
                    want = {m.world[t]["dataset"].pk for t in visible}
                    m.expect(set(response.json()["datasets"]) == want, role, f"lists {response.json()}")
                else:
                    m.no_leak(response, role, visible)
        elif route.name.endswith("download"):
            response = client.get(url)
            if m.status(response, 200, role):
                archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
                shown = {t for t in TARGETS if any(token(t) in n for n in archive.namelist())}
                m.expect(shown == visible, role, f"archive shows {shown}, want {visible}")
        elif route.name.endswith(("remove", "clear")):
            body = {"datasets": ids} if api else {"dataset": ids}
            response = client.post(url, body, content_type="application/json") if api else client.post(url, body)
            m.status(response, 200 if api else 302, role)
            m.expect(selection_count(user) == 0, role, "not emptied")
            if not api:
                m.status(client.get(url), 405, role, "GET")
        selection_clear(user=user)


PORTAL_PEOPLE = {"participant", "other_user", "scientist", "other_scientist", "admin"}


def _archived(m: Matrix) -> None:
    Dataset.objects.filter(pk__in=[m.world[t]["dataset"].pk for t in TARGETS]).update(storage_status="archived")


def restore_form(m: Matrix):
    """The portal's restore: people only (others are asked to sign in); a restore job only for a
    dataset the person reads, a hidden one restoring nothing, as a missing one."""
    url = m.route.url()
    _archived(m)
    for role in ROLES:
        client = m.world["clients"][role]
        m.status(client.get(url), 405, role, "GET")
        for target in (*TARGETS, "missing"):
            RestoreJob.objects.all().delete()
            pk = MISSING if target == "missing" else m.world[target]["dataset"].pk
            response = client.post(url, {"dataset": pk, "next": "/"})
            if role not in PORTAL_PEOPLE:
                m.signin_redirect(response, role, target)
            else:
                m.status(response, 302, role, target)
            restored = RestoreJob.objects.filter(dataset_id=pk).exists()
            m.expect(restored == (role in PORTAL_PEOPLE and target != "missing" and sees(role, target, False)), role,
                     f"restore job: {restored}", target)  # fmt: skip


def my_requests(m: Matrix):
    """A person's own requests only; others are asked to sign in."""
    url = m.route.url()
    for role in ROLES:
        response = m.call(role, url)
        if role not in PORTAL_PEOPLE:
            m.signin_redirect(response, role)
        elif m.status(response, 200, role):
            m.no_leak(response, role)


def archive_now(m: Matrix):
    """Staff's archive action: the instrument's scientists and admins; people who read the dataset
    but do not manage its instrument are refused; a hidden dataset answers as a missing one."""
    for role in ROLES:
        client = m.world["clients"][role]
        for target in TARGETS:
            # Twice: the first shows (and clears) the messages of the archives before it.
            missing = [client.post(m.route.url(pk=MISSING), {"reason": "r"}) for _ in range(2)][-1]
            url = m.route.url(pk=m.world[target]["dataset"].pk)
            m.status(client.get(url), 405, role, f"{target} GET")
            response = client.post(url, {"reason": "r"})
            if role not in PORTAL_PEOPLE:
                m.signin_redirect(response, role, target)
            elif not sees(role, target, False):
                m.like_missing(response, missing, url, m.route.url(pk=MISSING), role, target)
            elif role in MANAGES[INSTRUMENT_OF[target]]:
                m.status(response, 302, role, target)
            else:
                m.status(response, 403, role, target)


def ids_read(m: Matrix):
    """IDS's status and size: for data the caller reads; hidden ids answer as missing ones, by field."""
    missing_url = f"{m.route.url()}?datasetIds={MISSING}"
    for role in ROLES:
        missing = m.call(role, missing_url)
        m.status(missing, 404, role, "missing")
        for target in TARGETS:
            for field, kind in (("datasetIds", "dataset"), ("investigationIds", "investigation")):
                url = f"{m.route.url()}?{field}={m.world[target][kind].pk}"
                response = m.call(role, url)
                if not sees(role, target, True):
                    m.expect(
                        response.status_code == 404 and field in response.json()["detail"], role, "not 404", target
                    )
                else:
                    m.status(response, 200, role, target)
    read_only_api(m, m.route.url())


def ids_write(m: Matrix):
    """IDS's restore and prepareData: hidden ids answer as missing ones; a restore is for people
    (instrument keys are refused, anonymous callers asked to authenticate)."""
    restore = m.route.name == "api:ids-restore"
    _archived(m) if restore else None
    for role in ROLES:
        for target in TARGETS:
            RestoreJob.objects.all().delete()
            pk = m.world[target]["dataset"].pk
            response = m.call(role, f"{m.route.url()}?datasetIds={pk}", "post")
            if not sees(role, target, True):
                m.status(response, 404, role, target)
            elif restore and role == "anonymous":
                m.status(response, (401, 403), role, target)
            elif restore and role in KEYS:
                m.status(response, 403, role, target)
            else:
                m.status(response, 202 if restore else 200, role, target)
            m.expect(RestoreJob.objects.exists() == (restore and response.status_code == 202), role, "job", target)


def ids_prepared(m: Matrix):
    """A prepared download (isPrepared, getData): its owner's, and only while they read its data."""
    for role in ROLES:
        client = m.world["clients"][role]
        user = auth.get_user(client) if role in PORTAL_PEOPLE else None
        missing = m.call(role, f"{m.route.url()}?preparedId=nope")
        m.status(missing, 404, role, "missing")
        for target in TARGETS:
            prepared = PreparedDownload.objects.create(
                id=f"{role}-{target}", user=user, dataset_ids=[m.world[target]["dataset"].pk]
            )
            response = m.call(role, f"{m.route.url()}?preparedId={prepared.id}")
            if not sees(role, target, True):
                m.status(response, 404, role, target)
            elif m.status(response, 200, role, target) and m.route.name == "api:ids-is-prepared":
                m.expect(response.content == b"true", role, "not prepared", target)
    read_only_api(m, m.route.url())


def staff_page(allowed: set[str], *, shows_released: bool):
    """Embargoed data: admins and instrument scientists; anonymous visitors are asked to sign in."""

    def check(m: Matrix):
        url = m.route.url()
        for role in ROLES:
            response = m.call(role, url)
            if role == "anonymous" or role in KEYS:
                m.signin_redirect(response, role)
            elif role not in allowed:
                m.status(response, 404, role)
            elif m.status(response, 200, role):
                shown = {t for t in TARGETS if role in SEES_EMBARGOED.get(t, ())}
                m.no_leak(response, role, shown)
                present = token("released") in response.content.decode()
                m.expect(present is shows_released, role, "released data among the embargoed")

    return check


def beamline(shows: tuple[str, ...]):
    """A beamline's page and calendar: its scientists and admins; each shows its own sessions only."""

    def check(m: Matrix):
        missing_url = m.route.url(name="NOPE")
        for role in ROLES:
            missing = m.call(role, missing_url)
            for instrument, manage in MANAGES.items():
                url = m.route.url(name=instrument)
                response = m.call(role, url)
                if role == "anonymous" or role in KEYS:
                    m.signin_redirect(response, role, instrument)
                elif role not in manage:
                    m.like_missing(response, missing, url, missing_url, role, instrument)
                elif m.status(response, 200, role, instrument):
                    body = response.content.decode()
                    for target in TARGETS:
                        present = token(target) in body
                        if INSTRUMENT_OF[target] != instrument:
                            m.expect(not present, role, f"shows {target}", instrument)
                        elif target in shows:
                            m.expect(present, role, f"does not show {target}", instrument)

    return check


def release_date(m: Matrix):
    """Admins only: the form (GET) and the change (POST); others as if the investigation were missing."""
    missing_url = m.route.url(pk=MISSING)
    new_date = timezone.now() + timedelta(days=3000)
    for role in ROLES:
        missing = m.call(role, missing_url)
        for target in TARGETS:
            inv = m.world[target]["investigation"]
            url = m.route.url(pk=inv.pk)
            for method in ("get", "post"):
                data = {"release_date": f"{new_date:%Y-%m-%dT%H:%M}", "reason": "matrix"} if method == "post" else None
                response = getattr(m.world["clients"][role], method)(url, data)
                if role == "anonymous" or role in KEYS:
                    m.signin_redirect(response, role, target)
                elif role != "admin":
                    m.like_missing(response, missing, url, missing_url, role, target)
                else:
                    m.status(response, 200 if method == "get" else 302, role, f"{target} {method}")
    changed = set(AuditEntry.objects.filter(action="release_date.change").values_list("actor__username", flat=True))
    m.expect(changed == {"root"}, "admin", f"release dates changed by {changed}")


def admin_site(m: Matrix):
    """The Django admin: staff only; the others are sent to its sign-in page."""
    route = m.route
    kwargs = {}
    model = next(
        (
            model
            for model in admin.site._registry
            if route.name.startswith(f"admin:{model._meta.app_label}_{model._meta.model_name}_")
            or route.pattern.startswith(f"admin/{model._meta.app_label}/{model._meta.model_name}/")
        ),
        None,
    )
    obj = model.objects.order_by("pk").first() if model else None
    unnamed = route.name.startswith("admin:admin/")
    for name in {"object_id", "id"} & set(route.kwargs):
        kwargs[name] = obj.pk if obj else MISSING
    if route.name == "admin:app_list":
        kwargs["app_label"] = "catalogue"
    if route.name == "admin:view_on_site":
        kwargs = {"content_type_id": ContentType.objects.get_for_model(Investigation).pk, "object_id": MISSING}
    if unnamed:  # an object's short address (redirects to its change page), the catch-all
        url = "/" + route.pattern.replace("<path:object_id>", str(kwargs.get("object_id", "")))
        url = url.replace("(?P<url>.*)$", "nothing/")
    else:
        url = route.url(**kwargs)
    found = obj is not None or not {"object_id", "id"} & set(route.kwargs)
    for role in ROLES:
        response = m.call(role, url)
        if role == "admin":
            want = ADMIN_STATUS.get(route.name, 302 if unnamed or not found else 200)
            m.status(response, want, role)
        elif route.name == "admin:login":
            m.status(response, 200, role)
        else:
            m.signin_redirect(response, role)


ADMIN_STATUS = {
    "admin:login": 302,  # already signed in
    "admin:logout": 405,  # POST only
    "admin:autocomplete": 403,  # without its parameters
    "admin:view_on_site": 404,
    "admin:catalogue_auditentry_add": 403,  # the audit log is read-only
    "admin:catalogue_auditentry_delete": 403,
    "admin:catalogue_instrumentapikey_delete": 403,
    "admin:catalogue_downloadrecord_add": 403,  # download records are read-only
    "admin:catalogue_downloadrecord_delete": 403,  # keys are revoked, not deleted
    "admin:catalogue_restorejob_add": 403,  # restore jobs are made by restore requests only
    "admin:catalogue_restorejob_delete": 403,
    "admin:doi_publication_delete": 403,  # a DOI is never deleted: withdrawn, it keeps a tombstone
    "admin:logbook_event_add": 403,  # logbook events are written through the services only
    "admin:logbook_event_delete": 403,  # a removal is a new version, made in the portal
    "admin:admin/(?P<url>.*)$": 404,
    # django-axes' records of failed sign-ins: written by the lockout, never by hand
    "admin:axes_accessattempt_add": 403,
    "admin:axes_accesslog_add": 403,
    "admin:axes_accessfailurelog_add": 403,
}


# --- Shipping: never public; a released investigation's parcels stay private ---------------------

SHIPS = {
    "embargoed": {"participant", "scientist", "admin", "key"},
    "released": {"participant", "scientist", "admin", "key"},
    "other": {"other_scientist", "admin", "other_key"},
}
SHIPPING_STAFF = {"scientist", "other_scientist", "admin"}  # the stores and statistics pages


def ships(role: str, target: str, api: bool) -> bool:
    return (api or role not in KEYS) and role in SHIPS[target]


def ship_leaks(m: Matrix, response, role: str, api: bool, shown=(), where: str = "") -> None:
    body = response.content.decode(errors="replace")
    for target in TARGETS:
        present = token(target) in body
        if not ships(role, target, api):
            m.expect(not present, role, f"leaks {target}", where)
        elif target in shown:
            m.expect(present, role, f"does not show {target}", where)


def shipping_page(kind: str = "", kwargs=None, signed_in_only: bool = False, method: str = "get", shows=()):
    """A portal page: anonymous visitors and keys are asked to sign in; without an object, the
    signed-in (or the staff) get it, showing the targets in shows they may see; with an object (kind),
    whoever does not see it gets exactly a missing one's 404; POST-only pages answer GET with 405."""
    kwargs = kwargs or (lambda w, t: {"pk": w[t][kind].pk})

    def check(m: Matrix):
        if not kind:
            url = m.route.url()
            for role in ROLES:
                response = m.call(role, url)
                if role == "anonymous" or role in KEYS:
                    m.signin_redirect(response, role)
                elif signed_in_only or role in SHIPPING_STAFF:
                    if m.status(response, 200, role):
                        ship_leaks(m, response, role, False, shown=shows)
                else:
                    m.status(response, 404, role)
            return
        missing_url = m.route.url(**dict.fromkeys(kwargs(m.world, "released"), MISSING))
        for role in ROLES:
            missing = m.call(role, missing_url, method)
            for target in TARGETS:
                url = m.route.url(**kwargs(m.world, target))
                response = m.call(role, url, method)
                if role == "anonymous" or role in KEYS:
                    m.signin_redirect(response, role, target)
                elif not ships(role, target, api=False):
                    m.like_missing(response, missing, url, missing_url, role, target)
                elif method == "post":
                    m.status(response, (302, 400, 403), role, target)
                elif m.status(response, 200, role, target) and response["Content-Type"].startswith("text/html"):
                    ship_leaks(m, response, role, False, shown={target}, where=target)
                if method == "post" and ships(role, target, api=False):
                    m.status(m.call(role, url), 405, role, f"{target} GET")

    return check


def item_delete(m: Matrix):
    """Removing an item: the investigation's users (participant, admin) while the parcel is not sent;
    everyone else as if it were missing."""
    missing_url = m.route.url(pk=MISSING, item_pk=MISSING)
    for role in ROLES:
        missing = m.call(role, missing_url, "post")
        for target in TARGETS:
            parcel = m.world[target]["parcel"]
            item = Item.objects.create(parcel=parcel, type=Item.Type.TOOL, name=f"tool-{role}")
            url = m.route.url(pk=parcel.pk, item_pk=item.pk)
            response = m.call(role, url, "post")
            if role == "anonymous" or role in KEYS:
                m.signin_redirect(response, role, target)
            elif role in ("participant", "admin") and ships(role, target, api=False):
                if m.status(response, 302, role, target):
                    m.call(role, response["Location"])  # the parcel's page, showing the removal's message
                m.expect(not Item.objects.filter(pk=item.pk).exists(), role, "not deleted", target)
            else:
                m.like_missing(response, missing, url, missing_url, role, target)
                m.expect(Item.objects.filter(pk=item.pk).exists(), role, "deleted", target)


def tracking_api(m: Matrix):
    """The beamline API: keys and people; another's parcel answers like a missing one."""
    name = m.route.name
    if name == "tracking:parcel-list":
        url = m.route.url()
        running = {"key": {"embargoed"}, "other_key": {"other"}}  # each instrument's last session
        for role in ROLES:
            response = m.call(role, url)
            if role == "anonymous":
                m.status(response, 401, role)
            elif role in KEYS:
                if m.status(response, 200, role):
                    got = {row["_id"] for row in response.json()}
                    want = {str(m.world[t]["parcel"].pk) for t in running[role]}
                    m.expect(got == want, role, f"lists {got}, want {want}")
            else:
                m.status(response, 400, role)  # a person names the session
            for target in TARGETS:
                response = m.call(role, url, data={"investigationId": m.world[target]["investigation"].pk})
                if role == "anonymous":
                    m.status(response, 401, role, target)
                elif not ships(role, target, api=True):
                    m.status(response, 404, role, target)
                elif m.status(response, 200, role, target):
                    got = [row["_id"] for row in response.json()]
                    m.expect(got == [str(m.world[target]["parcel"].pk)], role, f"lists {got}", target)
        return
    post = name == "tracking:parcel-status"
    missing_url = m.route.url(pk=MISSING)
    for role in ROLES:
        missing = m.call(role, missing_url, "post" if post else "get", {"status": "BEAMLINE"} if post else None)
        for target in TARGETS:
            url = m.route.url(pk=m.world[target]["parcel"].pk)
            response = m.call(role, url, "post", {"status": "BEAMLINE"}) if post else m.call(role, url)
            if role == "anonymous":
                m.status(response, 401, role, target)
            elif not ships(role, target, api=True):
                m.like_missing(response, missing, url, missing_url, role, target)
            elif post:  # a created parcel does not go to the beamline: refused, nothing written
                m.status(response, 400, role, target)
            elif m.status(response, 200, role, target):
                m.expect(response.json()["_id"] == str(m.world[target]["parcel"].pk), role, "another", target)
            for method in WRITES if not post else ("get", "put", "patch", "delete"):
                if role == "admin":
                    m.status(m.call(role, url, method), 405, role, f"{target} {method}")


def exempt(reason: str):
    def check(m: Matrix):
        pass

    check.reason = reason
    return check


RULES = {
    # Public pages and lists: hidden markers never appear.
    "home": public(),
    "investigation-list": public(shows=TARGETS),
    "search": public({"q": "zq"}, shows=TARGETS),
    "dataset-list": public(shows=TARGETS),
    "login": public(),
    "technique-list": public(),
    "technique-detail": public(kwargs=lambda w: {"code": w["technique"].code}),
    "technique-export": public(kwargs=lambda w: {"code": w["technique"].code, "fmt": "csv"}),
    "api:api-root": public(),
    "api:schema": public(),
    "api:docs": public(),
    "api:instrument-list": public(),
    "api:instrument-detail": public(kwargs=lambda w: {"pk": w["embargoed"]["investigation"].instrument_id}),
    "api:technique-list": public(),
    "api:technique-detail": public(kwargs=lambda w: {"code": w["technique"].code}),
    "api:parameter-list": public(),
    "api:parameter-detail": public(kwargs=lambda w: {"name": w["parameter"].name}),
    "api:investigation-list": api_list("investigation"),
    "api:sample-list": api_list("sample"),
    "api:dataset-list": api_list("dataset"),
    "api:datafile-list": api_list("datafile"),
    "api:dataset-facets": facets,
    "api:dataset-batch": batch_store,
    # One object: visible, or answered exactly like a missing one.
    "investigation-detail": object_page("investigation"),
    "investigation-datasets": object_page("investigation", shows=False),
    "sample-detail": object_page("sample"),
    "dataset-detail": object_page("dataset"),
    "dataset-row": object_page("dataset", shows=False),
    "dataset-image": image,
    "datafile-download": file_bytes(lambda w, t: {"pk": w[t]["dataset"].pk, "file_pk": w[t]["datafile"].pk}),
    "api:datafile-download": file_bytes(lambda w, t: {"pk": w[t]["datafile"].pk}),
    # ZIPs (catalogue/storage/zips.py) and the selection.
    "dataset-download": zip_bytes("dataset"),
    "investigation-download": zip_bytes("investigation"),
    "api:dataset-download": zip_bytes("dataset"),
    "api:investigation-download": zip_bytes("investigation"),
    "selection": selection,
    "selection-download": selection,
    "selection-add": selection,
    "selection-remove": selection,
    "selection-clear": selection,
    "api:selection-list": selection,
    "api:selection-download": selection,
    "api:selection-remove": selection,
    "api:selection-clear": selection,
    "api:investigation-detail": object_page("investigation"),
    "api:sample-detail": object_page("sample"),
    "api:dataset-detail": object_page("dataset"),
    "api:dataset-status": object_page("dataset"),
    "api:datafile-detail": object_page("datafile"),
    # Archive and restore (catalogue/storage).
    "dataset-storage": object_page("dataset", shows=False),
    "dataset-archive": archive_now,
    "storage-restore": restore_form,
    "my-requests": my_requests,
    "api:ids-get-status": ids_read,
    "api:ids-get-size": ids_read,
    "api:ids-restore": ids_write,
    "api:ids-prepare-data": ids_write,
    "api:ids-is-prepared": ids_prepared,
    "api:ids-get-data": ids_prepared,
    # Staff views.
    "embargoed-list": staff_page({"admin", "scientist", "other_scientist"}, shows_released=False),
    "beamline-detail": beamline(shows=TARGETS),
    "beamline-calendar": beamline(shows=("embargoed", "other")),  # the feed's past is one year
    "investigation-release-date": release_date,
    # Shipping: signed-in people; shipments and parcels of the investigations they take part in or
    # whose instrument they run; the stores and statistics pages for staff; the beamline API.
    "shipping:shipment-list": shipping_page(signed_in_only=True, shows=TARGETS),
    "shipping:shipment-create": shipping_page(signed_in_only=True),
    "shipping:address-create": shipping_page(signed_in_only=True),
    "shipping:stores": shipping_page(),
    "shipping:statistics": shipping_page(),
    "shipping:shipment-detail": shipping_page("shipment"),
    "shipping:parcel-detail": shipping_page("parcel"),
    "shipping:parcel-labels": shipping_page("parcel"),
    "shipping:sample-tracking": shipping_page("sample"),
    "shipping:parcel-status": shipping_page("parcel", method="post"),
    "shipping:item-create": shipping_page("parcel", method="post"),
    "shipping:samplesheet-import": shipping_page("parcel", method="post"),
    "shipping:item-delete": item_delete,
    "tracking:parcel-list": tracking_api,
    "tracking:parcel-detail": tracking_api,
    "tracking:parcel-status": tracking_api,
    # Sign-in and sign-out flows (tested with their own provider).
    "logout": exempt("POST only; no data"),
    "admin:logout": exempt("POST only; no data"),
    "oidc_authentication_init": exempt("redirects to the identity provider"),
    "oidc_authentication_callback": exempt("the identity provider's answer"),
    "oidc_logout": exempt("ends the provider's session"),
}
RULES |= LOGBOOK_RULES  # the electronic logbook's routes (logbook/tests/matrix.py)
RULES |= DOI_RULES  # publication: DOI landing pages, minting, OAI-PMH (doi/tests/matrix.py)


def rule_for(route: Route):
    if route.name in RULES:
        return RULES[route.name]
    return admin_site if route.name.startswith("admin:") else RULES.get(route.id)


@pytest.mark.parametrize("route", list(ROUTES.values()), ids=list(ROUTES))
def test_route(world, route):
    rule = rule_for(route)
    assert rule is not None, f"add a rule for {route.id} ({route.pattern}) in RULES"
    m = Matrix(world, route)
    rule(m)
    assert not m.problems, "\n".join(m.problems)


def test_every_rule_has_a_route():
    """A rule for a route that is gone is a hole in the matrix: remove it or fix its name."""
    names = {route.id for route in ROUTES.values()} | {route.name for route in ROUTES.values()}
    assert set(RULES) - names == set()


def test_a_route_without_a_rule_fails():
    assert rule_for(Route("report-export", "reports/export/", (), ())) is None
