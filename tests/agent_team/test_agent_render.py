"""Model-written text in the Markdown plan: no broken table, no link, no HTML, no block."""

from __future__ import annotations

import json
import re

import pytest
from markdown_it import MarkdownIt
from scripted_model import NICHES, ScriptedModel, copy, niche_ideas

from agent_team.agents.base import Brief, StageContext
from agent_team.llm import StructuredCaller, UsageMeter
from agent_team.pipeline import MemoryStore, run_pipeline
from agent_team.render import cell, plan_markdown

HOSTILE = [
    "a | b",
    "line\nbreak\r\nthere",
    "<script>alert(1)</script>",
    "`rm -rf` and ```",
    "[x](javascript:alert(1))",
    "![i](http://e.test/i.png)",
    "see https://evil.test or www.evil.test or me@evil.test",
    "- a list",
    "1. an item",
    "---",
    "# heading",
    "**bold** _em_ ~~gone~~ \\|",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_cell_is_plain_text_on_one_line(text):
    rendered = MarkdownIt("commonmark").enable("table").render(f"| {cell(text)} |\n|---|\n")
    assert "<td>" not in rendered  # one header cell only: nothing split the row
    inner = re.sub(r"</?(table|thead|tr|th)>|\n", "", rendered)
    assert "<" not in inner.replace("&lt;", "")  # no tag but the table's own
    assert not re.search(r"https?://|www\.|\w@\w", cell(text).replace("\\", "|"))
    # As a paragraph of its own and as a list item: still one plain paragraph or item.
    paragraph = MarkdownIt("commonmark").render(cell(text))
    assert re.fullmatch(r"<p>[^<]*</p>\n", paragraph.replace("&lt;", ""))
    item = MarkdownIt("commonmark").render(f"- {cell(text)}")
    assert re.fullmatch(r"<ul>\n<li>[^<]*</li>\n</ul>\n", item.replace("&lt;", ""))


def _hostile_model() -> ScriptedModel:
    def ideas(prompt: str) -> str:
        data = niche_ideas(prompt)
        data["niches"][0]["name"] = "Legal | QA <b>x</b>"
        data["niches"][1]["summary"] = "[x](javascript:alert(1))\n- a"
        return json.dumps(data)

    def hostile_copy(prompt: str) -> str:
        return json.dumps(
            {
                **copy(prompt),
                "headline": "<script>alert(1)</script>",
                "launch_email_body": "1. Visit https://evil.test\n# now",
                "social_posts": ["- a", "`x`", "<img src=x onerror=alert(1)>"],
            }
        )

    return ScriptedModel(overrides={"NicheIdeas": ideas, "Copy": hostile_copy})


def test_hostile_model_text_cannot_break_the_plan_markdown():
    model = _hostile_model()
    context = StageContext(
        brief=Brief(segments=("a | b <i>",)),
        model="scripted",
        caller=StructuredCaller(model.client()),
        meter=UsageMeter(),
    )
    text = plan_markdown(run_pipeline(context=context, store=MemoryStore()))
    html = MarkdownIt("commonmark").enable("table").render(text)
    for tag in ("<script", "<img", "<a ", "<b>", "<i>", "<hr", "<code"):
        assert tag not in html
    assert html.count("<ol>") == 1  # the launch plan's, not the e-mail body
    assert not re.search(r"<li>\s*<(ul|ol)", html)  # no list nested by a "- " post
    headings = re.findall(r"<h(\d)>", html)
    assert headings.count("1") == 1 and "3" not in headings
    for table in re.findall(r"<table>.*?</table>", html, flags=re.S):
        widths = {
            row.count("<td") + row.count("<th")
            for row in re.findall(r"<tr>.*?</tr>", table, flags=re.S)
        }
        assert len(widths) == 1  # every row as wide as the header
    assert "Legal \\| QA" in text and len(NICHES) >= 2
