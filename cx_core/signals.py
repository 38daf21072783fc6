"""What a customer's words signal beyond their request: legal or safety words, vulnerability, urgency, writing
again about the same thing, waiting, a problem reported, anger, complaints and threats to leave. Triage reads
urgency, tone and escalation from them; the reply apologises for what they say went wrong."""

from __future__ import annotations

import re
from typing import Any

LEGAL = re.compile(r"\b(lawyer|attorney|solicitor|court|sue|suing|legal action|small claims|regulator|ombudsman|"
                   r"trading standards|charge-?backs?|charge backs?|better business bureau|bbb|the press|journalist)\b",
                   re.I)
# what reads as a legal word but names a street or a person ("12 Cedar Court", "Sue Miller"): not a legal signal
NOT_LEGAL = re.compile(r"(?-i:\b[A-Z][a-z]+ (?:Court|Ct)\b|\bSue\b(?! (?:you|them|him|her|the|your|us)\b))")
# a threat to take the money back or the matter elsewhere: treated like legal words (a person answers it)
THREAT = re.compile(r"\b(?:dispute (?:it|this|that|the (?:charge|payment|transaction|amount)) (?:with|through) "
                    r"(?:my|the) (?:bank|card|credit card)|(?:call|contact|ask|go to|tell) my bank to (?:reverse|stop|"
                    r"block|dispute)|reverse the (?:payment|charge|transaction)|report (?:you|this|it|your company|"
                    r"the company)(?: \w+)? to|(?:leave|write|post) (?:a |an )?(?:bad|negative|terrible|1-star|"
                    r"one-star) review|consumer protection)\b", re.I)
SAFETY = re.compile(r"\b(fire|smoke|smoking|sparks?|sparking|burning|burnt|electric shock|shocked|electrocut\w*|"
                    r"gas leak|(?:smell|smells|smelling|smelt|smelled)\s+(?:of\s+)?gas|gas\s+smell|carbon monoxide|co alarm|"
                    r"injur\w*|hurt|flood\w*|overheat\w*|exploded?|melt\w*|scorch\w*|(?:swollen|swelling|bulging)(?=[^.!?]{0,60}"
                    r"\bbatter)|batter(?:y|ies)\s+(?:is\s+|are\s+|has\s+|have\s+)?(?:swollen|swelling|swelled|bulging|"
                    r"puffed(?:\s+up)?)|(?:too|very|really)\s+hot\s+to\s+(?:hold|touch)|hot\s+to\s+the\s+touch|"
                    r"(?:plastic|burning|electrical|melting)\s+smell|smell\w*\s+(?:of\s+)?(?:burning|melting|plastic)|"
                    r"(?:is|was|were|are|kept|started) bleeding|blood|"
                    r"cut (?:my|his|her|their|our) (?:finger|hand|foot|arm|leg|head)|"
                    # water where the power is: "the water has crept across the floor to the wall where it's plugged in"
                    r"(?:water|leak(?:s|ing|ed)?|puddle|wet)\b[^.!?]{0,80}?\b(?:plugged\s+in|plug|socket|outlet|wiring|"
                    r"electrics|power\s+point|fuse\s*box)|(?:socket|outlet|plug|wiring|electrics)\b[^.!?]{0,40}?\b(?:wet|"
                    r"water|leak\w*))\b", re.I)
# a hazard's word in a figure of speech: "to add insult to injury", "a flood of emails", "fire away"
FIGURATIVE = re.compile(r"\b(?:insult to injury|fire away|under fire|hurt (?:my|our|his|her) feelings|(?:it|that|this) "
                        r"hurts? (?:my|our) (?:business|feelings|pride|rating)|smoke and mirrors|burning question|"
                        r"melting pot|(?:a|the) flood of|flooded with (?:e-?mails?|calls|messages|requests|orders)|"
                        r"no smoke without fire|blood pressure|burnt? out|burning (?:through|a hole)|"
                        r"(?:fired|firing) (?:off|back)|like wildfire|bad blood)\b", re.I)


def safety(text: str) -> str:
    """The first safety word of ``text`` ("sparks"), or ''; a capitalised one inside a sentence is a name ("Alicia
    Sparks", "Mr Fire"), and one in a figure of speech ("to add insult to injury") no hazard."""
    figures = [f.span() for f in FIGURATIVE.finditer(text)]
    for m in SAFETY.finditer(text):
        word, before = m.group(0), text[:m.start()].rstrip(" \t")
        if any(s <= m.start() < e for s, e in figures):
            continue
        if not (word[0].isupper() and not word.isupper() and before and before[-1] not in ".!?\n:;\"'(-*"):
            return word
    return ""


VULNERABLE = re.compile(r"\b(disabled|disability|elderly|bereave\w*|passed away|hospital|carer|terminal|"
                        r"wheelchair|pregnan\w*)\b", re.I)
# what a priority-services register already holds of a customer (a carer, a disability, age, a wheelchair, a
# pregnancy), as against a crisis now (a death, a stay in hospital, a terminal illness)
STANDING_NEEDS = re.compile(r"\b(disabled|disability|elderly|carer|wheelchair|pregnan\w*)\b", re.I)
# a hospital named for an appointment or a scan, or a stay that is over, tells of no vulnerability now ("any day but
# Thursday, when I have hospital appointments", "I was in hospital when they were due"); being in it does
NOT_VULNERABLE = re.compile(r"\b(?:was|were|had\s+been|'d\s+been)\s+in\s+(?:the\s+)?hospital\b|\bhospital\s+(?:appointments?|"
                            r"scans?|visits?|check-?ups?|clinics?)\b|\b(?:scan|appointment|check-?up)\s+at\s+the\s+hospital\b",
                            re.I)


def vulnerable(text: str) -> bool:
    """Whether the words tell of a customer (or someone of theirs) in a vulnerable situation now."""
    return bool(VULNERABLE.search(NOT_VULNERABLE.sub(" ", text)))


def vulnerable_crisis(text: str) -> bool:
    """Whether the vulnerability told of is more than the standing needs a register holds."""
    return bool(VULNERABLE.search(STANDING_NEEDS.sub(" ", NOT_VULNERABLE.sub(" ", text))))


# the way into the account is lost to someone else: a stolen or lost phone, a hacked e-mail, while the writer cannot
# get in; a change to sign-in or contact details asked in that state is how accounts are taken over, so a person
# checks who is writing first ("my phone was stolen and now I can't get into my account, send the codes to my new
# number")
DEVICE_GONE = re.compile(r"\b(?:phone|mobile|cell|sim(?:\s+card)?|laptop|e-?mail(?:\s+account)?)\b[^.!?]{0,30}?\b(?:was|were|"
                         r"got|been|has\s+been|is)\s+(?:\w+\s+)?(?:stolen|lost|hacked|compromised|nicked|taken)\b|"
                         r"\b(?:stolen|lost|hacked|compromised)\s+(?:my\s+)?(?:phone|mobile|cell|sim)\b|"
                         r"\b(?:i'?ve|i\s+have|my\s+account\s+(?:was|has\s+been))\s+(?:been\s+)?hacked\b|"
                         r"\bsomeone\s+(?:else\s+)?(?:has\s+)?(?:got\s+into|accessed|logged\s+into|changed)\s+my\s+"
                         r"(?:account|password|e-?mail|login)\b", re.I)
ACCESS_LOST = re.compile(r"\b(?:can'?t|cannot|can\s+not|unable\s+to|couldn'?t|could\s+not)\s+(?:get\s+(?:in|into|"
                         r"back\s+into)|sign\s+in|log\s*(?:in|on|into)|access)\b|\blocked\s+out\b|\b(?:verification|"
                         r"security|one[-\s]time|login|sign[-\s]in|2fa|two[-\s](?:step|factor))\s+codes?\b", re.I)


def account_at_risk(text: str) -> bool:
    """Someone else may have the way into the customer's account while they ask about getting in."""
    return bool(DEVICE_GONE.search(text) and ACCESS_LOST.search(text))


DANGER_FIRST = "the message speaks of a danger ({word}): a person answers it first"
AT_RISK = "the way into the account may be in someone else's hands: a person checks who is writing first"


def held_first(found: dict[str, Any], text: str) -> str:
    """Why every write of the ticket waits for what a person answers first, or "": a danger the message speaks of
    (``found``: the ticket's signals), or an account whose way in someone else may hold."""
    if found.get("safety") and (word := safety(text)):
        return DANGER_FIRST.format(word=word)
    return AT_RISK if found.get("account_at_risk") else ""


URGENT = re.compile(r"\b(urgent\w*|asap|immediately|right now|today|emergency)\b", re.I)
# writing about the same thing before: "third time", "I already asked twice", "writing again", "no reply to my email"
_CONTACT = (r"(?:writ\w*|wrote|ask\w*|call\w*|contact\w*|e-?mail\w*|messag\w*|chas\w*|rang|ring\w*|phon\w*|"
            r"complain\w*|told you|tell you|report\w*|reach\w* out|follow\w* up|been in touch)")
_NTH = {"second": 2, "2nd": 2, "third": 3, "3rd": 3, "thrid": 3, "tird": 3, "fourth": 4, "4th": 4, "fifth": 5, "5th": 5,
        "sixth": 6, "6th": 6, "tenth": 10, "umpteenth": 5, "nth": 5}
_TIMES = {"twice": 2, "two": 2, "2": 2, "three": 3, "3": 3, "four": 4, "4": 4, "five": 5, "5": 5, "several": 3,
          "multiple": 3, "many": 3, "countless": 5, "numerous": 3, "so many": 3}
NTH_CONTACT = re.compile(rf"\b({'|'.join(_NTH)}) (?:time|e-?mail|message|request|call|attempt|contact|ticket|letter|"
                         rf"chat|follow-up|reminder)s?\b", re.I)
TIMES_CONTACT = re.compile(rf"\b{_CONTACT} (?:\w+ ){{0,3}}?(twice|(?:two|three|four|five|several|multiple|many|"
                           r"countless|numerous|so many|\d) times)\b|\b(twice|(?:two|three|several|multiple|many|\d) "
                           rf"times) (?:already|now|before|now already)\b", re.I)
AGAIN_CONTACT = re.compile(rf"\b(?:{_CONTACT} (?:\w+ ){{0,3}}?again|yet again|once again|again and again|"
                           rf"already {_CONTACT}|keep {_CONTACT}|{_CONTACT}\b[^.!?\n]{{0,40}}\band again|still (?:no|not|haven'?t|hasn'?t|waiting for) "
                           r"(?:a |any )?(?:reply|response|answer|word|call ?back)|(?:no|never (?:got|had|received) "
                           r"(?:a|any)) (?:reply|response|answer|call ?back) (?:to|from|on)|heard nothing|"
                           r"(?:nobody|no one|no-one) (?:has )?(?:got back|gotten back|replied|responded|answered|"
                           r"called (?:me )?back|calls? (?:me )?back|came back to me)|my (?:last|previous|earlier) "
                           r"(?:e-?mail|message|ticket|call|request)s?)\b", re.I)
AND_AGAIN = re.compile(rf"\b{_CONTACT}\b[^.!?\n]{{0,40}}\band again\b", re.I)  # two contacts before this one
REPEAT = re.compile(rf"{NTH_CONTACT.pattern}|{TIMES_CONTACT.pattern}|{AGAIN_CONTACT.pattern}", re.I)
PROBLEM = re.compile(r"\b(broken|damaged|cracked|smashed|dented|scratched|torn|ripped|leak\w*|flood\w*|smok\w*|"
                     r"spark\w*|injur\w*|locked|can'?t (?:log|sign|get)|cannot (?:log|sign|get)|"
                     r"haven'?t (?:received|got (?:my|the|it|them|any|a refund))|hasn'?t (?:arrived|come|been)|never (?:arrived|came|received|turned up|showed up)|"
                     r"didn'?t (?:arrive|come|turn up|show up)|missing|faulty|defective|not working|stopped working|"
                     r"doesn'?t work|won'?t (?:work|turn on|switch on)|no (?:heating|power|water|internet|hot water)|"
                     r"nobody|no one|still waiting|wrong (?:item|size|colou?r|product|"
                     r"order|address|amount)|overcharged|charged twice|double charged|(?:hours?|hrs?) late|(?:came|turned up|"
                     r"showed up) (?:very |really |so )?late)\b", re.I)
ANGER = re.compile(r"\b(unacceptable|ridiculous|disgusting|useless|worst|scam|joke|furious|angry|livid|fed up|"
                   r"sick of|sick and tired|never again|pathetic|incompetent|terrible|awful|outrageous|appalling|"
                   r"shocking|disgrace\w*|shambles|rip-?off|fuck\w*|shit\w*|crap|bullshit)\b", re.I)
# a grievance put in words: a complaint, disappointment, a service that failed the customer
COMPLAINT = re.compile(r"(?<!\bno )(?<!\bany )\b(?:complain\w*|grievance\w*|dissatisf\w*|discontent\w*|"
                       r"disappoint\w*|unhappy|not (?:happy|satisfied|pleased|impressed|good enough|acceptable|ok)|"
                       r"(?:don'?t|do not|didn'?t|did not|dont) like|let ?down|poor (?:service|experience|quality|"
                       r"communication|support)|bad (?:service|experience)|expected (?:far |much |a lot )?better|"
                       r"do better|rude|dismissive|unprofessional|unhelpful|waste of (?:time|money)|"
                       r"(?:nobody|no one|no-one) (?:explained|helped|cares?|bothered|told)|no (?:help|explanation|"
                       r"apology|announcements?|information|updates?)|without (?:any )?(?:warning|notice|explanation))",
                       re.I)
# someone who was to come did not, or came late: "the engineer never turned up", "a no-show", "nobody came"
NO_SHOW = re.compile(r"\b(?:never|didn'?t|did not|not) (?:turn(?:ed)? up|show(?:ed)? up|come|came|arrive[ds]?)\b|"
                     r"\bno[- ]show\b|\bno one (?:came|turned up|showed up)\b|\bnobody (?:came|turned up|showed up)\b",
                     re.I)
# … or came late: "two hours late", "turned up two and a half hours after the window ended"
CAME_LATE = re.compile(r"\b(?:late|hours? behind|kept me waiting|(?:hours?|hrs?|minutes?|mins?)\s+(?:after|past)\s+"
                       r"(?:the\s+)?(?:window|slot|time\s+slot|agreed\s+time|appointment\s+time))\b", re.I)
# one payment taken twice: "you charged me twice", "double-billed", "two identical payments"
CHARGED_TWICE = re.compile(r"\b(?:charged|billed|debited|took (?:the )?(?:money|payment)|paid|taken)(?: me| us| it)? "
                           r"(?:twice|two times|double)\b|\bdouble[- ](?:charged|billed|payment)\b|"
                           r"\b(?:two|2) (?:identical )?(?:payments|charges)\b|\bduplicate (?:payment|charge)\b", re.I)
# a charge put in question: "remove it", "refund", "unfair", "I never agreed"
DISPUTES = re.compile(r"\b(?:remove|refund|credit|waive|take (?:it|this|that) off|reverse|dispute|unfair|not fair|"
                      r"shouldn'?t|should not|never agreed|wrong|ridiculous|cancel|money back|late)\b", re.I)
# a customer asking what something is or why: "what is this charge?", "I don't recognise it"
WHAT_IS = re.compile(r"\b(?:why|what)\b[^.?!]*\?|\b(?:don'?t|do not) (?:understand|recogni[sz]e|know)\b", re.I)
# a sentence that gives the reason for the request before it: "I don't need it any more"
NOT_WANTED = re.compile(r"^\W*i (?:do not|don'?t|no longer) (?:want|need) (?:it|them|this|that)\b", re.I)
# a complaint made formally, typed fast or not: "I want to make a formal complaint", "a foraml copmlaint", "I'm
# complaining formally"
FORMAL_COMPLAINT = re.compile(r"\b(?:formal|foraml|fromal|formla|fomral)(?:ly)?\b[^.!?]{0,40}\bc\w{0,2}(?:mpl|pml)[ai]\w*|"
                              r"\bcomplain\w*\b[^.!?]{0,20}\bformally\b", re.I)
# "consumercomplaint", "mycomplaint": the grievance word inside a run-together word
COMPLAINT_INSIDE = re.compile(r"(?<=[a-z])complain\w*", re.I)
STILL = re.compile(r"\bstill (?:not|no|nothing|haven'?t|hasn'?t|isn'?t|doesn'?t|don'?t|can'?t|waiting|broken|"
                   r"charged|missing|no sign|not (?:arrived|received|fixed|refunded|working))\b", re.I)
WAITING = re.compile(r"\b(?:(?:kept|been|still|fed up(?: with| of)?) waiting|waited|(?:no|any) (?:update|news)s?)\b", re.I)
CANCEL_SERVICE = re.compile(r"\b(close my account|cancel my (?:account|subscription|service|care plan|broadband)|"
                            r"leave (?:you|your company)|switch(?:ing)? provider)\b", re.I)
# a threat to go elsewhere, short of asking to close anything
LEAVE = re.compile(r"\b(?:take my (?:business|money|custom) elsewhere|(?:never|won'?t|will not|not going to) "
                   r"(?:buy|order|shop|fly|book|use you|deal)\w* (?:\w+ )?(?:from|with|again)|(?:go|going|switch\w*|"
                   r"mov\w*) to (?:a |your )?competitors?|last time I (?:buy|order|shop|fly|book|use)|"
                   r"(?:look\w*|shop\w*) (?:around|elsewhere)|(?:lost|losing) (?:a|me as a) (?:loyal )?customer)\b",
                   re.I)
# words that name what is asked for, not how the customer feels ("cancel my order", "charged $40"), and courtesy
# formulas that say nothing about the matter ("thanks", "kind regards", "I'd like"): neither moves the tone score
NEUTRAL_WORDS = ("cancel", "cancelled", "canceled", "cancelling", "canceling", "cancellation", "charged", "charge",
                  "charges")
COURTESY = re.compile(r"\b(?:many thanks|thanks (?:so much|a lot|in advance)|thank you(?: (?:so|very) much)?"
                       r"(?: in advance)?(?: for your help)?|thanks|thx|kind(?:est)? regards|best regards|regards|"
                       r"best wishes|cheers|please|pls|plz|i(?:'d| would) like|would like|could you|can you|"
                       r"help me|hi|hello|dear|good (?:morning|afternoon|evening))\b", re.I)
OWN_SLIP = re.compile(r"\b(?:by mistake|in error|by accident|accidentally|no longer (?:need|needed|required|want|"
                       r"wanted)|don'?t need (?:it|them) any ?more)\b", re.I)

def contacts(text: str) -> int:
    """How many times the customer says they have been in touch about this, counting this message: "third time"
    → 3, "I already asked twice" → 3, "writing again" → 2; 1 when nothing says so."""
    n = 1
    for m in NTH_CONTACT.finditer(text):
        n = max(n, _NTH.get(m.group(1).lower(), 2))
    for m in TIMES_CONTACT.finditer(text):
        said = (m.group(1) or m.group(2) or "").lower()
        word = said.removesuffix(" times")
        times = int(word) if word.isdigit() else _TIMES.get(word, 2)
        n = max(n, times + 1)  # asked twice before: this is the third time
    if AND_AGAIN.search(text):
        n = max(n, 3)
    if n == 1 and AGAIN_CONTACT.search(text):
        n = 2
    return n


def signals(text: str) -> dict[str, Any]:
    """What policy escalates on (``policy.escalation_reason``) and the reply apologises for (contacts, waiting, a
    problem the customer reports)."""
    n = contacts(text)
    return {"legal": bool(LEGAL.search(NOT_LEGAL.sub(' ', text)) or THREAT.search(text)), "safety": bool(safety(text)),
            "vulnerable": vulnerable(text), "vulnerable_crisis": vulnerable_crisis(text), "account_at_risk": account_at_risk(text), "cancel_service": bool(CANCEL_SERVICE.search(text)),
            "contacts": n, "repeated_contact": n > 1, "waiting": bool(WAITING.search(text)),
            "problem": _problem(text), "life": life(text),
            "gift_in_time": bool(GIFT.search(text) and IN_TIME.search(text))}


# a present whose timing matters: acknowledged when nothing else calls for an apology
GIFT = re.compile(r"\b(?:as|is|it's|it is|was|for) an? (?:present|gift)\b|\b(?:birthday|christmas|anniversary) "
                  r"(?:present|gift)\b", re.I)
IN_TIME = re.compile(r"\btiming\b|\bin time\b|\bneed (?:it|them|this) by\b|\bbefore (?:her|his|their|my|our|the) "
                     r"(?:birthday|anniversary|party|wedding)\b|\bby (?:christmas|her birthday|his birthday)\b", re.I)


# what happened in the customer's life, acknowledged however calmly it is told, wherever in the message it is
LIFE: list[tuple[str, re.Pattern[str]]] = [
    # someone died, not something ("my car's just died", "the soundbar died after a week")
    ("loss", re.compile(r"\b(?:passed away|funeral|bereave\w*|death in (?:the|my|our) family|(?:mum|mom|mother|dad|"
                        r"father|husband|wife|partner|son|daughter|brother|sister|gran\w*|nan|grandma|grandpa|friend|"
                        r"uncle|aunt|cousin|dog|cat|pet|baby|child|parents?|relative|someone|he|she|who)(?:'s|\s+has|"
                        r"\s+had)?(?:\s+(?:just|sadly|recently|suddenly|unexpectedly))?\s+died)\b", re.I)),
    ("health", re.compile(r"\b(?:surgery|surgeon|an operation|hospital\w*|heart attack|stroke(?!\s+of\b)|pregnan\w*|fractured?|"
                          r"(?:broke|broken)\s+(?:her|his|my|their|a|an)\s+(?:hip|leg|arm|ankle|wrist|knee|pelvis|"
                          r"shoulder|back|foot|collarbone)|(?:doctor|surgeon|specialist|consultant|cardiologist|gp|"
                          r"physician)(?:'s)?\s+(?:says|said|has\s+said|told|has\s+told|advised|has\s+advised)|"
                          r"no\s+flying|not\s+(?:fit|allowed|well\s+enough)\s+to\s+(?:fly|travel)|"
                          r"must\s*n[o']?t\s+(?:fly|travel))\b", re.I)),
    ("unwell", re.compile(r"\b(?:been (?:ill|sick|unwell)|(?:I'm|I am|I was|fell|got) (?:ill|sick|unwell)|my doctor)\b",
                          re.I)),
]


def life(text: str) -> str:
    """The event in the customer's life the message tells of ("loss", "health", "unwell"), or ""."""
    return next((key for key, pattern in LIFE if pattern.search(text)), "")


def _problem(text: str) -> bool:
    """The customer reports something wrong (broken, missing, charged twice, "you cancelled my flight"); a day that
    "doesn't work" for them is no problem of ours."""
    return bool(DONE_TO.search(text)) or any(
        not (re.match(r"doesn'?t work|not working", m.group(0), re.I)
             and re.search(r"\b(?:\w+day|morning|afternoon|evening|time|date|slot)\s+$", text[:m.start()][-25:], re.I))
        for m in PROBLEM.finditer(text))


# something the company did to the customer ("you cancelled my flight", "you lost my parcel")
DONE_TO = re.compile(r"\b(?:you|you'?ve|you have|they|they'?ve) (?:cancell?ed|lost|broke|damaged|missed) (?:my|our)\b",
                      re.I)


def ordinal(n: int) -> str:
    return {2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"{n}th")


# how a phone advisor's notes start ("Call notes: customer says …"): the summary keeps what was said
CALL_NOTES = re.compile(r"^\W*(?:call|phone|chat) notes?:\s*(?:the )?(?:customer|caller) (?:says|said|asks|asked|wants)"
                    r"(?: that)?\s*", re.I)
