"""The one reader: a customer's message → a ``Reading`` (requests, the records they point at, argument values with
the words they came from, qualifiers, facts given), made once per message by the engine. Generic English lives here
and nowhere else; a pack brings only its vocabulary."""

from .types import Facts, Qualifiers, Reading, RecordRef, RequestReading, Value, Window, Words

__all__ = ["Facts", "Qualifiers", "Reading", "RecordRef", "RequestReading", "Value", "Window", "Words"]
