from django import forms


class ReleaseDateForm(forms.Form):
    release_date = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"),
        help_text="From this moment the investigation and all its data are public.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        max_length=2000,
        help_text="Recorded in the audit log.",
    )
