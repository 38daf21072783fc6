"""What a planner hands the engine: the steps (typed actions with arguments) that would resolve a ticket's
requests, what must be asked first, and where the ticket goes when no one here may handle it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# why a step that could run waits: the customer only asks about it ("How do I return it?"); the reply offers it
ASKS_ONLY = "the customer asks about it without wanting it done yet"
# what a reply says instead of reading out records to a sender not verified as their holder
ONLY_THE_HOLDER = ("for your security, I can look into an account or change anything on it only with its holder: please "
                   "write to us from the email address on your account, and we'll deal with your request straight away")
# what a reply asks when the sender's address is on no account but the message names one (identified, not verified)
ANOTHER_ADDRESS = ("the details you gave belong to an account registered with another email address; for your "
                   "security we can only act on it from that address, so please write to us from it, and we'll deal with "
                   "your request straight away")
# said instead of anything about the records: nothing from the knowledge base is quoted beside it
HOLDER_ONLY = (ONLY_THE_HOLDER, ANOTHER_ADDRESS)
# why a write waits when the message's sender is not verified as the customer: the reply promises nothing of it
NOT_VERIFIED = "the sender is not verified as the customer"
# ends the rationale of a step the records raised, not the message (a payment taken twice, noticed)
AS_ASKED = "cannot be done as asked: "  # the reason of a step held for good (Step.final)
NOTICED = " (found on the records)"
# why the customer's second choice waits (``Step.instead_of``): it goes ahead only once the first is refused
SECOND_CHOICE = "the customer wants it only if the first choice cannot be done"


@dataclass
class Step:
    action: str
    args: dict[str, Any]
    intent: str
    rationale: str
    missing: str = ""  # what is needed before this step can run, as a noun phrase ("the full new address")
    held: str = ""  # why a person decides before it runs, as a clause ("the customer may change their mind")
    refused: str = ""  # the rule that refuses it as asked, as a clause (the reply says it): recorded, never run
    final: bool = False  # held because nothing the customer could add makes it run (a rule, a day gone by)
    alternatives: list[dict[str, Any]] = field(default_factory=list)  # other arguments if this one fails
    fallback: Step | None = None  # another route when the backend does not answer
    depends_on: str = ""  # an earlier step's action; skipped when that step took its fallback route
    # the action of the customer's first choice, when this step is their second ("if you won't take it back, cancel
    # the other order instead"): it waits while the first may run, and goes ahead when the rules refuse the first
    instead_of: str = ""
    defaults: dict[str, str] = field(default_factory=dict)  # fills {placeholders} until the earlier step ran

    def rendered(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Arguments with {placeholders} filled from the earlier step's result (or the planned values); one that
        nothing fills stays as it is (``unfilled`` says so)."""
        if not self.depends_on:
            return self.args
        fill = _Keep({**self.defaults, **{k: str(v) for k, v in (values or {}).items()}})
        return {k: v.format_map(fill) if isinstance(v, str) else v for k, v in self.args.items()}

    def unfilled(self, args: dict[str, Any]) -> bool:
        """Whether ``args`` still wait for the earlier step's result (it did not run: there is nothing to act
        with)."""
        return bool(self.depends_on) and any(isinstance(v, str) and re.search(r"\{[A-Za-z_]\w*\}", v)
                                             for v in args.values())


    def waiting_reason(self) -> str:
        """Why this step waits for a person, as an advisor reads it: the fact that is missing, and why a person
        decides."""
        if self.final:  # nothing the customer adds makes it run: a person changes it or drops it
            return f"{AS_ASKED}{self.held or self.missing}"
        if self.missing and self.held:
            return f"needs {self.missing}: {self.held}"
        if self.missing:
            return f"needs {self.missing}"
        return f"a person decides, because {self.held}" if self.held else ""


class _Keep(dict[str, str]):
    """Placeholders nothing fills are kept as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    questions: dict[str, str] = field(default_factory=dict)  # intent -> what we must ask the customer
    # intent -> the answer the records give ("your free checked bags are…"): said in place of a knowledge quote,
    # and, unlike a question, no reason to wait for the customer
    answers: dict[str, str] = field(default_factory=dict)
    escalate_queue: str = ""
    escalate_because: str = ""  # why the whole ticket goes to a person (a formal complaint), in the advisor's words
    handed_over: str = ""  # what the customer is told of it, instead of the engine's "a colleague will review this"
    no_action: list[str] = field(default_factory=list)  # requests this domain knows no action for
    # what the customer should hear first, whatever they asked (a flight of theirs that the company cancelled)
    notices: list[str] = field(default_factory=list)
    # what the customer should also know, said after the answers (a disruption on a booking they did not write about)
    asides: list[str] = field(default_factory=list)
    covered: list[str] = field(default_factory=list)  # requests another's step settles: nothing quoted for them

    def asked_once(self) -> None:
        """Two requests read as the same write on the same record ("my mesh pack arrived cracked … I'd like a
        replacement"): the step settled stands for both, and the other's missing value is not asked for."""
        done = [s for s in self.steps if not s.missing and not s.refused]
        gone = [s for s in self.steps if s.missing and not s.refused and s.args and any(
            d.action == s.action and all(d.args.get(k) == v for k, v in s.args.items()) for d in done)]
        if not gone:
            return
        self.steps = [s for s in self.steps if s not in gone]
        for intent in {s.intent for s in gone} - {s.intent for s in self.steps if s.missing}:
            self.questions.pop(intent, None)
            if intent not in {s.intent for s in self.steps}:
                self.covered.append(intent)
