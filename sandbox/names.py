"""Believable names for sandbox organisations: people, WeChat nicknames (some with emoji), departments, tags."""
from __future__ import annotations

import random

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "慕容")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉鹏飞鑫宇浩然子涵欣怡梓轩雨桐一诺思远"
         "晨曦佳琪俊杰婷婷嘉怡梦琪晓东海燕春梅志强国庆丹丹慧敏博文天佑若曦语嫣昊天家豪诗琪")
NICK_WORDS = ("小太阳", "追风少年", "岁月静好", "阳光总在风雨后", "一路向北", "柠檬不萌", "简单就好", "Lucky",
              "知足常乐", "Amy", "Jason", "大白", "奶茶三分糖", "不忘初心", "花开富贵", "平安喜乐", "Coco", "木子",
              "晴天", "Sunny", "旺财", "小鱼儿", "静待花开", "Kevin", "月亮代表我的心", "💰财源广进", "A-陈先生")
EMOJI = ("🌸", "🍀", "🌈", "☀️", "🐱", "🍋", "🌙", "⭐", "🎈", "🐼", "💐", "🍓", "🔥", "🌻", "😊", "🦋", "🐯", "🍵")
DEPARTMENTS = ("销售一部", "销售二部", "大客户部", "渠道合作部", "客户成功部", "市场部", "品牌部", "运营中心",
               "售后服务部", "华东区", "华南区", "华北区", "西南区", "产品部", "财务部", "人力资源部")
POSITIONS = ("销售顾问", "高级销售顾问", "客户经理", "客户成功经理", "销售主管", "区域经理", "运营专员", "客服专员",
             "市场专员", "店长")
TAG_GROUPS = {
    "客户等级": ("重要客户", "普通客户", "潜在客户", "流失风险"),
    "客户来源": ("线下门店", "官网咨询", "展会", "老客户转介绍", "抖音", "小红书"),
    "意向产品": ("基础版", "专业版", "旗舰版", "增值服务"),
    "跟进阶段": ("初次接触", "需求确认", "方案报价", "商务谈判", "已成交"),
}
COMPANIES = ("上海星辰贸易有限公司", "杭州云帆科技有限公司", "深圳前海汇通实业有限公司", "北京华信咨询有限公司",
             "成都锦程商贸有限公司", "广州南粤食品有限公司", "苏州恒达精密制造有限公司")
CHAT_NAMES = ("VIP客户交流群", "新品体验官", "售后服务群", "老客户福利群", "华东区客户群", "产品答疑群", "会员日活动群")
REMARKS = ("王总", "李姐", "张老师", "陈经理", "刘先生", "周女士", "老客户", "展会认识")


def person(rng: random.Random) -> str:
    """A real-looking Chinese full name (two or three characters, rarely a compound surname)."""
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.02 else rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def nickname(rng: random.Random) -> str:
    """A WeChat nickname: a name, a phrase, sometimes decorated with emoji."""
    roll = rng.random()
    base = person(rng) if roll < 0.45 else rng.choice(NICK_WORDS)
    if rng.random() < 0.2:
        emoji = rng.choice(EMOJI)
        return f"{emoji}{base}" if rng.random() < 0.5 else f"{base}{emoji}"
    return base


def mobile(rng: random.Random) -> str:
    return rng.choice(("13", "15", "17", "18", "19")) + "".join(str(rng.randrange(10)) for _ in range(9))
