import pytest
from django.core.management import call_command

from catalogue.models import Instrument, InstrumentScientist, Investigation, InvestigationUser
from catalogue.tests.conftest import make_investigation, make_user
from shipping.models import Parcel, Status

pytestmark = pytest.mark.django_db


def test_the_demo_shipment_loads_once(capsys):
    instrument = Instrument.objects.create(name="ID30A-1")
    investigation = make_investigation(instrument, "MX-1111", "id30a1-20160404", released=True)
    alice, carol = make_user("alice"), make_user("carol")
    make_user("admin", is_staff=True, is_superuser=True)
    InvestigationUser.objects.create(user=alice, investigation=investigation, role="pi")
    InstrumentScientist.objects.create(user=carol, instrument=instrument)
    call_command("load_shipping_demo")
    call_command("load_shipping_demo")
    assert "Shipping demo up to date." in capsys.readouterr().out
    assert dict(Parcel.objects.values_list("name", "status")) == {
        "Dewar 1": Status.STORES,
        "Dewar 2": Status.BACK_USER,
    }
    assert Investigation.objects.get().samples.filter(name="AFAMIN-rev1-B5-1").exists()
