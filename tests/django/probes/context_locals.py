# Run by test_context_locals.py through `puff-cli django shell -c`: Django's context-local
# state under Puff (puff.contrib.django.runtime.ContextLocal) keeps asgiref Local's
# semantics. Prints one line per check; the test looks for each.
import concurrent.futures
import contextvars

import django.urls.base as urls_base
from django.core.cache import caches
from django.db import connections
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.translation import trans_real

from puff.contrib.django.runtime import ContextLocal

owners = {
    "connections": connections._connections,
    "caches": caches._connections,
    "urlconfs": urls_base._urlconfs,
    "prefixes": urls_base._prefixes,
    "timezone": timezone._active,
    "translation": trans_real._active,
}
for name, local in owners.items():
    print(name, type(local).__name__)

# What django.setup() set before the swap is still there.
print("script prefix", get_script_prefix())

# Each context has its own connection object; the same context keeps its own.
outer = connections["default"]
inner = contextvars.Context().run(lambda: connections["default"])
print("own connection", outer is not inner, outer is connections["default"])

# A copy of the context run on another thread (asgiref's async_to_sync does that) has
# its own connection there, as with Django's threading.local; back here, the same one.
with concurrent.futures.ThreadPoolExecutor(1) as pool:
    there = pool.submit(contextvars.copy_context().run, lambda: connections["default"]).result()
print("other thread", there is not outer, outer is connections["default"])

# A copied context starts with what was set, and what it changes stays its own.
local = ContextLocal("probe")
local.value = 1


def in_copy() -> tuple[int, int]:
    seen = local.value
    local.value = 2
    return seen, local.value


print("copy sees", *contextvars.copy_context().run(in_copy), "outer keeps", local.value)
print("empty context", contextvars.Context().run(hasattr, local, "value"))
del local.value
print("deleted", hasattr(local, "value"))
try:
    del local.value
except AttributeError as e:
    print("delete missing", type(e).__name__, e)

# Translation and time zone activations do not leak out of the context that made them.
def activate() -> tuple[str, str]:
    translation.activate("de")
    timezone.activate("Asia/Tokyo")
    return translation.get_language(), timezone.get_current_timezone_name()


print("inner", *contextvars.copy_context().run(activate))
print("outer", translation.get_language(), timezone.get_current_timezone_name())
