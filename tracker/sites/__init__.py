"""Site adapters, one module per CMS family (see base.Adapter for the contract)."""

from __future__ import annotations

import importlib

from .base import Adapter, Listing

# cms name in sources.toml -> module under tracker.sites exposing ADAPTER
_MODULES = {
    "html": "html",
    "jpaas": "jpaas",
    "hanweb": "hanweb",
    "trs": "trs",
    "gkmlpt": "gkmlpt",
    "govcn": "govcn",
    "miit-search": "miitsearch",
}


def get_adapter(cms: str) -> Adapter:
    try:
        module = importlib.import_module(f".{_MODULES[cms]}", __name__)
    except KeyError:
        raise ValueError(f"unknown cms {cms!r}") from None
    return module.ADAPTER


__all__ = ["Adapter", "Listing", "get_adapter"]
