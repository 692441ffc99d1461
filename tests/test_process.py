"""The page -> document step on a real corpus: articles, non-articles, multi-page joins."""

from __future__ import annotations

from pathlib import Path

from corpus import Page, Store
from corpus.models import utcnow
from indexer.process import CONTINUATION, NOT_ARTICLE, WAITING, PageProcessor

ARTICLE = """<html lang="en"><head><title>Thread lifts explained - Test Site</title>
<link rel="next" href="http://s.test/thread?page=2"></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Thread lifts explained</h1><p class="byline">By Ana Ruiz, March 5, 2024</p>
<p>A thread lift places absorbable sutures under the skin of the cheeks and jawline to lift
sagging tissue without the long incisions of a facelift. Most people return to work within days.</p>
<p>Bruising and swelling are common after a thread lift and usually settle within two weeks;
infection and visible dimpling are less common complications that need a doctor's review.</p>
</article><footer>Copyright Test Site</footer></body></html>"""

PART_TWO = """<html lang="en"><head><title>Thread lifts explained (2) - Test Site</title>
<link rel="prev" href="http://s.test/thread"></head><body><article><h1>Thread lifts explained</h1>
<p>Results of a thread lift last about one to two years, after which the threads dissolve and the
skin slowly returns toward its earlier position; many patients then repeat the procedure.</p>
<p>Asymmetry can appear when threads settle unevenly, and it is usually corrected in a short visit.</p>
</article></body></html>"""

LISTING = """<html><head><title>News - Test Site</title></head><body><ul>""" + "".join(
    f'<li><a href="/a{i}">Article {i}</a></li>' for i in range(40)) + "</ul></body></html>"


def store_page(store: Store, url: str, html: str) -> None:
    store.upsert_page(Page(url=url, site="s.test", status=200, html=html, fetched_at=utcnow()))


def test_multi_page_article_waits_for_its_parts_then_joins(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        processor = PageProcessor(store, data_dir)
        store_page(store, "http://s.test/thread", ARTICLE)
        assert processor.process("http://s.test/thread") == WAITING
        assert store.get_document("http://s.test/thread") is None
        store_page(store, "http://s.test/thread?page=2", PART_TWO)
        assert processor.process("http://s.test/thread?page=2") == CONTINUATION
        doc = store.get_document("http://s.test/thread")
        assert "one to two years" in doc.text and "absorbable sutures" in doc.text
        assert store.get_document("http://s.test/thread?page=2") is None
        assert store.history(doc.id) == []  # no bogus "partial" version
        assert "thread_lift" in doc.procedures or "thread-lift" in doc.procedures
        assert processor.process_pending() == {}


def test_missing_part_is_saved_at_the_end(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        processor = PageProcessor(store, data_dir)
        store_page(store, "http://s.test/thread", ARTICLE)
        assert processor.process("http://s.test/thread") == WAITING
        assert processor.process_pending() == {"new": 1}
        assert "absorbable sutures" in store.get_document("http://s.test/thread").text


def test_listing_is_not_a_document_and_a_former_article_is_tombstoned(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        processor = PageProcessor(store, data_dir)
        store_page(store, "http://s.test/news", LISTING)
        assert processor.process("http://s.test/news") == NOT_ARTICLE
        assert store.count_documents(include_deleted=True) == 0
        single = ARTICLE.replace('<link rel="next" href="http://s.test/thread?page=2">', "")
        single = single.replace("</article>", PART_TWO.split("</h1>")[1].split("</article>")[0]
                                + "</article>")
        store_page(store, "http://s.test/thread", single)
        assert processor.process("http://s.test/thread") == "new"
        store_page(store, "http://s.test/thread", LISTING)
        assert processor.process("http://s.test/thread") == NOT_ARTICLE
        assert store.get_document("http://s.test/thread").deleted
