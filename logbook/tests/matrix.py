"""The logbook's rules for catalogue/tests/test_authorization_matrix.py (which imports RULES from here).

An experiment's logbook is private to its participants, its instrument's scientists and key, and admins,
before and after the release of its data (settings.LOGBOOK_PUBLIC_AFTER_RELEASE is off); a beamline's
to its scientists, key and admins; broadcasts are public. Whoever does not read a logbook gets exactly
a missing one's answer."""

import base64
import shutil
import tempfile

from django.test import override_settings

from catalogue.people.services import api_key_create
from logbook import services
from logbook.models import Event

ROLES = ("anonymous", "participant", "other_user", "scientist", "other_scientist", "admin", "key", "other_key")
KEYS = ("key", "other_key")
TARGETS = ("embargoed", "released", "other")
MISSING = 987654321
READS = {
    "embargoed": {"participant", "scientist", "admin", "key"},
    "released": {"participant", "scientist", "admin", "key"},
    "other": {"other_scientist", "admin", "other_key"},
}
MANAGES = {"ID30": {"scientist", "admin", "key"}, "BM29": {"other_scientist", "admin", "other_key"}}
AUTHOR = {"embargoed": "participant", "released": "participant", "other": "other_scientist"}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def token(target: str) -> str:
    return f"zq{target}zq"


def reads(role: str, target: str, api: bool) -> bool:
    return (api or role not in KEYS) and role in READS[target]


def _user(m, role):
    from django.contrib import auth

    return auth.get_user(m.world["clients"][role])


def _events(m) -> dict:
    """Per target: a participant's (or BM29 scientist's) comment and an image; per instrument a beamline
    event. Files go to a temporary attachment root."""
    if "logbook" in m.world:
        return m.world["logbook"]
    root = tempfile.mkdtemp(prefix="logbook-matrix-")
    m.world["_logbook_settings"] = override_settings(LOGBOOK_ATTACHMENT_ROOT=root)
    m.world["_logbook_settings"].enable()
    m.world["_logbook_root"] = root
    events = {}
    for target in TARGETS:
        inv = m.world[target]["investigation"]
        comment = services.event_create(
            investigation=inv, type="annotation", category="comment", text=f"comment {token(target)}",
            author=_user(m, AUTHOR[target]),
        )  # fmt: skip
        image = services.event_create(
            investigation=inv, type="attachment", category="file",
            attachment=services.AttachmentFile(data=PNG, content_type="image/png", name=f"{token(target)}.png"),
        )  # fmt: skip
        if m.route.name == "logbook:event-restore":
            comment = services.event_remove(event=comment, user=comment.author)
        events[target] = {"comment": comment, "attachment": image.attachments.get()}
    for target in ("embargoed", "other"):
        inv = m.world[target]["investigation"]
        services.event_create(
            instrument=inv.instrument, type="notification", category="info", text=f"beam {token(target)}"
        )
    m.world["logbook"] = events
    return events


def _done(m) -> None:
    if "_logbook_settings" in m.world:
        m.world.pop("_logbook_settings").disable()
        shutil.rmtree(m.world.pop("_logbook_root"), ignore_errors=True)


def _leaks(m, response, role, api, shown=(), where=""):
    body = response.content.decode(errors="replace")
    for target in TARGETS:
        present = token(target) in body
        if not reads(role, target, api):
            m.expect(not present, role, f"leaks {target}", where)
        elif target in shown:
            m.expect(present, role, f"does not show {target}", where)


def _per_target(kind: str, method: str = "get", check_ok=None, author_only: bool = False):
    """A page of one logbook object: sign in first; a reader gets it (or 403 where only the author may),
    anyone else exactly a missing one's 404."""

    def check(m):
        events = _events(m)
        try:
            missing_url = m.route.url(pk=MISSING)
            for role in ROLES:
                missing = m.call(role, missing_url, method)
                for target in TARGETS:
                    obj = events[target][kind] if kind != "investigation" else m.world[target]["investigation"]
                    url = m.route.url(pk=obj.pk)
                    response = m.call(role, url, method)
                    if role == "anonymous" or role in KEYS:
                        m.signin_redirect(response, role, target)
                    elif not reads(role, target, api=False):
                        m.like_missing(response, missing, url, missing_url, role, target)
                    elif author_only and role != AUTHOR[target]:
                        m.status(response, 403, role, target)
                    elif check_ok is not None:
                        check_ok(m, response, role, target)
                    elif m.status(response, 200, role, target) and response["Content-Type"].startswith("text/html"):
                        _leaks(m, response, role, False, shown={target}, where=target)
        finally:
            _done(m)

    return check


def _file_ok(m, response, role, target):
    if m.status(response, 200, role, target):
        body = b"".join(response.streaming_content)
        m.expect(response["X-Content-Type-Options"] == "nosniff", role, "no nosniff", target)
        if m.route.name == "logbook:attachment":
            m.expect(body == PNG, role, "other bytes", target)


def _changed(m, response, role, target):
    """Remove, then restore: the author's annotation comes back as it was."""
    if m.status(response, 302, role, target):
        latest = Event.objects.get(original_id=_events(m)[target]["comment"].root_id, is_latest=True)
        m.expect(latest.removed == (m.route.name == "logbook:event-remove"), role, "not changed", target)
        m.world["logbook"][target]["comment"] = latest  # the next call changes the current version


def beamline_logbook(m):
    try:
        _events(m)
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
                    own = "embargoed" if instrument == "ID30" else "other"
                    body = response.content.decode()
                    m.expect(f"beam {token(own)}" in body, role, "does not show its events", instrument)
                    m.expect("comment zq" not in body, role, "shows an investigation's events", instrument)
    finally:
        _done(m)


def api_events(m):
    """An investigation's events: readers (keys of its instrument too) list them and write; people who
    read but may not write cannot exist here; others get a missing one's 404."""
    try:
        _events(m)
        for role in ROLES:
            missing = m.call(role, m.route.url(pk=MISSING))
            m.status(missing, 404, role, "missing")
            for target in TARGETS:
                url = m.route.url(pk=m.world[target]["investigation"].pk)
                response = m.call(role, url)
                posted = m.call(role, url, "post", {"category": "comment", "content": [{"text": f"{role} was here"}]})
                if not reads(role, target, api=True):
                    m.expect(response.status_code == 404 and posted.status_code == 404, role, "not 404", target)
                    m.expect(response.content == missing.content, role, "hidden answers unlike missing", target)
                elif m.status(response, 200, role, target):
                    _leaks(m, response, role, True, shown={target}, where=target)
                    m.status(posted, 201, role, f"{target} post")
            for method in ("put", "patch", "delete"):
                m.status(
                    m.call(role, m.route.url(pk=m.world["embargoed"]["investigation"].pk), method), 405, role, method
                )
    finally:
        _done(m)


def _search(m, role, url, api: bool, queries=({"q": "comment"}, {})) -> None:
    """A search across logbooks answers exactly what the role reads: each target's comment where it
    reads the target, nothing of the others."""
    for query in queries:
        response = m.call(role, url, data=query)
        if m.status(response, 200, role, f"search {query}"):
            _leaks(m, response, role, api, shown=set(TARGETS), where=f"search {query}")


def search_page(m):
    """The search page across logbooks: people only (sign in first), each their own logbooks' events."""
    try:
        _events(m)
        url = m.route.url()
        for role in ROLES:
            if role == "anonymous" or role in KEYS:
                m.signin_redirect(m.call(role, url, data={"q": "comment"}), role)
            else:
                _search(m, role, url, api=False, queries=({"q": "comment"}, {"q": "comment", "before": MISSING}))
            signed_in = role != "anonymous" and role not in KEYS
            m.status(m.call(role, url, "post", {"q": "comment"}), 405 if signed_in else 302, role, "post")
    finally:
        _done(m)


def api_key_writes(m):
    """An instrument key's events and attachments: keys only; to investigations of its instrument. GET of
    the events is the search across every logbook the caller reads (anyone, exactly what it reads)."""
    try:
        url = m.route.url()
        search = m.route.name == "logbook-api:key-events"
        if search:
            _events(m)
        attachment = m.route.name == "logbook-api:key-attachments"
        for role in ROLES:
            for target in TARGETS:
                inv = m.world[target]["investigation"]
                body = {"investigationId": inv.pk}
                if attachment:
                    body["base64"] = "data:image/png;base64," + base64.b64encode(PNG).decode()
                else:
                    body["content"] = [{"text": "from the key"}]
                response = m.call(role, url, "post", body)
                if role not in KEYS:
                    m.status(response, 401, role, target)
                elif role in MANAGES[inv.instrument.name]:
                    m.status(response, 201, role, target)
                elif m.status(response, 400, role, target):
                    m.expect(set(response.json()["errors"]) == {"investigationId"}, role, "refusal", target)
            if search:
                _search(m, role, url, api=True)
            else:
                m.status(m.call(role, url), 405 if role in KEYS else 401, role, "get")
    finally:
        _done(m)


def api_key_batch(m):
    """The batch of a key's events: the single route's rule, each event sent alone in a batch. The same
    401 for whoever is not a key; a key's batch answers 200, its one event 201 in an investigation of
    its instrument, else a 400 naming investigationId."""
    try:
        url = m.route.url()
        for role in ROLES:
            for target in TARGETS:
                inv = m.world[target]["investigation"]
                body = {"events": [{"investigationId": inv.pk, "content": [{"text": "from the key"}]}]}
                response = m.call(role, url, "post", body)
                if role not in KEYS:
                    m.status(response, 401, role, target)
                elif m.status(response, 200, role, target):
                    _leaks(m, response, role, True, where=target)
                    [item] = response.json()["results"]
                    if role in MANAGES[inv.instrument.name]:
                        m.expect(item["status"] == 201 and "id" in item, role, f"not stored: {item}", target)
                    else:
                        refused = item["status"] == 400 and set(item["errors"]) == {"investigationId"}
                        m.expect(refused, role, f"refusal {item}", target)
            m.status(m.call(role, url), 405 if role in KEYS else 401, role, "get")
    finally:
        _done(m)


def dataacquisition(m):
    """ICAT+'s routes: the key in the path (the caller's own credentials do not count)."""
    try:
        secrets = {
            inv.instrument.name: api_key_create(instrument=inv.instrument, name="pyicat-plus")[1]
            for inv in (m.world["embargoed"]["investigation"], m.world["other"]["investigation"])
        }
        for role in ("anonymous", "participant", "admin"):
            for instrument, secret in secrets.items():
                for target in TARGETS:
                    inv = m.world[target]["investigation"]
                    url = m.route.url(api_key=secret) + f"?investigationId={inv.pk}"
                    if m.route.name.endswith("base64"):
                        body = {"base64": "data:image/png;base64," + base64.b64encode(PNG).decode()}
                    else:
                        body = {"type": "notification", "category": "info", "content": [{"text": "x"}]}
                    response = m.call(role, url, "post", body)
                    if inv.instrument.name == instrument:
                        m.status(response, 200, role, f"{instrument} {target}")
                    elif m.status(response, 400, role, f"{instrument} {target}"):
                        m.expect(set(response.json()["errors"]) == {"investigationId"}, role, "refusal", target)
            m.status(m.call(role, m.route.url(api_key="nope.nope"), "post", {}), 401, role, "unknown key")
            m.status(m.call(role, m.route.url(api_key=secrets["ID30"])), 405, role, "get")
    finally:
        _done(m)


def broadcasts(m):
    services.event_create(type="broadcast", category="info", text="Beam is back")
    for role in ROLES:
        response = m.call(role, m.route.url())
        if m.status(response, 200, role):
            m.expect("Beam is back" in response.content.decode(), role, "no broadcast")
            _leaks(m, response, role, False)


RULES = {
    "logbook:investigation": _per_target("investigation"),
    "logbook:beamline": beamline_logbook,
    "logbook:broadcasts": broadcasts,
    "logbook:event-edit": _per_target("comment", author_only=True),
    "logbook:event-history": _per_target("comment"),
    "logbook:event-remove": _per_target("comment", "post", _changed, author_only=True),
    "logbook:event-restore": _per_target("comment", "post", _changed, author_only=True),
    "logbook:attachment": _per_target("attachment", check_ok=_file_ok),
    "logbook:attachment-thumbnail": _per_target("attachment", check_ok=_file_ok),
    "logbook:dataacquisition-notification": dataacquisition,
    "logbook:dataacquisition-base64": dataacquisition,
    "logbook-api:investigation-events": api_events,
    "logbook-api:key-events": api_key_writes,
    "logbook-api:key-events-batch": api_key_batch,
    "logbook:search": search_page,
    "logbook-api:key-attachments": api_key_writes,
}
