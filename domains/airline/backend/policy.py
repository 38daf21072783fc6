"""The airline's policy in numbers (fees, free bags, limits, refund and compensation rules, airports) and its
clock: the moment the rules are judged at, and how money is rounded."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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
