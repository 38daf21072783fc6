"""How Lumen's customers say what the planner reads: a question only, a reason, a technician who did not come or
came late, an item they no longer want, a payment taken twice, a charge they dispute."""

from __future__ import annotations

import re

A_REASON = re.compile(r"^\W*i (?:do not|don'?t|no longer) (?:want|need) (?:it|them|this|that)\b", re.I)
NO_SHOW = re.compile(r"\b(?:never|didn'?t|did not|not) (?:turn(?:ed)? up|show(?:ed)? up|come|came|arrive[ds]?)\b|"
                      r"\bno[- ]show\b|\bno one (?:came|turned up|showed up)\b|\bnobody (?:came|turned up|showed up)\b",
                      re.I)
TWICE = re.compile(r"\b(?:charged|billed|debited|took (?:the )?(?:money|payment)|paid|taken)(?: me| us| it)? "
                    r"(?:twice|two times|double)\b|\bdouble[- ](?:charged|billed|payment)\b|"
                    r"\b(?:two|2) (?:identical )?(?:payments|charges)\b|\bduplicate (?:payment|charge)\b", re.I)
LATE = re.compile(r"\b(?:late|hours? behind|kept me waiting)\b", re.I)
WHAT_IS = re.compile(r"\b(?:why|what)\b[^.?!]*\?|\b(?:don'?t|do not) (?:understand|recogni[sz]e|know)\b", re.I)
DISPUTES = re.compile(r"\b(?:remove|refund|credit|waive|take (?:it|this|that) off|reverse|dispute|unfair|not fair|"
                       r"shouldn'?t|should not|never agreed|wrong|ridiculous|cancel|money back|late)\b", re.I)
FORMAL = re.compile(r"\b(?:formal|foraml|fromal|formla|fomral)(?:ly)?\b[^.!?]{0,40}\bc\w{0,2}(?:mpl|pml)[ai]\w*|\bcomplain\w*\b"
                    r"[^.!?]{0,20}\bformally\b", re.I)  # typed fast: "a foraml copmlaint"
