"""The docs cannot drift from the schema the reader uses."""

from pathlib import Path

from resilience.schema import markdown_tables

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_workbook_doc_tables_match_the_schema():
    text = (DOCS / "workbook.md").read_text(encoding="utf-8")
    generated = text.split("<!-- schema:begin -->\n", 1)[1].split("<!-- schema:end -->", 1)[0]
    assert generated == markdown_tables(), (
        "docs/workbook.md is out of date: regenerate its schema section from "
        "resilience.schema.markdown_tables()")
