"""Word lists that decide how a number next to them is read."""

from __future__ import annotations

import re

# After the number 2, these make it 两 (两个, 两次, 两万, 两年); 二 stays for 二月, 二日,
# 二号, 二楼, 二年级, 二分之一 and in ordinals (第二).
TWO_WORDS = (
    "小时|分钟|公里|公斤|千克|千米|平方米|平方公里|立方米|个月|季度|星期|周岁|"
    "万|千|亿|百|个|人|次|名|户|件|起|条|份|元|块|角|毛|岁|天|年(?!级)|位|项|类|种|场|"
    "批|支|套|本|册|张|台|辆|所|家|座|间|处|篇|部|段|句|页|倍|遍|轮|届|门|只|头|棵|株|"
    "吨|亩|斤|米|周|秒|分(?!之)|宗|笔|例|首|单(?!元|位)|艘|架|枚|颗|根|把|盏|封|口|对|双|副|"
    "声|步|趟|顿|回|点|成|杯|瓶|袋|箱|包|片|粒|朵|匹|桶|盒|罐|克|升|毫升|毫克|厘米|毫米"
)
TWO_FOLLOW = re.compile(rf"\s*(?:{TWO_WORDS})")

# Approximation words after a number: 2000余份, 300来人, 50多岁, 100左右.
APPROX = "来|余|多|左右|上下"

# A number followed by one of these is a quantity / date part / ordinal, never a phone
# number or code (``110人``, ``12345元``, ``2000余份``, ``4日``). An approximation word
# counts only when a measure word follows it (``12315来反映`` stays a hotline).
QTY_FOLLOW = re.compile(
    rf"\s*(?:(?:{APPROX})?(?:{TWO_WORDS}|[号楼层栋级班月日时分条款项章节编届期%‰度℃克升厘寸尺里])"
    r"|(?:左右|上下)(?![\u4e00-\u9fff]))"
)

# Immediately before a number, these mean "a count", not a hotline (共有120, 约110).
QTY_CUE = set("第共约达计超近逾有增减")
