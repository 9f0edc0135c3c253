"""The documentation pages as Markdown, built from the live registry, and their HTML form.

Three kinds of page: one per connector type of the catalogue, one per connector (its schemas,
tools and script versions), and the collector-script guide. Every value a user chose (a name,
a description, a field name, a tool's schema) goes through :func:`text` or :func:`code_block`,
so that the Markdown itself carries no HTML and no Markdown syntax of theirs, whichever
renderer reads it; the HTML form is rendered with raw HTML turned off on top of that.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from markdown_it import MarkdownIt

from domain.common import iso_timestamp
from domain.connectors.definition import ConnectorType
from domain.connectors.state import ConnectorState
from domain.schema import SchemaState
from domain.scripts.versions import ScriptVersionsState

GUIDE_ID = "guide-collectors"
TYPE_PREFIX = "type-"
CONNECTOR_PREFIX = "connector-"

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~])")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(value: Any) -> str:
    """A value as inline Markdown text: one line, HTML's ``&``, ``<``, ``>`` as entities, and
    every Markdown punctuation backslash-escaped, so it reads as exactly its characters."""
    one_line = _SPACE.sub(" ", _CONTROL.sub("", str(value))).strip()
    entities = one_line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", entities)


def code_block(value: Any, info: str = "json") -> str:
    """A fenced code block of ``value`` (JSON unless a string), its fence longer than any run
    of backticks inside, so nothing in it can close the block."""
    body = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


_PLAIN = re.compile(r"[A-Za-z0-9_.:/{}-]+")


def code(value: str) -> str:
    """An id (``cnn_…``, ``sch_…``, a type, a tool id) as a code span; anything but plain id
    characters as escaped text instead."""
    return f"`{value}`" if _PLAIN.fullmatch(value) else text(value)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GFM table of already-escaped cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _when(moment: Any) -> str:
    return iso_timestamp(moment) or "never"


# Connector types ---------------------------------------------------------------------------

def type_page_id(entry: ConnectorType) -> str:
    return TYPE_PREFIX + entry.type


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        return f"array of {_type_of(schema['items'])}"
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind is None and "enum" in schema:
        return "enum"
    if kind is None and "const" in schema:
        return "constant"
    return str(kind or "any")


def _rules(schema: Mapping[str, Any]) -> str:
    rules = []
    if "const" in schema:
        rules.append(f"always {json.dumps(schema['const'])}")
    if "enum" in schema:
        rules.append("one of " + ", ".join(json.dumps(v) for v in schema["enum"]))
    if "format" in schema:
        rules.append(f"format {schema['format']}")
    for key, label in (("minLength", "at least {} characters"),
                       ("maxLength", "at most {} characters"),
                       ("minimum", "at least {}"), ("maximum", "at most {}"),
                       ("minItems", "at least {} items"), ("maxItems", "at most {} items")):
        if key in schema:
            rules.append(label.format(schema[key]))
    if "default" in schema:
        rules.append(f"default {json.dumps(schema['default'])}")
    if schema.get("writeOnly"):
        rules.append("secret: accepted, never shown")
    return text("; ".join(rules))


def _fields_table(schema: Mapping[str, Any]) -> str:
    required = set(schema.get("required") or ())
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if not properties:
        return "No fields."
    return table(["Field", "Type", "Required", "Description", "Rules"], [
        [text(name), text(_type_of(prop)), _yes(name in required),
         text(prop.get("description", "")), _rules(prop)]
        for name, prop in properties.items()])


def _variants(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The alternative shapes of a credentials document (``if``/``then`` per auth type,
    ``oneOf``, ``anyOf``), or the document itself when it has one shape."""
    found = [part["then"] for part in schema.get("allOf") or ()
             if isinstance(part, Mapping) and isinstance(part.get("then"), Mapping)]
    for key in ("oneOf", "anyOf"):
        found += [part for part in schema.get(key) or () if isinstance(part, Mapping)]
    return found or [schema]


def type_markdown(entry: ConnectorType) -> str:
    """The page of one connector type: what it is, its config and credential fields, its auth
    types and OAuth flow, and the two JSON Schema documents connectors are checked with."""
    parts = [f"# {text(entry.name)}", text(entry.description), table(["Property", "Value"], [
        ["Type", code(entry.type)], ["Mode", text(entry.mode.value)],
        ["Protocol", text(entry.protocol)],
        ["Auth types", ", ".join(code(a) for a in entry.auth_types)],
        ["OAuth", "yes: `GET /internal/v1/connectors/oauth/" + entry.type + "/authorize`"
         if entry.oauth else "no"],
        ["OAuth scopes", ", ".join(code(s) for s in entry.oauth_scopes) or "none"]]),
        "## Config fields", _fields_table(entry.config_schema), "## Credential fields"]
    for variant in _variants(entry.credentials_schema):
        title = variant.get("title")
        if title and len(_variants(entry.credentials_schema)) > 1:
            parts.append(f"### {text(title)}")
        parts.append(_fields_table(variant))
    parts += ["## JSON Schema documents",
              "The documents `GET /internal/v1/connector-types/" + entry.type + "` answers;"
              " a connector's `config` and `credentials` are validated with them.",
              "### configSchema", code_block(entry.config_schema),
              "### credentialsSchema", code_block(entry.credentials_schema)]
    return "\n\n".join(parts) + "\n"


# Connectors --------------------------------------------------------------------------------

def connector_page_id(state: ConnectorState) -> str:
    return CONNECTOR_PREFIX + state.connector_id


def connector_title(state: ConnectorState) -> str:
    return state.name or state.connector_id


def _schema_section(schema: SchemaState) -> str:
    content = schema.content
    assert content is not None
    parts = [f"### {text(content.name)}", table(["Property", "Value"], [
        ["Id", code(schema.schema_id)], ["Entity type", text(content.entity_type)],
        ["Key", text(schema.key or "")], ["Version", str(schema.revision)],
        ["Updated", _when(schema.updated_at)]])]
    parts.append(table(["Field", "Type", "Primary", "Required", "Description"], [
        [text(f.name), text(f.type), _yes(f.primary), _yes(f.required),
         text(f.description or "")] for f in content.fields]))
    if content.relationships:
        parts.append(table(["Relationship", "Target", "Cardinality"], [
            [text(r.name), text(r.target), text(r.cardinality)]
            for r in content.relationships]))
    else:
        parts.append("No relationships.")
    return "\n\n".join(parts)


def _tool_section(tool: Mapping[str, Any]) -> str:
    name = tool.get("name") or tool["id"]
    return "\n\n".join([
        f"### {text(name)}", f"Id: {code(str(tool['id']))}. {text(tool.get('description', ''))}",
        "Input schema:", code_block(tool.get("inputSchema", {})),
        "Output schema:", code_block(tool.get("outputSchema", {}))])


def _versions_section(versions: ScriptVersionsState) -> str:
    if not versions.versions:
        return "No script versions."
    latest = versions.latest

    def messages(found: Sequence[Mapping[str, Any]]) -> str:
        counts: dict[str, int] = {}
        for message in found:
            severity = str(message.get("severity", "info"))
            counts[severity] = counts.get(severity, 0) + 1
        return text(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none")

    return table(["Name", "Id", "Default", "Latest", "Created", "Created by", "Published",
                  "Messages", "Description"], [
        [text(v.name), code(v.version_id), _yes(versions.default == v.id),
         _yes(latest is not None and latest.id == v.id), _when(v.created_at),
         text(v.created_by), _when(v.published_at), messages(v.messages),
         text(v.description or "")] for v in versions.versions])


def connector_markdown(state: ConnectorState, schemas: Sequence[SchemaState],
                       tools: Sequence[Mapping[str, Any]],
                       versions: ScriptVersionsState) -> str:
    """The page of one connector: what it is, its schemas with their fields and
    relationships, its tools with their input and output schemas, its script versions."""
    type_link = (f"[{text(state.type)}]({TYPE_PREFIX}{state.type})" if state.type
                 else "none")
    overview = [
        ["Id", code(state.connector_id)], ["UUID", code(str(state.id))], ["Type", type_link],
        ["Scope", text(state.scope)], ["Status", text(state.status)],
        ["Enabled", _yes(state.enabled)], ["Provider", text(state.provider or "")],
        ["Base URL", text(state.base_url or "")], ["Auth type", text(state.auth_type or "")],
        ["Credential fields set", ", ".join(text(f) for f in state.credential_fields)
         or "none"],
        ["Tags", ", ".join(text(f"{k}={v}") for k, v in sorted(state.tags.items()))
         or "none"],
        ["Version", str(state.revision)], ["Updated", _when(state.updated_at)]]
    parts = [f"# {text(connector_title(state))}", table(["Property", "Value"], overview),
             f"## Schemas ({len(schemas)})"]
    parts += [_schema_section(s) for s in schemas] or ["No schemas yet."]
    parts.append(f"## Tools ({len(tools)})")
    parts.append("Run one with `POST /internal/v1/connector/universal/action/"
                 f"{state.connector_id}/{{toolId}}`, the body being its input.")
    parts += [_tool_section(t) for t in tools]
    parts += ["## Script versions", _versions_section(versions),
              f"How to write a collector script: [the guide]({GUIDE_ID})."]
    return "\n\n".join(parts) + "\n"


# The guide ---------------------------------------------------------------------------------

@cache
def guide_markdown() -> str:
    """The collector-script guide: ``docs/collectors.md`` itself, which the package reaches
    through the symlink ``api/guides/collectors.md`` (one file, decision 36)."""
    return (resources.files("api") / "guides" / "collectors.md").read_text(encoding="utf-8")


def guide_title() -> str:
    first = guide_markdown().splitlines()[0]
    return first.removeprefix("# ").strip() or "Collector scripts"


# HTML --------------------------------------------------------------------------------------

_RENDERER = MarkdownIt("commonmark", {"html": False}).enable("table")
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
          "padding:0 1rem;line-height:1.5}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:.2rem .5rem;vertical-align:top}"
          "pre{background:#f5f5f5;padding:.5rem;overflow:auto}")
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
"""The HTML pages load nothing and run nothing: inline style only."""


def render_html(title: str, markdown: str) -> str:
    """A small, complete HTML document of the page; raw HTML in the Markdown is shown as
    text, never passed through."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
            f"<body>\n<main>\n{_RENDERER.render(markdown)}</main>\n</body>\n</html>\n")
