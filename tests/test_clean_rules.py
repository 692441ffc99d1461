"""The portal rules around trafilatura, one by one, on lines and pages of our own writing."""

from __future__ import annotations

from indexer.boilerplate import category_from_crumbs, crumbs_of, is_breadcrumb_line, tidy_lines
from indexer.clean import clean, drop_link_runs, is_link_line
from indexer.metadata import detect_language, page_key, strip_site_suffix

BODY = ("Swelling after a brow lift settles over two to three weeks, and most patients return to "
        "desk work after ten days. ")


def test_breadcrumb_lines_in_english_and_chinese() -> None:
    line = "Current location - Beauty Net - Plastic surgery and medical aesthetics - Fillers explained"
    assert is_breadcrumb_line(line)
    assert crumbs_of(line) == ["Beauty Net", "Plastic surgery and medical aesthetics",
                               "Fillers explained"]
    assert category_from_crumbs(crumbs_of(line), "Fillers explained", "Beauty Net") == \
        "Plastic surgery and medical aesthetics"
    zh = "当前位置：首页 > 整形美容 > 眼部整形 > 双眼皮"
    assert is_breadcrumb_line(zh)
    assert category_from_crumbs(crumbs_of(zh), "双眼皮", None) == "整形美容 / 眼部整形"
    assert not is_breadcrumb_line("Location matters less than the surgeon's experience.")


def test_promo_markers_take_their_link_list_along() -> None:
    links = {"Botox for a gummy smile", "Choosing a lip filler"}
    lines = [BODY, "Related articles:", "Botox for a gummy smile", "Choosing a lip filler", BODY + "x"]
    assert tidy_lines(lines, links.__contains__) == [BODY, BODY + "x"]
    assert tidy_lines([BODY, "READ MORE: Why fillers migrate", BODY]) == [BODY, BODY]
    assert tidy_lines([BODY, "相关阅读：开眼角手术的风险", BODY]) == [BODY, BODY]


def test_trailing_related_block_is_cut_but_not_an_early_heading() -> None:
    lines = [BODY * 3, "Related procedures", "Thread lift", "Skin boosters"]
    assert tidy_lines(lines) == [BODY * 3]
    early = ["Comments", BODY * 3]  # a first line cannot end the article
    assert tidy_lines(early) == early


def test_calls_to_action_meta_and_copyright_lines_go() -> None:
    noise = ["Follow us on Instagram for before-and-after photos", "扫码关注我们的微信公众号",
             "By Jane Doe", "发布时间：2024-03-05 来源：整形美容网", "Published 5 March 2024",
             "© 2024 Beauty Care Network. All rights reserved.", "Share this: Weibo WeChat",
             "（责任编辑：王敏）", "本文来源：整形美容网", "免责声明：本文仅供参考，不能代替医生的诊断。",
             "【打印本页】【关闭窗口】", "Print | Email | Back to top"]
    assert tidy_lines([BODY, *noise, BODY]) == [BODY, BODY]
    kept = ["By the second week most bruising has faded.", "Follow the aftercare sheet exactly."]
    assert tidy_lines([BODY, *kept]) == [BODY, *kept]


def test_link_runs_and_teasers() -> None:
    links = {"Home", "News", "Injectables", "Ask a doctor", "Why lip filler migrates"}
    lines = ["Home", "News", "Injectables", BODY, "Ask a doctor", BODY,
             "Why lip filler migrates and what dissolving it involves for patients",
             "Why lip filler migrates"]
    assert is_link_line(lines[6], links) and not is_link_line(BODY, links)
    # a run of three menu lines goes, a lone link line stays, a closing pair goes
    assert drop_link_runs(lines, links) == [BODY, "Ask a doctor", BODY]


def test_split_article_chunks_are_recovered_in_order() -> None:
    para = "<p>{} " + "Recovery after liposuction is gradual and compression garments help. " * 3 + "</p>"
    chunk = '<div class="story-chunk">' + "{}" + "</div>"
    first = chunk.format("".join(para.format(f"Part one, paragraph {i}.") for i in range(4)))
    second = chunk.format("".join(para.format(f"Part two, paragraph {i}.") for i in range(4)))
    html = ('<html><body><div class="story"><div class="row">' + first + '</div>'
            '<div class="row"><div class="ad"><a href="/x">Advert</a></div></div>'
            '<div class="row">' + second + "</div></div></body></html>")
    text = clean(html, "https://x.example/lipo.html").text
    assert "Part one, paragraph 0." in text and "Part two, paragraph 3." in text
    assert text.index("Part one, paragraph 3.") < text.index("Part two, paragraph 0.")


def test_title_site_suffix() -> None:
    assert strip_site_suffix("Rhinoplasty recovery - Face Forward", "Face Forward", "") == (
        "Rhinoplasty recovery", None)
    assert strip_site_suffix("双眼皮手术后多久消肿_整形美容网", None, "双眼皮手术后多久消肿_整形美容网") == (
        "双眼皮手术后多久消肿", "整形美容网")


def test_page_keys() -> None:
    assert page_key("https://x.example/a/guide_2.html")[1:] == ("https://x.example/a/guide.html", 2)
    assert page_key("https://x.example/a/7.html?page=3")[1:] == ("https://x.example/a/7.html", 3)
    assert page_key("https://x.example/a/article_123.html")[2] == 1  # an id, not a page number


def test_language_detection() -> None:
    assert detect_language("这是一个关于双眼皮手术恢复期的中文段落。" * 3) == "zh"
    assert detect_language("The recovery of the nose takes a year and the swelling goes down.") == "en"
    assert detect_language("") is None


def test_bylines_are_reduced_to_names() -> None:
    from indexer.metadata import _clean_byline

    assert _clean_byline("By Carrie ArnoldNovember 15, 2019") == "Carrie Arnold"
    assert _clean_byline("Bryan DeArdo @BryanDeArdo 1 min read") == "Bryan DeArdo"
    assert _clean_byline("Madeline Fry | November 18, 2019 12:00 AM") == "Madeline Fry"
    assert _clean_byline("作者：王医生") == "王医生"


def test_comment_form_author_field_is_not_the_author() -> None:
    html = ("<html><body><article><p>" + BODY * 3 + "</p></article>"
            '<form><p class="comment-form-author"><label>Name (required)</label></p></form>'
            "</body></html>")
    assert clean(html, "https://x.example/a.html").author is None


def test_escaped_entities_in_meta_titles_are_decoded() -> None:
    html = ('<html><head><meta property="og:title" content="&amp;#8216;Quiet&amp;#8217; lifts">'
            "</head><body><article><p>" + BODY * 3 + "</p></article></body></html>")
    assert clean(html, "https://x.example/a.html").title == "\u2018Quiet\u2019 lifts"


def test_breadcrumb_line_inside_the_article_container() -> None:
    """The seed's shape: the location line is the first line of the article's own block."""
    para = "<p>Micro-needling makes tiny channels in the skin, and the skin repairs them with new collagen.</p>"
    html = ('<html><body><div class="content">Current location - Plastic Surgery and Aesthetics '
            "Network - Plastic surgery and medical aesthetics - Micro-needling explained<br>"
            "<h1>Micro-needling explained</h1>" + para * 5 + "</div></body></html>")
    result = clean(html, "https://x.example/a/1.html")
    assert result.category == "Plastic surgery and medical aesthetics"
    assert result.site_name == "Plastic Surgery and Aesthetics Network"
    assert result.title == "Micro-needling explained"
    assert "Current location" not in result.text


def test_list_and_link_breadcrumbs_drop_the_page_itself() -> None:
    para = "<p>" + BODY * 3 + "</p>"
    listed = ('<html><head><title>Breast augmentation with implants</title></head><body>'
              '<nav class="breadcrumb"><ol><li><a href="/">Home</a></li><li><a href="/e/">Encyclopedia'
              '</a></li><li><a href="/b/">Breast</a></li><li>Breast augmentation with implants</li>'
              "</ol></nav><article>" + para + "</article></body></html>")
    assert clean(listed, "https://x.example/e/b.html").category == "Encyclopedia / Breast"
    linked = ('<html><body><div class="breadcrumbs"><a href="/">Home</a> &gt; <a href="/b/">Breast'
              "</a> &gt; Implants explained</div><article>" + para + "</article></body></html>")
    assert clean(linked, "https://x.example/b/i.html").category == "Breast"
