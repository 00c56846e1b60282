"""The publication rules for catalogue/tests/test_authorization_matrix.py (which imports RULES from
here). Each target investigation gets a session DOI: the released one published (public), the
embargoed ones reserved (seen by whoever reads the investigation). A hidden DOI answers exactly
like a missing one; OAI-PMH shows published DOIs only; minting and managing are for the session's
PI (none in the matrix's world) and staff."""

from django.contrib.auth import get_user_model
from django.urls import reverse

from catalogue.access import Actor
from doi import services
from doi.models import Publication

ROLES = ("anonymous", "participant", "other_user", "scientist", "other_scientist", "admin", "key", "other_key")
KEYS = ("key", "other_key")
TARGETS = ("embargoed", "released", "other")
PEOPLE = {"participant", "other_user", "scientist", "other_scientist", "admin"}
READS = {"embargoed": {"participant", "scientist", "admin"}, "other": {"other_scientist", "admin"}}
MISSING_DOI = {"prefix": "10.5072", "suffix": "ZZZZ-ZZZZ"}


def token(target: str) -> str:
    return f"zq{target}zq"


def sees(role: str, target: str) -> bool:
    return target == "released" or role in READS[target]


def publications(m) -> dict[str, Publication]:
    """A session DOI per target: published for the released one, reserved for the others."""
    if "publications" not in m.world:
        admin = Actor(user=get_user_model().objects.get(username="root"))  # the world's admin
        made = {}
        for target in TARGETS:
            publication = services.publication_create_session(
                actor=admin, investigation=m.world[target]["investigation"]
            )
            action = services.publication_publish if target == "released" else services.publication_reserve
            made[target] = action(actor=admin, publication=publication)
        m.world["publications"] = made
        m.world["admin_actor"] = admin
    return m.world["publications"]


def landing(suffix: str = ""):
    """The landing page (or an export): public when published, else for the investigation's readers;
    hidden ones answer exactly like a missing DOI."""

    def check(m):
        made = publications(m)
        kwargs = {"fmt": "bibtex"} if suffix else {}
        missing_url = m.route.url(**MISSING_DOI, **kwargs)
        for role in ROLES:
            missing = m.call(role, missing_url)
            m.status(missing, 404, role, "missing")
            for target in TARGETS:
                p = made[target]
                url = m.route.url(prefix=p.prefix, suffix=p.suffix, **kwargs)
                response = m.call(role, url)
                portal_role = "anonymous" if role in KEYS else role
                if not sees(portal_role, target):
                    m.like_missing(response, missing, url, missing_url, role, target)
                elif m.status(response, 200, role, target) and response["Content-Type"].startswith("text/html"):
                    m.no_leak(response, role, {target}, target)
                elif response.status_code == 200:
                    hidden = [t for t in TARGETS if not sees(portal_role, t) and token(t) in response.content.decode()]
                    m.expect(not hidden, role, f"leaks {hidden}", target)

    return check


def signed_in_page(m):
    """People only (others are asked to sign in); nothing they may not read."""
    publications(m)
    url = m.route.url()
    for role in ROLES:
        response = m.call(role, url)
        if role not in PEOPLE:
            m.signin_redirect(response, role)
        elif m.status(response, 200, role):
            m.no_leak(response, role)


def mint_investigation(m):
    """POST only; staff and the session's PI mint; a hidden session answers 404, a visible one 403."""
    for role in ROLES:
        client = m.world["clients"][role]
        for target in TARGETS:
            Publication.objects.all().delete()
            investigation = m.world[target]["investigation"]
            url = m.route.url(pk=investigation.pk)
            m.status(client.get(url), 405, role, f"{target} GET")
            response = client.post(url)
            minted = Publication.objects.filter(investigation=investigation).exists()
            if role not in PEOPLE:
                m.signin_redirect(response, role, target)
            elif role == "admin":
                m.status(response, 302, role, target)
            else:
                m.status(response, 403 if sees(role, target) else 404, role, target)
            m.expect(minted == (role == "admin"), role, f"minted: {minted}", target)


def manage(m):
    """The metadata form: staff and the owner or session PI; anyone else gets a missing one's 404."""
    made = publications(m)
    missing_url = m.route.url(pk=987654321)
    for role in ROLES:
        missing = m.call(role, missing_url)
        for target in TARGETS:
            url = m.route.url(pk=made[target].pk)
            response = m.call(role, url)
            if role not in PEOPLE:
                m.signin_redirect(response, role, target)
            elif role == "admin":
                m.status(response, 200, role, target)
            else:
                m.like_missing(response, missing, url, missing_url, role, target)
            if role in PEOPLE and role != "admin":
                title = made[target].title
                before = Publication.objects.get(pk=made[target].pk).title
                m.call(role, url, "post", {"action": "save", "title": "hijacked"})
                after = Publication.objects.get(pk=made[target].pk).title
                m.expect(after == before == title, role, "changed another's publication", target)


def oai_pmh(m):
    """Open to all: published DOIs only (the reserved, embargoed ones never leave)."""
    made = publications(m)
    url = reverse("oai-pmh")
    for role in ROLES:
        response = m.call(role, url, data={"verb": "ListRecords", "metadataPrefix": "oai_datacite"})
        if m.status(response, 200, role):
            body = response.content.decode()
            m.expect(made["released"].doi in body, role, "does not list the published DOI")
            for target in ("embargoed", "other"):
                m.expect(made[target].doi not in body and token(target) not in body, role, f"leaks {target}")


def panosc(kind: str, detail: bool = False):
    """The PaNOSC search API: open data only, for every role alike (it ignores who asks): the released
    target's dataset (or published DOI) is listed and readable, the embargoed ones never appear and
    answer exactly like a missing one."""

    def check(m):
        made = publications(m)
        pid = {
            "datasets": lambda t: f"dataset-{m.world[t]['dataset'].pk}",
            "documents": lambda t: made[t].doi,
            "instruments": lambda t: m.world[t]["investigation"].instrument.name,
        }[kind]
        missing_pid = {"datasets": "dataset-987654321", "documents": "10.5072/ZZZZ-ZZZZ", "instruments": "NOPE"}[kind]
        filter_ = '{"include":[{"relation":"datasets"}]}' if kind != "datasets" else '{"include":["documents"]}'
        for role in ROLES:
            if not detail:
                response = m.call(role, m.route.url(), data={"filter": filter_})
                if m.status(response, 200, role):
                    body = response.content.decode()
                    for target in ("embargoed", "other"):
                        m.expect(token(target) not in body, role, f"leaks {target}")
                    if kind != "instruments" and not m.route.name.endswith("-count"):
                        m.expect(token("released") in body, role, "does not list the released target")
                continue
            missing_url = m.route.url(pid=missing_pid)
            missing = m.call(role, missing_url)
            for target in TARGETS:
                url = m.route.url(pid=pid(target))
                response = m.call(role, url, data={"filter": filter_})
                if kind == "instruments":  # instruments are public; their datasets are the open ones
                    if m.status(response, 200, role, target):
                        body = response.content.decode()
                        leaked = [t for t in ("embargoed", "other") if token(t) in body]
                        m.expect(not leaked, role, f"leaks {leaked}", target)
                elif target == "released":
                    m.status(response, 200, role, target)
                else:
                    m.like_missing(response, missing, url, missing_url, role, target)

    return check


RULES = {
    "panosc:datasets": panosc("datasets"),
    "panosc:datasets-count": panosc("datasets"),
    "panosc:dataset": panosc("datasets", detail=True),
    "panosc:documents": panosc("documents"),
    "panosc:documents-count": panosc("documents"),
    "panosc:document": panosc("documents", detail=True),
    "panosc:instruments": panosc("instruments"),
    "panosc:instruments-count": panosc("instruments"),
    "panosc:instrument": panosc("instruments", detail=True),
    "doi:landing": landing(),
    "doi:export": landing("export"),
    "doi:mine": signed_in_page,
    "doi:mint-selection": signed_in_page,
    "doi:mint-investigation": mint_investigation,
    "doi:manage": manage,
    "oai-pmh": oai_pmh,
}
