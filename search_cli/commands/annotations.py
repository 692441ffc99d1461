"""vocab / procedures / risks: the domain annotations, seen across the whole corpus."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import click

from corpus import BadInputError, Document, Store
from indexer.vocabulary import SEVERITIES, Term, Vocabulary, load_vocabulary
from search_cli.options import app, data_dir_option, format_option
from search_cli.output import emit, emit_object, format_table

MAX_EXAMPLES = 3  # example sentences per risk in `aesthetics risks`
_SEVERITY_RANK = {s: n for n, s in enumerate(reversed(SEVERITIES))}  # rare-severe first


@click.command()
@click.option("--kind", type=click.Choice(["procedure", "risk"]),
              help="Only procedures or only risks.")
@format_option("table", "json")
@data_dir_option
def vocab(kind: str | None, fmt: str) -> None:
    """Print the merged vocabulary: built-in terms plus <data-dir>/vocabulary.toml.

    Each procedure has an id, name, group, body areas and its English and Chinese synonyms;
    each risk has an id, name, severity and synonyms. A broken vocabulary.toml is reported
    with its line, entry and field (exit 2).

    \b
    Examples:
      aesthetics vocab
      aesthetics vocab --kind risk
      aesthetics vocab --format json > vocabulary.json
    """
    vocabulary = load_vocabulary(app().data_dir)
    terms = [t for t in vocabulary.terms() if kind is None or t.kind == kind]
    if fmt == "json":
        emit_object({
            "procedures": [t.to_dict() for t in terms if t.kind == "procedure"],
            "risks": [t.to_dict() for t in terms if t.kind == "risk"],
        }, fmt)
        return
    rows = [{"id": t.id, "kind": t.kind, "name": t.name,
             "group/severity": t.group if t.kind == "procedure" else t.severity,
             "areas": t.areas, "synonyms": [s for s in t.synonyms if s != t.name]}
            for t in terms]
    emit(rows, fmt, ["id", "kind", "name", "group/severity", "areas", "synonyms"])


@click.command()
@click.option("--all", "show_all", is_flag=True,
              help="Also list vocabulary procedures that no document mentions.")
@format_option("table", "json", "jsonl", "csv")
@data_dir_option
def procedures(show_all: bool, fmt: str) -> None:
    """Procedures with document counts, most written-about first.

    `documents` counts the articles that are about a procedure (it is one of their main
    procedures); `mentioned_in` also counts articles that only name it in passing.

    \b
    Examples:
      aesthetics procedures
      aesthetics procedures --format csv > procedures.csv
      aesthetics procedures --all --format json
    """
    data_dir = app().data_dir
    vocabulary = load_vocabulary(data_dir)
    main: Counter[str] = Counter()
    mentioned: Counter[str] = Counter()
    with Store.open(data_dir, create=False) as store:
        for doc in store.iter_documents():
            main.update(set(doc.procedures))
            mentioned.update({t for t, n in doc.mentions.items() if n > 0}
                             | set(doc.procedures))
    ids = set(main) | {t for t in mentioned if t in vocabulary.procedures}
    if show_all:
        ids |= set(vocabulary.procedures)
    rows = []
    for term_id in ids:
        term = vocabulary.term(term_id)
        rows.append({"procedure": term_id, "name": term.name if term else term_id,
                     "group": term.group if term else None,
                     "documents": main[term_id], "mentioned_in": mentioned[term_id]})
    rows.sort(key=lambda r: (-r["documents"], -r["mentioned_in"], r["procedure"]))
    emit(rows, fmt, ["procedure", "name", "group", "documents", "mentioned_in"])


@click.command()
@click.argument("procedure")
@format_option("table", "json")
@data_dir_option
def risks(procedure: str, fmt: str) -> None:
    """Risk profile of a procedure across the corpus.

    PROCEDURE is an id, name or any synonym in English or Chinese ("rhinoplasty",
    "nose job", "隆鼻"). For each risk: how many documents mention it together with the
    procedure, its severity, and up to three example sentences with their source URL.

    \b
    Examples:
      aesthetics risks rhinoplasty
      aesthetics risks "nose job" --format json
      aesthetics risks 玻尿酸
    """
    data_dir = app().data_dir
    vocabulary = load_vocabulary(data_dir)
    term = resolve_procedure(vocabulary, procedure)
    with Store.open(data_dir, create=False) as store:
        profile = risk_profile(vocabulary, term, store.iter_documents())
    if fmt == "json":
        emit_object(profile, fmt)
        return
    click.echo(f"{term.name} ({term.id}): {profile['documents']} documents, "
               f"{len(profile['risks'])} risks")
    rows = []
    for risk in profile["risks"]:
        examples = risk["examples"] or [{"sentence": "", "url": ""}]
        for n, example in enumerate(examples):
            head = n == 0
            rows.append({
                "risk": risk["risk"] if head else "", "severity": risk["severity"] if head else "",
                "documents": risk["documents"] if head else "",
                "example": example["sentence"], "source": example["url"],
            })
    click.echo(format_table(rows, ["risk", "severity", "documents", "example", "source"])
               if rows else "(no risks recorded for this procedure yet)")


def resolve_procedure(vocabulary: Vocabulary, text: str) -> Term:
    """The procedure meant by ``text``, or a BadInputError that suggests close ids."""
    term = vocabulary.lookup(text)
    if term is not None and term.kind == "procedure":
        return term
    if term is not None:
        raise BadInputError(
            f"'{text}' is a risk ({term.id}), not a procedure; "
            f"try `aesthetics search --risk {term.id}` or `aesthetics procedures`")
    close = [i for i in vocabulary.suggest(text, n=6) if i in vocabulary.procedures][:3]
    hint = f"; did you mean {', '.join(close)}?" if close else \
        "; run `aesthetics vocab --kind procedure` to list them"
    raise BadInputError(f"unknown procedure '{text}'{hint}")


def risk_profile(vocabulary: Vocabulary, term: Term, docs: Iterable[Document]) -> dict:
    """Count, per risk, the documents that mention it with ``term``; keep a few examples.

    A document counts when its evidence ties the risk to the procedure; a document without
    any evidence (imported from elsewhere) counts its risks for each of its main procedures.
    Examples come from different documents.
    """
    doc_count = 0
    per_risk: dict[str, set[str]] = defaultdict(set)
    examples: dict[str, list[dict]] = defaultdict(list)
    for doc in docs:
        tied = {e.risk for e in doc.evidence if e.procedure == term.id}
        if term.id in doc.procedures and not doc.evidence:
            tied = set(doc.risks)  # annotated elsewhere, without evidence sentences
        if not tied and term.id not in doc.procedures:
            continue
        doc_count += 1
        for risk in tied:
            per_risk[risk].add(doc.id)
        for e in doc.evidence:
            shown = examples[e.risk]
            if (e.procedure == term.id and len(shown) < MAX_EXAMPLES
                    and all(x["url"] != doc.url for x in shown)):
                shown.append({"sentence": e.sentence, "url": doc.url})
    rows = []
    for risk_id, doc_ids in per_risk.items():
        risk = vocabulary.term(risk_id)
        severity = risk.severity if risk else None
        rows.append({"risk": risk_id, "name": risk.name if risk else risk_id,
                     "severity": severity, "documents": len(doc_ids),
                     "examples": examples.get(risk_id, [])})
    rows.sort(key=lambda r: (-r["documents"], _SEVERITY_RANK.get(r["severity"], 9), r["risk"]))
    return {"procedure": term.id, "name": term.name, "group": term.group,
            "documents": doc_count, "risks": rows}
