"""Run by test_field_types.py through `puff-cli django shell`: every common model field
type written and read back through Puff's psycopg2 shim, plus the ORM features on top
(JSON lookups, iterator(), bulk_create, select_for_update, savepoints, raw()).
"""

import datetime
import decimal
import uuid
from django.db import connection, models, transaction


class Kitchen(models.Model):
    j = models.JSONField(null=True)
    u = models.UUIDField(default=uuid.uuid4)
    d = models.DecimalField(
        max_digits=10, decimal_places=3, default=decimal.Decimal("1.5")
    )
    dur = models.DurationField(default=datetime.timedelta(days=1, seconds=5))
    b = models.BinaryField(default=b"\x00\x01")
    ip = models.GenericIPAddressField(default="10.0.0.1")
    t = models.TimeField(default=datetime.time(1, 2, 3))
    dt = models.DateField(default=datetime.date(2020, 1, 2))
    f = models.FloatField(default=1.25)
    s = models.CharField(max_length=20, default="x")

    class Meta:
        app_label = "polls"


with connection.schema_editor() as ed:
    ed.create_model(Kitchen)
try:
    k = Kitchen.objects.create(j={"a": [1, 2], "b": None})
    k2 = Kitchen.objects.get(pk=k.pk)
    for f in ("j", "u", "d", "dur", "b", "ip", "t", "dt", "f", "s"):
        a, b = getattr(k, f), getattr(k2, f)
        if isinstance(b, memoryview):
            b = bytes(b)
        print(f, "OK" if a == b else f"DIFF {a!r} != {b!r}")
    print(
        "json lookup",
        Kitchen.objects.filter(j__a__0=1).count(),
        Kitchen.objects.filter(j__b__isnull=True).count(),
    )
    print("ip filter", Kitchen.objects.filter(ip="10.0.0.1").count())
    print("iterator", len(list(Kitchen.objects.all().iterator())))
    Kitchen.objects.bulk_create([Kitchen(s=f"b{i}") for i in range(5)])
    print("bulk", Kitchen.objects.count())
    with transaction.atomic():
        list(Kitchen.objects.select_for_update().filter(s="x"))
        with transaction.atomic():
            Kitchen.objects.create(s="inner")
            print("savepoint ok")
    print("update", Kitchen.objects.filter(s__startswith="b").update(f=2.5))
    print("contains", Kitchen.objects.filter(s__icontains="B").count())
    print(
        "raw",
        list(Kitchen.objects.raw("SELECT id FROM polls_kitchen WHERE s = %s", ["x"]))[
            :1
        ],
    )
    print("values", list(Kitchen.objects.values_list("dur", flat=True))[:1])
finally:
    with connection.schema_editor() as ed:
        ed.delete_model(Kitchen)
