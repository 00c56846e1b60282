from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from catalogue.access import Actor, actor_for
from catalogue.api.authentication import InstrumentKeyAuthentication
from catalogue.models import BIGINT_MAX, Investigation

from .. import access, selectors, services
from . import serializers

INVESTIGATION_ID = OpenApiParameter(
    "investigationId", OpenApiTypes.INT, description="The session; default: the instrument's running session"
)


class TrackingView(APIView):
    """Instrument keys first (catalogue's class), then the other schemes of the settings."""

    def get_authenticators(self):
        others = [a for a in super().get_authenticators() if not isinstance(a, InstrumentKeyAuthentication)]
        return [InstrumentKeyAuthentication(), *others]

    @property
    def actor(self) -> Actor:
        actor = actor_for(self.request)
        if actor.api_key is None and not actor.is_person:
            raise NotAuthenticated("Give the instrument's key: 'Authorization: Api-Key <key>'.")
        return actor


class ParcelListView(TrackingView):
    @extend_schema(parameters=[INVESTIGATION_ID], responses=serializers.ParcelSerializer(many=True))
    def get(self, request):
        """A session's parcels, with their statuses, containers, samples and plans (ICAT+'s
        `GET /tracking/{sessionId}/parcel`)."""
        actor = self.actor
        investigation = self._investigation(actor, request.query_params.get("investigationId"))
        if investigation is None:
            return Response([])
        parcels = selectors.session_parcels(investigation)
        return Response(serializers.ParcelSerializer(parcels, many=True).data)

    def _investigation(self, actor: Actor, given: str | None) -> Investigation | None:
        if given is None:
            if actor.api_key is None:
                raise ValidationError({"investigationId": "required without an instrument key"})
            return selectors.running_session(actor.api_key.instrument)
        if not given.isdigit() or int(given) > BIGINT_MAX:
            raise ValidationError({"investigationId": f"expected an investigation id, got '{given[:40]}'"})
        investigation = Investigation.objects.filter(access.investigation_q(actor), pk=int(given)).first()
        if investigation is None:
            raise Http404("No investigation found.")
        return investigation


class ParcelDetailView(TrackingView):
    @extend_schema(responses=serializers.ParcelSerializer)
    def get(self, request, pk: int):
        parcel = selectors.parcel_with_content(self.actor, pk)
        return Response(serializers.ParcelSerializer(parcel).data)


class ParcelStatusView(TrackingView):
    @extend_schema(request=serializers.StatusChangeSerializer, responses={201: serializers.StatusSerializer})
    def post(self, request, pk: int):
        """Moves the parcel on: a beamline takes it (BEAMLINE) and gives it back (BACK_STORES).
        A step the workflow or the caller's role does not allow answers with those that are."""
        actor = self.actor
        parcel = selectors.parcel_get(actor, pk)
        body = serializers.StatusChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            row = services.parcel_status_change(actor=actor, parcel=parcel, **body.validated_data)
        except services.ShippingError as exc:
            detail = "The request is invalid; see errors by field." if exc.status_code == 400 else str(exc)
            return Response({"detail": detail, "errors": exc.errors}, status=exc.status_code)
        return Response(serializers.StatusSerializer(row).data, status=http.HTTP_201_CREATED)
