from sqlalchemy import select

from scrm.extensions import db
from scrm.host import HostUnsupported
from scrm.models import Tag, TagGroup
from scrm.services import tag_library
from tests.builders import make_corp
from tests.fakes import inside


def test_a_host_without_a_tag_api_gets_local_tags(app, fake_host):
    corp = make_corp(platform="dingtalk", app_key="dingkey")
    fake_host.fail_next["create_tags"] = HostUnsupported("create_tags", "dingtalk")
    group = tag_library.create_group(corp, "本地分组", ["甲", "乙"])
    assert group.host_id is None
    tag = tag_library.add_tag(corp, group.id, "丙")
    tag_library.rename(corp, tag_id=tag.id, name="丙丙")
    assert sorted(db.session.scalars(select(Tag.name).where(Tag.group_id == group.id))) == ["丙丙", "乙", "甲"]
    assert fake_host.called("edit_tag") == []  # local tags never reach the host
    tag_library.delete(corp, group_id=group.id)
    assert db.session.get(TagGroup, group.id).deleted


def test_the_library_is_edited_on_the_host_with_no_unit_open(app, fake_host, host_writes):
    corp = make_corp()
    group = tag_library.create_group(corp, "意向", ["高"])
    tag = tag_library.add_tag(corp, group.id, "低")
    tag_library.rename(corp, tag_id=tag.id, name="很低")
    tag_library.delete(corp, tag_id=tag.id)
    tag_library.delete(corp, group_id=group.id)
    assert [s["method"] for s in host_writes] == ["create_tags", "create_tags", "edit_tag", "delete_tags",
                                                 "delete_tags"]
    assert inside(host_writes) == []
    assert db.session.get(TagGroup, group.id).deleted
