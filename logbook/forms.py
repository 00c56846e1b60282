"""The portal's logbook forms: a timeline's filters, a new comment (with an optional image or file),
an annotation's edit."""

from django import forms

from .models import Event, Tag
from .selectors import EventFilters


class EventFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *Event.Type.choices])
    category = forms.ChoiceField(required=False, choices=[("", "Any category"), *Event.Category.choices])
    tag = forms.ModelChoiceField(required=False, queryset=Tag.objects.none(), empty_label="Any tag")
    author = forms.CharField(required=False, max_length=150, label="Author or machine")
    dataset = forms.CharField(required=False, max_length=255)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, tags=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].queryset = tags if tags is not None else Tag.objects.none()
        for field in self.fields.values():
            select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = "form-select form-select-sm" if select else "form-control form-control-sm"

    def filters(self) -> EventFilters:
        """The valid filters (an invalid one is ignored, and shown as such by the form)."""
        if not self.is_bound or not (self.is_valid() or self.cleaned_data):
            return EventFilters()
        return EventFilters(**{k: v for k, v in self.cleaned_data.items() if v})

    @property
    def active(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)


class CommentForm(forms.Form):
    title = forms.CharField(required=False, max_length=255)
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=100_000)
    tags = forms.CharField(required=False, max_length=500, help_text="Comma-separated")
    file = forms.FileField(required=False, label="Image or file")

    def clean_tags(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["tags"].split(",") if name.strip()]

    def clean(self):
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("file"):
            self.add_error("text", "Write a comment or attach a file.")
        return data


class EditForm(forms.Form):
    title = forms.CharField(required=False, max_length=255)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=100_000)
