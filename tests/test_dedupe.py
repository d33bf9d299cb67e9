"""Story clusters: syndicated copies and light rewrites join one cluster; band rows live in the store."""

from __future__ import annotations

import pytest

from monitor.dedupe import (
    ANCHOR_BANDS,
    BANDS,
    anchors,
    assign_story,
    comparable,
    new_sentences,
    split_sentences,
)
from monitor.models import Document
from monitor.store import Store

LEAD = ("Kuaishou's video-generation unit Kling AI has closed a funding round of nearly $3 billion, the largest "
        "single raise for a video model company, with Tencent, Alibaba Cloud and Baidu among the investors.")
BODY = [
    "Beijing Keling, the entity restructured to hold the Kling AI assets, signed with 21 initial investors on "
    "July 2, bringing in roughly RMB 13.8 billion in cash. An additional 15 investors will inject about RMB 5.2 "
    "billion, pushing the committed total to nearly $2.8 billion.",
    "A 60-day window allows further participants, but total capital is capped at RMB 20.4471 billion, "
    "representing 16.67% of the expanded registered capital. The co-leads span private equity, state capital, "
    "technology platforms and brokerage capital.",
    "Analysts said the round shows that China's largest internet platforms now treat video generation as a "
    "strategic category rather than a feature, and that compute costs will decide which video models survive "
    "the next two years of price competition with rivals at home and abroad.",
    "Kling has expanded its paid subscriptions across more than a hundred countries and opened an enterprise "
    "API for advertisers, while the parent company keeps raising capital expenditure for training clusters.",
]
TEXT = "\n\n".join([LEAD, *BODY])
TITLE = "Kling AI closes nearly $3 billion funding round with Tencent, Alibaba Cloud and Baidu"

OTHER = Document(
    source="https://example.org/weather", url="https://example.org/weather",
    title="Heavy rain expected across southern China this weekend",
    text=("Forecasters warned of heavy rain across Guangdong and Guangxi from Friday, with flooding possible in "
          "low-lying districts. Ferry services between Hong Kong and Macau may be suspended on Saturday. "
          "Residents were told to avoid hiking trails and to follow updates from the observatory, which raised "
          "its amber rainstorm signal twice last month. Farmers in the region said the rain would help late rice "
          "crops after a dry spring, though orchards near rivers face losses if banks overflow again this year."))

ZH = ("快手旗下可灵AI完成近30亿美元融资，创下视频大模型单笔融资纪录。腾讯、阿里云和百度均参与本轮投资。"
      "北京可灵于7月2日与21家首批投资方签约，带来约138亿元人民币现金。另有15家投资方将注资约52亿元，"
      "使承诺总额接近28亿美元。本轮总额上限为204.471亿元人民币，对应扩大后注册资本的16.67%。"
      "分析人士认为，中国最大的互联网平台已把视频生成视为战略赛道，算力成本将决定哪些视频模型能够胜出。")


def doc(url: str, title: str, text: str) -> Document:
    return Document(source=url, url=url, title=title, text=text)


def test_syndicated_copy_with_other_boilerplate_is_a_duplicate() -> None:
    store = Store()
    first = assign_story(store, doc("https://a.example/kling", TITLE, TEXT), threshold=0.5)
    copy_text = ("Home | World | Business | Tech | Markets\nSubscribe to our newsletter\n\n" + TEXT
                 + "\n\nCopyright 2026 Wire Syndicate Ltd. All rights reserved.\nShare on X | Share on LinkedIn")
    copy = assign_story(store, doc("https://b.example/news/123", TITLE, copy_text), threshold=0.5)
    assert first.is_new and first.duplicate_of is None and first.cluster_size == 1
    assert copy.cluster_id == first.cluster_id
    assert copy.duplicate_of == "https://a.example/kling"
    assert copy.cluster_size == 2
    assert [s["doc"] for s in store.cluster_stories(first.cluster_id)] == [
        "https://a.example/kling", "https://b.example/news/123"]


def test_unrelated_story_is_not_a_duplicate() -> None:
    store = Store()
    first = assign_story(store, doc("https://a.example/kling", TITLE, TEXT), threshold=0.5)
    other = assign_story(store, OTHER, threshold=0.5)
    assert other.cluster_id != first.cluster_id
    assert other.duplicate_of is None and other.cluster_size == 1


def test_lightly_rewritten_title_and_lead_is_the_same_story() -> None:
    store = Store()
    first = assign_story(store, doc("https://a.example/kling", TITLE, TEXT), threshold=0.5)
    lead2 = ("Kling AI, the video-generation business of Kuaishou, has completed a funding round of almost "
             "$3 billion, a record for a video model company; investors include Tencent, Alibaba Cloud and Baidu.")
    rewritten = doc("https://c.example/2026/kling-round", "Kuaishou's Kling AI completes record $3 billion round",
                    "\n\n".join([lead2, *BODY]))
    got = assign_story(store, rewritten, threshold=0.5)
    assert got.cluster_id == first.cluster_id
    assert got.duplicate_of == "https://a.example/kling"


def test_chinese_text_clusters_by_character_ngrams() -> None:
    store = Store()
    a = assign_story(store, doc("https://cn.example/1", "可灵AI完成近30亿美元融资", ZH), threshold=0.5)
    b = assign_story(store, doc("https://cn2.example/9", "可灵AI完成近30亿美元融资",
                                "首页 | 科技 | 财经\n" + ZH + "\n版权所有，未经授权不得转载。"), threshold=0.5)
    c = assign_story(store, doc("https://cn.example/2", "南方本周末将迎来强降雨",
                                "气象部门预计周五起广东、广西将出现强降雨，低洼地区可能发生内涝，"
                                "港澳之间的渡轮服务周六或将暂停。居民应避免前往山区步道，并留意天文台的最新消息。"),
                     threshold=0.5)
    assert b.cluster_id == a.cluster_id and b.duplicate_of == "https://cn.example/1"
    assert c.cluster_id != a.cluster_id


def test_reassigning_the_same_doc_is_idempotent() -> None:
    store = Store()
    d = doc("https://a.example/kling", TITLE, TEXT)
    first = assign_story(store, d, threshold=0.5)
    again = assign_story(store, d, threshold=0.5)
    assert again.story_id == first.story_id and again.cluster_id == first.cluster_id
    assert again.is_new is False and again.duplicate_of is None
    assert store.count_stories() == 1


def test_lookup_uses_the_band_key_index() -> None:
    store = Store()
    plan = store.story_lookup_plan(BANDS)
    assert any("SEARCH story_keys USING PRIMARY KEY (key=?)" in line for line in plan), plan
    assert not any(line.startswith("SCAN story_keys") for line in plan), plan
    assign_story(store, doc("https://a.example/kling", TITLE, TEXT), threshold=0.5)
    assign_story(store, OTHER, threshold=0.5)
    # 42 LSH bands per story plus one exact-title band each, and 24 anchor bands (both have 6+ anchors)
    assert store.count_story_bands() == 2 * (BANDS + 1 + ANCHOR_BANDS)


def test_window_prunes_band_rows_of_the_oldest_stories() -> None:
    store = Store()
    stories = [doc(f"https://n.example/{i}", f"Story number {i} about topic {i} today",
                   " ".join(f"word{i}x{j} filler{j % 7} item{(i * 31 + j) % 97}" for j in range(80)))
               for i in range(5)]
    for d in stories:
        assign_story(store, d, threshold=0.5, window=3)
    assert store.count_stories() == 5
    assert store.count_story_bands() == 3 * (BANDS + 1)
    # a copy of a story still in the window joins it; the oldest one fell out of the index
    recent = assign_story(store, doc("https://m.example/4", stories[4].title, stories[4].text), threshold=0.5,
                          window=3)
    assert recent.duplicate_of == "https://n.example/4"
    old = assign_story(store, doc("https://m.example/0", stories[0].title, stories[0].text), threshold=0.5,
                       window=3)
    assert old.duplicate_of is None
    assert store.count_story_bands() == 3 * (BANDS + 1)


def test_new_sentences_english_and_chinese() -> None:
    old = "Kling raised $2 billion.  Tencent joined! Is it closed? 快手发布了新模型。用户增长很快！"
    new = ("Kling raised $2 billion. Tencent joined! Is it closed? The round is now $2.8 billion committed. "
           "快手发布了新模型。用户增长很快！可灵的估值达到180亿美元。")
    assert new_sentences(old, new) == ["The round is now $2.8 billion committed.", "可灵的估值达到180亿美元。"]
    assert new_sentences(new, new) == []
    assert split_sentences("One.  Two\nthree! 四。五？") == ["One.", "Two", "three!", "四。", "五？"]


# ------------------------------------------------------------------ copies: script, width, URL, language

ZH_HANT = ("快手旗下可靈AI完成近30億美元融資，創下視頻大模型單筆融資紀錄。騰訊、阿里雲和百度均參與本輪投資。"
           "北京可靈於7月2日與21家首批投資方簽約，帶來約138億元人民幣現金。另有15家投資方將注資約52億元，"
           "使承諾總額接近28億美元。本輪總額上限為204.471億元人民幣，對應擴大後註冊資本的16.67%。"
           "分析人士認為，中國最大的互聯網平台已把視頻生成視為戰略賽道，算力成本將決定哪些視頻模型能夠勝出。")
PT = ("A Kling AI, unidade de vídeo da Kuaishou, fechou uma rodada de quase US$ 3 bilhões, com Tencent, Alibaba "
      "Cloud e Baidu entre os investidores. A Beijing Keling assinou com 21 investidores em 2 de julho, com cerca "
      "de RMB 13,8 bilhões em dinheiro; outros 15 investidores vão aportar RMB 5,2 bilhões, levando o total "
      "a US$ 2,8 bilhões. O teto é de RMB 20,4471 bilhões, ou 16,67% do capital registrado ampliado.")
# The same event told by another outlet in its own words: a few figures in common, nothing more.
OWN_WORDS = ("Tencent and Alibaba have backed a record raise for Kuaishou's Kling, people familiar with the deal "
             "said on Thursday. The financing, which values the video generator well above its rivals, gives "
             "the unit money for compute as it competes with ByteDance's Seedance and Google's Veo. Kuaishou "
             "shares rose 4% in Hong Kong; the company declined to comment on the size of the round, which one "
             "person put near $3 billion.")
SPUN = TEXT.replace("closed", "completed").replace("largest", "biggest").replace("signed", "agreed").replace(
    "roughly", "around").replace("additional", "extra").replace("pushing", "taking").replace(
    "allows", "permits").replace("capped", "limited").replace("span", "include").replace("Analysts", "Experts")


@pytest.mark.parametrize(("url", "title", "text", "lang", "joins"), [
    ("https://b.example/zh-hant", "", ZH_HANT, "zh-Hant", True),  # Traditional copy of the Simplified story
    ("http://www.a.example/zh", "", ZH, "zh", True),  # the same article under http://www.
    ("https://c.example/pt", "", PT, "pt", True),  # re-published in Portuguese: figures and names coincide
    ("https://d.example/spun", TITLE.replace("closes", "completes"), SPUN, "en", True),
    ("https://e.example/own", "Tencent, Alibaba back Kling's record raise", OWN_WORDS, "en", False),
    ("https://f.example/weather", OTHER.title, OTHER.text, "en", False),
], ids=["traditional", "http-www", "portuguese", "spun", "own-words", "unrelated"])
def test_copies_join_and_own_reports_stay_apart(url: str, title: str, text: str, lang: str, joins: bool) -> None:
    store = Store()
    first = assign_story(store, Document(source="https://a.example/zh", url="https://a.example/zh", title="",
                                         text=ZH, lang="zh"), threshold=0.5, common=("Kling", "Kuaishou"))
    english = assign_story(store, Document(source="https://a.example/en", url="https://a.example/en", title=TITLE,
                                           text=TEXT, lang="en"), threshold=0.5, common=("Kling", "Kuaishou"))
    assert english.cluster_id != first.cluster_id  # a summary in Chinese is not a translation of the article
    got = assign_story(store, Document(source=url, url=url, title=title, text=text, lang=lang), threshold=0.5,
                       common=("Kling", "Kuaishou"))
    assert (got.cluster_id in (first.cluster_id, english.cluster_id)) is joins


def test_another_url_spelling_is_the_known_story() -> None:
    store = Store()
    first = assign_story(store, doc("https://news.example/a/1", TITLE, TEXT), threshold=0.5)
    again = assign_story(store, doc("http://www.news.example/a/1", TITLE, TEXT), threshold=0.5)
    assert (again.story_id, again.is_new, again.alias_of) == (first.story_id, False, "https://news.example/a/1")
    assert store.count_stories() == 1


def test_comparable_text_and_anchors() -> None:
    assert comparable("可靈ＡＩ發佈１２３") == "可灵AI发布123"
    assert anchors("Kling raised RMB 13,8 bilhões (1,045,925 shares) in 2025 with Tencent. The deal.",
                   common=("Kling",)) == {"13.8", "1045925", "rmb", "tencent"}
