"""Reading a request against a schema the engine has never seen: the action and the argument values it states, with
nothing invented; and the evaluation on the Schema-Guided Dialogue development split that measures it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cx_core.config import PROJECT_ROOT
from cx_core.reading.schema import from_sgd
from cx_core.reading.schema_reader import Turn, neighbours, unit_word
from cx_core.reading.shipped import schema_reader

GROOMING: dict[str, Any] = {
    "service_name": "PetGrooming_1", "description": "Book grooming sessions for pets and find groomers",
    "slots": [
        {"name": "pet_name", "description": "Name of the pet to be groomed", "is_categorical": False},
        {"name": "appointment_date", "description": "Date of the grooming appointment", "is_categorical": False},
        {"name": "appointment_time", "description": "Time of the grooming appointment", "is_categorical": False},
        {"name": "city", "description": "City where the groomer is located", "is_categorical": False},
        {"name": "service_type", "description": "Kind of grooming", "is_categorical": True,
         "possible_values": ["Bath", "Haircut", "Nail trim"]}],
    "intents": [
        {"name": "BookGrooming", "description": "Book a grooming appointment", "is_transactional": True,
         "required_slots": ["pet_name", "appointment_date", "appointment_time"],
         "optional_slots": {"service_type": "Bath"}},
        {"name": "FindGroomer", "description": "Search for a groomer in a city", "is_transactional": False,
         "required_slots": ["city"], "optional_slots": {}}]}
WRITTEN = date(2019, 3, 1)  # a Friday


@pytest.mark.parametrize("text, action, wanted", [
    ("Can you book a haircut for my dog Biscuit on March 5th at 3pm?", "BookGrooming",
     {"appointment_date": "2019-03-05", "appointment_time": "15:00"}),
    ("I'm looking for a groomer in San Diego.", "FindGroomer", {"city": "San Diego"}),
    ("Do you know any good groomers?", "FindGroomer", {}),
])
def test_a_service_never_seen_is_read_from_its_schema_alone(text: str, action: str, wanted: dict[str, str]) -> None:
    schema = from_sgd(GROOMING)
    assert schema.actions[0].required == ("pet_name", "appointment_date", "appointment_time")
    read = schema_reader().read(schema, Turn(text, WRITTEN))
    assert read.action == action
    got = {k: c.value for k, c in read.arguments.items()}
    assert wanted.items() <= got.items()
    for name, c in read.arguments.items():  # whatever else is bound stands in the message, under its own argument
        assert c.text.lower() in text.lower(), (name, c)
        assert name in wanted or (name, c.value) in {("service_type", "Haircut"), ("pet_name", "Biscuit")}, (name, c)


def test_the_words_beside_a_value_are_read_to_the_messages_edges() -> None:
    text = "Send one hundred dollars to Philip."
    assert neighbours(text, text.index("Philip"), text.index("Philip") + 6) == ("to", "$")
    assert neighbours(text, 0, 4) == ("^", "one")


def test_what_a_number_counts_is_the_word_after_it() -> None:
    """ "for 4 people" counts people, "a 3-star hotel" stars; a function word after a value counts nothing."""
    text = "Book a table for 4 people, then a 3-star hotel."
    assert unit_word(text, text.index("4") + 1) == "people"
    assert unit_word(text, text.index("3") + 1) == "star"
    assert unit_word(text, text.index("table") + 5) == ""  # "for": no content word


def test_eval_reading_on_the_sgd_development_split_reports_seen_and_unseen_services(shared_data: Path) -> None:
    """The command outside checks call: one JSON object last, with the figures for all, seen and unseen services."""
    sgd = shared_data / "sgd"
    if not sgd.exists():
        pytest.skip("../shared/data/sgd is not available")
    done = subprocess.run([sys.executable, "-m", "cx_core", "eval", "reading", "--sgd", str(sgd), "--split", "dev",
                           "--services", "Flights_3,Buses_1", "--limit", "150", "--json"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("n_turns", "intent_accuracy", "slot_precision", "slot_recall", "wrong_bound", "n_bound", "seen",
                "unseen", "by_service"):
        assert key in out, key
    assert out["n_turns"] == 150 and set(out["by_service"]) <= {"Flights_3", "Buses_1"}
    assert out["unseen_services"] == ["Flights_3"]
    assert out["slot_precision"] >= 0.9 and out["slot_recall"] >= 0.5 and out["intent_accuracy"] >= 0.9, out
    bad = subprocess.run([sys.executable, "-m", "cx_core", "eval", "reading", "--sgd", str(sgd), "--services",
                          "Nowhere_9"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "--services: Nowhere_9 not in the dev split" in bad.stderr


FERRIES: dict[str, Any] = {
    "service_name": "Ferries_1", "description": "Find and book ferry crossings",
    "slots": [
        {"name": "origin_port", "description": "Port the ferry leaves from", "is_categorical": False},
        {"name": "destination_port", "description": "Port the ferry arrives at", "is_categorical": False},
        {"name": "departure_date", "description": "Date of the outbound crossing", "is_categorical": False},
        {"name": "return_date", "description": "Date of the crossing back", "is_categorical": False}],
    "intents": [
        {"name": "SearchOnewayCrossing", "description": "Search for a one-way ferry crossing",
         "is_transactional": False, "required_slots": ["origin_port", "destination_port", "departure_date"],
         "optional_slots": {}},
        {"name": "SearchReturnCrossing", "description": "Search for a ferry crossing there and back",
         "is_transactional": False,
         "required_slots": ["origin_port", "destination_port", "departure_date", "return_date"],
         "optional_slots": {}}]}


def test_of_two_close_readings_the_one_that_assumes_less_of_what_was_not_said() -> None:
    """Between a one-way and a return search read as close, a message that gives no day back is a one-way search:
    the return search needs a day no one gave. With the day back said, or the return search far ahead, it stands."""
    import numpy as np

    from cx_core.reading.schema_reader import Candidate, SchemaReader

    schema = from_sgd(FERRIES)
    back = {"return_date": Candidate("date", "2019-03-09", 0, 7, "9 March")}
    assert SchemaReader._assuming_less(schema, np.array([0.4, 0.6]), 1, {}) == 0
    assert SchemaReader._assuming_less(schema, np.array([0.4, 0.6]), 1, back) == 1
    assert SchemaReader._assuming_less(schema, np.array([0.1, 0.9]), 1, {}) == 1  # not close
    assert SchemaReader._assuming_less(schema, np.array([0.6, 0.4]), 0, {}) == 0  # the best assumes less already
    read = schema_reader().read(schema, Turn("Find a crossing there and back from Dover, out on March 4th and back on "
                                             "March 9th.", WRITTEN))
    assert read.action == "SearchReturnCrossing" and read.arguments["return_date"].value == "2019-03-09"


def test_an_argument_worded_almost_as_a_training_argument_takes_its_kind() -> None:
    """Worded (nearly) as a training argument that is a number, an amount is a number, whatever its less similar
    neighbours are: the sum is bound, never the recipient's name."""
    import numpy as np

    from cx_core.reading.schema import Argument
    from cx_core.reading.schema_reader import Model, arg_kind

    # one training argument worded almost the same and a number; four a little further and words
    vectors = np.array([[1.0, 0.0], *[[0.8, 0.6]] * 4], dtype=np.float32)
    model = Model(np.zeros(2), 0.0, np.zeros(5), 0.0, None, vectors, ["number", *["text"] * 4], {})
    assert arg_kind(Argument("sent", "what goes"), np.array([0.95, 0.312], dtype=np.float32), model) == "number"
    assert arg_kind(Argument("sent", "what goes"), np.array([0.85, 0.527], dtype=np.float32), model) == "text"
    reader = schema_reader()
    amount = Argument("transfer_amount", "The amount of money to transfer")
    assert arg_kind(amount, reader._vec([amount.words])[0], reader.model) == "number"


def test_a_question_whether_the_thing_spoken_of_is_so_states_no_value() -> None:
    """"Do they do haircuts?" asks about the groomer found, it does not ask for a haircut; "Can you book a haircut"
    does."""
    from cx_core.reading.language import asked_about

    text = "That one looks fine. Do they do a haircut? And is it in San Diego?"
    assert [w.text for w in asked_about(text)] == ["Do they do a haircut?", "And is it in San Diego?"]
    assert asked_about("Can you book a haircut for Biscuit?") == []
    assert asked_about("Is there a groomer in San Diego?") == []  # asks for one to be found
    read = schema_reader().read(from_sgd(GROOMING), Turn(text, WRITTEN))
    assert "service_type" not in read.arguments and "city" not in read.arguments


def test_an_action_with_examples_is_read_by_the_messages_nearest_them(shared_data: Path) -> None:
    """Where every action carries messages it was asked with, the message nearest them decides between two
    actions worded alike; a service seen in training gets its training turns as examples, a new one none."""
    from dataclasses import replace

    from cx_core.reading.sgd import schemas, seen_services, with_examples

    assert schema_reader().model.example_coef is not None
    alike = {"service_name": "Desk_1", "description": "A desk",
             "slots": [], "intents": [
                 {"name": "FirstThing", "description": "Handle a request", "is_transactional": False,
                  "required_slots": [], "optional_slots": {}},
                 {"name": "SecondThing", "description": "Handle a request", "is_transactional": False,
                  "required_slots": [], "optional_slots": {}}]}
    plain = from_sgd(alike)
    examples = {"FirstThing": ("What is the balance of my savings account?", "How much money is in my account?",
                               "Tell me my current balance please"),
                "SecondThing": ("Is it going to rain tomorrow in Paris?", "What's the weather forecast for Sunday?",
                                "Will it be sunny this weekend?")}
    taught = replace(plain, actions=tuple(replace(a, examples=examples[a.name]) for a in plain.actions))
    for text, wanted in (("Can you check how much I have in checking?", "FirstThing"),
                         ("Do I need an umbrella in London on Friday?", "SecondThing")):
        assert schema_reader().read(taught, Turn(text, WRITTEN)).action == wanted, text
    sgd = shared_data / "sgd"
    if not sgd.exists():
        pytest.skip("../shared/data/sgd is not available")
    dev = {k: v for k, v in schemas(sgd, "dev").items() if k in ("Buses_1", "Flights_3")}
    given = with_examples(sgd, dev, seen_services(sgd))
    assert all(a.examples for a in given["Buses_1"].actions)
    assert not any(a.examples for a in given["Flights_3"].actions)


def test_eval_reading_reads_a_test_split_held_in_a_folder_of_its_own(shared_data: Path, tmp_path: Path) -> None:
    """The held-out test split may come in a folder of its own: `--split test` reads it, and the services of the
    training split (found in ../shared/data/sgd) are still told apart as seen."""
    import gzip
    import shutil

    sgd = shared_data / "sgd"
    if not sgd.exists():
        pytest.skip("../shared/data/sgd is not available")
    shutil.copy(sgd / "schema_dev.json", tmp_path / "schema_test.json")
    with gzip.open(sgd / "dev.jsonl.gz", "rt", encoding="utf-8") as f:
        kept = [json.loads(line) for line in f]
    kept = [r for r in kept if r["service"] == "Flights_3"][:20] + [r for r in kept if r["service"] == "Homes_1"][:20]
    with gzip.open(tmp_path / "test.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in kept)
    done = subprocess.run([sys.executable, "-m", "cx_core", "eval", "reading", "--sgd", str(tmp_path), "--split",
                           "test", "--json"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["n_turns"] == 40 and set(out["by_service"]) == {"Flights_3", "Homes_1"}
    assert out["unseen_services"] == ["Flights_3"]  # Homes_1 is in schema_train.json, beside the dev split
    assert "Traceback" not in done.stderr
