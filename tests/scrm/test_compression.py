"""Styles and scripts travel compressed to clients that accept it; pages and JSON never (BREACH: they carry CSRF
tokens and secrets beside text a visitor chose)."""
import gzip


def test_assets_are_compressed_and_pages_and_json_are_not(client):
    css = client.get("/h5/static/vendor/weui.min.css", headers={"Accept-Encoding": "gzip"})
    assert css.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in css.headers["Vary"]
    plain = client.get("/h5/static/vendor/weui.min.css")
    assert "Content-Encoding" not in plain.headers and gzip.decompress(css.data) == plain.data
    assert len(css.data) * 5 < len(plain.data)
    for path in ("/h5/sidebar", "/api/v1/openapi.json", "/console/login"):
        answer = client.get(path, headers={"Accept-Encoding": "gzip, br"})
        assert "Content-Encoding" not in answer.headers, path
