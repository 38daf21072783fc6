"""Reads what a customer wants done with their orders — return, exchange, change items, cancel, change an
address — request by request and item by item, grounded in their own records: which of their items each phrase
names (or "it", "the other one", "in the same order" stand for), which option of the same product the words
describe (values, comparisons with the current one, another item of theirs as the model), which payment method
and reason they gave, and what they want instead if a request cannot be done ("if that is not possible, …",
applied only when the records or the shop's rules say so). Whatever it cannot settle with certainty (a
condition on the conversation, a change of mind, an item it cannot tell apart, an option two variants share)
holds the requests on the orders it speaks of — all of them when it names none — and a person decides those:
precision before coverage. The requests it did settle are still read (``Reading.steps`` beside
``Reading.unsure``).

The catalogue's words (other names customers use for products, words that name none on their own, synonyms of
option values, size words) are data, read once from the pack's ``catalogue.yaml``; the words of the language
(numbers, "everything", "except", verbs) are in code.

The reading in parts, each using only those before it:

- ``base``: a reading's result, its two doubts (``Unsure``, ``Impossible``) and an item of an order;
- ``catalogue_words``: the catalogue file, read and checked;
- ``sentences``: the customer's words: sentences, the verbs of each, conditions and fallbacks;
- ``items``: which of the customer's items the words name;
- ``variants``: which option of the same product the words describe;
- ``details``: the payment method, the reason for a cancellation and the address a request gives;
- ``state``: what the reading keeps as it goes;
- ``verbs``: each verb of a request applied (address, cancellation, return, exchange or item change);
- ``steps``: each request settled, with its fallback, and the steps written;
- ``reader``: the whole message read sentence by sentence (``interpret``).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from . import catalogue_words
from .base import Impossible, Reading, Unsure
from .catalogue_words import CATALOGUE_FILE, Catalogue, catalogue, load_catalogue
from .reader import ORDER_INTENTS, interpret

__all__ = ["CATALOGUE_FILE", "ORDER_INTENTS", "Catalogue", "Impossible", "Reading", "Unsure", "catalogue",
           "interpret", "load_catalogue"]


class _Package(types.ModuleType):
    """This package as its callers see it: ``CATALOGUE_FILE`` set here (a test points it at a copy of the file) is
    set where the catalogue is read, in ``catalogue_words``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "CATALOGUE_FILE":
            setattr(catalogue_words, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
