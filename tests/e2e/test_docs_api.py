"""Documentation pages over HTTP, through the real app on both backends: the list (guide,
connector types, the connectors the caller may see), connector pages built from the live
registry (schemas, tools, script versions) in Markdown and HTML, escaping of every user value,
a schema change on the next read, bad ids, other tenants and content negotiation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from tests.fixtures import API, devices, headers

Client = TestClient[Any]
DOCS = f"{API}/docs"
CONNECTORS = "/internal/v1/connectors"
OWNER = headers(roles=("editor",), subject="owner-1")
COLLECTOR = headers(roles=("collector",), subject="collector-1")
AUDITOR = headers(roles=("auditor",), subject="auditor-1")
GUIDE = Path(__file__).parents[2] / "docs" / "collectors.md"
TYPES = ["s3", "google_drive", "confluence", "github", "slack", "notion", "salesforce",
         "postgresql", "universal"]
SCRIPT = (
    "@action('lookup_user', description='Find a user by id',\n"
    "        input={'type': 'object', 'required': ['userId'],\n"
    "               'properties': {'userId': {'type': 'string', 'minLength': 1}}},\n"
    "        output={'type': 'object', 'required': ['name'],\n"
    "                'properties': {'name': {'type': 'string'}}})\n"
    "def lookup_user(ctx, input):\n"
    "    return {'name': 'n'}\n"
    "\n"
    "def collect(ctx):\n"
    "    yield ('device', {'serial': 's1'})\n"
)


def universal(client: Client, name: str = "People API", **more: Any) -> str:
    created = client.post(CONNECTORS, headers=OWNER, json={
        "name": name, "type": "universal", "scope": "org",
        "config": {"baseUrl": "https://people.example.com",
                   "allowedHosts": ["people.example.com"]}, **more})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def scripted(client: Client, name: str = "People API") -> str:
    """A universal connector with a default script version declaring one tool, and a
    schema with fields and a relationship."""
    cnn = universal(client, name)
    saved = client.post(f"{CONNECTORS}/{cnn}/versions", headers=OWNER,
                        json={"name": "v1", "description": "First cut", "script": SCRIPT})
    assert saved.status_code == 201, saved.text
    made = client.put(f"{CONNECTORS}/{cnn}/versions/default", headers=OWNER,
                      json={"version": "v1"})
    assert made.status_code == 200, made.text
    schema = client.post(f"{API}/schemas", headers=OWNER, json=devices() | {"connectorId": cnn})
    assert schema.status_code == 201, schema.text
    return cnn


def page(client: Client, id: str, caller: Any = COLLECTOR, accept: str | None = None) -> Any:
    extra = {} if accept is None else {"Accept": accept}
    answer = client.get(f"{DOCS}/{id}", headers={**caller, **extra})
    assert answer.status_code == 200, (id, answer.text)
    return answer


def test_the_list_names_the_guide_every_type_and_the_visible_connectors(
    client: Client,
) -> None:
    mine = universal(client, "Visible")
    private = universal(client, "Private", scope="user")
    gone = universal(client, "Gone")
    assert client.delete(f"{CONNECTORS}/{gone}", headers=OWNER).status_code == 204
    theirs = client.post(CONNECTORS, headers=headers(tenant="globex", roles=("editor",)), json={
        "name": "Theirs", "type": "universal", "scope": "org",
        "config": {"baseUrl": "https://x.example.com", "allowedHosts": ["x.example.com"]}})
    assert theirs.status_code == 201, theirs.text

    listed = client.get(DOCS, headers=COLLECTOR)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert set(body) == {"docs", "nextCursor"} and body["nextCursor"] is None
    docs = body["docs"]
    assert all(set(d) == {"id", "title", "kind", "connectorId", "updatedAt"} for d in docs)
    assert [d["id"] for d in docs] == ["guide-collectors", *(f"type-{t}" for t in TYPES),
                                       f"connector-{mine}"]
    assert [d["kind"] for d in docs[:2]] == ["guide", "connector-type"]
    assert docs[0]["title"] == "Collector scripts" and docs[1]["title"] == "Amazon S3"
    assert all(d["connectorId"] is None and d["updatedAt"] is None for d in docs[:-1])
    assert docs[-1] | {"updatedAt": None} == {
        "id": f"connector-{mine}", "title": "Visible", "kind": "connector",
        "connectorId": mine, "updatedAt": None}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", docs[-1]["updatedAt"])
    # The owner also sees its private connector; nobody lists the deleted one or globex's.
    owners = [d["id"] for d in client.get(DOCS, headers=OWNER).json()["docs"]]
    assert owners[-2:] == sorted([f"connector-{mine}", f"connector-{private}"])
    assert f"connector-{gone}" not in owners

    # Pages of three walk the same list; a cursor of another list answers 422.
    walked, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        answer = client.get(DOCS, headers=OWNER, params=params).json()
        walked += [d["id"] for d in answer["docs"]]
        cursor = answer["nextCursor"]
        if cursor is None:
            break
    assert walked == owners
    for bad in ("nope", "Y29ubmVjdG9yc3xjbm5fMA", "ZG9jc3xjb25uZWN0b3ItbmFu"):
        refused = client.get(DOCS, headers=OWNER, params={"cursor": bad})
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["errors"][0]["pointer"] == "/query/cursor"
    assert client.get(DOCS, headers=OWNER, params={"limit": 0}).status_code == 422


def test_a_connector_page_shows_its_schemas_tools_and_versions(client: Client) -> None:
    cnn = scripted(client)
    answer = page(client, f"connector-{cnn}")
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "private, no-cache"
    assert answer.headers["vary"] == "Accept"
    doc = answer.json()
    assert set(doc) == {"id", "title", "format", "content"}
    assert doc["id"] == f"connector-{cnn}" and doc["title"] == "People API"
    assert doc["format"] == "markdown"
    content = doc["content"]
    assert content.startswith("# People API\n")
    for expected in (f"`{cnn}`", "[universal](type-universal)", "## Schemas (1)",
                     "### Fleet devices", "| serial | string | yes | yes | Hardware serial"
                     " number |", "| owners | email\\[\\] | no | no |   |",
                     "| owner | account | one |", "## Tools (3)", "### Test connection",
                     "### lookup\\_user", "Find a user by id", '"required": [\n    "userId"',
                     "| v1 |", "First cut", "[the guide](guide-collectors)"):
        assert expected in content, expected
    # The UUID form names the same page.
    uuid = client.get(f"{CONNECTORS}/{cnn}", headers=OWNER).json()["uuid"]
    assert page(client, f"connector-{uuid}").json() == doc
    # Auditors read docs too.
    assert page(client, f"connector-{cnn}", AUDITOR).json() == doc

    rendered = page(client, f"connector-{cnn}", accept="text/html")
    assert rendered.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in rendered.headers["content-security-policy"]
    assert rendered.headers["vary"] == "Accept"
    html = rendered.text
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<title>People API</title>" in html and "<h1>People API</h1>" in html
    assert "<td>Hardware serial number</td>" in html and "<h3>lookup_user</h3>" in html
    assert '<a href="type-universal">universal</a>' in html


def test_a_schema_change_shows_on_its_connectors_page_on_the_next_read(
    client: Client,
) -> None:
    cnn = scripted(client)
    before = page(client, f"connector-{cnn}").json()["content"]
    listed_before = client.get(DOCS, headers=COLLECTOR).json()["docs"][-1]["updatedAt"]
    assert "firmware" not in before
    schemas = client.get(f"{CONNECTORS}/{cnn}/schemas", headers=OWNER).json()["schemas"]
    changed = devices() | {"connectorId": cnn, "name": "Fleet devices v2"}
    changed["fields"].append({"name": "firmware", "type": "string",
                              "description": "Installed firmware"})
    put = client.put(f"{API}/schemas/{schemas[0]['id']}", headers=OWNER, json=changed)
    assert put.status_code == 200, put.text
    after = page(client, f"connector-{cnn}").json()["content"]
    assert "### Fleet devices v2" in after
    assert "| firmware | string | no | no | Installed firmware |" in after
    listed_after = client.get(DOCS, headers=COLLECTOR).json()["docs"][-1]["updatedAt"]
    assert listed_after > listed_before
    # A deleted schema leaves the page too.
    gone = client.delete(f"{API}/schemas/{cnn}/{schemas[0]['id']}", headers=OWNER)
    assert gone.status_code == 204, gone.text
    emptied = page(client, f"connector-{cnn}").json()["content"]
    assert "## Schemas (0)" in emptied and "No schemas yet." in emptied


XSS = "<script>alert(1)</script>"


def test_every_user_value_is_escaped_in_markdown_and_html(client: Client) -> None:
    cnn = universal(client, f"Evil {XSS} [x](javascript:alert(1))")
    body = devices() | {"connectorId": cnn, "name": f"Schema {XSS}"}
    body["fields"][0]["description"] = "<img src=x onerror=alert(1)> **bold** `tick` | pipe"
    created = client.post(f"{API}/schemas", headers=OWNER, json=body)
    assert created.status_code == 201, created.text

    content = page(client, f"connector-{cnn}").json()["content"]
    assert "<script" not in content and "<img" not in content
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in content
    assert "\\[x\\]\\(javascript:alert\\(1\\)\\)" in content
    assert "\\*\\*bold\\*\\* \\`tick\\` \\| pipe" in content

    html = page(client, f"connector-{cnn}", accept="text/html").text
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "href=\"javascript" not in lowered
    assert "<strong>" not in html and "<code>tick</code>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<title>Evil &lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))</title>" \
        in html
    assert "&lt;img src=x onerror=alert(1)&gt; **bold** `tick` | pipe" in html
    listed = client.get(DOCS, headers=COLLECTOR).json()["docs"][-1]
    assert listed["title"] == f"Evil {XSS} [x](javascript:alert(1))"  # JSON: the value as is


def test_type_pages_and_the_guide(client: Client) -> None:
    s3 = page(client, "type-s3").json()
    assert s3["title"] == "Amazon S3" and s3["format"] == "markdown"
    for expected in ("## Config fields", "| bucket | string | yes | Bucket name |",
                     "## Credential fields", "| secretAccessKey | string | yes |",
                     "secret: accepted, never shown", "### configSchema", '"$id": '):
        assert expected in s3["content"], expected
    universal_type = page(client, "type-universal").json()["content"]
    assert "### UniversalApiKey" in universal_type and "| apiKey | string | yes |" in universal_type
    assert "/connectors/oauth/universal/authorize" in universal_type
    for name in TYPES:
        assert page(client, f"type-{name}").json()["id"] == f"type-{name}"

    guide = page(client, "guide-collectors").json()
    assert guide["title"] == "Collector scripts" and guide["content"] == GUIDE.read_text()
    html = page(client, "guide-collectors", accept="text/html").text
    assert "<h1>Collector scripts</h1>" in html and "<table>" in html


def test_odd_ids_other_tenants_and_gone_connectors_answer_the_same_404(
    client: Client,
) -> None:
    cnn = universal(client, "Acme only")
    gone = universal(client, "Deleted")
    assert client.delete(f"{CONNECTORS}/{gone}", headers=OWNER).status_code == 204
    hidden = universal(client, "Hidden", scope="user")
    same = {"X-Request-Id": "same-for-all"}
    unknown = client.get(f"{DOCS}/connector-cnn_{'7' * 26}",
                         headers={**COLLECTOR, **same})
    assert unknown.status_code == 404
    problem = unknown.json()
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert problem["type"].endswith("/doc-not-found") and problem["status"] == 404
    for id, caller in ((f"connector-{cnn}", headers(tenant="globex", roles=("collector",))),
                       (f"connector-{gone}", COLLECTOR), (f"connector-{gone}", OWNER),
                       (f"connector-{hidden}", COLLECTOR)):
        answer = client.get(f"{DOCS}/{id}", headers={**caller, **same})
        assert (answer.status_code, answer.json()) == (404, problem), (id, answer.text)
    odd = ["nope", "type-", "type-nope", "type-S3", "connector-", "connector-cnn_",
           "guide-", "guide-collectors.md", f"connector-{cnn}x", "x" * 5000,
           "connector-" + "7" * 3000, "connector-ü", "ünïcødé-页面", "...", "%2e%2e", "%00",
           "connector-%20" + cnn, cnn]
    for id in odd:
        answer = client.get(f"{DOCS}/{id}", headers={**COLLECTOR, **same})
        assert (answer.status_code, answer.json()) == (404, problem), (id, answer.text)
    for id in ("..", "connector-..%2Fschemas"):  # the path leaves the route: no such route
        answer = client.get(f"{DOCS}/{id}", headers=COLLECTOR)
        assert answer.status_code == 404 and answer.json()["type"].endswith("/not-found")
    # Ids are Crockford base32 in any case, as everywhere: the page keeps the canonical id.
    assert page(client, f"connector-{cnn.lower()}").json()["id"] == f"connector-{cnn}"


def test_accept_picks_json_unless_html_is_preferred(client: Client) -> None:
    browser = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8")
    cases = {None: "application/json", "*/*": "application/json",
             "application/json": "application/json", "image/png": "application/json",
             "text/plain": "application/json", "garbage;;q=x": "application/json",
             "text/html": "text/html", "text/*": "text/html", browser: "text/html",
             "application/json, text/html;q=0.5": "application/json",
             "text/html;q=0.9, application/json;q=0.8": "text/html"}
    for accept, expected in cases.items():
        extra = {} if accept is None else {"Accept": accept}
        answer = client.get(f"{DOCS}/type-s3", headers={**COLLECTOR, **extra})
        assert answer.status_code == 200, (accept, answer.text)
        assert answer.headers["content-type"].startswith(expected), (accept, answer.headers)
    failed = client.get(f"{DOCS}/nope", headers={**COLLECTOR, "Accept": "text/html"})
    assert failed.status_code == 404
    assert failed.headers["content-type"].startswith("application/problem+json")
    assert client.get(DOCS).status_code == 401
    assert client.get(f"{DOCS}/type-s3").status_code == 401
