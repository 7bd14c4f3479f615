"""Merchant-facing words of the output files, in English (the default) or Chinese (`--lang zh`).

Only what a person reads changes with the language: column headers, sheet names and the labels of
the xlsx summary sheet. Data values (SKU ids, program ids, reason codes, the rules' details) stay
as they are in every language, so a script reads a Chinese file by column position exactly as it
reads an English one.
"""

from __future__ import annotations

LANGS = ("en", "zh")

# The columns of plan.csv and excluded.csv, in file order (SPEC 5): the writer writes them, the
# report reads them. Here, beside their Chinese headers, because this module imports nothing.
PLAN_COLUMNS = ("sku_id", "offer_id", "program", "price", "units", "revenue", "fee_rate", "fees",
                "margin", "change", "warning")
EXCLUDED_COLUMNS = ("sku_id", "program", "reason", "detail")

# plan.csv / excluded.csv columns (SPEC 5). Money is yuan, hence 元; units are expected units
# sold over the program's horizon, hence 预计.
_HEADERS_ZH = {
    "sku_id": "SKU编号",
    "offer_id": "商品ID",
    "program": "报名项目",
    "price": "报名价(元)",
    "units": "预计件数",
    "revenue": "预计销售额(元)",
    "fee_rate": "费率",
    "fees": "预计平台费用(元)",
    "margin": "预计毛利(元)",
    # SPEC 6.1: keep | new | reprice against today's enrollments, and what a locked row breaks
    "change": "变动",
    "warning": "规则提示",
    "reason": "原因代码",
    "detail": "说明",
    # xlsx only: the program's Chinese name beside its id
    "program_name": "项目名称",
}

_WORDS_ZH = {
    # sheet names (Excel: at most 31 characters, none of []:*?/\)
    "plan": "报名方案",
    "excluded": "未报名",
    "summary": "汇总",
    "todo": "待办",  # SPEC 6.1: rows to register, reprice or leave against today's enrollments
    # the summary sheet
    "name": "场景",
    "status": "求解状态",
    "objective": "预计总毛利(元)",
    "bound": "毛利上界(元)",
    "gap": "与上界差距",
    "enrolled_skus": "报名SKU数",
    "constraint": "约束",
    "value": "实际值",
    "limit": "限额",
    "reason": "原因代码",
    "meaning": "含义",
    "rows": "行数",
    "sheets": "工作表",
    "note": "备注",
    "item": "指标",
    "figure": "数值",
    # the 通天 GMV target: which programs' revenue counted, and the shop's ordinary sales
    "counts_toward_gmv": "计入通天GMV",
    "yes": "是",
    "no": "否",
    "gmv_baseline": "其中：店铺日常1688销售额(baseline_gmv)",
    "gmv_counted": "其中：计入的项目",
}

_WORDS_EN = {
    "enrolled_skus": "enrolled SKUs",
    "todo": "to do",
    "counts_toward_gmv": "counts toward GMV target",
    "gmv_baseline": "of which: ordinary 1688 sales (baseline_gmv)",
    "gmv_counted": "of which: counted programs",
}


def list_text(items: list[str], lang: str) -> str:
    """A list of ids in running text: "a, b" in English, "a、b" in Chinese."""
    return ("、" if lang == "zh" else ", ").join(items)


def bracket(text: str, lang: str) -> str:
    """Text in brackets after a label: " (text)" in English, "（text）" in Chinese."""
    return f"（{text}）" if lang == "zh" else f" ({text})"

_STATUS_ZH = {
    "OPTIMAL": "最优(已证明)",
    "FEASIBLE": "可行(差距见下)",
    "INFEASIBLE": "无可行方案",
    "NO_SOLUTION": "时限内未找到方案",
}

REASON_MEANINGS = {
    "en": {
        "MERCHANT_RULE": "the shop does not meet the program's merchant rules",
        "SKU_RULE": "the SKU does not meet the program's SKU rules",
        "PRICE_CAP": "no price under the program's price caps keeps a non-negative margin",
        "EXCLUSIVE": "the offer is in a program this one excludes",
        "STOCK": "even at its highest allowed price the SKU sells more than its stock",
        "NOT_CHOSEN": "eligible, but not chosen for the plan",
        "EXIT": "enrolled today (current), left by this plan",
    },
    "zh": {
        "MERCHANT_RULE": "店铺不满足该项目的商家条件",
        "SKU_RULE": "该SKU不满足项目的商品条件",
        "PRICE_CAP": "在项目限价内没有不亏本的报名价",
        "EXCLUSIVE": "同一商品已报名与之互斥的项目",
        "STOCK": "即使按最高允许价格，预计销量也超过可用库存",
        "NOT_CHOSEN": "符合条件，但未被选入方案",
        "EXIT": "当前已报名，本方案退出",
    },
}


def check_lang(lang: str) -> str:
    """The language, or ValueError naming the ones there are (before anything is solved)."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (one of {', '.join(LANGS)})")
    return lang


def header(column: str, lang: str) -> str:
    """The header of a file column: its own name in English."""
    return _HEADERS_ZH[column] if lang == "zh" else column


def headers(columns: tuple[str, ...], lang: str) -> tuple[str, ...]:
    return tuple(header(c, lang) for c in columns)


def word(key: str, lang: str) -> str:
    """A sheet name or a summary-sheet label."""
    if lang == "zh":
        return _WORDS_ZH[key]
    return _WORDS_EN.get(key, key.replace("_", " "))


def status_text(status: str, lang: str) -> str:
    """The status code, with its meaning in Chinese beside it."""
    return f"{status} {_STATUS_ZH[status]}" if lang == "zh" and status in _STATUS_ZH else status
