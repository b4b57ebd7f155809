"""Run by test_contrib_postgres.py through `puff-cli django shell`: django.contrib.postgres
on Puff's psycopg2 shim: the hstore extension and Django's type handlers
(register_hstore, the citext[] caster), then ArrayField, HStoreField and range fields
written, read back and queried with their lookups."""

import datetime
import decimal

from django.contrib.postgres.fields import (
    ArrayField,
    DateRangeField,
    DateTimeRangeField,
    DecimalRangeField,
    HStoreField,
    IntegerRangeField,
)
from django.contrib.postgres.operations import HStoreExtension
from django.contrib.postgres.signals import register_type_handlers
from django.db import connection, models
from django.db.backends.postgresql.psycopg_any import DateRange, NumericRange
from django.db.migrations.state import ProjectState


class Shelf(models.Model):
    tags = ArrayField(models.CharField(max_length=10), default=list)
    grid = ArrayField(ArrayField(models.IntegerField()), null=True)
    attrs = HStoreField(null=True)
    days = DateRangeField(null=True)
    span = DateTimeRangeField(null=True)
    ints = IntegerRangeField(null=True)
    money = DecimalRangeField(null=True)

    class Meta:
        app_label = "polls"


with connection.schema_editor() as ed:
    HStoreExtension().database_forwards("polls", ed, ProjectState(), ProjectState())
register_type_handlers(connection)
with connection.schema_editor() as ed:
    ed.create_model(Shelf)
try:
    s = Shelf.objects.create(
        tags=["a", "b"],
        grid=[[1, 2], [3, 4]],
        attrs={"color": "red", "size": None},
        days=DateRange(datetime.date(2024, 1, 1), datetime.date(2024, 2, 1)),
        ints=NumericRange(1, 10),
        money=NumericRange(decimal.Decimal("1.5"), decimal.Decimal("9.5")),
    )
    Shelf.objects.create(tags=["c"], attrs={"color": "blue"})
    back = Shelf.objects.get(pk=s.pk)
    for f in ("tags", "grid", "attrs", "days", "ints", "money"):
        a, b = getattr(s, f), getattr(back, f)
        print(f, "OK" if a == b else f"DIFF {a!r} != {b!r}")
    print("tags contains", Shelf.objects.filter(tags__contains=["a"]).count())
    print("tags overlap", Shelf.objects.filter(tags__overlap=["a", "c"]).count())
    print("tags len", Shelf.objects.filter(tags__len=1).count())
    print("tags index", Shelf.objects.filter(tags__0="a").count())
    print("attrs has_key", Shelf.objects.filter(attrs__has_key="size").count())
    print("attrs key", Shelf.objects.filter(attrs__color="blue").count())
    print("attrs contains", Shelf.objects.filter(attrs__contains={"color": "red"}).count())
    print("days contains", Shelf.objects.filter(days__contains=datetime.date(2024, 1, 15)).count())
    print("ints contains", Shelf.objects.filter(ints__contains=5).count())
    print("ints overlap", Shelf.objects.filter(ints__overlap=NumericRange(9, 20)).count())
finally:
    with connection.schema_editor() as ed:
        ed.delete_model(Shelf)
