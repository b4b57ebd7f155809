"""Django on Puff: a cache backend on Puff's Redis pools (``puff.contrib.django.cache``).

Needs Django installed; nothing here is imported by ``puff`` itself.
"""
