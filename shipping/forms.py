"""The portal's forms: shapes and choices only; the services check the rest and their errors come
back on the field they name."""

import re

from django import forms

from catalogue.models import Investigation
from techniques.models import Technique

from .models import Address, Item, Parcel, Status
from .services import ShippingError


def add_errors(form: forms.Form, error: ShippingError) -> None:
    """A service's errors on the form's fields: 'experiment_plan.<key>' on that key's field, or on
    the free plan's text, else on the form."""
    for field, reason in error.errors.items():
        target = field if field in form.fields else field.split(".")[0]
        form.add_error(target if target in form.fields else None, reason)


class AddressForm(forms.ModelForm):
    class Meta:
        model = Address
        fields = ["name", "company_name", "address", "postal_code", "city", "region", "country"]
        fields += ["phone_number", "email"]
        widgets = {"address": forms.Textarea(attrs={"rows": 2})}


class ShipmentForm(forms.Form):
    investigation = forms.ModelChoiceField(queryset=Investigation.objects.none())
    name = forms.CharField(max_length=200)
    technique = forms.ModelChoiceField(
        queryset=Technique.objects.all(),
        required=False,
        help_text="Whose experiment and processing plans the samples carry; empty: free keys and values.",
    )
    shipping_address = forms.ModelChoiceField(queryset=Address.objects.none(), label="Sender")
    return_address = forms.ModelChoiceField(queryset=Address.objects.none(), label="Return to")
    courier_company = forms.CharField(max_length=100, required=False)
    courier_account = forms.CharField(max_length=100, required=False)
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, investigations, addresses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["investigation"].queryset = investigations
        self.fields["shipping_address"].queryset = addresses
        self.fields["return_address"].queryset = addresses


class ParcelForm(forms.Form):
    name = forms.CharField(max_length=200)
    barcode = forms.CharField(max_length=64, required=False, help_text="Empty: one is made for it.")
    storage_conditions = forms.ChoiceField(choices=Parcel.StorageConditions.choices)
    contains_dangerous_goods = forms.BooleanField(required=False)
    customs_value = forms.DecimalField(max_digits=10, decimal_places=2, required=False, label="Customs value (€)")
    return_instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


# "1.5" or "150 pm": a number and, maybe, its unit.
NUMBER_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S.*)?$")
FREE_PLAN_HELP = "One 'key = value' a line."


class ItemForm(forms.Form):
    type = forms.ChoiceField(choices=Item.Type.choices)
    name = forms.CharField(max_length=200)
    parent = forms.ModelChoiceField(queryset=Item.objects.none(), required=False, label="In")
    container_type = forms.ChoiceField(choices=[("", "—"), *Item.ContainerType.choices], required=False)
    position = forms.IntegerField(required=False, min_value=1, max_value=32767)
    description = forms.CharField(max_length=2000, required=False)

    def __init__(self, *args, parents, plans: dict, **kwargs):
        """plans: the technique's (Technique.plans); a kind it does not declare is a free text field."""
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = parents
        self.plan_fields = {}
        for kind in ("experiment", "processing"):
            entries = plans.get(kind)
            if entries is None:
                name = f"{kind}_plan"
                self.fields[name] = forms.CharField(
                    widget=forms.Textarea(attrs={"rows": 2}),
                    required=False,
                    label=f"{kind.capitalize()} plan",
                    help_text=FREE_PLAN_HELP,
                )
                self.plan_fields[name] = (kind, None)
                continue
            for entry in entries:
                name = f"{kind}_plan.{entry['key']}"
                unit = entry.get("unit", "")
                self.fields[name] = forms.CharField(
                    required=False,
                    label=entry["label"],
                    help_text=f"in {unit}, or a value and its unit" if unit else entry.get("description", ""),
                )
                self.plan_fields[name] = (kind, entry)

    def plans(self) -> tuple[dict, dict]:
        """The plans as the service takes them; a free plan's malformed line is a form error."""
        plans = {"experiment": {}, "processing": {}}
        for name, (kind, entry) in self.plan_fields.items():
            text = self.cleaned_data.get(name, "").strip()
            if not text:
                continue
            if entry is None:
                for line in text.splitlines():
                    if not line.strip():
                        continue
                    key, sign, value = line.partition("=")
                    if not sign or not key.strip():
                        self.add_error(name, f"'{line.strip()}' is not 'key = value'")
                        continue
                    plans[kind][key.strip()] = value.strip()
            elif entry["type"] == "numeric" and (match := NUMBER_WITH_UNIT.match(text)) and match[2]:
                plans[kind][entry["key"]] = {"value": match[1], "unit": match[2].strip()}
            else:
                plans[kind][entry["key"]] = text
        return plans["experiment"], plans["processing"]


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)
    location = forms.CharField(max_length=200, required=False)
    comment = forms.CharField(max_length=2000, required=False)
    tracking_number = forms.CharField(max_length=100, required=False)
    forwarder = forms.CharField(max_length=100, required=False)


class SampleSheetForm(forms.Form):
    name = forms.CharField(max_length=200, initial="Sample sheet")
    file = forms.FileField(help_text="CSV: container, container_type, position, sample, comments, experiment.<key>…")

    MAX_BYTES = 2 * 2**20

    def __init__(self, *args, **kwargs):
        # Its own ids: the parcel's page shows it beside the item form, which has a name field too.
        kwargs.setdefault("auto_id", "sheet_%s")
        super().__init__(*args, **kwargs)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("larger than 2 MB")
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError("not UTF-8 text") from None


class StatisticsForm(forms.Form):
    start = forms.DateField(required=False)
    end = forms.DateField(required=False)
