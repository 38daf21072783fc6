"""Conditions in generic English, written once for every reader: the words that open a condition or a second
choice ("if", "unless", "otherwise", "as long as" …), a condition that holds a step, one said as a threat, and a
fallback."""

from __future__ import annotations

import re

# the words that open a condition or a second choice, written once: every reader of conditions builds on these
_PLAIN_CONDITION = (r"unless|as\s+long\s+as|so\s+long\s+as|provided(?:\s+that)?|only\s+(?:if|when)|assuming|"
                    r"depending\s+on")
CONDITIONAL = rf"if|in\s+case|otherwise|or\s+else|even\s+if|{_PLAIN_CONDITION}"
CONDITIONAL_WORD = re.compile(rf"\b(?:{CONDITIONAL})\b", re.I)
_CONDITIONAL_CLAUSE = re.compile(rf"\b(?:{CONDITIONAL})\b[^,;.!?]*", re.I)
_OPENS_CONDITIONAL = re.compile(rf"\W*(?:{CONDITIONAL})\b", re.I)
_UNDER_CONDITIONAL = re.compile(rf"\b(?:{CONDITIONAL})\b[^.;!?]*$", re.I)
# a condition that holds a step: not a courtesy ("if possible", "in case that's useful") nor a fallback's "if not"
CONDITION = re.compile(
    r"\b(?:if(?!\s+(?:possible|you\s+can|you\s+could|you\s+would|you\s+don'?t\s+mind|needed|necessary|so|not\b|"
    r"(?:you|the\s+agent|anyone|they|someone)\s+(?:need|needs|ask|asks|want\s+to\s+know|require|requires)\b|"
    r"that'?s\s+(?:ok|okay|fine|alright)|(?:that|this|it)(?:'s|\s+is)\s+not\s+possible|you\s+can'?t|you\s+cannot|"
    r"any|anyone|anything))|"
    r"in\s+case(?!\s+(?:(?:it|that|this)(?:'s|\s+is)\s+(?:of\s+use|useful|helpful|needed|relevant|handy)|it\s+helps|"
    rf"(?:you|they|anyone)\s+needs?\s+(?:it|them|this|that)\b))|{_PLAIN_CONDITION})\b[^.!?;]*", re.I)


def opens_with_condition(sentence: str) -> bool:
    """Whether a sentence opens with a condition or a second choice ("If that's not allowed, …", "Otherwise …")."""
    return bool(_OPENS_CONDITIONAL.match(sentence))


def without_conditions(sentence: str) -> str:
    """``sentence`` with each conditional clause blanked ("business class if it's under $300 a head" keeps
    "business class"): what it says outside any condition."""
    return _CONDITIONAL_CLAUSE.sub(" ", sentence)


def under_condition(text: str, start: int) -> bool:
    """Whether what stands at ``start`` is said under a condition in its sentence ("if certificates can't be used
    for bags, charge the card on file"): a second choice, or one held on a condition."""
    return bool(_UNDER_CONDITIONAL.search(text[:start]))


# a condition that is the request itself, said as a threat: "…unless it's refunded today", "unless you sort it out"
ULTIMATUM = re.compile(r"unless\s+(?:(?:it|this|that|they|the\s+\w+|my\s+\w+)(?:\s+(?:is|are|gets?|has\s+been|have\s+been)|"
                       r"['’](?:s|re)\b)"
                       r"|you\s+(?:\w+\s+)?(?:refund|fix|sort|resolve|return|credit|remove|pay|reverse|cancel|deal|do)"
                       r"|i\s+(?:get|receive|hear))\b", re.I)
FALLBACK = re.compile(
    r"\b(?:otherwise|or\s+else|failing\s+that|if\s+not|if\s+(?:that|this|it)(?:'s|\s+is)\s+not\s+(?:possible|"
    r"available|an\s+option)|if\s+(?:you|they|it)\s+(?:can'?t|cannot|won'?t|don'?t|doesn'?t|isn'?t)\b[^,.;]*,?|"
    r"if\s+(?:that'?s|that\s+is)\s+too\s+\w+|"
    # "If Thursday can't be done, make it Wednesday", "if that doesn't work out": the first choice not to be had
    r"if\s+(?:\w+\s+){1,3}?(?:can'?t|cannot|couldn'?t|won'?t)\s+(?:be\s+(?:done|arranged|managed|had)|happen|work)\b,?|"
    r"if\s+(?:that|this|it|the\s+\w+|\w+day)\s+(?:doesn'?t|does\s+not|won'?t)\s+work(?:\s+out)?\b,?|"
    # "If that morning is taken, Tuesday the 8th": the first choice not to be had
    r"if\s+(?:that|this|it|the|those|these|[a-z]+days|weekends|mornings|afternoons|evenings)\b[^,.;!?]{0,30}?"
    r"(?:\s+is|\s+are|'s|'re)\s+(?:already\s+|all\s+)?(?:taken|gone|booked(?:\s+up)?|full(?:y\s+booked)?|unavailable|"
    r"not\s+(?:free|available|possible|an\s+option)|no\s+good|sold\s+out|out(?!\s+of))\b,?|instead(?!\s+of)\s+(?:just\s+)?(?=\w)|(?:or|else)\s+(?:just\s+)?(?=refund|"
    r"cancel|send|credit))", re.I)
