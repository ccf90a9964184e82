"""The API docs: the spec in Chinese and English, valid OpenAPI, and the page that renders it with Swagger UI served
from this backend under the H5 pages' Content-Security-Policy."""
import re

import pytest
from openapi_spec_validator import validate

from scrm.api import docs
from tests.h5.test_landing import _assert_security_headers

METHODS = ("get", "post", "put", "patch", "delete")


def operations(spec):
    return [(method, path, op) for path, item in spec["paths"].items() for method, op in item.items()
            if method in METHODS]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_spec_is_valid_openapi_in_both_languages(client, lang):
    answer = client.get(f"/api/v1/openapi.json?lang={lang}")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    validate(answer.json)


def test_the_spec_is_english_by_default_and_chinese_on_request(client):
    en, zh = client.get("/api/v1/openapi.json").json, client.get("/api/v1/openapi.json?lang=zh").json
    assert en["info"]["title"] == "SCRM API" and zh["info"]["title"] == "SCRM 接口文档"
    assert en["paths"]["/api/v1/customers"]["get"]["summary"] == "List customers"
    assert zh["paths"]["/api/v1/customers"]["get"]["summary"] == "客户列表"
    assert client.get("/api/v1/openapi.json?lang=en").json == en


def test_every_operation_and_tag_has_a_chinese_and_an_english_summary(client):
    en, zh = client.get("/api/v1/openapi.json?lang=en").json, client.get("/api/v1/openapi.json?lang=zh").json
    cjk = re.compile(r"[\u4e00-\u9fff]")
    missing = []
    for (method, path, op_en), (_, _, op_zh) in zip(operations(en), operations(zh)):
        if not op_en.get("summary") or cjk.search(op_en["summary"]) or "zh:" in op_en.get("description", ""):
            missing.append(f"en {method} {path}")
        if not cjk.search(op_zh.get("summary", "")) or "zh:" in op_zh.get("description", ""):
            missing.append(f"zh {method} {path}")
        if "`" in op_en["summary"] + op_zh["summary"]:  # summaries are plain text in the renderer
            missing.append(f"backticks {method} {path}")
    assert len(operations(en)) >= 30 and not missing, missing
    for tag_en, tag_zh in zip(en["tags"], zh["tags"]):
        assert tag_en["name"] == tag_zh["name"] and cjk.search(tag_zh["description"])
        assert not cjk.search(tag_en["description"])


def test_request_bodies_and_answers_are_in_the_spec(client):
    spec = client.get("/api/v1/openapi.json?lang=zh").json
    post = spec["paths"]["/api/v1/channels"]["post"]
    assert "requestBody" in post and "201" in post["responses"]
    assert post["responses"]["201"]["description"] == "已创建"
    for method, path, op in operations(spec):  # a body-less write says what it takes, every operation its answer
        answered = any(code.startswith("2") for code in op["responses"]) or "返回" in op.get("description", "")
        assert answered or method == "delete", (method, path)


def test_the_security_scheme_is_explained_in_both_languages(client):
    for lang, word in (("zh", "令牌"), ("en", "token")):
        spec = client.get(f"/api/v1/openapi.json?lang={lang}").json
        assert word in spec["components"]["securitySchemes"]["bearer"]["description"]
        assert "scrm token create" in spec["info"]["description"] and "Bearer" in spec["info"]["description"]
        assert spec["security"] == [{"bearer": []}]


def test_an_unknown_language_is_a_400_not_a_500(client):
    spec = client.get("/api/v1/openapi.json?lang=fr")
    assert spec.status_code == 400 and spec.json["code"] == "bad_request"
    page = client.get("/api/v1/docs?lang=fr")
    assert page.status_code == 400 and "zh" in page.get_data(as_text=True)


def test_the_docs_page_and_its_assets_are_served_from_here_under_the_csp(client):
    page = client.get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html" and page.headers["Cache-Control"] == "no-store"
    _assert_security_headers(page)
    assert 'lang="zh-CN"' in html and "SCRM 接口文档" in html and 'href="?lang=en"' in html
    assert 'data-spec-url="openapi.json?lang=zh"' in html
    assert "<style" not in html and "style=" not in html and not re.search(r"<script>|<script [^>]*>[^<]", html)
    assert not re.search(r"https?://|//cdn", html)
    assets = re.findall(r'(?:src|href)="(/api/v1/docs/static/[^"]+)"', html)
    assert len(assets) == 5
    types = {}
    for url in assets:
        answer = client.get(url)
        assert answer.status_code == 200, url
        _assert_security_headers(answer)
        types[url.rsplit("/", 1)[1]] = answer.mimetype
    assert types == {"swagger-ui.css": "text/css", "docs.css": "text/css",
                     "swagger-ui-bundle.js": "text/javascript", "docs.js": "text/javascript",
                     "favicon-32x32.png": "image/png"}
    initializer = client.get("/api/v1/docs/static/docs/docs.js").get_data(as_text=True)
    assert "SwaggerUIBundle" in initializer and "validatorUrl: null" in initializer
    assert not re.search(r"https?://", initializer)


def test_the_docs_page_in_english(client):
    html = client.get("/api/v1/docs?lang=en").get_data(as_text=True)
    assert 'lang="en"' in html and "<title>SCRM API</title>" in html and 'data-spec-url="openapi.json?lang=en"' in html
    assert 'href="?lang=zh"' in html


def test_without_its_vendor_files_the_docs_page_says_so_in_one_line(client, monkeypatch, tmp_path):
    monkeypatch.setattr(docs, "STATIC", tmp_path)
    page = client.get("/api/v1/docs")
    text = page.get_data(as_text=True)
    assert page.status_code == 503 and "make setup" in text and text.count("\n") == 1
    assert client.get("/api/v1/openapi.json").status_code == 200  # the spec does not need them


def test_the_docstring_convention_splits_the_languages():
    texts = docs.split_languages("Do a thing", "More on it.\n\nzh:做一件事\n详细说明。")
    assert texts == {"en": ("Do a thing", "More on it."), "zh": ("做一件事", "详细说明。")}
    assert docs.split_languages("Only English", None)["zh"] == ("", "")
