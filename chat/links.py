"""Where an answer may send a customer: the rule lives in the core (core/links.py),
because the public KB page applies it too and knowledge may not import chat."""

from core.links import host_in, link_allowed

__all__ = ["host_in", "link_allowed"]
