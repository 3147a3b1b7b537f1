"""An instance, composed: its directory and keys (``init``, ``material``), its storage
(``storage``: the driver registry), the keys its rotations retired (``retired``,
``rotate``), the trust files it publishes (``trust_files``) and the ASGI app that serves it
(``app``). The composition root: services and the log engine know nothing of it.

Nothing is imported here, so ``import sceau.instance.x`` loads only ``x`` and what it needs.
"""
