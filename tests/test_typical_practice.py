"""典型做法 / 经验做法: a site's practice written as sentences from its own 本月进展 — its sentences and
punctuation kept, a phrase repeated month after month said once, no words run together, nothing of
no substance — the part of a report a leader quotes upward."""

from __future__ import annotations

from processor.consolidate.blocks import practice_text


def test_the_sites_own_sentences_keep_their_full_stops_and_commas():
    texts = ["建立党员责任区，党员挂牌上岗。开展技能比武", "建立党员责任区，党员挂牌上岗。结对帮扶困难职工",
             "开展技能比武；结对帮扶困难职工"]
    assert practice_text(texts) == "建立党员责任区，党员挂牌上岗。开展技能比武。结对帮扶困难职工。"


def test_phrases_separated_by_a_space_a_line_or_a_number_do_not_run_together():
    texts = ["开展党员先锋岗创建 划分党员责任区",
             "1.整理完善示范点档案，规范“三会一课”记录\n2.按工作方案推进示范点创建,完善党员活动室"]
    assert practice_text(texts) == ("开展党员先锋岗创建，划分党员责任区。整理完善示范点档案，规范“三会一课”记录。"
                                    "按工作方案推进示范点创建，完善党员活动室。")
    assert practice_text(["完善党员活动室 2.开展“六个一”活动；（3）评选优秀党员"]) == \
        "完善党员活动室；开展“六个一”活动；评选优秀党员。"


def test_the_latest_work_is_quoted_in_whole_sentences():
    texts = ["召开党员大会，部署全年工作。", "开展技能比武；结对帮扶困难职工。", "建立党员责任区，党员挂牌上岗；设立党员先锋岗。"]
    # four clauses at most: the latest sentences whole, an older one left out rather than cut
    assert practice_text(texts) == "开展技能比武；结对帮扶困难职工。建立党员责任区，党员挂牌上岗；设立党员先锋岗。"


def test_words_of_no_substance_are_no_practice():
    assert practice_text(["无", "同上", "  ", None]) == ""
