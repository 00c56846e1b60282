"""Publication pages: the landing page of a DOI with its exports (as links and by content
negotiation on the landing URL, as DOI resolvers do), the tombstone of a withdrawn one, "My DOIs",
minting from a session or from the selection, and the metadata form with the lifecycle actions."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from catalogue.access import actor_for
from catalogue.models import Dataset
from catalogue.selectors import investigation_get
from catalogue.storage.selection import selection_totals

from . import datacite, formats, oai, services
from .models import Publication
from .selectors import (
    landing_datasets,
    mintable_investigations,
    my_publications,
    publication_facts,
    publication_find,
    publication_get,
    review_queue,
)

JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def _record(publication: Publication) -> dict:
    """The kernel 4.5 JSON every export starts from."""
    facts = publication_facts(publication)
    data = datacite.metadata(publication, facts, list(publication.people.all()))
    return data | {"url": datacite.landing_url(publication)}


def _downloads(request, publication: Publication, datasets: list[Dataset]) -> list[dict]:
    """The open data a search engine may list as DataDownload: released, online datasets."""
    return [
        {
            "name": d.name,
            "url": request.build_absolute_uri(reverse("dataset-download", args=[d.pk])),
            "size": d.size,
        }
        for d in datasets
        if d.readable and d.released and d.storage_status == Dataset.StorageStatus.ONLINE
    ]


def _export_response(request, publication: Publication, name: str, *, attachment: bool) -> HttpResponse:
    if publication.state == Publication.State.WITHDRAWN:
        return HttpResponse("This publication was withdrawn.", status=410, content_type="text/plain")
    export = formats.FORMATS[name]
    data = _record(publication)
    if name == "datacite-json":
        body = formats.datacite_json(data)
    elif name == "datacite-xml":
        body = formats.datacite_xml(data)
    elif name == "jsonld":
        datasets = landing_datasets(actor_for(request), publication)
        body = json.dumps(formats.jsonld(data, url=data["url"], downloads=_downloads(request, publication, datasets)))
    elif name == "bibtex":
        body = formats.bibtex(data)
    elif name == "ris":
        body = formats.ris(data)
    elif name == "csl":
        body = json.dumps(formats.csl(data), indent=2, ensure_ascii=False)
    else:
        body = formats.citation(data) + "\n"
    response = HttpResponse(body, content_type=f"{export.media_type}; charset=utf-8")
    if attachment:
        filename = f"{publication.suffix}.{export.extension}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _negotiated(request) -> str | None:
    """The export the Accept header prefers to HTML, or None for the page."""
    choices = []
    for index, part in enumerate(request.headers.get("Accept", "").split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        choices.append((-quality, index, media.lower()))
    for quality, _, media in sorted(choices):
        if quality == 0:
            break
        if media in formats.BY_MEDIA_TYPE:
            return formats.BY_MEDIA_TYPE[media]
        if media in ("text/html", "application/xhtml+xml", "*/*", "text/*"):
            return None
    return None


@vary_on_headers("Accept")
def landing(request, prefix: str, suffix: str):
    actor = actor_for(request)
    publication = publication_get(actor, f"{prefix}/{suffix}")
    name = _negotiated(request)
    if name:
        return _export_response(request, publication, name, attachment=False)
    if publication.state == Publication.State.WITHDRAWN:
        return render(request, "doi/tombstone.html", {"publication": publication})
    data = _record(publication)
    datasets = landing_datasets(actor, publication)
    facts = publication_facts(publication)
    document = formats.jsonld(data, url=data["url"], downloads=_downloads(request, publication, datasets))
    # A data block, not a script: browsers never run it, so the policy's script-src does not apply.
    jsonld_tag = format_html(
        '<script type="application/ld+json">{}</script>', mark_safe(json.dumps(document).translate(JSON_ESCAPES))
    )
    context = {
        "publication": publication,
        "data": data,
        "facts": facts,
        "creators": [p for p in publication.people.all() if p.role == "creator"],
        "contributors": [p for p in publication.people.all() if p.role == "contributor"],
        "datasets": datasets,
        "citation": formats.citation(data),
        "exports": formats.FORMATS,
        "licence": datacite.licence(publication.licence),
        "jsonld_tag": jsonld_tag,
        "can_manage": services.may_manage(actor, publication),
    }
    return render(request, "doi/landing.html", context)


def export(request, prefix: str, suffix: str, fmt: str):
    if fmt not in formats.FORMATS:
        raise Http404("No such format.")
    publication = publication_get(actor_for(request), f"{prefix}/{suffix}")
    return _export_response(request, publication, fmt, attachment=True)


# --- Minting and managing ----------------------------------------------------------------------


@login_required
def my_dois(request):
    actor = actor_for(request)
    context = {
        "publications": my_publications(actor),
        "mintable": mintable_investigations(actor)[:50],
        "review": review_queue(actor),
        "selection": selection_totals(actor),
    }
    return render(request, "doi/my_dois.html", context)


def _form_errors(exc: ValidationError) -> list[str]:
    return [f"{field}: {message}" for field, errors in exc.message_dict.items() for message in errors]


@login_required
@require_http_methods(["GET", "POST"])
def mint_selection(request):
    actor = actor_for(request)
    errors = []
    if request.method == "POST":
        try:
            publication = services.publication_create_selection(
                actor=actor, title=request.POST.get("title", ""), abstract=request.POST.get("abstract", "")
            )
        except ValidationError as exc:
            errors = _form_errors(exc)
        else:
            messages.success(request, f"Draft DOI {publication.doi} created: check its metadata, then reserve it.")
            return redirect("doi:manage", pk=publication.pk)
    context = {"selection": selection_totals(actor), "errors": errors, "form": request.POST}
    return render(request, "doi/mint_selection.html", context, status=400 if errors else 200)


@require_POST
@login_required
def mint_investigation(request, pk: int):
    actor = actor_for(request)
    investigation = investigation_get(actor, pk)
    try:
        publication = services.publication_create_session(actor=actor, investigation=investigation)
    except ValidationError as exc:
        messages.error(request, "; ".join(_form_errors(exc)))
        return redirect("doi:mine")
    messages.success(request, f"Draft DOI {publication.doi} created: check its metadata, then reserve it.")
    return redirect("doi:manage", pk=publication.pk)


ACTIONS = {
    "reserve": services.publication_reserve,
    "publish": services.publication_publish,
    "approve": services.publication_approve,
}


def _parse_json_list(value: str, field: str) -> list:
    if not value.strip():
        return []
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise ValidationError({field: "Not valid JSON."}) from exc
    if not isinstance(parsed, list):
        raise ValidationError({field: "A JSON list."})
    return parsed


@login_required
@require_http_methods(["GET", "POST"])
def manage(request, pk: int):
    actor = actor_for(request)
    publication = publication_find(actor, pk)
    if not services.may_manage(actor, publication):
        raise Http404("No such publication.")
    errors = []
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "save":
                positions = {}
                for key, value in request.POST.items():
                    pk_text = key.removeprefix("position-")
                    if key.startswith("position-") and pk_text.isdigit():
                        try:
                            positions[int(pk_text)] = float(value)
                        except ValueError as exc:
                            raise ValidationError({"position": f"Not a number: {value[:20]!r}."}) from exc
                current = dict(publication.people.filter(role="creator").values_list("pk", "position"))
                creators = sorted(current, key=lambda pk: (positions.get(pk, current[pk] + 1), pk))
                orcids = {
                    int(key.removeprefix("orcid-")): value
                    for key, value in request.POST.items()
                    if key.startswith("orcid-") and key.removeprefix("orcid-").isdigit()
                }
                services.publication_update(
                    actor=actor,
                    publication=publication,
                    title=request.POST.get("title", ""),
                    abstract=request.POST.get("abstract", ""),
                    creator_order=creators or None,
                    orcids=orcids,
                    related_identifiers=_parse_json_list(
                        request.POST.get("related_identifiers", ""), "related_identifiers"
                    ),
                    funding=_parse_json_list(request.POST.get("funding", ""), "funding"),
                )
                messages.success(request, "Metadata saved.")
            elif action == "withdraw":
                services.publication_withdraw(
                    actor=actor, publication=publication, reason=request.POST.get("reason", "")
                )
                messages.success(request, f"{publication.doi} withdrawn: its landing page is now a tombstone.")
            elif action in ACTIONS:
                publication = ACTIONS[action](actor=actor, publication=publication)
                messages.success(request, f"{publication.doi}: {publication.get_state_display()}.")
            else:
                raise ValidationError({"action": f"Unknown action {action[:40]!r}."})
        except ValidationError as exc:
            errors = _form_errors(exc)
        except PermissionDenied as exc:
            errors = [str(exc)]
        else:
            return redirect("doi:manage", pk=publication.pk)
        publication.refresh_from_db()
    context = {
        "publication": publication,
        "creators": publication.people.filter(role="creator"),
        "errors": errors,
        "related_json": json.dumps(publication.related_identifiers, indent=1),
        "funding_json": json.dumps(publication.funding, indent=1),
        "minting": datacite.minting_enabled(),
    }
    return render(request, "doi/manage.html", context, status=400 if errors else 200)


@csrf_exempt  # harvesters POST without a session
@require_http_methods(["GET", "POST"])
def oai_pmh(request):
    """The OAI-PMH 2.0 endpoint (doi/oai.py): arguments by GET or by a form POST."""
    params = request.POST if request.method == "POST" else request.GET
    body = oai.respond({name: params.getlist(name) for name in params})
    return HttpResponse(body, content_type="text/xml; charset=utf-8")
