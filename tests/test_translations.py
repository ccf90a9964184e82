"""The pages speak Chinese by default and English on request: every text marked for translation in the code and
templates has its English entry in the catalog, and `?lang=en` (kept in the session) or the corp's option switches."""
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from scrm.db import unit_of_work
from tests.builders import make_corp, make_employee

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "scrm" / "translations" / "en" / "LC_MESSAGES"


def marked() -> set[str]:
    found = set()
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    for folder in ("h5", "scrm", "console"):
        if not (ROOT / folder).exists():
            continue
        for _file, _line, message, _comments, _context in extract_from_dir(
                ROOT / folder, method_map=method_map, keywords={**DEFAULT_KEYWORDS, "lazy_gettext": None}):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_marked_text_has_an_english_translation():
    catalog = read_po((CATALOG / "messages.po").open("rb"), locale="en")
    english = {m.id: m.string for m in catalog if m.id}
    untranslated = sorted(m for m in marked() if not english.get(m))
    assert not untranslated, f"add English for these to {CATALOG / 'messages.po'}: {untranslated}"


def test_the_compiled_catalog_is_current():
    po, mo = CATALOG / "messages.po", CATALOG / "messages.mo"
    assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, "`make setup` compiles the catalog"


def test_chinese_by_default_english_by_choice_or_by_the_corp(make_app):
    """Requests each in their own app context, as served (the locale is chosen once per request)."""
    from scrm import web_session
    from scrm.services.web_identity import Identity

    app = make_app()
    with app.app_context():
        corp = make_corp()
        corp_id = corp.id
        who = Identity(corp_id, employee_id=make_employee(corp, host_id="li").id).dump()
    client = app.test_client()
    with client.session_transaction() as s:
        s[web_session.WHO] = who
    page = client.get("/h5/sidebar/c/nobody").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "没有找到该客户或群聊" in page
    english = client.get("/h5/sidebar/c/nobody?lang=en").get_data(as_text=True)
    assert 'lang="en"' in english and "This customer or group chat was not found" in english
    assert "This customer" in client.get("/h5/sidebar/c/nobody").get_data(as_text=True)  # the choice is kept
    assert "没有找到" in client.get("/h5/sidebar/c/nobody?lang=zh").get_data(as_text=True)
    with app.app_context():
        with unit_of_work():
            from scrm.extensions import db
            from scrm.models import Corp

            db.session.get(Corp, corp_id).options = {"language": "en"}
    with client.session_transaction() as s:
        s.pop("scrm.lang", None)
    assert "This customer" in client.get("/h5/sidebar/c/nobody").get_data(as_text=True)  # the corp's choice
    with app.app_context():
        from tests.conftest import _clean_tables

        _clean_tables()
