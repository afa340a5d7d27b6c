"""The node's documentation works offline: /docs and /redoc name no other host and every
asset they load is served by the node; every problem type URI has a page."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

import registry
from registry.errors import PROBLEM_BASE_URI, RegistryError
from registry.routes.docs import problem_types

REGISTRY = Path(registry.__file__).parent


class _Resources(HTMLParser):
    """The URLs an HTML page makes a browser load: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for attribute in ("src", "href", "spec-url"):
            value = named.get(attribute)
            if value and tag in ("script", "link", "img", "redoc", "iframe"):
                self.urls.append(value)


def _resources(page: str) -> list[str]:
    parser = _Resources()
    parser.feed(page)
    return parser.urls


EXPECTED_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize(("page", "ui_global"), [("/docs", "SwaggerUIBundle"), ("/redoc", "Redoc")])
def test_docs_pages_load_everything_from_the_node(client: TestClient, page: str, ui_global: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    text = answer.text
    # No other host anywhere in the page: no CDN, no Google Fonts, no validator badge.
    assert re.findall(r"[a-z][a-z0-9+.-]*://|//[a-z0-9]", text, flags=re.IGNORECASE) == []
    urls = _resources(text)
    assert any(u.endswith(".js") for u in urls), urls
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme, url
        assert not parts.netloc, url
        assert url.startswith("/"), url
        if url.endswith(".js") or url.endswith(".css") or url.endswith(".png"):
            asset = client.get(url)
            assert asset.status_code == 200, url
            media_type = EXPECTED_MEDIA_TYPES[Path(parts.path).suffix]
            assert asset.headers["content-type"].split(";")[0] == media_type, url
            assert "immutable" in asset.headers["cache-control"], url
            assert asset.headers["x-content-type-options"] == "nosniff"
            if media_type == "text/javascript":
                assert ui_global.encode() in asset.content, url
    # The OpenAPI document the page loads is served by the node too.
    assert "/openapi.json" in text
    assert client.get("/openapi.json").status_code == 200


def test_docs_assets_are_only_the_known_files_of_this_version(client: TestClient) -> None:
    asset = _resources(client.get("/docs").text)[0]
    version_path = asset.rsplit("/", 1)[0]
    assert client.get(f"{version_path}/swagger-ui.css").status_code == 200
    for url in (
        f"{version_path}/../../../registry.db",
        f"{version_path}/core.py",
        "/docs/static/0.0.1/swagger-ui.css",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert answer.headers["content-type"] == "application/problem+json"


def _all_error_classes() -> list[type[RegistryError]]:
    for module in pkgutil.walk_packages(registry.__path__, "registry."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: list[type[RegistryError]] = []
    pending: list[type[RegistryError]] = [RegistryError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _slugs_answered_directly() -> set[str]:
    """Slugs the code writes out itself: ``problem(request, status, "slug", …)``,
    ``_problem(send, path, status, "slug", …)`` and ``PROBLEM_BASE_URI + "slug"``."""
    slugs: set[str] = set()
    for path in REGISTRY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                position = {"problem": 2, "_problem": 3}.get(node.func.id)
                if position is not None and len(node.args) > position:
                    argument = node.args[position]
                    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                        slugs.add(argument.value)
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith(PROBLEM_BASE_URI)
                and node.value != PROBLEM_BASE_URI
            ):
                slugs.add(node.value.removeprefix(PROBLEM_BASE_URI))
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.left, ast.Name | ast.Constant)
                and (
                    getattr(node.left, "id", None) == "PROBLEM_BASE_URI"
                    or getattr(node.left, "value", None) == PROBLEM_BASE_URI
                )
            ):
                right = node.right
                options = [right.body, right.orelse] if isinstance(right, ast.IfExp) else [right]
                slugs |= {
                    o.value for o in options if isinstance(o, ast.Constant) and isinstance(o.value, str)
                }
    return slugs


def test_the_source_scan_finds_the_slugs_answered_directly() -> None:
    assert {"invalid-request", "database-busy", "credentials-in-query", "not-verified"} <= (
        _slugs_answered_directly()
    )


def _check_page(client: TestClient, slug: str, status: int, title: str) -> None:
    answer = client.get(f"/problems/{slug}")
    assert answer.status_code == 200, slug
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    zh, en = page.index('lang="zh-CN">\n<h1>'), page.index('lang="en">')
    assert zh < en, "Chinese first, English beside"
    assert f"<strong>{status}</strong>" in page
    assert re.search(r"[\u4e00-\u9fff]", page[zh:en])
    assert title.replace("'", "&#x27;") in page
    assert PROBLEM_BASE_URI + slug in page
    assert "客户端应当怎么做" in page
    assert "What the client should do" in page


def test_every_registry_error_has_a_problem_page(client: TestClient) -> None:
    classes = _all_error_classes()
    assert len(classes) > 50
    federation_and_credentials = {c.__module__.split(".")[1] for c in classes}
    assert {"federation", "credentials", "signing", "errors"} <= federation_and_credentials
    for cls in classes:
        _check_page(client, cls.slug, cls.status, cls.title)
    # ... and the served list is those, the problems answered directly and the one HTTP
    # error the routing itself answers (other reason-phrase slugs get a generic page).
    expected = {c.slug for c in classes} | _slugs_answered_directly()
    assert set(problem_types()) == expected | {"method-not-allowed"}


def test_problems_answered_without_an_error_class_have_pages(client: TestClient) -> None:
    for slug in _slugs_answered_directly():
        assert client.get(f"/problems/{slug}").status_code == 200, slug
    # registry.problems names other HTTP errors after their reason phrase.
    not_allowed = client.delete("/health")
    assert not_allowed.status_code == 405
    slug = not_allowed.json()["type"].removeprefix(PROBLEM_BASE_URI)
    _check_page(client, slug, 405, "Method Not Allowed")
    assert client.get("/problems/gone").status_code == 200


def test_a_real_error_names_a_page_the_node_serves(client: TestClient) -> None:
    answer = client.get("/v1/credentials/none")
    problem: dict[str, Any] = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    slug = problem["type"].removeprefix(PROBLEM_BASE_URI)
    _check_page(client, slug, problem["status"], problem["title"])


def test_an_unknown_problem_type_is_404_problem_json(client: TestClient) -> None:
    answer = client.get("/problems/no-such-problem")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == PROBLEM_BASE_URI + "not-found"
    assert client.get("/problems/ok").status_code == 404  # a reason phrase, but not an error


def test_the_problem_index_links_every_page(client: TestClient) -> None:
    answer = client.get("/problems")
    assert answer.status_code == 200
    links = re.findall(r'href="problems/([a-z0-9-]+)"', answer.text)
    assert sorted(links) == sorted(problem_types())
    assert re.findall(r"[a-z][a-z0-9+.-]*://", answer.text, flags=re.IGNORECASE) == []
