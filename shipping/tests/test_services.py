import pytest
from django.core import mail

from catalogue.access import Actor
from catalogue.models import Sample
from shipping import services
from shipping.access import TRANSITIONS, Role
from shipping.models import Item, Parcel, ParcelStatus, Status

from .conftest import make_address, make_shipment, person

pytestmark = pytest.mark.django_db

# What each person of the fixtures may do on MX-1 (ID30): checked against the workflow's table.
HOLDS = {
    "participant": {Role.USER},
    "local_contact": {Role.USER, Role.LOCAL_CONTACT},
    "scientist": {Role.LOCAL_CONTACT, Role.BEAMLINE},
    "other_scientist": set(),
    "other_user": set(),
    "stores": {Role.STORES},
    "safety": {Role.SAFETY},
    "admin_user": set(Role),
    "key": {Role.BEAMLINE},
    "other_key": set(),
}
STEPS = [(source, target) for source, targets in TRANSITIONS.items() for target in targets]


@pytest.fixture
def actors(request, participant, local_contact, scientist, other_scientist, other_user, stores, safety, admin_user):
    people = {name: person(request.getfixturevalue(name)) for name in HOLDS if "key" not in name}
    people["key"] = Actor(api_key=request.getfixturevalue("api_key")[0])
    people["other_key"] = Actor(api_key=request.getfixturevalue("other_api_key")[0])
    return people


@pytest.mark.parametrize(("source", "target"), STEPS, ids=[f"{s}->{t}" for s, t in STEPS])
def test_every_transition_per_role(actors, parcel, source, target):
    allowed = TRANSITIONS[source][target]
    for name, actor in actors.items():
        Parcel.objects.filter(pk=parcel.pk).update(status=source)
        before = ParcelStatus.objects.count()
        call = {"actor": actor, "parcel": parcel, "status": target, "tracking_number": "1Z999"}
        if HOLDS[name] & allowed:
            services.parcel_status_change(**call)
            assert Parcel.objects.get(pk=parcel.pk).status == target, name
            assert ParcelStatus.objects.count() == before + 1, name
        else:
            with pytest.raises(services.ShippingError) as refused:
                services.parcel_status_change(**call)
            assert refused.value.status_code == 403, name
            assert "allowed for you" in refused.value.errors["status"], name
            assert Parcel.objects.get(pk=parcel.pk).status == source, name
            assert ParcelStatus.objects.count() == before, name


def test_a_step_the_workflow_does_not_allow_names_those_it_does(admin_user, parcel):
    with pytest.raises(services.ShippingError) as refused:
        services.parcel_status_change(actor=person(admin_user), parcel=parcel, status=Status.STORES)
    assert refused.value.status_code == 400
    assert refused.value.errors == {"status": "'received at stores' is not allowed after created; allowed: Ready"}


def test_the_last_status_allows_nothing(admin_user, parcel):
    Parcel.objects.filter(pk=parcel.pk).update(status=Status.DESTROYED)
    with pytest.raises(services.ShippingError, match="none: this is its last status"):
        services.parcel_status_change(actor=person(admin_user), parcel=parcel, status=Status.READY)


def test_sent_needs_the_tracking_number(participant, parcel):
    Parcel.objects.filter(pk=parcel.pk).update(status=Status.APPROVED)
    with pytest.raises(services.ShippingError) as refused:
        services.parcel_status_change(actor=person(participant), parcel=parcel, status=Status.SENT)
    assert set(refused.value.errors) == {"tracking_number"}
    row = services.parcel_status_change(
        actor=person(participant), parcel=parcel, status=Status.SENT, tracking_number=" 1Z42 ", forwarder="DHL"
    )
    parcel.refresh_from_db()
    assert (parcel.shipping_tracking_number, parcel.shipping_forwarder, row.created_by_name) == (
        "1Z42",
        "DHL",
        "participant",
    )


def test_the_history_says_who_when_where(participant, scientist, stores, api_key, parcel, instrument):
    steps = [
        (participant, Status.READY),
        (scientist, Status.APPROVED),
        (participant, Status.SENT),
        (stores, Status.STORES),
    ]
    for user, status in steps:
        services.parcel_status_change(actor=person(user), parcel=parcel, status=status, tracking_number="T1")
    services.parcel_status_change(actor=Actor(api_key=api_key[0]), parcel=parcel, status=Status.BEAMLINE)
    rows = list(parcel.statuses.values_list("status", "created_by_name", "location"))
    assert rows == [
        ("CREATED", "participant", ""),
        ("READY", "participant", ""),
        ("APPROVED", "scientist", ""),
        ("SENT", "participant", ""),
        ("STORES", "storekeeper", "stores"),
        ("BEAMLINE", "API key MXCuBE on ID30", "ID30"),
    ]


def test_mails_go_on_commit_at_the_key_transitions(
    participant, local_contact, scientist, stores, parcel, django_capture_on_commit_callbacks
):
    scientist.email = "scientist@example.org"
    scientist.save()
    Parcel.objects.filter(pk=parcel.pk).update(status=Status.READY)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.parcel_status_change(actor=person(local_contact), parcel=parcel, status=Status.APPROVED)
        assert mail.outbox == []  # not before the commit
    assert len(callbacks) == 1
    assert mail.outbox[-1].to == ["participant@example.org"]
    assert "approved" in mail.outbox[-1].subject
    Parcel.objects.filter(pk=parcel.pk).update(status=Status.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        services.parcel_status_change(actor=person(stores), parcel=parcel, status=Status.STORES)
    assert mail.outbox[-1].to == ["contact@example.org", "participant@example.org", "scientist@example.org"]
    with django_capture_on_commit_callbacks(execute=True):
        services.parcel_status_change(
            actor=person(stores), parcel=parcel, status=Status.BACK_USER, tracking_number="R9"
        )
    assert "Return tracking number: R9" in mail.outbox[-1].body
    assert len(mail.outbox) == 3


def test_no_mail_for_other_steps(participant, parcel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.parcel_status_change(actor=person(participant), parcel=parcel, status=Status.READY)
    assert mail.outbox == []


# --- Parcels and items ---------------------------------------------------------------------------


def test_a_parcel_gets_a_barcode_and_its_first_status(parcel):
    assert parcel.barcode.startswith("MX1-")
    assert list(parcel.statuses.values_list("status", flat=True)) == ["CREATED"]


def test_a_duplicate_barcode_is_refused(participant, shipment, parcel):
    with pytest.raises(services.ShippingError) as refused:
        services.parcel_create(
            actor=person(participant),
            shipment=shipment,
            name="Dewar 2",
            storage_conditions="liquid nitrogen",
            barcode=parcel.barcode,
        )
    assert refused.value.errors == {"barcode": f"a parcel with barcode '{parcel.barcode}' exists already"}
    assert Parcel.objects.count() == 1


def test_only_participants_prepare(other_user, scientist, shipment):
    for user in (other_user, scientist):
        with pytest.raises(services.ShippingError) as refused:
            services.parcel_create(actor=person(user), shipment=shipment, name="X", storage_conditions="4 °C")
        assert refused.value.status_code == 403


def test_a_sample_with_plans_becomes_the_catalogues_sample(participant, puck, investigation):
    item = services.item_create(
        actor=person(participant),
        parcel=puck.parcel,
        parent=puck,
        type="SAMPLE",
        name="lyso-1",
        position=3,
        experiment_plan={"requiredResolution": {"value": 150, "unit": "pm"}, "numberOfImages": "3600"},
        processing_plan={"spaceGroup": "P43212", "anomalous": "true"},
    )
    assert item.sample == Sample.objects.get(investigation=investigation, name="lyso-1")
    assert item.experiment_plan == {"requiredResolution": 1.5, "numberOfImages": 3600.0}
    assert item.processing_plan == {"spaceGroup": "P43212", "anomalous": True}


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"experiment_plan": {"colour": "red"}}, {"experiment_plan.colour"}),
        (
            {"experiment_plan": {"requiredResolution": {"value": 2, "unit": "s"}}},
            {"experiment_plan.requiredResolution"},
        ),
        ({"experiment_plan": {"requiredResolution": 20}}, {"experiment_plan.requiredResolution"}),
        ({"experiment_plan": {"workflowType": "Other"}}, {"experiment_plan.workflowType"}),
        ({"processing_plan": {"anomalous": "maybe"}}, {"processing_plan.anomalous"}),
        ({"position": 17}, {"position"}),
        ({"position": 0}, {"position"}),
        ({"position": None}, {"position"}),
    ],
)
def test_bad_samples_are_refused_naming_the_field(participant, puck, fields, errors):
    call = {"actor": person(participant), "parcel": puck.parcel, "parent": puck, "type": "SAMPLE", "name": "s1"}
    call["position"] = 1
    with pytest.raises(services.ShippingError) as refused:
        services.item_create(**(call | fields))
    assert set(refused.value.errors) == errors
    assert Item.objects.count() == 1  # the puck
    assert not Sample.objects.exists()


def test_the_unit_error_says_why(participant, puck):
    with pytest.raises(services.ShippingError) as refused:
        services.item_create(
            actor=person(participant),
            parcel=puck.parcel,
            parent=puck,
            type="SAMPLE",
            name="s1",
            position=1,
            experiment_plan={"requiredResolution": {"value": 2, "unit": "s"}},
        )
    assert refused.value.errors == {"experiment_plan.requiredResolution": "unit 's' cannot be converted to 'angstrom'"}


def test_a_taken_position_is_refused(participant, puck):
    call = {"actor": person(participant), "parcel": puck.parcel, "parent": puck, "type": "SAMPLE", "position": 2}
    services.item_create(name="s1", **call)
    with pytest.raises(services.ShippingError) as refused:
        services.item_create(name="s2", **call)
    assert refused.value.errors == {"position": "2 is taken by s1"}


def test_without_plans_a_technique_takes_free_keys(participant, investigation):
    shipment = make_shipment(participant, investigation, technique=None, name="Free")
    parcel = services.parcel_create(actor=person(participant), shipment=shipment, name="Box", storage_conditions="4 °C")
    item = services.item_create(
        actor=person(participant), parcel=parcel, type="SAMPLE", name="free-1", experiment_plan={"anything": "goes"}
    )
    assert item.experiment_plan == {"anything": "goes"}
    with pytest.raises(services.ShippingError) as refused:
        services.item_create(
            actor=person(participant), parcel=parcel, type="SAMPLE", name="free-2", experiment_plan={"k": [1]}
        )
    assert set(refused.value.errors) == {"experiment_plan.k"}


def test_nothing_changes_once_sent(participant, puck):
    Parcel.objects.filter(pk=puck.parcel_id).update(status=Status.SENT)
    puck.parcel.refresh_from_db()
    with pytest.raises(services.ShippingError) as refused:
        services.item_create(actor=person(participant), parcel=puck.parcel, type="TOOL", name="wand")
    assert refused.value.status_code == 403
    with pytest.raises(services.ShippingError):
        services.item_delete(actor=person(participant), item=puck)


def test_addresses_belong_to_their_owner(participant, other_user, investigation):
    from shipping.selectors import address_list

    mine = make_address(participant, investigation=investigation)
    make_address(other_user, name="Someone else")
    assert list(address_list(person(participant))) == [mine]


# --- Sample sheets --------------------------------------------------------------------------------

SHEET = """container,container_type,position,sample,comments,experiment.requiredResolution,processing.spaceGroup
Puck 1,UNIPUCK,1,insulin-1,first,1.8,I213
Puck 1,UNIPUCK,2,insulin-2,,2.0,
Puck 2,SPINEPUCK,10,thaumatin-1,,,P41212
"""


def test_a_sample_sheet_is_imported(participant, parcel):
    sheet = services.samplesheet_import(actor=person(participant), parcel=parcel, name="Sheet", text=SHEET)
    containers = {item.name: item for item in sheet.children.all()}
    assert set(containers) == {"Puck 1", "Puck 2"}
    samples = Item.objects.filter(type="SAMPLE").order_by("name")
    assert [(s.name, s.parent.name, s.position) for s in samples] == [
        ("insulin-1", "Puck 1", 1),
        ("insulin-2", "Puck 1", 2),
        ("thaumatin-1", "Puck 2", 10),
    ]
    assert samples[0].experiment_plan == {"requiredResolution": 1.8}
    assert samples[2].processing_plan == {"spaceGroup": "P41212"}


def test_a_bad_sample_sheet_names_row_and_column_and_writes_nothing(participant, parcel):
    bad = (
        SHEET
        + "Puck 2,SPINEPUCK,11,x-1,,,\nPuck 1,UNIPUCK,1,x-2,,,\nPuck 3,UNIPUCK,2,x-3,,fine,\nPuck 1,UNIPUCK,a,x,,,\n"
    )
    with pytest.raises(services.ShippingError) as refused:
        services.samplesheet_import(actor=person(participant), parcel=parcel, name="Sheet", text=bad)
    assert refused.value.errors == {
        "row 5, column position": "11 is outside the SPINE puck (10): 1 to 10",
        "row 6, column position": "1 is taken by insulin-1",
        "row 7, column experiment.requiredResolution": "expected a number, got 'fine'",
        "row 8, column position": "expected a whole number, got 'a'",
    }
    assert Item.objects.count() == 0
    assert not Sample.objects.exists()


def test_a_sample_sheet_with_unknown_columns_is_refused(participant, parcel):
    with pytest.raises(services.ShippingError) as refused:
        services.samplesheet_import(actor=person(participant), parcel=parcel, name="S", text="box,sample\n")
    assert "unknown column 'box'" in refused.value.errors["file"]
    assert "missing column 'container'" in refused.value.errors["file"]
