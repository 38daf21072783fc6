"""What a message speaks of, in the words customers of any trade use: a complaint to take further, a call back that
never came, money back, a replacement, something sent back or already sent back, a charge, a move of home, a
disruption, a price asked, a card. Packs test a request against these; none writes its own."""

from __future__ import annotations

import re

# a complaint to take further: "I want to make a formal complaint", "let me speak to a manager"
COMPLAINS = re.compile(r"\b(?:complain\w*|complaint|formal(?:ly)?|escalat\w*|manager|supervisor)\b", re.I)
# a call back promised and missed: "nobody called me back"
CALL_BACK = re.compile(r"\b(?:call(?:s|ed)?|rang|rings?|phoned?)\s+(?:me\s+|us\s+)?back\b", re.I)
# money back in any words: "a refund", "my money back", "reimburse me"
REFUND = re.compile(r"\b(?:refund\w*|money back|reimburs\w*)\b", re.I)
# a replacement wanted: "a new one", "send me another"
REPLACEMENT = re.compile(r"\b(?:replacement|replace (?:it|them)|(?:a |another )?new one|send (?:me |us )?another)\b",
                         re.I)
# money taken: "$", "charged twice", "the call-out fee", "the invoice"
CHARGE = re.compile(r"\$|\b(?:charge[ds]?|charging|fees?|bill(?:ed|ing)?|invoice\w*|call-?outs?|payments?|paid|"
                    r"debit(?:ed)?|cost|price|amount)\b", re.I)
# a thing to go back: "return it", "send them back", "money back"
SEND_BACK = re.compile(r"\b(?:return\w*|send (?:it |them )?back|money back)\b", re.I)
# a thing the customer already sent back: "I've already returned it", "we dropped the parcel off"
SENT_BACK = re.compile(r"\b(?:I|we)(?:'ve| have)? (?:already )?(?:returned|sent|posted|shipped|mailed) (?:it|them|the "
                       r"[\w -]{1,40}?|my [\w -]{1,40}?)? ?back\b|\b(?:I|we)(?:'ve| have)? (?:already )?returned\b|"
                       r"\b(?:I|we)(?:'ve| have)? (?:already )?dropped (?:it|them|the parcel|the package) off\b", re.I)
# a move of home: "we've moved", "relocating", "our new flat"
MOVED = re.compile(r"\b(?:moved|moving|relocat\w*|new (?:home|house|flat|apartment|place))\b", re.I)
# a service disrupted: "cancelled", "delayed", "a strike", "the weather"
DISRUPTION = re.compile(r"\b(?:cancel\w*|delay\w*|late|disrupt\w*|strike|storm|weather|missed|status)\b", re.I)
# one thing in place of another: "instead of Tuesday", "rather than a refund"
IN_PLACE_OF = re.compile(r"\b(?:instead of|rather than|in place of)\b", re.I)
# a price asked: "what would it cost", "how much extra", "the price difference"
PRICE_ASKED = re.compile(r"\bwhat (?:would|will|does|did) (?:it|that|this) cost\b|\bhow much (?:would|will|does|is|"
                         r"extra)\b|\bwhat(?:'s| is| would be) the (?:price|cost|difference)\b|\bprice difference\b",
                         re.I)
# a payment card named without saying which: "my card", "the card on file"
A_CARD = re.compile(r"\b(?:card on file|my (?:credit )?card|the (?:credit )?card|credit card)\b", re.I)
# something that cannot be: "can't", "no longer", "unable"
CANNOT = re.compile(r"\b(?:can'?t|cannot|won'?t|not|no longer|doesn'?t|isn'?t|unable)\b", re.I)
