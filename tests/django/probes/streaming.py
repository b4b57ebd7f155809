"""Run by test_streaming.py through `puff-cli django shell`: `QuerySet.iterator()` over
1,000,000 rows streams them through a named (server-side) cursor of Puff's psycopg2
shim. Prints the RSS growth while iterating (VmRSS from /proc/self/status, sampled every
50,000 rows), the server cursors open mid-way, and whether the rows equal those the
ordinary (unnamed-cursor) evaluation of the same QuerySet returns.
"""

import hashlib

from django.db import connection, models

ROWS = 1_000_000


class Streamed(models.Model):
    label = models.CharField(max_length=40)

    class Meta:
        app_label = "polls"


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


with connection.schema_editor() as ed:
    ed.create_model(Streamed)
try:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO polls_streamed (label) SELECT 'row ' || g FROM generate_series(1, %s) g",
            [ROWS],
        )
    qs = Streamed.objects.order_by("id").values_list("id", flat=True)
    base = peak = rss_mb()
    digest = hashlib.sha256()
    n = 0
    cursors = None
    for pk in qs.iterator(chunk_size=2000):
        digest.update(b"%d," % pk)
        n += 1
        if n % 50_000 == 0:
            peak = max(peak, rss_mb())
        if n == ROWS // 2:
            with connection.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
                cursors = cur.fetchone()[0]
    print("streamed", n)
    print(f"rss growth {peak - base:.1f} MB")
    print("server cursors", cursors)
    whole = hashlib.sha256()
    for pk in list(qs):
        whole.update(b"%d," % pk)
    print("same rows", whole.hexdigest() == digest.hexdigest())
finally:
    with connection.schema_editor() as ed:
        ed.delete_model(Streamed)
