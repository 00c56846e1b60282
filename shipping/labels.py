"""A parcel's labels as one PDF (reportlab): the shipping label to affix to the parcel's container
(from the sender to the facility's stores) and the return label (from the stores to the return
address), each with the parcel's barcode (Code 128) and a QR code of its page."""

import io
from collections import Counter

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from catalogue.models import InvestigationUser

from .models import Item, Parcel

MARGIN = 18 * mm


def parcel_url(parcel: Parcel) -> str:
    return settings.PORTAL_URL + reverse("shipping:parcel-detail", kwargs={"pk": parcel.pk})


def content_summary(parcel: Parcel) -> str:
    counts = Counter(parcel.items.values_list("type", flat=True))
    parts = [f"{n} {Item.Type(kind).label.lower()}{'s' if n > 1 else ''}" for kind, n in sorted(counts.items())]
    return ", ".join(parts) or "nothing declared"


def parcel_labels(parcel: Parcel) -> bytes:
    """Two A4 pages: the shipping label and the return label."""
    shipment = parcel.shipment
    investigation = shipment.investigation
    contacts = [
        member.user.get_full_name() or member.user.username
        for member in InvestigationUser.objects.filter(
            investigation=investigation, role=InvestigationUser.Role.LOCAL_CONTACT
        ).select_related("user")
    ]
    facts = [
        ("Parcel", parcel.name),
        ("Barcode", parcel.barcode),
        ("Session", f"{investigation.name} {investigation.visit_id} on {investigation.instrument.name}"),
        ("Start", timezone.localtime(investigation.start_date).strftime("%d %B %Y %H:%M")),
        ("Local contact", ", ".join(contacts) or "-"),
        ("Storage", parcel.get_storage_conditions_display()),
        ("Dangerous goods", "YES" if parcel.contains_dangerous_goods else "no"),
        ("Content", content_summary(parcel)),
    ]
    stores = list(settings.SHIPPING_STORES_ADDRESS)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"Labels of parcel {parcel.name} ({parcel.barcode})")
    pdf.setAuthor(settings.FACILITY_NAME)
    _page(pdf, parcel, "SHIPPING LABEL", shipment.shipping_address.lines, stores, facts)
    _page(pdf, parcel, "RETURN LABEL", stores, shipment.return_address.lines, facts)
    pdf.save()
    return buffer.getvalue()


def _page(pdf: canvas.Canvas, parcel: Parcel, title: str, sender: list[str], recipient: list[str], facts) -> None:
    width, height = A4
    y = height - MARGIN
    pdf.setFont("Helvetica-Bold", 20)
    pdf.drawString(MARGIN, y - 8 * mm, title)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(MARGIN, y - 14 * mm, f"{settings.FACILITY_NAME} · Affix to the parcel's container")
    y -= 24 * mm
    column = (width - 2 * MARGIN) / 2
    for x, heading, lines in ((MARGIN, "FROM", sender), (MARGIN + column, "TO", recipient)):
        pdf.setFont("Helvetica-Bold", 11)
        pdf.drawString(x, y, heading)
        pdf.setFont("Helvetica", 12 if heading == "TO" else 10)
        for i, line in enumerate(lines):
            pdf.drawString(x, y - (6 + 5.5 * i) * mm, line[:48])
    y -= 60 * mm
    pdf.line(MARGIN, y, width - MARGIN, y)
    y -= 9 * mm
    for label, value in facts:
        pdf.setFont("Helvetica-Bold", 10)
        pdf.drawString(MARGIN, y, label)
        pdf.setFont("Helvetica", 11)
        pdf.drawString(MARGIN + 38 * mm, y, str(value)[:80])
        y -= 7 * mm
    # The barcode: wide bars, so that a hand-held scanner reads it off a printed page.
    barcode = code128.Code128(parcel.barcode, barHeight=22 * mm, barWidth=0.45 * mm, humanReadable=True)
    barcode.drawOn(pdf, MARGIN, MARGIN + 8 * mm)
    size = 50 * mm
    widget = qr.QrCodeWidget(parcel_url(parcel), barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (right - left), 0, 0, size / (top - bottom), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, width - MARGIN - size, MARGIN)
    pdf.showPage()
