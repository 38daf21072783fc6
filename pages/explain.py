"""Why the agent answered as it did, beside a ticket: the passages its reply cites, how it read the message, and
the same action done or waiting elsewhere for the customer."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core import desk
from cx_core.safe_text import one_line
from pages.common import label, show_passage


def sources(result: Any) -> None:
    """The passages the reply cites, each in an expander."""
    if not result.draft.citations:
        return
    st.caption("Sources (the reply's [1], [2] markers; the customer receives the reply without them)")
    passages = {(p.doc_id, p.heading): p for p in result.passages}
    for i, c in enumerate(result.draft.citations, 1):
        with st.expander(f"[{i:d}] {one_line(c.title)} — {one_line(c.heading)}"):
            p = passages.get((c.doc_id, c.heading))
            if p:
                show_passage(p.text)
            else:
                st.caption("The passage is no longer in the knowledge base.")


def why_the_agent_thinks_so(tri: Any) -> None:
    with st.expander("Why the agent thinks so", icon=":material/psychology:"):
        st.markdown(f"- **Task type** {label(tri.task_type)} ({tri.confidence:.0%})"
                    + "".join(f"\n- **Request** {label(r.intent)} ({r.confidence:.0%}): {one_line(r.text, 160)}"
                              for r in tri.requests)
                    + f"\n- **Urgency** {one_line(tri.urgency)}: {one_line('; '.join(tri.urgency_reasons))}"
                    + f"\n- **Sentiment** {one_line(tri.sentiment)}, {_MOOD[min(int(tri.frustration * 3), 2)]} frustration: "
                    + one_line('; '.join(tri.sentiment_reasons))
                    + f"\n- **Language** {one_line(tri.language)}"
                    + (f"\n- **Read from the knowledge base:** {one_line(tri.entities['from_knowledge'], 300)}"
                       if tri.entities.get("from_knowledge") else "")
                    + (f"\n- **Personal data found:** {one_line(', '.join(tri.pii))}" if tri.pii else ""))


_MOOD = ("little", "some", "high")


def done_elsewhere(elsewhere: dict[str, Any] | None) -> None:
    """The same action, same details, already ran for this customer from another ticket (a request sent twice)."""
    if not elsewhere:
        return
    subject = one_line(desk.cut_words(" ".join(str(elsewhere["subject"] or "").split()), 60))
    if elsewhere.get("pending"):
        st.warning(f"Also proposed on the ticket “{subject}”, still waiting: approve it on one ticket only.",
                   icon=":material/content_copy:")
    else:
        st.warning("Already done for this customer" + (f" on {elsewhere['decided_at']:%d %b}" if
                   elsewhere["decided_at"] else "") + f", from the ticket “{subject}”: approving it would do it a "
                   "second time.", icon=":material/content_copy:")
