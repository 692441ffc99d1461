"""`aesthetics search` end to end: a real corpus (tests/sites/searchcorpus), a real Whoosh
index built by indexer.build.update_index, driven through CliRunner and real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from corpus import Store
from corpus.export import import_documents, read_export
from tests.conftest import REPO, SITES, run_aesthetics

CORPUS = SITES / "searchcorpus" / "articles.jsonl"
ENGLISH_IDS = {"rhino-recovery", "filler-necrosis", "botox-ptosis", "botox-ptosis-copy",
               "microneedling-vs-microplastic", "bleph-asymmetry", "lipo-contour",
               "breast-capsular", "laser-pigment", "peel-downtime"}


def build_search_corpus(data_dir: Path, *, index: bool = True) -> Path:
    """Import the fixture articles into a fresh corpus and (by default) index them."""
    with Store.open(data_dir) as store:
        import_documents(store, read_export(CORPUS))
    if index:
        from indexer.build import update_index

        update_index(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One indexed corpus shared by the read-only tests of this module (indexing is the slow part)."""
    return build_search_corpus(tmp_path_factory.mktemp("search") / "data")


@pytest.fixture
def search(cli: Callable[..., Result], indexed: Path) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        return cli("--data-dir", str(indexed), "search", *args)

    return run


def ids_of(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [json.loads(line)["id"] for line in result.stdout.splitlines() if line.strip()]


def json_of(result: Result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---------------------------------------------------------------------------- help
def test_help_documents_exit_codes_and_examples(cli) -> None:
    result = cli("search", "--help")
    assert result.exit_code == 0
    for needle in ("Example", "Exit codes", "aesthetics index", "--queries", "--all-copies",
                   "trec"):
        assert needle in result.stdout


# ---------------------------------------------------------------------------- formats
def test_table_shows_rank_title_site_date_procedures_and_plain_snippet(search) -> None:
    result = search("rhinoplasty swelling")
    assert result.exit_code == 0, result.output
    out = result.stdout
    first_line = out.splitlines()[0]
    assert "hits for 'rhinoplasty swelling'" in first_line
    assert "  1. Rhinoplasty recovery: what the first six weeks look like" in out
    assert "clinic-notes.test · 2023-05-14 · rhinoplasty" in out
    assert "[[" not in out and "\x1b[" not in out  # piped: markers dropped, no colour
    assert "[id rhino-recovery]" in out
    block = out.split("  1. ")[1].split("\n\n")[0].splitlines()
    snippet_lines = [ln for ln in block[2:] if not ln.strip().startswith(("https://", "also at"))]
    assert 1 <= len(snippet_lines) <= 2


def test_json_hits_have_the_documented_fields(search) -> None:
    data = json_of(search("rhinoplasty", "--format", "json"))
    assert data["total"] >= 1 and data["query"] == "rhinoplasty"
    hit = data["hits"][0]
    for key in ("id", "url", "title", "site", "published", "score", "procedures", "risks",
                "snippet", "also_at"):
        assert key in hit
    assert hit["id"] == "rhino-recovery"
    assert hit["procedures"] == ["rhinoplasty"]
    assert "[[" not in hit["snippet"] and "]]" not in hit["snippet"]
    assert hit["snippet"].strip()


def test_jsonl_is_one_hit_per_line_in_json_order(search) -> None:
    as_json = [h["id"] for h in json_of(search("risk", "--format", "json"))["hits"]]
    as_jsonl = ids_of(search("risk", "--format", "jsonl"))
    assert as_jsonl == as_json and 5 <= len(as_jsonl) <= 10  # default --limit


def test_csv_quotes_commas_quotes_and_newlines(search) -> None:
    result = search("peel downtime", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    peel = next(r for r in rows if r["id"] == "peel-downtime")
    assert peel["title"] == 'Chemical peels, "medium" depth:\nwhat the downtime is really like'
    assert peel["procedures"] == "chemical-peel"
    assert peel["risks"].split(";") == ["hyperpigmentation", "scarring", "infection"]
    assert float(peel["score"]) > 0
    table = search("peel downtime").stdout  # the table keeps every title on one line
    assert '  1. Chemical peels, "medium" depth: what the downtime is really like\n' in table


def test_trec_and_urls_formats(search) -> None:
    result = search("risk", "--format", "trec", "--limit", "5", "--tag", "mytag")
    assert result.exit_code == 0, result.output
    lines = [ln.split() for ln in result.stdout.splitlines()]
    assert len(lines) == 5
    assert all(len(p) == 6 and p[0] == "1" and p[1] == "Q0" and p[5] == "mytag" for p in lines)
    assert [int(p[3]) for p in lines] == [1, 2, 3, 4, 5]
    scores = [float(p[4]) for p in lines]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0
    urls = search("risk", "--format", "urls", "--limit", "5").stdout.splitlines()
    assert len(urls) == 5 and all(u.startswith("https://") for u in urls)


def test_snippet_wrap_keeps_two_lines_cjk_width_and_markers_across_breaks() -> None:
    from search_cli.commands.search import render_snippet, strip_markers

    lines = render_snippet("one two [[three four]] five six seven eight", width=14)
    assert lines == ["one two three", "four five six …"]  # plain (not a tty): markers gone
    zh = render_snippet("玻尿酸是一种常用的[[皮肤]]填充剂，多用于改善法令纹", width=10)
    assert zh[0] == "玻尿酸是一" and len(zh) == 2  # CJK characters are two columns wide
    assert strip_markers("[[a]] b [[c d]]") == "a b c d"


def test_table_highlights_terms_only_on_a_terminal(indexed: Path) -> None:
    import pty

    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="100")
    env.pop("NO_COLOR", None)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", "from search_cli.main import main; main()",
             "--data-dir", str(indexed), "search", "capsular contracture", "--limit", "1"],
            stdout=follower, stderr=subprocess.PIPE, env=env, timeout=120)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    assert proc.returncode == 0, proc.stderr
    out = b"".join(chunks).decode("utf-8")
    assert "\x1b[" in out and "[[" not in out  # coloured, markers rendered, not printed
    assert "Breast implants ten years on" in out


# ---------------------------------------------------------------------------- filters
@pytest.mark.parametrize(("args", "expected"), [
    (["--procedure", "hyaluronic-acid-filler"], {"filler-necrosis", "zh-hyaluronic"}),
    (["--procedure", "hyaluronic-acid-filler", "--site", "clinic-notes.test"],
     {"filler-necrosis"}),
    (["--procedure", "hyaluronic-acid-filler", "--lang", "zh"], {"zh-hyaluronic"}),
    (["--procedure", "hyaluronic-acid-filler", "--risk", "blindness"], {"filler-necrosis"}),
    (["--procedure", "hyaluronic-acid-filler", "--procedure", "botulinum-toxin"], set()),
    (["--risk", "infection", "--site", "clinic-notes.test"],
     {"bleph-asymmetry", "breast-capsular", "peel-downtime"}),
    (["--risk", "infection", "--risk", "scarring"],
     {"bleph-asymmetry", "breast-capsular", "peel-downtime"}),
    (["--risk", "hyperpigmentation", "--site", "beauty-journal.test", "--since", "2024-04"],
     {"laser-pigment"}),
])
def test_filters_combine(search, args: list[str], expected: set[str]) -> None:
    assert set(ids_of(search("risk filler 玻尿酸", "--all-copies", "--limit", "50",
                             "--format", "jsonl", *args))) == expected


@pytest.mark.parametrize(("since", "until", "expected"), [
    ("2024-03-05", "2024-03-31",
     {"botox-ptosis", "botox-ptosis-copy", "microneedling-vs-microplastic"}),
    ("2024-03", "2024-03", {"botox-ptosis", "botox-ptosis-copy", "microneedling-vs-microplastic"}),
    (None, "2024-02", {"rhino-recovery", "filler-necrosis", "bleph-asymmetry", "lipo-contour",
                       "breast-capsular", "peel-downtime"}),
    ("2024-02-29", "2024-02-29", {"peel-downtime"}),
    ("2023", "2023", {"rhino-recovery", "lipo-contour"}),
    ("2024-04-01", None, {"laser-pigment"}),
])
def test_dates_filter_inclusively(search, since: str | None, until: str | None,
                                  expected: set[str]) -> None:
    args = ["--lang", "en", "--all-copies", "--limit", "50", "--format", "jsonl"]
    if since:
        args += ["--since", since]
    if until:
        args += ["--until", until]
    assert set(ids_of(search("risk", *args))) == expected


def test_sort_by_date_and_paging(search) -> None:
    by_date = json_of(search("risk", "--lang", "en", "--all-copies", "--sort", "date",
                             "--limit", "50", "--format", "json"))["hits"]
    dates = [h["published"] for h in by_date]
    assert dates == sorted(dates, reverse=True) and len(dates) == len(ENGLISH_IDS)
    page1 = json_of(search("risk", "--limit", "3", "--format", "json"))
    page2 = json_of(search("risk", "--limit", "3", "--page", "2", "--format", "json"))
    assert [h["rank"] for h in page2["hits"]] == [4, 5, 6]
    assert not {h["id"] for h in page1["hits"]} & {h["id"] for h in page2["hits"]}
    assert page1["total"] == page2["total"]


# ---------------------------------------------------------------------------- language
def test_chinese_query_finds_the_chinese_article(search) -> None:
    assert ids_of(search("血管栓塞", "--format", "jsonl"))[:1] == ["zh-hyaluronic"]
    assert ids_of(search("玻尿酸", "--lang", "zh", "--format", "jsonl")) == ["zh-hyaluronic"]
    table = search("皮肤坏死")
    assert table.exit_code == 0 and "玻尿酸填充前要了解的几种风险" in table.stdout
    snippet = json.loads(search("皮肤坏死", "--format", "jsonl").stdout.splitlines()[0])["snippet"]
    assert "皮肤坏死" in snippet and "肤肤" not in snippet  # overlapping bigrams shown once


def test_synonym_nose_job_finds_the_rhinoplasty_article(search) -> None:
    text = CORPUS.read_text(encoding="utf-8").lower()
    assert "nose" not in text and "job" not in text  # only a synonym can find it
    assert ids_of(search("nose job", "--format", "jsonl"))[:1] == ["rhino-recovery"]


def test_misspelling_gets_a_suggestion(search) -> None:
    data = json_of(search("rhinoplsty", "--format", "json"))
    assert data["suggestion"] and "rhinoplasty" in data["suggestion"]
    table = search("rhinoplsty")
    assert table.exit_code == 0
    assert "did you mean" in table.stdout and "rhinoplasty" in table.stdout


def test_zero_hits_exit_zero(search) -> None:
    result = search("zzqxv", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["hits"] == []
    assert search("zzqxv").stdout.startswith("0 hits")


# ---------------------------------------------------------------------------- duplicates, explain
def test_syndicated_copy_is_one_hit_with_also_at_unless_all_copies(search) -> None:
    pair = {"botox-ptosis", "botox-ptosis-copy"}
    urls = {"botox-ptosis": "https://beauty-journal.test/2024/03/anti-wrinkle-injections-drooping-eyelid",
            "botox-ptosis-copy": "https://clinic-notes.test/syndicated/anti-wrinkle-drooping-eyelid"}
    hits = json_of(search("ptosis eyelid", "--format", "json"))["hits"]
    grouped = [h for h in hits if h["id"] in pair]
    assert len(grouped) == 1
    other = (pair - {grouped[0]["id"]}).pop()
    assert grouped[0]["also_at"] == [urls[other]]
    assert "also at: " + urls[other] in search("ptosis eyelid").stdout
    every = ids_of(search("ptosis eyelid", "--all-copies", "--format", "jsonl"))
    assert pair <= set(every)


def test_explain_adds_a_score_breakdown(search) -> None:
    hit = json_of(search("rhinoplasty", "--explain", "--format", "json"))["hits"][0]
    assert isinstance(hit["explanation"], str) and hit["explanation"].strip()
    assert "explain:" in search("rhinoplasty", "--explain").stdout
    assert "explanation" not in json_of(search("rhinoplasty", "--format", "json"))["hits"][0]


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("args", "needle"), [
    (['"nose job'], "unbalanced '\"'"),
    (["(botox OR filler"], "unbalanced '('"),
    (["colour:red"], "colour"),
    (["risk", "--since", "2024-13-01"], "--since"),
    (["risk", "--until", "yesterday"], "--until"),
    (["risk", "--since", "2024-02-30"], "--since"),
    (["risk", "--since", "2024-05", "--until", "2024-01"], "--since"),
    ([], "QUERY"),
    (["risk", "--queries", "q.jsonl"], "QUERY"),
    (["risk", "--tag", "two words"], "--tag"),
])
def test_bad_input_exits_2_naming_the_problem(search, args: list[str], needle: str) -> None:
    result = search(*args)
    assert result.exit_code == 2, result.output
    assert needle.lower() in result.stderr.lower()
    assert "Traceback" not in result.output


def test_click_usage_errors_exit_2(search) -> None:
    for args in (["risk", "--limit", "0"], ["risk", "--lang", "French"],
                 ["risk", "--format", "xml"], ["risk", "--sort", "alpha"]):
        assert search(*args).exit_code == 2


def test_any_language_code_filters(search) -> None:
    """The cleaner stores any ISO 639 code it finds or guesses; none of ours is French."""
    result = search("risk", "--lang", "fr", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hits"] == []
    assert ids_of(search("玻尿酸", "--lang", "ZH", "--format", "jsonl")) == ["zh-hyaluronic"]


def test_no_index_exits_3_and_names_the_index_command(cli, tmp_path: Path) -> None:
    corpus_only = build_search_corpus(tmp_path / "corpus-only", index=False)
    for data_dir in (corpus_only, tmp_path / "nothing-here"):
        result = cli("--data-dir", str(data_dir), "search", "risk")
        assert result.exit_code == 3, result.output
        assert "aesthetics index" in result.stderr


def test_search_keeps_working_while_the_index_lock_is_held(search, indexed: Path) -> None:
    """Readers never wait for the index writer: the engine swaps complete index versions."""
    from corpus.lock import DataDirLock

    with DataDirLock(indexed, "index", command="test holder"):
        result = search("rhinoplasty", "--format", "jsonl")
        assert result.exit_code == 0 and ids_of(result)[:1] == ["rhino-recovery"]


def test_index_command_exits_4_while_the_index_lock_is_held(indexed: Path) -> None:
    if not (REPO / "search_cli" / "commands" / "index.py").exists():
        pytest.skip("search_cli/commands/index.py (index engineer) has not landed yet")
    from corpus.lock import DataDirLock

    with DataDirLock(indexed, "index", command="test holder"):
        proc = run_aesthetics("index", "--wait", "0.5", data_dir=indexed, timeout=120)
    assert proc.returncode == 4, proc.stderr
    assert str(os.getpid()) in proc.stderr and "Traceback" not in proc.stderr


def test_bad_date_wins_over_missing_index(cli, tmp_path: Path) -> None:
    """Argument errors are reported before the data dir is even looked at."""
    result = cli("--data-dir", str(tmp_path / "none"), "search", "x", "--since", "2024-1-1")
    assert result.exit_code == 2 and "--since" in result.stderr


# ---------------------------------------------------------------------------- batch mode
def write_queries(path: Path, queries: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"_id": k, "text": v}, ensure_ascii=False) + "\n"
                            for k, v in queries.items()), encoding="utf-8")
    return path


def test_batch_trec_is_deterministic_and_well_formed(search, tmp_path: Path) -> None:
    qfile = write_queries(tmp_path / "q.jsonl", {"q1": "rhinoplasty swelling", "q2": "血管栓塞",
                                                 "q3": "risk", "q4": "zzqxv"})
    first = search("--queries", str(qfile), "--format", "trec", "--tag", "run1")
    second = search("--queries", str(qfile), "--format", "trec", "--tag", "run1")
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    rows = [ln.split() for ln in first.stdout.splitlines()]
    assert all(len(r) == 6 and r[1] == "Q0" and r[5] == "run1" for r in rows)
    by_q: dict[str, list[list[str]]] = {}
    for r in rows:
        by_q.setdefault(r[0], []).append(r)
    assert set(by_q) == {"q1", "q2", "q3"}  # q4 has no hits
    assert by_q["q1"][0][2] == "rhino-recovery" and by_q["q2"][0][2] == "zh-hyaluronic"
    assert len(by_q["q3"]) >= len(ENGLISH_IDS) - 1  # default batch limit is 1000, not 10
    for qrows in by_q.values():
        assert [int(r[3]) for r in qrows] == list(range(1, len(qrows) + 1))
        keys = [(-float(r[4]), r[2]) for r in qrows]
        assert keys == sorted(keys) and all(float(r[4]) >= 0 for r in qrows)


def test_batch_other_formats_carry_the_qid(search, tmp_path: Path) -> None:
    qfile = write_queries(tmp_path / "q.jsonl", {"a": "rhinoplasty", "b": "liposuction"})
    lines = [json.loads(ln) for ln in
             search("--queries", str(qfile), "--format", "jsonl").stdout.splitlines()]
    assert {ln["qid"] for ln in lines} == {"a", "b"}
    rows = list(csv.DictReader(io.StringIO(
        search("--queries", str(qfile), "--format", "csv").stdout)))
    assert rows[0]["qid"] == "a" and rows[0]["id"] == "rhino-recovery"
    data = json_of(search("--queries", str(qfile), "--format", "json", "--limit", "1"))
    assert [(q["qid"], [h["id"] for h in q["hits"]]) for q in data] == [
        ("a", ["rhino-recovery"]), ("b", ["lipo-contour"])]
    urls = search("--queries", str(qfile), "--format", "urls", "--limit", "1").stdout
    assert urls.splitlines()[0].startswith("a\thttps://clinic-notes.test/")
    filtered = [json.loads(ln) for ln in search(
        "--queries", str(qfile), "--format", "jsonl", "--site", "beauty-journal.test"
    ).stdout.splitlines()]
    assert [h["id"] for h in filtered if h["qid"] == "b"][0] == "lipo-contour"
    assert {h["site"] for h in filtered} == {"beauty-journal.test"}


@pytest.mark.parametrize(("content", "needle"), [
    ('{"_id": "1", "text": "ok"}\nnot json\n', ":2:"),
    ('{"_id": "1"}\n', ":1:"),
    ("[1, 2]\n", ":1:"),
])
def test_bad_queries_file_exits_2_with_line(search, tmp_path: Path, content: str,
                                            needle: str) -> None:
    qfile = tmp_path / "bad.jsonl"
    qfile.write_text(content, encoding="utf-8")
    result = search("--queries", str(qfile), "--format", "trec")
    assert result.exit_code == 2 and needle in result.stderr and "--queries" in result.stderr


# ---------------------------------------------------------------------------- real subprocess
def test_subprocess_json_and_exit_codes(indexed: Path, tmp_path: Path) -> None:
    ok = run_aesthetics("search", "rhinoplasty", "--format", "json", data_dir=indexed)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["hits"][0]["id"] == "rhino-recovery"
    assert "Traceback" not in ok.stderr
    bad = run_aesthetics("search", '"unbalanced', data_dir=indexed)
    assert bad.returncode == 2 and bad.stderr.startswith("Error:") and "Traceback" not in bad.stderr
    none = run_aesthetics("search", "risk", data_dir=tmp_path / "empty")
    assert none.returncode == 3 and "aesthetics index" in none.stderr


def test_piped_into_head_has_no_broken_pipe_traceback(indexed: Path, tmp_path: Path) -> None:
    # ~300 queries x 10 hits of TREC lines: far more than a pipe buffer, so head really closes
    # the pipe while we are still writing.
    qfile = write_queries(tmp_path / "many.jsonl", {f"q{i}": "risk" for i in range(300)})
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("AESTHETICS_DATA_DIR", None)
    cmd = (f'"{sys.executable}" -c "from search_cli.main import main; main()" '
           f'--data-dir "{indexed}" search --queries "{qfile}" --format trec '
           f'2>"{tmp_path}/err.txt" | head -1; echo "rc=${{PIPESTATUS[0]}}"')
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env,
                          timeout=120)
    first, status = proc.stdout.splitlines()
    assert first.startswith("q0 Q0 ")
    err = (tmp_path / "err.txt").read_text()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert status == "rc=0"


_LIST_MODULES = """
import json, sys
from search_cli.main import cli
code = cli.main(args=sys.argv[1:], prog_name="aesthetics", standalone_mode=False)
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(code or 0)
"""


def _imported_modules(*args: str, data_dir: Path) -> set[str]:
    """Every module loaded by a real ``aesthetics ARGS`` run (``importlib.import_module``,
    which loads our commands, is invisible to ``-X importtime``, so ask ``sys.modules``)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("AESTHETICS_DATA_DIR", None)
    proc = subprocess.run([sys.executable, "-c", _LIST_MODULES, "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stderr.rsplit("MODULES ", 1)[1]))


def test_search_never_imports_the_crawl_stack(indexed: Path) -> None:
    crawl_stack = ("scrapy", "twisted", "trafilatura", "py3langid")
    for args in (("search", "rhinoplasty"), ("search", "--help"), ("show", "rhino-recovery")):
        loaded = _imported_modules(*args, data_dir=indexed)
        assert "search_cli.commands.search" in loaded
        heavy = sorted(m for m in loaded if m.split(".")[0] in crawl_stack)
        assert not heavy, f"{args}: {heavy}"
    searched = _imported_modules("search", "rhinoplasty", data_dir=indexed)
    assert "whoosh" in searched  # the check above really ran a search
    helped = _imported_modules("search", "--help", data_dir=indexed)
    assert "whoosh" not in helped  # --help stays instant


def test_shell_completion_lists_commands_and_choices() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), _AESTHETICS_COMPLETE="bash_complete",
               COMP_WORDS="aesthetics sea", COMP_CWORD="1")
    cmd = [sys.executable, "-c", "from search_cli.main import main; main()"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert "plain,search" in proc.stdout.splitlines()
    env.update(COMP_WORDS="aesthetics search x --format t", COMP_CWORD="4")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert {"plain,table", "plain,trec"} <= set(proc.stdout.splitlines())
    env.update(_AESTHETICS_COMPLETE="bash_source")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert "_aesthetics_completion" in proc.stdout
