"""One name per thing (docs/GLOSSARY.md): no msgstr uses a rejected variant of a chosen word."""

import re

import pytest

from .test_punctuation import catalogue_strings

# (rejected spelling, the chosen word)
REJECTED = [
    (r"县\(市\)区|县市区|区县(?!区)", "县（市）区"),
    (r"市级产改办", "市产改办"),
    (r"(?<!区)县产改办|县级产改办|县（市）区产改办", "县区产改办"),
    (r"(?<!产改)观察员", "产改观察员"),
    (r"企业联络员|联络员", "企业联系人"),
    (r"考核期(?!间)|评估周期", "考核周期"),
    (r"考核任务(?!指标)|考核指标", "考核任务指标 (an indicator) or 打卡任务 (an assignment)"),
    (r"证明材料|附件材料", "佐证材料"),
    (r"审核列表|待办队列", "审核队列"),
    (r"审批记录", "审核记录"),
    (r"驳回|打回", "退回"),
    (r"(?<!通知)公告", "通知公告"),
    (r"诉求", "问题需求"),
    (r"典型案例", "优秀案例"),
    (r"仪表盘|看板", "工作台"),
    (r"帐号", "账号"),
    (r"待审核的提交", "待审核的打卡"),
    (r"县区得分", "县区综合得分 (scoring/figures.py: what counties are ranked on)"),
]


def test_no_msgstr_uses_a_rejected_variant():
    problems = [
        f"msgid {msgid!r}: «{msgstr}» uses {match.group(0)!r}, write {chosen}"
        for msgid, msgstr in catalogue_strings()
        for pattern, chosen in REJECTED
        for match in [re.search(pattern, msgstr)]
        if match
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "text, rejected",
    [
        ("县(市)区", True),
        ("县（市）区", False),
        ("鼓楼区县区产改办", False),
        ("各区县", True),
        ("县产改办", True),
        ("考核任务", True),
        ("考核任务指标", False),
        ("观察员", True),
        ("产改观察员", False),
        ("通知公告", False),
        ("公告", True),
    ],
)
def test_the_patterns_tell_variants_from_the_chosen_words(text, rejected):
    assert any(re.search(pattern, text) for pattern, _ in REJECTED) is rejected
