"""The Chinese layer: names, places and dates the cue rules miss.

A second, statistical detector next to the rules: jieba's segmenter (its dictionary and HMM
ship inside the package and run offline) proposes words; a word is a person name when
jieba's dictionary tags it as one (``nr``) or it is an out-of-vocabulary word that starts
with a surname (the HMM's new words are mostly names), and clinical vocabulary does not
explain it.  Rules cover the shapes a segmenter misses: a name opening a record ("柴晓芸，
女，42岁"), compound and rare surnames (the whole 百家姓), minority names with a middle dot
("热依拉·阿不都"), names in brackets or quotes, 小名/乳名, building/unit/room parts of an
address, 农历 dates and dates in Chinese numerals, ages over 89 in words.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from functools import lru_cache

from ..text import CJK_EXT_A, CJK_UNIFIED
from .cues import _P_CUE, _P_FORMAT, _ZH_NOT_GIVEN, _Cand

_CJK = CJK_UNIFIED + CJK_EXT_A
_CJK_RUN = re.compile(f"[{_CJK}·•・]+")

# The whole 百家姓 and the common surnames outside it (single characters), and compound surnames.
_SINGLE_SURNAMES = (
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马苗凤花方"
    "俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄和穆萧尹姚邵湛汪祁毛禹狄米贝明"
    "臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管"
    "卢莫经房裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫乌"
    "焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖"
    "卓蔺屠蒙池乔阴郁胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍却璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连"
    "茹习宦艾鱼容向古易慎戈廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾"
    "毋沙乜养鞠须丰巢关蒯相查后荆红游竺权逯盖益桓公禤覃付仝佟闫栗谌粟冼亓逯鄢邸眭笪佘厍晏逄檀鲜迟兰"
)
_COMPOUND_SURNAMES = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 端木 独孤 南宫 西门 呼延 澹台 公冶 "
    "太史 申屠 百里 第五 万俟 闻人 赫连 拓跋 东郭 南门 羊舌 微生 梁丘 左丘 谷梁 宰父 濮阳 淳于 单于 太叔 仲孙 轩辕 "
    "鲜于 闾丘 亓官 司寇 子车 颛孙 壤驷 公良 漆雕 乐正 巫马 公西 段干 百里 东门 呼延 归海 羊舌 微生 公羊"
).split()
_SURNAME_SET = frozenset(_SINGLE_SURNAMES)
# Surname characters that are everyday words or morphemes in clinical Chinese ("后", "于", "经",
# "相关", "麻木"): an out-of-vocabulary word starting with one is not taken for a name on that alone.
_AMBIGUOUS_SURNAMES = frozenset(
    "后于曾相经和时能都那空查从向应全平明成安常单段乐强干解宗左通别连充习终步居师满暴却双阴宿印薄幸束景符边农冷融越隆益"
    "公东国文广养须红家麻支计伏谈元卜皮水云花危席项屈米贝能苍党劳扶宰寿尚慕茹宦鱼容古易慎戈衡弘匡寇禄阙殳沃利蔚夔巩厍勾"
    "敖訾辛简饶毋沙乜丰巢关蒯荆游竺权盖桓双曲封羊荣滑包房山车秋仰甘牧弓巴井松富巫乌焦谷班仲伊宫宁仇暴钭厉戎祖武符景"
    "詹束龙叶幸司韶蓟怀蒲邰从鄂索咸籍赖屠蒙池乔阴能闻莘翟贡逄申堵雍却璩桑桂濮牛通边扈燕浦农温别庄晏瞿充连习艾向古"
)
_NOT_GIVEN_CHARS = frozenset(_ZH_NOT_GIVEN) | frozenset("带陪送来去看找说讲问称叫帮替随签复查诉述请代医师护士授")
# Drug and chemical names end like this; they start with surname characters often (利福平, 甲钴胺).
_ZH_DRUG_TAIL = re.compile(r"(?:霉素|沙星|西林|膦酸|膦酸钠|单抗|替尼|洛芬|昔布|昔康|卡因|松|胺|醇|酮|酯|钠|钾|钙|平|肼|酰胺|丁醇|肽|素|酸|碱|芬|定|嗪|唑|泮|仑)$")
_TITLE_TAILS = ("女士", "先生", "医生", "医师", "护士", "老师", "主任", "大夫", "师傅", "阿姨", "大爷", "奶奶", "爷爷", "小姐")

# Words that start with a surname character or that jieba tags as names but are clinical:
# transliterated eponyms, anatomy, everyday clinical words.
_ZH_SAFE = frozenset("""
巴氏 霍夫曼 马尾 康复 建国 华西 旁及 巴宾斯基 布朗 克尼格 拉塞格 施莫尔 舒尔曼 莫迪克 科布 钱斯 赖特 贝赫特列夫 强直
司机 高血压 高龄 高热 高度 高位 高危 关节 关节炎 关节置换 常规 常见 曲度 向心 石膏 白细胞 金属 金黄色 方案 文献 安静
安全 平卧 平片 齐平 成人 成年 成功 成形 时间 明显 明确 明日 明天 包块 包括 宁可 宫颈 雷帕 史密斯 苏木 纪要 连续 连接
凌晨 万古霉素 乔治 杨氏 韦氏 许氏 施氏 雷氏 马氏 霍氏 洛氏 罗氏 黄韧带 黄色 黄疸 黄体 白天 白班 毛细 毛发 景观 江南 沈阳
东方 南方 西方 北方 东部 西部 南部 北部 窦道 窦性 窦口 钱币 孔隙 孔洞 毕竟 单纯 单侧 单节段 双侧 邻近 谷氨酸 管腔 管壁
柏油 景深 齐全 鲁棒 甘油 甘露醇 乔木 钟摆 闫氏 霍纳 霍奇金 贺氏 韩氏 施万 施旺 洪水 洪亮 江河 汪洋 罗马 罗圈 苏醒 蒋氏
林氏 郑重 伍氏 杜氏 季节 季度 梁柱 卫生 卫星 蔡氏 葛氏 严重 严格 严密 邓氏 程度 程序 韦氏 喻氏 谢绝 戴氏 潘氏 司徒 令狐 慕容 欧阳 上官 诸葛 端木 全麻 全身 全科 全程 全部 全天 全面 戴用 戴护
""".split()) - frozenset("司徒 令狐 慕容 欧阳 上官 诸葛 端木".split())
# Characters after which a CJK run is not a name ("术后", "诊断" …); and eponym heads.
_ZH_EPONYM_HEAD = re.compile(r"(?:试验|实验|征|综合征|综合症|病|氏|分型|分级|分类|骨折|角|评分|量表|指数|截骨|入路|结节|线|畸形|反射)")
_ZH_GIVEN = rf"[{_CJK}]"


@lru_cache(maxsize=1)
def _jieba():
    """jieba's default tokenizer and its word -> POS table (loaded once; ~0.6 s)."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.dt, jieba.posseg.dt.word_tag_tab


def _starts_with_surname(word: str) -> int:
    """Length of the surname `word` starts with (0 if none)."""
    if word[:2] in _COMPOUND_SURNAMES:
        return 2
    return 1 if word[:1] in _SURNAME_SET else 0


def _segmenter_names(text: str) -> Iterator[_Cand]:
    tokenizer, tags = _jieba()
    for run in _CJK_RUN.finditer(text):
        chunk = run.group()
        if len(chunk) < 2:
            continue
        pos = run.start()
        for word in tokenizer.cut(chunk, HMM=True):
            start, pos = pos, pos + len(word)
            if len(word) < 2 or len(word) > 6 or word in _ZH_SAFE or _ZH_DRUG_TAIL.search(word):
                continue
            if "·" in word or "•" in word or "・" in word:
                yield start, pos, "NAME", _P_CUE
                continue
            for tail in _TITLE_TAILS:
                if word.endswith(tail) and len(word) > len(tail):
                    word = word[: -len(tail)]
                    break
            while len(word) > 1 and word[-1] in _NOT_GIVEN_CHARS:
                word = word[:-1]
            sl = _starts_with_surname(word)
            if not sl or not 1 <= len(word) - sl <= 2 or any(c in _NOT_GIVEN_CHARS for c in word[sl:]):
                continue
            if start > 0 and text[start - 1].isdigit():
                continue  # "1周明显好转": a week, not 周明
            tag = tags.get(word)
            freq = tokenizer.FREQ.get(word) or 0
            if freq and (tag is None or not tag.startswith("nr")):
                continue  # a dictionary word that is not a name ("关节", "高龄")
            if freq >= 100 and len(word) == 2:
                continue  # jieba tags some common words nr ("麻木", "陈旧", "康复"); real names are rare there
            if not freq:
                tag = None
            if tag is None and sl == 1 and word[0] in _AMBIGUOUS_SURNAMES:
                continue  # an unknown word starting with 后/于/相/麻 … is not a name on that alone
            if _ZH_EPONYM_HEAD.match(text, start + len(word)):
                continue  # "霍夫曼征", "巴氏征"
            yield start, start + len(word), "NAME", _P_CUE


_SURNAME_ALT = "(?:" + "|".join(_COMPOUND_SURNAMES) + f"|[{_SINGLE_SURNAMES}])"
_NOT_GIVEN = "，,。；;、：:（）()“”\"'‘’《》\\s0-9" + "".join(sorted(_NOT_GIVEN_CHARS))
_NAME_SHAPE = rf"{_SURNAME_ALT}[^{_NOT_GIVEN}]{{1,2}}"
_STRICT_SURNAME_ALT = "(?:" + "|".join(_COMPOUND_SURNAMES) + "|[" + "".join(
    c for c in _SINGLE_SURNAMES if c not in _AMBIGUOUS_SURNAMES) + "])"
_STRICT_NAME_SHAPE = rf"{_STRICT_SURNAME_ALT}[^{_NOT_GIVEN}]{{1,2}}"

_RULES = [
    # A name opening a record or a line: "柴晓芸，女，42岁，…", "张三 男 52岁"
    (re.compile(rf"(?:^|(?<=[\n。；;：:]))[ \t\u3000]*(?P<v>{_NAME_SHAPE})(?=[ \t\u3000]*[，,、 ][ \t\u3000]*(?:男|女|性别|\d{{1,3}}[ \t]*岁))"), "NAME", _P_FORMAT),
    # Anywhere before ", 男/女, NN岁"
    (re.compile(rf"(?P<v>{_NAME_SHAPE})(?=[”\"」』']?[，,、][ \t]*(?:男|女)(?:性)?[，,、][ \t]*(?:\d{{1,3}}|[一二三四五六七八九十百零]{{1,4}})[ \t]*岁)"), "NAME", _P_FORMAT),
    # a person named right after a person word: "家属笪淑英诉…", "患者眭桂芳　女", "联系人：佘楠（女儿）"
    (re.compile(rf"(?:家属|患者|病人|联系人|陪护|丈夫|妻子|儿子|女儿|父亲|母亲|姓名)[ \t\u3000]*[:：]?[ \t\u3000]*(?P<v>{_NAME_SHAPE})"
                r"(?=诉|说|表示|代诉|陪|签|同意|知情|要求|自述|[（(]|[，,。；;\s\u3000]|男|女|$)"), "NAME", _P_CUE),
    # a name in brackets closing an entry: "…减轻。（项燕燕）"
    (re.compile(rf"(?m)[。；;！!]?[ \t\u3000]*[（(](?P<v>{_NAME_SHAPE})[）)][ \t\u3000]*$"), "NAME", _P_CUE),
    # a name opening a clause before what a person does: "刘桂花记录", "晏建国查房", "李金凤接其回家"
    (re.compile(rf"(?:^|(?<=[\n，,。；;\s\u3000]))(?P<v>{_NAME_SHAPE})(?=记录|签名|报告|执笔|书写|主刀|查房|接其|接患者|陪同|陪护|送其|来院|看望|探视|签字|代诉|诉|说|表示|同意|要求)"), "NAME", _P_CUE),
    # a name opening a sentence before an age: "文建华，48岁，门诊就诊"
    (re.compile(rf"(?:^|(?<=[\n。；;]))[“\"]?(?P<v>{_NAME_SHAPE})[”\"]?(?=[，,][ \t]*\d{{1,3}}[ \t]*岁)"), "NAME", _P_FORMAT),
    # a name after "through / by / with" before what a person does: "经张平介绍来诊", "由李杨陪同"
    (re.compile(rf"(?:经|由|请|让|被|给|向|找|托|通过|和|与|同|跟)(?P<v>{_NAME_SHAPE})(?=介绍|推荐|转诊|转介|陪同|陪|送|带其|带患者|联系|建议|一起|同意|签字)"), "NAME", _P_CUE),
    # a name in brackets: "陪护（乔平）", "（乔玉兰建议）"
    (re.compile(rf"[（(](?P<v>{_NAME_SHAPE})(?=[）)]|建议|医生|医师|陪同|签字|同意|代诉|说)"), "NAME", _P_CUE),
    (re.compile(rf"(?:护士|医师|医生|主任|教授|记录者|签名)(?P<v>{_NAME_SHAPE})(?=报告|记录|查房|签名|诉|[，,。；;\s\u3000])"), "NAME", _P_CUE),
    # a name heading a ward record: "雍萍　55床　住院号：…"
    (re.compile(rf"(?m)^[ \t\u3000]*(?P<v>[{_CJK}·]{{2,8}})(?=[ \t\u3000]+(?:\+?\d{{1,3}}床|住院号|床号|男|女|\d{{1,3}}岁))"), "NAME", _P_FORMAT),
    # after a colon, a name followed by sex and age, whatever its surname: "入院情况：植晶英，女，21岁"
    (re.compile(rf"[：:][ \t\u3000]*[“\"「]?(?P<v>[{_CJK}·]{{2,8}}?)[”\"」]?(?=[，,、 \u3000][ \t]*(?:男|女)(?:性)?[，,、 \u3000])"), "NAME", _P_FORMAT),
    # vehicle plates: "琼D-29284", "苏Z A8014"
    (re.compile(r"(?P<v>[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领][A-Z][-·•\s]?[A-Z0-9]{4,6})(?![A-Za-z0-9])"), "ID", _P_FORMAT),
    # Compound surnames are names with whatever follows ("司徒建国签名")
    (re.compile(r"(?P<v>(?:欧阳|司徒|端木|慕容|令狐|诸葛|上官|皇甫|尉迟|公孙|长孙|宇文|夏侯|轩辕|钟离|独孤|南宫|呼延|澹台|申屠"
                rf"|万俟|闻人|赫连|拓跋|司马|鲜于|闾丘|淳于|濮阳|公冶|太史)[^{_NOT_GIVEN}]{{1,2}})"), "NAME", _P_FORMAT),
    # A surname jieba split off, then a given name, then what a note says of a person: "禤海燕术后…"
    (re.compile(rf"(?P<v>{_STRICT_NAME_SHAPE})(?=术后|自述|自诉|诉|说|表示|称|告诉|回忆|入院|出院|签名|签字|陪同|同意|拒绝|家属|护士|医师|医生|主任|先生|女士"
                r"|[，,][ \t]*[男女]|[（(][男女]|查房|主刀|会诊)"), "NAME", _P_CUE),
    # Minority and transliterated names with a middle dot: "热依拉·阿不都", "买买提·艾力"
    (re.compile(rf"(?P<v>[{_CJK}]{{1,8}}[·•・][{_CJK}]{{1,8}}(?:[·•・][{_CJK}]{{1,8}})?)"), "NAME", _P_FORMAT),
    # 小名 / 乳名 / 昵称 / 又名 / 曾用名 / 英文名 with or without quotes
    (re.compile(rf"(?:小名|乳名|昵称|又名|曾用名|别名|外号|英文名)(?:叫|是|为|：|:)?[ \t]*[“\"「『']?(?P<v>[{_CJK}A-Za-z]{{1,6}}?)[”\"」』']?(?=[，,。；;）)\s]|$)"), "NAME", _P_FORMAT),
    # A name in brackets or quotes after a person word: "丈夫（刘志强）", "家属“慕容雪”"
    (re.compile(rf"(?:丈夫|妻子|爱人|儿子|女儿|父亲|母亲|家属|联系人|监护人|患者|病人|医生|医师|护士|之子|之女|配偶|老伴)[ \t]*[（(“\"「『'](?P<v>{_NAME_SHAPE}|[{_CJK}]{{2,4}})[）)”\"」』']"), "NAME", _P_FORMAT),
    # Address parts: "2号楼1508室", "3单元502室", "12栋2单元", "幸福小区"
    (re.compile(r"(?P<v>(?:[\d一二三四五六七八九十零〇]+(?:号楼|栋|幢|座|单元|层|楼|室|号|弄|巷|号院|组|排)[-—]?){1,5})"), "ADDRESS", _P_CUE),
    (re.compile(rf"(?P<v>[{_CJK}]{{2,8}}(?:小区|花园|公寓|大厦|新村|家园|苑|社区|村委会|居委会|街道|胡同)(?:[\d一二三四五六七八九十]+(?:号楼|栋|幢|单元|室|号))*)"), "ADDRESS", _P_CUE),
    # Lunar and Chinese-numeral dates: "农历八月十五", "二〇二三年十一月四日", "十一月初三"
    (re.compile(r"(?:农历|阴历|旧历)(?P<v>(?:[\d〇零一二三四五六七八九十]{2,4}年|[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]年)?"
                r"闰?(?:正|冬|腊|[一二三四五六七八九十\d]{1,3})月(?:初|廿|卅|二十|三十|十)?[一二三四五六七八九十\d]{0,3}(?:日|号)?)"), "DATE", _P_FORMAT),
    (re.compile(r"(?P<v>[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]年闰?(?:正|冬|腊|[一二三四五六七八九十]{1,3})月(?:初|廿|卅|二十|三十|十)?[一二三四五六七八九十]{0,3})"), "DATE", _P_FORMAT),
    (re.compile(r"(?P<v>(?:正|冬|腊)月(?:初|廿|卅|二十|三十|十)[一二三四五六七八九十]?)"), "DATE", _P_FORMAT),
    (re.compile(r"(?P<v>[〇零一二三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月(?:[一二三四五六七八九十]{1,3}[日号])?)"), "DATE", _P_FORMAT),
    (re.compile(r"(?P<v>(?<![\d年])[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}[日号])"), "DATE", _P_FORMAT),
    (re.compile(r"(?P<v>(?:19|20)\d{2}年\d{1,2}月(?:\d{1,2}[日号])?(?:[ \t]*\d{1,2}[时:：]\d{0,2}分?)?)"), "DATE", _P_FORMAT),
    (re.compile(r"(?P<v>(?<!\d)\d{1,2}月\d{1,2}[日号](?:[ \t]*\d{1,2}[时:：]\d{0,2}分?)?)"), "DATE", _P_FORMAT),
    # Ages over 89: "九十二岁", "92岁", "百岁", "一百零一岁"
    (re.compile(r"(?P<v>(?:九十[一二三四五六七八九]?|一百(?:零?[一二三四五六七八九十]+)?|百)(?:周)?岁)"), "AGE", _P_FORMAT),
    (re.compile(r"(?P<v>(?<!\d)(?:9\d|1[0-2]\d)(?:\.\d)?[ \t]*(?:周岁|岁))"), "AGE", _P_FORMAT),
    (re.compile(r"(?P<v>年逾九旬|九旬|耄耋之年|期颐之年)"), "AGE", _P_FORMAT),
    # a weekday written after a date: "2017年6月2日 星期五"
    (re.compile(r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})[日号][ \t\u3000]*[（(]?(?P<v>(?:星期|礼拜|周)[一二三四五六日天])"), "DATE", _P_FORMAT),
    # bed numbers with a label: "床号：35", "床位 12"
    (re.compile(r"(?:床号|床位号|床位|床)[ \t]*[:：]?[ \t\u3000]*(?P<v>\+?\d{1,3}[A-Za-z]?)(?![\d.])"), "ID", _P_FORMAT),
    # people named by a role label: "申请医生：谈成", "报告者：潘建国", "审核：左主任"
    (re.compile(r"(?:申请医生|申请医师|报告者|报告人|报告医师|诊断医师|审核医师|审核者|审核人|审核|记录者|记录人|书写者|医师签名|护士签名|签名|签字"
                r"|主刀|主刀医师|术者|一助|二助|助手|麻醉医师|麻醉师|器械护士|巡回护士|洗手护士|会诊医师|上级医师|主治医师|住院医师|经治医师"
                r"|责任护士|护士|医师|医生|管床医生|值班医生|主任|联系人|陪护|家属|监护人)[ \t\u3000]*[:：][ \t\u3000]*"
                rf"(?P<v>[{_CJK}·]{{1,6}}?)(?=[ \t\u3000]*(?:[，,。；;、／/）)（(\n]|$|主任|医师|医生|护士|老师|教授|大夫|[ \t\u3000]))"), "NAME", _P_FORMAT),
    # a surname (any of the 百家姓) or a name before a title: "马主任", "古莉主任医师查房", "易主任"
    (re.compile(rf"(?:^|(?<=[\n，,。；;：:、（(“”\"\s请由经令与和及同])|(?<=今日)|(?<=审核))(?P<v>{_SURNAME_ALT}[{_CJK}]?)"
                r"(?=(?:副)?(?:主任医师|主任|医师|医生|大夫|教授|护士长|护士|老师))"), "NAME", _P_CUE),
    # places a person lives in or comes from: "居住于辛集", "郑州市人"
    (re.compile(rf"(?:居住于|居住在|住在|家住|来自|籍贯|原籍|出生于|出生在|迁居|定居)[ \t]*(?P<v>[{_CJK}]{{1,12}}?)(?=[，,。；;、\s]|与|和|的|$)"), "ADDRESS", _P_FORMAT),
    (re.compile(rf"(?P<v>[{_CJK}]{{2,6}}[市县区镇乡村州])(?=人[，,。；;\s]|人$)"), "ADDRESS", _P_FORMAT),
    (re.compile(rf"岁[，,][^。\n]{{0,14}}?[，,](?P<v>[{_CJK}]{{1,6}}?)(?=人[。，,；;])"), "ADDRESS", _P_CUE),
    # Bed, outpatient and licence numbers written the Chinese way: "12床", "+3床"
    (re.compile(r"(?P<v>(?<![\d.])\+?\d{1,3}(?:加)?床)"), "ID", _P_CUE),
]

# Facilities the Chinese hospital rule misses: "…骨科中心", "…康复医院分院", "…诊所".
_FACILITY = re.compile(
    r"(?P<v>[^\s\d，,。；;、：:（）()“”\"'年月日号时分秒]{2,16}?(?:骨科中心|脊柱中心|康复中心|医疗中心|医学中心|体检中心|医院分院|分院|院区|门诊部|医务室"
    r"|卫生室|卫生站|卫生服务站|卫生服务中心|诊所|医疗集团|医疗机构|医学院|研究所|研究院|疗养院|康复院|护理院|养老院|敬老院))"
)
_FACILITY_GENERIC = re.compile(
    r"^(?:我院|本院|外院|当地|上级|基层|该|某|附近|其他|其它|多家|各|一家|同一|私人|私立|社区|乡镇|县|市|省|区|我科|本科)?"
    r"(?:骨科|脊柱|康复|医疗|医学|体检|门诊|卫生|社区卫生|社区卫生服务)?$"
)


# Words before a title that are roles, not names ("申请医生", "主治医师", "值班医生").
_ROLE_WORDS = frozenset("""
申请 主治 住院 上级 值班 管床 责任 实习 进修 规培 会诊 麻醉 器械 巡回 手术 门诊 急诊 专科 全科 康复 影像 病理 超声 放射 检验 护理
临床 主管 带教 经治 诊断 报告 审核 科 院 该 此 本 我 贵 主 副 总 主刀 洗手 随访 接诊 首诊 转诊 签字 签名 家庭 社区 乡村 全 各 多 几
查房 查体 查看 会诊 记录 交班 值班 手术 换药 复查 检查 治疗 处理 观察 指示 意见 建议 同意 安排 嘱咐 告知 解释 沟通 评估 讨论
向患者 向家属 于术后 于今日 于次日 于入院
""".split())


_KIN_LEAD = re.compile(r"^(?:患者|病人)?(?:之)?(?:儿子|女儿|丈夫|妻子|爱人|老伴|父亲|母亲|哥哥|姐姐|弟弟|妹妹|孙子|孙女|儿媳|女婿|长子|次子|长女|次女|朋友|同事|邻居)")


_NICKNAME_RULES = frozenset(r for r, k, _ in _RULES if "小名" in r.pattern)
# Where someone lives that names no place.
_GENERIC_PLACES = frozenset("本地 当地 家中 家里 农村 城市 城里 乡下 外地 老家 附近 养老院 敬老院 福利院 单位 宿舍 市区 郊区 县城 "
                            "本市 外省 本省 国外 境外 省外 市外 北方 南方 山区 牧区 城镇 城区".split())


def _rules(text: str, literature: bool = False) -> Iterator[_Cand]:
    for regex, kind, priority in _RULES:
        if literature and kind == "NAME":
            continue  # published literature: names are kept (cue-driven names are still found by cues.py)
        for m in regex.finditer(text):
            v = m.group("v")
            if not v or v in _ZH_SAFE:
                continue
            if "·" in v or "•" in v or "・" in v:
                # a middle-dot name: drop a leading function word and what follows the name
                role = re.match(r"^(?:.*?(?:医师|医生|护士|主任|教授|家属|患者|签名|记录者|审核|联系人|陪护))", v.split("·")[0])
                if role:
                    v = v[role.end():]
                lead = (role.end() if role else 0) + len(v) - len(v.lstrip("请由经令与和及同让给对向被把将在于从患者家属"))
                v = m.group("v")
                dot = max(v.find("·"), v.find("•"), v.find("・"))
                tail = re.compile(r"(?:主任|医师|医生|护士|教授|老师|大夫|先生|女士|说|诉|自述|表示|陪同|签名|进一步|查房|知情|同意|报告)").search(v, dot)
                end = m.start("v") + (tail.start() if tail else len(v))
                if end - (m.start("v") + lead) >= 3:
                    yield m.start("v") + lead, end, kind, priority
                continue
            if kind == "ADDRESS" and v in _GENERIC_PLACES:
                continue
            if kind == "NAME":
                kin = _KIN_LEAD.match(v)
                if kin and len(v) > kin.end():
                    yield m.start("v") + kin.end(), m.end("v"), kind, priority  # "儿子王磊" -> "王磊"
                    continue
                if regex not in _NICKNAME_RULES and "·" not in v and len(v) >= 2 and (_jieba()[0].FREQ.get(v) or 0) >= 500 \
                        and not (_jieba()[1].get(v) or "").startswith("nr"):
                    continue  # a common word, not a name ("王国", "高度")
                if v in _ROLE_WORDS or v[0] in "您你我他她它请谢好是的在该此其曾于将把被对从向为以及和与或":
                    continue  # a role, a pronoun or a function word ("值班医生", "您好", "医生曾建议")
                if regex not in _NICKNAME_RULES and len(v) >= 2 and (_jieba()[0].FREQ.get(v) or 0) >= 50 \
                        and (_jieba()[1].get(v) or "")[:2] != "nr":
                    continue  # an ordinary word where a name was expected ("相关医生"); nicknames may be words
            yield m.start("v"), m.end("v"), kind, priority
    for m in _FACILITY.finditer(text):
        v = m.group("v")
        head = re.sub(r"(?:骨科中心|脊柱中心|康复中心|医疗中心|医学中心|体检中心|医院分院|分院|院区|门诊部|医务室|卫生室|卫生站"
                      r"|卫生服务站|卫生服务中心|诊所|医疗集团|医疗机构|医学院|研究所|研究院|疗养院|康复院|护理院|养老院|敬老院)$", "", v)
        # trim leading words that are not part of the name ("于", "在", "转至")
        trimmed = re.sub(r"^.*(?:于|在|至|到|赴|往|入|经|由|从|转|再|后|曾|及|和|与|或)(?=[^于在至到赴往入经由从转再后曾及和与或]{2,})", "", head)
        if _FACILITY_GENERIC.match(trimmed):
            continue
        start = m.start("v") + (len(head) - len(trimmed))
        yield start, m.end("v"), "HOSPITAL", _P_FORMAT


def candidates(text: str, *, literature: bool = False) -> Iterator[_Cand]:
    """Candidates in the Chinese parts of `text`."""
    yield from _rules(text, literature)
    if not literature:
        yield from _segmenter_names(text)
