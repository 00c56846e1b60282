from django_filters.rest_framework import DjangoFilterBackend


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the query names none of the FilterSet's filters: an
    empty FilterSet filters nothing, and building one (deep copies of its filters, a form, its
    validation) was a fifth of an unfiltered list's time."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and request.query_params.keys().isdisjoint(filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)
