"""Values written as Django's filters write them, for the templates that write many: the dataset
table's 50 rows each print a time, a day, a file count, a size, a storage status and three links.
Django's |date, |intcomma, |filesizeformat, a choice's label and reverse() read the request's time
zone, language or script prefix (context-locals, 2 to 7 µs a read) for every value, about ten reads
a row; RequestFormats reads each once and writes the same text."""

from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import filesizeformat
from django.urls import get_script_prefix, reverse
from django.utils import numberformat, timezone, translation
from django.utils.dates import MONTHS_3
from django.utils.formats import get_format
from django.utils.translation import gettext

from catalogue.models import Dataset
from catalogue.routes import pk_url


class RequestFormats:
    """The formats of the current request (its language, time zone and script prefix), read when
    made: make one per rendering, as the dataset table does ({% set fmt = formats() %})."""

    def __init__(self):
        language = translation.get_language()
        self._zone = timezone.get_current_timezone()
        self._months = {month: str(name).title() for month, name in MONTHS_3.items()}
        self._separators = {
            "decimal_sep": get_format("DECIMAL_SEPARATOR", language, use_l10n=True),
            "grouping": get_format("NUMBER_GROUPING", language, use_l10n=True),
            "thousand_sep": get_format("THOUSAND_SEPARATOR", language, use_l10n=True),
        }
        # Django's units and their msgids, largest first; sizes under 1 KB keep Django's plural forms.
        self._units = [
            (1 << 50, gettext("%s PB")),
            (1 << 40, gettext("%s TB")),
            (1 << 30, gettext("%s GB")),
            (1 << 20, gettext("%s MB")),
            (1 << 10, gettext("%s KB")),
        ]
        self._storage_labels = {value: str(label) for value, label in Dataset.StorageStatus.choices}
        self._script_prefix = get_script_prefix()
        self._urls: dict[str, str] = {}

    def clock(self, value) -> str:
        """'14:05' in the current time zone, as |date:"H:i" writes it."""
        local = value.astimezone(self._zone)
        return f"{local.hour:02d}:{local.minute:02d}"

    def day(self, value) -> str:
        """'3 Nov 2026' in the current time zone, as |date:"j M Y" writes it."""
        local = value.astimezone(self._zone)
        return f"{local.day} {self._months[local.month]} {local.year}"

    def count(self, value) -> str:
        """'12,345', as |intcomma writes it."""
        if not isinstance(value, int) or isinstance(value, bool):
            return intcomma(value)
        return numberformat.format(value, decimal_pos=None, force_grouping=True, use_l10n=True, **self._separators)

    def size(self, value) -> str:
        """'793.5 GB' (a no-break space), as |filesizeformat writes it."""
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) < 1 << 10:
            return filesizeformat(value)
        magnitude = abs(value)
        unit, text = next((unit, text) for unit, text in self._units if magnitude >= unit)
        number = numberformat.format(round(magnitude / unit, 1), decimal_pos=1, use_l10n=True, **self._separators)
        return ("-" if value < 0 else "") + (text % number).replace(" ", "\xa0")

    def storage_status(self, value: str) -> str:
        """A dataset's storage status as get_storage_status_display() writes it."""
        return self._storage_labels.get(value, value)

    def route(self, name: str, pk: int) -> str:
        """reverse(name, args=[pk]) for a route whose only argument is an id (catalogue.routes.pk_url)."""
        return pk_url(name, pk, self._script_prefix)

    def url(self, name: str) -> str:
        """reverse(name), once per name."""
        if name not in self._urls:
            self._urls[name] = reverse(name)
        return self._urls[name]
