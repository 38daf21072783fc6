"""Knowledge base: documents with versions, upload (Markdown, text, PDF, HTML, DOCX, FAQ CSV) with progress,
replace and delete, passage preview, search, and the base's health (stale documents, gaps)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cx_core import kb_docs
from cx_core.documents import SUPPORTED, IngestLimits
from cx_core.models import ROLE_RANK
from cx_core.safe_text import escape_markdown, inline_code, one_line
from pages.common import current_user, guarded, label, services, show_passage

user = current_user()
svc = services()
editor = ROLE_RANK[user.role] >= ROLE_RANK[kb_docs.EDITOR_ROLE]
limits = IngestLimits.from_settings(svc.settings)
# what the uploader states and refuses in the browser: Tandem's own limit, unless Streamlit's server takes less
upload_mb = min(svc.settings.max_upload_mb, int(st.get_option("server.maxUploadSize")))
st.title("Knowledge base")


def when(value: Any) -> str:
    return f"{value:%d %b %Y}" if value else "—"


def upload_files(files: list[Any], replace: str | None, key: str) -> None:
    bar = st.progress(0.0, text="Reading the files…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Embedding passages: {done} of {total}")

    payload = [(f.name, f.getvalue()) for f in files]
    out = guarded(lambda: kb_docs.upload(svc.db, svc.kb, user, payload, replace=replace, progress=progress,
                                         limits=limits))
    bar.empty()
    if out:
        st.session_state["kb-flash"] = out
        st.session_state[key] = st.session_state.get(key, 0) + 1  # a fresh uploader
        st.rerun()


def upload_outcome(outcome: list[dict[str, Any]]) -> None:
    """Per file: what was stored, and what was refused and why."""
    stored = [f for f in outcome if f["status"] != "refused"]
    if stored:
        st.success("Knowledge base updated: " + "; ".join(
            f"{one_line(f['title'])} — {one_line(f['status'])} (v{f['version']:d}, {f['passages']:d} passages)"
            for f in stored))
    for f in outcome:
        if f["status"] == "refused":
            st.warning(f"Not stored: {escape_markdown(f['reason'])}", icon=":material/block:")


def documents_tab(docs: list[dict[str, Any]]) -> None:
    if not docs:
        st.info("The knowledge base is empty. Upload articles in the Upload tab, or run the demo set-up.")
        return
    query = st.text_input("Filter documents", placeholder="title or id", label_visibility="collapsed")
    shown = [d for d in docs if query.lower() in f"{d['title']} {d['doc_id']}".lower()]
    st.dataframe([{"Document": d["title"], "Id": d["doc_id"], "Version": d["version"], "Format": d["format"],
                   "Passages": d["passages"], "Updated": when(d["updated"]), "Cited (90 days)": d["cited"],
                   "Status": "stale" if d["stale"] else "in use" if d["cited"] else "not cited yet"}
                  for d in shown], hide_index=True, width="stretch", height=min(420, 38 + 35 * len(shown)))
    names = {d["doc_id"]: d["title"] for d in shown}
    chosen = st.selectbox("Open a document", list(names), format_func=lambda k: names[k], index=None,
                          placeholder="Choose a document to preview its passages and versions")
    if chosen:
        document_detail(next(d for d in shown if d["doc_id"] == chosen))


def document_detail(d: dict[str, Any]) -> None:
    with st.container(border=True):
        st.subheader(one_line(d["title"]))
        st.caption(f"{inline_code(str(d['doc_id']))} · version {d['version']:d} · {d['passages']:d} passages · "
                   f"updated {one_line(when(d['updated']))}" + (f" · uploaded by {one_line(d['uploaded_by'])}" if d["uploaded_by"] else ""))
        left, right = st.columns([1.6, 1], gap="large")
        with left:
            st.markdown("**Passages** (what the agent retrieves and cites)")
            for c in svc.kb.chunks_of(d["doc_id"]):
                with st.expander(one_line(c["heading"] or d["title"])):
                    show_passage(c["text"])
        with right:
            st.markdown("**Versions**")
            st.dataframe([{"Version": v["version"], "File": v["source"], "Passages": v["passages"], "By": v["by"],
                           "When": f"{v['at']:%d %b %Y %H:%M}", "Deleted": v["deleted"]}
                          for v in kb_docs.versions(svc.db, d["doc_id"])] or [{"Version": "loaded before versions"}],
                         hide_index=True, width="stretch")
            if editor:
                key = f"replace-{d['doc_id']}-{st.session_state.get('replace-key', 0)}"
                new = st.file_uploader("Replace with a new version", type=[s.lstrip(".") for s in SUPPORTED], key=key,
                                       max_upload_size=upload_mb, help=f"Up to {upload_mb} MB.")
                if new is not None and st.button("Upload new version", type="primary", key=f"do-{key}"):
                    upload_files([new], d["doc_id"], "replace-key")
                with st.popover("Delete document", icon=":material/delete:"):
                    why = st.text_input("Why is it deleted?", key=f"del-why-{d['doc_id']}")
                    if st.button("Delete for good", type="primary", key=f"del-{d['doc_id']}", disabled=not why.strip()):
                        removed = guarded(lambda: kb_docs.delete(svc.db, svc.kb, user, d["doc_id"], why))
                        if removed is not None:
                            st.session_state["kb-deleted"] = (d["title"], removed)
                            st.rerun()


def upload_tab() -> None:
    if not editor:
        st.info("Supervisors and admins add documents. Ask one of them to upload what is missing.")
        return
    st.markdown("Add articles, procedures and FAQs. Each file becomes a document; uploading a file with the same "
                "name again makes a new version. Headings become the passages the agent cites.")
    key = f"uploader-{st.session_state.get('upload-key', 0)}"
    files = st.file_uploader("Documents", type=[s.lstrip(".") for s in SUPPORTED], accept_multiple_files=True,
                             key=key, max_upload_size=upload_mb,
                             help="Markdown, text, PDF, HTML, Word (.docx) or an FAQ CSV with question and answer "
                                  f"columns; up to {upload_mb} MB each. Each file is stored or refused on its own.")
    if st.button("Add to the knowledge base", type="primary", icon=":material/upload:", disabled=not files):
        upload_files(list(files or []), None, "upload-key")


def health_tab(docs: list[dict[str, Any]]) -> None:
    stale = [d for d in docs if d["stale"]]
    st.markdown("**Stale documents**: not updated for six months and not cited in the last 90 days. Review, "
                "update or delete them.")
    if stale:
        st.dataframe([{"Document": d["title"], "Updated": when(d["updated"]), "Version": d["version"]} for d in stale],
                     hide_index=True, width="stretch")
    else:
        st.success("No stale documents.")
    g = kb_docs.gaps(svc.db)
    st.markdown(f"**Gaps**: how often the best passage found for a ticket was a weak match (similarity below "
                f"{g['weak_below']:.2f}), per task type, over the last 30 days.")
    if g["task_types"]:
        st.dataframe([{"Task type": label(r["task_type"]), "Tickets": r["tickets"], "Weak matches": r["weak_share"],
                       "Mean match": r["mean_match"]} for r in g["task_types"]], hide_index=True, width="stretch",
                     column_config={"Weak matches": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                                                     max_value=1)})
    else:
        st.caption("No processed tickets in the last 30 days.")
    st.markdown("**Frequent questions with no good document**")
    if g["questions"]:
        for q in g["questions"][:8]:
            st.markdown(f"- **{label(q['intent'])}** — {q['tickets']:d} tickets, e.g. "
                        + "; ".join(f"“{one_line(e, 70)}”" for e in q["examples"]))
    else:
        st.success("Every frequent question found a good passage.")


def search_tab() -> None:
    q = st.text_input("Try a question", placeholder="e.g. how long does a refund take?")
    if q.strip():
        passages = svc.kb.retrieve(q, k=5)
        if not passages:
            st.info("Nothing found.")
        for p in passages:
            with st.expander(f"{one_line(p.title)} — {one_line(p.heading)} · match {p.similarity:.2f}"):
                show_passage(p.text)


def main() -> None:
    deleted = st.session_state.pop("kb-deleted", None)
    if deleted:
        st.success(f"Deleted {one_line(deleted[0])} ({deleted[1]:d} passages).")
    flash = st.session_state.pop("kb-flash", None)
    if flash:
        upload_outcome(flash)
    docs = kb_docs.documents(svc.db, svc.kb)
    m = st.columns(4)
    m[0].metric("Documents", len(docs))
    m[1].metric("Passages", sum(d["passages"] for d in docs))
    m[2].metric("Cited in 90 days", sum(1 for d in docs if d["cited"]))
    m[3].metric("Stale", sum(1 for d in docs if d["stale"]))
    tabs = st.tabs(["Documents", "Upload", "Health", "Search"])
    with tabs[0]:
        documents_tab(docs)
    with tabs[1]:
        upload_tab()
    with tabs[2]:
        health_tab(docs)
    with tabs[3]:
        search_tab()


guarded(main)
