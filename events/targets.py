"""Annual targets: their forms, and the grammar of the Chinese wording reports use.

A target is written in a plan either as the report's own text (`6.5%左右`, `5.5%以内`,
`高于GDP增速`, `新开工工业项目80个`, `4.5%—5%`), which `parse_target` turns into a
structure, or as that structure directly (`{form: level, value: 270, unit: 家, text: …}`).
Every form keeps `text`, the wording printed in the report's 全年目标 column.

Values are kept in the indicator's canonical unit: money in 万元 (`300亿元` → 3000000),
people in 人 (`1万人` → 10000); other units are kept as written (`万平方米`, `公里`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Bound = Literal["at_least", "about", "at_most"]


def _unset(value: object) -> bool:
    return value is None


class _TargetBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(min_length=1, description="the wording shown in the report's 全年目标 column")


class RateTarget(_TargetBase):
    """A percentage judged against every report: growth (`8.0%`, `增长10%以上`), a rate (`5.5%以内`)."""

    form: Literal["rate"] = "rate"
    value: Decimal
    bound: Bound = "at_least"
    tolerance: Decimal | None = Field(default=None, ge=0, description="for `about`; the plan default when absent")
    # Fields added after plans were first stored are left out of the stored form while unset, so
    # a plan written before keeps its digest (events.models.plan_digest) and its event id.
    stretch: Decimal | None = Field(
        default=None,
        exclude_if=_unset,
        description="the 力争 figure of `增长6%以上，力争7%`: shown, never judged (the floor is)",
    )

    ceiling: bool = Field(
        default=False,
        exclude_if=lambda ceiling: not ceiling,
        description="for `about`: a ceiling, for an indicator where lower is better (`3%左右` of prices)",
    )
    strictly: bool = Field(
        default=False,
        exclude_if=lambda strictly: not strictly,
        description="for `at_least`: the value must pass the figure, not only reach it (`实现正增长`: above 0)",
    )

    @model_validator(mode="after")
    def _stretch_above_floor(self) -> RateTarget:
        if self.strictly and self.bound != "at_least":
            raise ValueError(f"target {self.text!r}: `strictly` is for an at_least bound")
        if self.stretch is not None and (self.bound == "at_most" or self.stretch <= self.value):
            raise ValueError(
                f"target {self.text!r}: the 力争 figure {self.stretch} must be above the floor {self.value}"
            )
        return self


class RangeTarget(_TargetBase):
    """A percentage that should fall inside a range (`4.5%—5%`)."""

    form: Literal["range"] = "range"
    low: Decimal
    high: Decimal
    ceiling: bool = Field(
        default=False,
        exclude_if=lambda ceiling: not ceiling,
        description="for an indicator where lower is better: below the range is its better side",
    )

    @property
    def lower_is_better(self) -> bool:
        """Below the range is the better side: `ceiling`, or a fall (`能耗下降2%—3%`: −3…−2)."""
        return self.ceiling or self.high <= 0

    @model_validator(mode="after")
    def _ordered(self) -> RangeTarget:
        if self.low > self.high:
            raise ValueError(f"range target {self.text!r}: low {self.low} is above high {self.high}")
        return self


class RelativeTarget(_TargetBase):
    """Against another indicator's value for the same period: above it (`高于GDP增速`), not below
    it, or in step with it (`与经济增长同步`: not more than `tolerance` points below it)."""

    form: Literal["relative"] = "relative"
    reference: str = Field(min_length=1, description="id, name or alias of the referenced indicator")
    bound: Literal["above", "not_below", "in_step"] = "above"
    tolerance: Decimal | None = Field(
        default=None,
        ge=0,
        exclude_if=_unset,
        description="for `in_step`: points below the reference still in step; the plan's about_tolerance when absent",
    )
    by: Decimal | None = Field(
        default=None,
        gt=0,
        exclude_if=_unset,
        description="for `above`/`not_below`: at least this many 个百分点 above the reference (`高于GDP增速1个百分点`)",
    )

    @model_validator(mode="after")
    def _by_not_in_step(self) -> RelativeTarget:
        if self.by is not None and self.bound == "in_step":
            raise ValueError(f"target {self.text!r}: `by` is for above or not_below, not in_step")
        return self


class CumulativeTarget(_TargetBase):
    """An amount or count built up over the year (`新开工工业项目80个`), judged against 序时进度."""

    form: Literal["cumulative"] = "cumulative"
    value: Decimal = Field(gt=0)
    unit: str
    bound: Literal["at_least", "about"] = "at_least"


class LevelTarget(_TargetBase):
    """A stock reaching a level by year end (`达到270家`, `29万吨左右`).

    With a `baseline` (the level at the start of the year) progress is judged against
    序时进度 like a cumulative task; without one it is only due at year end.
    """

    form: Literal["level"] = "level"
    value: Decimal
    unit: str
    bound: Bound = "at_least"
    baseline: Decimal | None = None


class PointsTarget(_TargetBase):
    """A rate moved by percentage points from last year's level (`城镇化率提高1个百分点`,
    `下降0.5个百分点`): judged on the level reported against `baseline` + `change`, like a level
    reached by year end. The wording alone does not say where the rate starts, so `baseline` is
    part of the target (`{text: 提高1个百分点, baseline: 61.6}`)."""

    form: Literal["points"] = "points"
    change: Decimal = Field(description="个百分点, signed: a fall (下降, 降低) is negative")
    bound: Bound = "at_least"
    baseline: Decimal = Field(description="last year's level of the rate, in %")

    @property
    def level(self) -> Decimal:
        """The level the rate should reach (at least, about or at most, by `bound`)."""
        return self.baseline + self.change


class QualitativeTarget(_TargetBase):
    """A requirement with no number (`下降达到“十四五”目标要求`, `完成市下达任务`): judged by the
    annual assessment."""

    form: Literal["qualitative"] = "qualitative"


Target = Annotated[
    RateTarget | RangeTarget | RelativeTarget | CumulativeTarget | LevelTarget | PointsTarget | QualitativeTarget,
    Field(discriminator="form"),
]

# --- the grammar -------------------------------------------------------------------------

_NUM = r"(?P<num>-?\d+(?:\.\d+)?)"
# What may stand before the figure: the indicator's own name (`地区生产总值增长6%以上`, checked
# against the indicator by events.plan), the basis of comparison (`同比`, `比上年`) and a verb.
_LABEL = r"(?P<label>[^\d%]*?)"
_BASIS = r"(?:同比|(?:比|较)(?:上年|去年|\d{4}年)(?:同期)?)?"  # 比上年, 较2024年同期
_RATE = re.compile(
    "^"
    + _LABEL
    + _BASIS
    + r"(?P<pre>增长|增速|增幅|达到|突破|提高到|提高至|提升到|提升至|超过|不低于|不少于|高于|大于|≥|>="
    + r"|不高于|不超过|控制在|低于|小于|≤|<="
    + r"|(?:下降|降低|减少|降)(?:到|至)|下降|降低|减少)?"
    + _NUM
    + r"%(?P<post>左右|以上|以内|以下)?$"
)
_STRETCH = re.compile(r"^(?P<floor>.+?)[，,；;、]力争(?:增长|达到)?(?P<stretch>-?\d+(?:\.\d+)?)%(?:左右|以上)?$")
# A floor followed by an aspiration with no figure (`增长6.5%左右，在实际工作中力争更好结果`): the
# floor is judged; the rest is printed, as the whole text always is.
# So is a comparison with no figure after a figure (`增长6%左右，与经济增长基本同步`, `增长6%以上，
# 高于全省平均水平`): the figure is the target the plan can be held to; the rest is printed.
_ASPIRATION = re.compile(r"^(?P<floor>.+?)[，,；;、](?:在实际工作中|并)?(?:力争|争取|努力)[^\d%]*$")
_COMPARISON_AFTER = re.compile(
    r"^(?P<floor>.*\d[^，,；;]*)[，,；;](?:保持|实现|基本)?(?:[与同][^\d%]+同步|(?:高于|快于|超过|不低于)[^\d%]+)$"
)
# A range of growth (`4.5%—5%`, `地区生产总值增长6.5%-7%左右`): the name before it is checked as a rate's.
_RANGE = re.compile(
    "^"
    + _LABEL
    + _BASIS
    + r"(?P<verb>增长|增速|增幅|涨幅|达到|保持在|稳定在|下降|降低)?"
    + r"(?P<low>-?\d+(?:\.\d+)?)%?\s*[—–\-~～至到]+\s*(?P<high>-?\d+(?:\.\d+)?)%(?:左右)?$"
)
# `高于GDP增速1个百分点（以上）`: at least that many points above; 快于 and 超过 are 高于.
_RELATIVE = re.compile(
    "^"
    + _LABEL
    + r"(?P<op>高于|快于|超过|不低于)(?P<ref>(?!\d).+?)(?:增速|增长)?"  # 不低于25万亩 is an amount
    + r"(?:(?P<by>\d+(?:\.\d+)?|[一二两三四五六七八九十半])个?百分点(?:以上)?)?$"
)
_IN_STEP = re.compile("^" + _LABEL + r"[与同](?P<ref>.+?)(?:基本)?同步$")
# A change of a rate in 个百分点; a small count may be written in characters (`提高一个百分点`).
_POINTS = re.compile(
    "^"
    + _LABEL
    + _BASIS
    + r"(?P<verb>提高|提升|增加|上升|下降|降低|减少)"
    + r"(?P<num>\d+(?:\.\d+)?|[一二两三四五六七八九十半])个?百分点(?P<post>左右|以上|以内)?$"
)
_NUMERALS = {"半": "0.5", "一": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7"}
_NUMERALS |= {"八": "8", "九": "9", "十": "10"}
_FALLS = ("下降", "降低", "减少")
_CEILING_RATE_WORDS = ("不高于", "不超过", "控制在", "低于", "小于", "≤", "<=")
_BARE = re.compile(r"^" + _NUM + "$")
# 正增长 (实现正增长, 保持正增长): growth above nought, with no figure of its own.
_POSITIVE = re.compile(r"^" + _LABEL + r"(?:实现|保持)?正增长$")
# 两位数增长 (实现两位数增长): growth of 10% or more, the figure in words.
_DOUBLE_DIGIT = re.compile(r"^" + _LABEL + r"(?:实现|保持)?两位数(?:以上)?增长$")
# 持平 (与上年持平, 基本持平): growth of at least nought; where lower is better, at most (as_ceiling).
_FLAT = re.compile(r"^" + _LABEL + r"(?:与上年|与去年|同比|比上年)?(?:基本|保持|实现)?持平$")
# A figure with a bound and no unit (`2.1以内`, `缩小到2.1以内`): in a plan it takes the indicator's.
_BOUND_WORDS = ("左右", "以上", "以内", "以下")
_UNITLESS = re.compile(r"^(?P<lead>[^\d%]*)(?P<num>-?\d+(?:\.\d+)?)(?P<post>左右|以上|以内|以下)?$")
# Words around the figure that say how, not what (实现增长6%, 稳定在55%以上, 全年增长6%): not a name.
# So are the words of how it is counted (同口径增长3%, 按可比价增长6%, 一般公共预算收入同口径增长3%);
# 实际, 计划, 累计 … only after a name or alone (实际利用外资, 计划投资 are names).
_COUNTED = r"同口径|按?可比价格?(?:计算)?|按?现价"
_NOT_A_NAME = re.compile(
    r"^(?:全年|年均|确保|力争|争取|实现|" + _COUNTED + r")+"
    r"|(?:实现|确保|力争|争取|保持在|保持|稳定在|稳定|维持在|达|名义|实际|累计|计划|预期|预计|目标|" + _COUNTED + r")+$"
)
_FIGURE = re.compile(r"[\d%]|百分点")
# The words of a requirement with no figure (完成市下达任务, 持续下降, 达到考核要求): such a wording
# is qualitative. Other wordings without a figure (比去年好, 高于) are refused, not guessed.
_REQUIREMENT = re.compile(r"任务|要求|目标|标准|下达|考核|持续|稳定|稳步|稳中|保持|确保|巩固|改善|不发生|只增不减")
# An amount in any unit written after the figure (亿元, 万人, 万亩, 万千瓦, 微克/立方米 …): the
# indicator's unit must agree (events.plan), which catches a figure misread as an amount.
_AMOUNT = re.compile(r"^(?P<label>.*?)" + _NUM + r"(?P<unit>[^\d%，,；;。、\s]+?)(?P<post>左右|以上|以内|以下)?$")
# A range of amounts (`新增5～10个`): judged against its floor, the whole printed.
_AMOUNT_RANGE = re.compile(
    r"^(?P<label>.*?)(?P<low>\d+(?:\.\d+)?)\s*[—–\-~～至]+\s*(?P<high>\d+(?:\.\d+)?)"
    r"(?P<unit>[^\d%，,；;。、\s]+?)(?P<post>左右|以上|以内|以下)?$"
)
_FIGURES = re.compile(r"(\d+(?:\.\d+)?)\s*(%|[^\d%，,；;。、\s（）()]{1,3})?")
_TWO_FIGURES = re.compile(r"\d[^，,；;、]*[，,；;、]")  # a figure, then a list's separator, before the figure
_LEVEL_VERBS = ("达到", "突破", "保持", "稳定在")
_CEILING_WORDS = ("控制在", "不超过", "不高于", "低于", "少于", "小于")
_FLOOR_WORDS_BEFORE = ("不低于", "不少于", "不小于")  # end in a ceiling word, and are floors

# units converted into a canonical unit: factor and canonical unit
_CANONICAL = {"亿元": (Decimal(10000), "万元"), "元": (Decimal("0.0001"), "万元"), "万人": (Decimal(10000), "人")}


def canonical_unit(unit: str) -> str:
    return _CANONICAL.get(unit, (Decimal(1), unit))[1]


def to_canonical(value: Decimal, unit: str) -> tuple[Decimal, str]:
    factor, canonical = _CANONICAL.get(unit, (Decimal(1), unit))
    if factor == 1:
        return value, canonical
    scaled = (value * factor).normalize()
    exponent = scaled.as_tuple().exponent  # a letter for NaN and Infinity, which have no digits
    if isinstance(exponent, int) and exponent > 0:
        # 3E+6 is written 3000000; int() is exact at any size, where quantize() would overflow
        # the context's 28 digits
        scaled = Decimal(int(scaled))
    return scaled, canonical


class TargetTextError(ValueError):
    """Raised when a target's wording matches none of the forms planwatch understands."""


ParsedTarget = RateTarget | RangeTarget | RelativeTarget | CumulativeTarget | LevelTarget | QualitativeTarget

_FORMS_HINT = (
    "rate like '6.5%左右', '同比增长6%', '增长6%以上，力争7%', range like '4.5%—5%', "
    "relative like '高于GDP增速' or '与经济增长同步', amount like '新开工工业项目80个', "
    "points like {text: '提高1个百分点', baseline: 61.6}, a requirement with no figure like '完成市下达任务'"
)


MAX_TARGET_TEXT = 200


# A note in brackets (`增长6%（可比价）`, `（同口径）`, `（不含农户）`): how the figure is counted, printed
# with the text, not judged; a bracketed 力争 figure (`增长6%以上（力争7%）`) is the target's stretch.
_NOTE = re.compile(r"[（(][^（）()]*[）)]")
_NOTED_STRETCH = re.compile(r"^[（(](?P<stretch>力争(?:增长|达到)?-?\d+(?:\.\d+)?%(?:左右|以上)?)[）)]$")


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # 1,000亿元: the comma groups digits
_LANDMARK = re.compile(r"(?:大关|关口)$")  # 突破1000亿元大关: the figure's unit is 亿元


def _normalized(text: str) -> str:
    """The wording as the grammar reads it: no spaces, ASCII %, no closing 。 or ；, no notes."""
    normal = _THOUSANDS.sub("", text.strip().replace(" ", "").replace("％", "%").rstrip("。；;，,、"))
    return _LANDMARK.sub("", _NOTE.sub(_unnoted, normal))


def _unnoted(note: re.Match[str]) -> str:
    stretch = _NOTED_STRETCH.match(note[0])
    return "，" + stretch["stretch"] if stretch else ""


def parse_target(text: str) -> ParsedTarget:
    """Turn the report's wording of a target into its structure, or raise TargetTextError quoting it.

    `text` is kept exactly as written: it is what the report prints in its 全年目标 column. A
    requirement with no figure (`完成市下达任务`, `持续下降`) is a qualitative target, judged by the
    annual assessment."""
    if len(text) > MAX_TARGET_TEXT:  # a wording is a line of a table; the grammar's patterns are not for essays
        raise TargetTextError(f"target text is {len(text)} characters long, more than {MAX_TARGET_TEXT}")
    normal = _without_aspiration(_normalized(text))
    target = _parse_rate_or_range(text, normal) or _parse_relative(text, normal) or _parse_amount(text, normal)
    if target is not None:
        return target
    if _POSITIVE.match(normal):
        return RateTarget(text=text, value=Decimal(0), bound="at_least", strictly=True)
    if _DOUBLE_DIGIT.match(normal):
        return RateTarget(text=text, value=Decimal(10), bound="at_least")
    if _FLAT.match(normal):
        return RateTarget(text=text, value=Decimal(0), bound="at_least")
    if _points_fields(text, normal) is not None:
        raise TargetTextError(
            f"target text {text!r} moves a rate by 个百分点 from last year's level, which the wording "
            f"does not give: write it with that level, e.g. {{text: {text}, baseline: 61.6}}"
        )
    if _BARE.match(normal):
        raise TargetTextError(
            f"target text {text!r} is a bare number: in a plan file it takes the indicator's unit; "
            f"elsewhere write it with its unit, e.g. '{normal}%' or '达到{normal}个'"
        )
    if unitless := _UNITLESS.match(normal):
        raise TargetTextError(
            f"target text {text!r} gives its figure {unitless['num']} without a unit: in a plan file it "
            f"takes the indicator's unit; elsewhere write it with its unit, e.g. "
            f"'{unitless['lead']}{unitless['num']}倍{unitless['post'] or ''}'"
        )
    if not _FIGURE.search(normal) and _REQUIREMENT.search(normal):
        return QualitativeTarget(text=text)
    if _TWO_FIGURES.search(normal):
        raise TargetTextError(_two_figures(text, normal))
    raise TargetTextError(
        f"target text {text!r} does not match any known form ({_FORMS_HINT}); write it as a structure with "
        f"`form:`, e.g. {{form: qualitative, text: {text}}} for a requirement judged by the annual assessment"
    )


def _two_figures(text: str, normal: str) -> str:
    """Why `新开工项目30个、竣工项目20个` or `达到500亿元，增长6%` is no one target, and what to write."""
    figures = _FIGURES.findall(normal)
    number, unit = figures[0]
    judged = f"form: rate, value: {number}" if unit == "%" else f"form: cumulative, value: {number}, unit: {unit}"
    return (
        f"target text {text!r} gives several figures ({'、'.join(map(''.join, figures))}): a target is "
        "judged on one; "
        f"make an indicator of each, or write it as a structure naming the one judged, e.g. "
        f"{{{judged}, bound: at_least, text: {text}}}"
    )


def _without_aspiration(text: str) -> str:
    """The wording judged: a trailing aspiration or comparison with no figure (`，力争更好结果`,
    `，与经济增长同步` after a figure) left out."""
    match = _ASPIRATION.match(text) or _COMPARISON_AFTER.match(text)
    return match["floor"] if match else text


def target_fields(text: str, given: Mapping[str, object]) -> dict[str, object]:
    """A target written as its wording with some fields of its own (`{text: 提高1个百分点,
    baseline: 61.6}`, `{text: 6.5%左右, tolerance: 0.3}`): the structure the wording parses to,
    with `given` added, for the target's model to validate (and name a bad field)."""
    if len(text) > MAX_TARGET_TEXT:
        parse_target(text)  # refused, saying why
    normal = _without_aspiration(_normalized(text))
    points = _points_fields(text, normal)
    if points is not None and "baseline" not in given:
        parse_target(text)  # refused, saying what is missing
    parsed = points if points is not None else parse_target(text).model_dump()
    return {**parsed, **given}


def _points_fields(raw: str, text: str) -> dict[str, object] | None:
    match = _POINTS.match(text)
    if match is None:
        return None
    size = Decimal(_NUMERALS.get(match["num"], match["num"]))
    fall, post = match["verb"] in _FALLS, match["post"] or ""
    if post == "左右":
        bound: Bound = "about"
    elif post == "以内":  # a move of at most that much: a rise capped, a fall limited
        bound = "at_least" if fall else "at_most"
    else:
        bound = "at_most" if fall else "at_least"
    return {"form": "points", "text": raw, "change": -size if fall else size, "bound": bound}


def _parse_rate_or_range(raw: str, text: str) -> RateTarget | RangeTarget | None:
    if match := _RANGE.match(text):
        low, high = Decimal(match["low"]), Decimal(match["high"])
        if match["verb"] in _FALLS:  # 下降2%—3%: growth between -3% and -2%
            low, high = -high, -low
        if low > high:
            raise TargetTextError(f"target text {raw!r}: the range's first figure must be the lower one")
        return RangeTarget(text=raw, low=low, high=high)
    if match := _STRETCH.match(text):
        floor = _rate(raw, match["floor"])
        if floor is None or floor.bound == "at_most":
            return None
        return RateTarget(text=raw, value=floor.value, bound=floor.bound, stretch=Decimal(match["stretch"]))
    return _rate(raw, text)


def _rate(raw: str, text: str) -> RateTarget | None:
    match = _RATE.match(text)
    if match is None:
        return None
    value = Decimal(match["num"])
    pre, post = match["pre"] or "", match["post"] or ""
    if pre in _FALLS:  # 下降5%: growth at most -5; 下降5%以内: a fall of at most 5%; 下降5%左右: about -5
        bound: Bound = "at_least" if post in ("以内", "以下") else "about" if post == "左右" else "at_most"
        return RateTarget(text=raw, value=-value, bound=bound, ceiling=bound == "about")
    lowered = pre.endswith(("到", "至")) and pre.startswith(("下降", "降", "减少"))  # 降至5%: a level under it
    if pre in _CEILING_RATE_WORDS or lowered or post in ("以内", "以下"):
        if post == "左右":  # 控制在5.5%左右: about, with lower the better side
            return RateTarget(text=raw, value=value, bound="about", ceiling=True)
        bound = "at_most"
    elif post == "左右":
        bound = "about"
    else:
        bound = "at_least"
    return RateTarget(text=raw, value=value, bound=bound)


def _parse_relative(raw: str, text: str) -> RelativeTarget | None:
    if match := _IN_STEP.match(text):
        return RelativeTarget(text=raw, reference=match["ref"], bound="in_step")
    if match := _RELATIVE.match(text):
        by = Decimal(_NUMERALS.get(match["by"], match["by"])) if match["by"] else None
        if by is not None and by <= 0:
            raise TargetTextError(f"target text {raw!r}: a margin of {by} 个百分点 says nothing; leave it out")
        bound = "not_below" if match["op"] == "不低于" else "above"
        return RelativeTarget(text=raw, reference=match["ref"], bound=bound, by=by)
    return None


def _parse_amount(raw: str, text: str) -> CumulativeTarget | LevelTarget | None:
    match = _AMOUNT_RANGE.match(text) or _AMOUNT.match(text)
    if match is None or "百分点" in match["unit"] or match["unit"] in _BOUND_WORDS:  # 2.1以内: no unit
        return None
    if _TWO_FIGURES.search(match["label"]):  # 新开工项目30个、竣工项目20个: two targets, not one
        return None
    figure = Decimal(match["low"] if "low" in match.re.groupindex else match["num"])  # a range: its floor
    value, unit = to_canonical(figure, match["unit"])
    label, post = match["label"], match["post"] or ""
    about = post == "左右"
    ceiling_word = label.endswith(_CEILING_WORDS) and not label.endswith(_FLOOR_WORDS_BEFORE)
    if post in ("以内", "以下") or ceiling_word:  # a ceiling: a level kept under it
        return LevelTarget(text=raw, value=value, unit=unit, bound="at_most")
    if label.startswith(_LEVEL_VERBS) or label.endswith(_LEVEL_VERBS) or (about and not label):
        return LevelTarget(text=raw, value=value, unit=unit, bound="about" if about else "at_least")
    if value <= 0:
        raise TargetTextError(f"target text {raw!r}: an amount to build up over the year must be above 0")
    return CumulativeTarget(text=raw, value=value, unit=unit, bound="about" if about else "at_least")


# Words that make a rate target a floor whichever way the indicator is better.
_FLOOR_WORDS = re.compile(r"正增长|以上|不低于|不少于|高于|大于|≥|>=|超过|达到|提高到|提高至|提升到|提升至|力争")


@lru_cache(maxsize=512)  # a plan's rate targets, judged at every change of their values
def as_ceiling(target: RateTarget) -> RateTarget:
    """`target` for an indicator where lower is better (unemployment, prices, energy use): a
    wording that sets no direction (`5.5%`, `3%左右`) is a ceiling; one that does (`以内`, `以上`)
    keeps it."""
    if target.bound == "at_least" and target.stretch is None and not _FLOOR_WORDS.search(target.text):
        return target.model_copy(update={"bound": "at_most"})
    if target.bound == "about":
        return target.model_copy(update={"ceiling": True})
    return target


@lru_cache(maxsize=512)  # a plan's range targets, judged at every change of their values
def as_lower_better(target: RangeTarget) -> RangeTarget:
    """`target` for an indicator where lower is better: below the range is its better side."""
    return target if target.ceiling else target.model_copy(update={"ceiling": True})


@lru_cache(maxsize=4096)  # asked for every indicator each time a stored plan is decoded
def named_subject(text: str, unit: str = "") -> str:
    """The words a rate or relative target puts before its figure, e.g. 地区生产总值 in
    `地区生产总值增长6%以上` ('' when none): they must name the indicator the target is for. With
    `unit` %, a figure written without it (`地区生产总值增长6`) is read as `with_unit` reads it."""
    if len(text) > MAX_TARGET_TEXT:  # a structure's long text is not read by the grammar (nor here)
        return ""
    normal = _normalized(text)
    normal = _without_aspiration(normal)
    normal = match["floor"] if (match := _STRETCH.match(normal)) else normal
    for pattern in (_RATE, _RANGE, _POINTS, _IN_STEP, _RELATIVE, _POSITIVE, _DOUBLE_DIGIT, _FLAT):
        if match := pattern.match(normal):
            return _NOT_A_NAME.sub("", match["label"])
    if unit == "%" and (unitless := _UNITLESS.match(normal)):
        return named_subject(f"{unitless['lead']}{unitless['num']}%{unitless['post'] or ''}")
    return ""


def with_unit(text: str, unit: str) -> ParsedTarget | None:
    """A wording whose figure has no unit (`缩小到2.1以内`, `增长6` in a % column) read with the
    indicator's `unit` after its figure, `text` kept as written; None for any other wording (a bare
    number is `bare_target`'s)."""
    normal = _normalized(text) if len(text) <= MAX_TARGET_TEXT else ""
    match = _UNITLESS.match(normal)
    if match is None or not unit or not (match["lead"] or match["post"]) or _RELATIVE.match(normal):
        return None  # 高于GDP增速1: a comparison's margin needs its 个百分点, not a unit
    filled = f"{match['lead']}{match['num']}{unit}{match['post'] or ''}"
    try:
        return parse_target(filled).model_copy(update={"text": text})
    except TargetTextError as exc:
        raise TargetTextError(f"target text {text!r}, read in the indicator's unit as {filled!r}: {exc}") from None


def bare_target(text: str, unit: str) -> RateTarget | CumulativeTarget:
    """A target given as a bare number in a table whose unit is in the indicator's name
    (`地区生产总值增速（%）| 7`): a rate at least that for %, else an amount built up over the
    year in the indicator's unit (write `达到N…` for a level reached by year end)."""
    value = Decimal(_normalized(text))
    if unit == "%":
        return RateTarget(text=text, value=value, bound="at_least")
    amount, canonical = to_canonical(value, unit)
    return CumulativeTarget(text=text, value=amount, unit=canonical)


def _parse_if_text(value: object) -> object:
    try:
        if isinstance(value, str):
            return parse_target(value)
        if isinstance(value, Mapping) and "form" not in value and isinstance(text := value.get("text"), str):
            return target_fields(text, {key: item for key, item in value.items() if key != "text"})
    except TargetTextError as exc:
        raise ValueError(str(exc)) from None
    return value


TargetSpec = Annotated[Target, BeforeValidator(_parse_if_text)]
"""A target given either as the report's wording or as a structure with `form:`."""
