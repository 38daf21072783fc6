"""The airline's policy in numbers (fees, free bags, limits, refund and compensation rules, airports) and its
clock: the moment the rules are judged at, and how money is rounded."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

EST = timezone(timedelta(hours=-5), "EST")
TAU_NOW = datetime(2024, 5, 15, 15, 0, 0)  # τ-bench airline's current time (policy.md), airline clock

CABIN_WORDS = {"basic_economy": "basic economy", "economy": "economy", "business": "business"}
BAG_FEE = 50  # dollars per checked bag beyond the free allowance
INSURANCE_FEE = 30  # dollars per passenger
MAX_PASSENGERS = 5
CANCEL_WINDOW = timedelta(hours=24)
# Free checked bags per passenger, by the booking member's level and the cabin (policy.md, "Checked bag allowance").
FREE_BAGS: dict[str, dict[str, int]] = {
    "regular": {"basic_economy": 0, "economy": 1, "business": 2},
    "silver": {"basic_economy": 1, "economy": 2, "business": 3},
    "gold": {"basic_economy": 2, "economy": 3, "business": 4},
}
# At most this many of each kind of payment method on one booking.
BOOKING_PAYMENT_LIMITS = {"certificate": 1, "credit_card": 1, "gift_card": 3}
CANCEL_REASONS = ("change_of_plan", "airline_cancelled", "health", "weather", "other")
INSURED_REASONS = ("health", "weather")  # what travel insurance covers
# Certificate per passenger offered as a gesture, by what the member complains about.
COMPENSATION_PER_PASSENGER = {"cancelled_flight": 100, "delayed_flight": 50}
FLOWN_STATUSES = ("landed", "flying")

AIRPORT_CITIES = {
    "SFO": "San Francisco", "JFK": "New York", "LAX": "Los Angeles", "ORD": "Chicago", "DFW": "Dallas",
    "DEN": "Denver", "SEA": "Seattle", "ATL": "Atlanta", "MIA": "Miami", "BOS": "Boston", "PHX": "Phoenix",
    "IAH": "Houston", "LAS": "Las Vegas", "MCO": "Orlando", "EWR": "Newark", "CLT": "Charlotte",
    "MSP": "Minneapolis", "DTW": "Detroit", "PHL": "Philadelphia", "LGA": "LaGuardia",
}


# Each airport's time zone: the systems keep every time in Eastern time, the traveller reads the airport's clock.
AIRPORT_ZONES = {
    "SFO": "America/Los_Angeles", "LAX": "America/Los_Angeles", "SEA": "America/Los_Angeles",
    "LAS": "America/Los_Angeles", "PHX": "America/Phoenix", "DEN": "America/Denver", "ORD": "America/Chicago",
    "DFW": "America/Chicago", "IAH": "America/Chicago", "MSP": "America/Chicago", "JFK": "America/New_York",
    "LGA": "America/New_York", "EWR": "America/New_York", "BOS": "America/New_York", "PHL": "America/New_York",
    "ATL": "America/New_York", "MIA": "America/New_York", "MCO": "America/New_York", "CLT": "America/New_York",
    "DTW": "America/Detroit",
}


def at_airport(airport: str, when: str) -> tuple[str, date | None]:
    """A time of the schedule ("2024-05-16T09:05", New York's clock) as the airport's own clock reads it: ("06:05
    local time", the local day when it is not the Eastern one); an airport of no known zone keeps Eastern time."""
    try:
        eastern = datetime.fromisoformat(str(when).replace(" ", "T")[:16]).replace(tzinfo=ZoneInfo("America/New_York"))
    except ValueError:
        return str(when)[11:16], None
    zone = AIRPORT_ZONES.get(str(airport).upper())
    if zone is None:
        return f"{eastern:%H:%M} Eastern time", None
    local = eastern.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M} local time", local.date() if local.date() != eastern.date() else None


def airline_now(now: datetime) -> datetime:
    """``now`` on the airline's clock (naive EST): an aware datetime is converted, a naive one is taken as is."""
    if now.tzinfo is not None:
        return now.astimezone(EST).replace(tzinfo=None)
    return now


def free_bag_allowance(membership: str, cabin: str, passengers: int) -> int:
    """Free checked bags for a reservation: per passenger, by the booking member's level and the cabin."""
    return FREE_BAGS[membership][cabin] * passengers


def money(value: float) -> int | float:
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded
