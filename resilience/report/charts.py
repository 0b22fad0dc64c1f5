"""Native Excel charts of the report. Every series refers to cells on its sheet (names
too), so a chart always shows what the table beside it says."""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl.chart import BarChart, Reference, Series
from openpyxl.chart.data_source import AxDataSource, MultiLevelStrRef, StrRef
from openpyxl.chart.series import SeriesLabel
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.text import (
    CharacterProperties,
    Paragraph,
    ParagraphProperties,
    RegularTextRun,
)
from openpyxl.utils import get_column_letter, quote_sheetname

# Distinct colours for stacked series: Tableau 10, then ten more picked to stay apart
# from those (no two near-identical shades among the first twenty).
PALETTE = ("4E79A7", "F28E2B", "E15759", "76B7B2", "59A14F", "EDC948", "B07AA1", "FF9DA7",
           "9C755F", "BAB0AC", "A0CBE8", "FFBE7D", "2F4B7C", "8CD17D", "D37295", "7F3C8D",
           "404040", "17BECF", "BCBD22", "86171E")


def stacked_columns(ws, title: str, categories: tuple[int, int, int],
                    series: Sequence[tuple[int, int, int, int]], y_title: str,
                    y_format: str, width: float = 16.0, height: float = 8.5,
                    y_max: float | None = None, horizontal: bool = False,
                    category_columns: int = 1, colours: Sequence[str] | None = None,
                    stacked: bool = True, y_min: float | None = None,
                    top_down: bool = False) -> BarChart:
    """A stacked bar chart. `categories` is (column, first row, last row);
    each series is (value column, first row, last row, row of its name).
    `category_columns` > 1 labels the categories with that many columns from `column` on,
    as a multi-level axis (e.g. period, then scenario). `colours` gives each series its
    colour (the same country in the same colour on every chart); `stacked=False` puts
    the series side by side. `y_min` fixes where the value axis starts (0: bars of money
    are not cut off, so their lengths compare); `top_down` lists the categories of a
    horizontal chart from the top, in the order of the table's rows."""
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    chart.grouping = "stacked" if stacked else "clustered"
    chart.overlap = 100 if stacked else 0
    chart.gapWidth = 60
    chart.title = _title(title)
    chart.style = 10
    chart.width, chart.height = width, height
    col, first, last = categories
    labels = Reference(ws, min_col=col, max_col=col + category_columns - 1, min_row=first,
                       max_row=last)
    for i, (value_col, v_first, v_last, name_row) in enumerate(series):
        values = Reference(ws, min_col=value_col, min_row=v_first, max_row=v_last)
        ser = Series(values)
        ser.tx = SeriesLabel(strRef=_cell_ref(ws, value_col, name_row))
        colour = colours[i] if colours is not None else PALETTE[i % len(PALETTE)]
        ser.graphicalProperties = GraphicalProperties(solidFill=colour)
        ser.graphicalProperties.line.solidFill = colour
        chart.series.append(ser)
    if category_columns > 1:
        for ser in chart.series:
            ser.cat = AxDataSource(multiLvlStrRef=MultiLevelStrRef(f=str(labels)))
    else:
        chart.set_categories(labels)
    chart.y_axis.title = y_title
    chart.y_axis.number_format = y_format
    if y_max is not None:
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = y_max
    if y_min is not None:
        chart.y_axis.scaling.min = y_min
    if top_down:
        chart.x_axis.scaling.orientation = "maxMin"
        chart.y_axis.crosses = "max"  # the value axis stays below the bars
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.x_axis.txPr = _small_text()
    chart.legend.position = "r"
    return chart


def _cell_ref(ws, col: int, row: int) -> StrRef:
    return StrRef(f"{quote_sheetname(ws.title)}!${get_column_letter(col)}${row}")


def _title(text: str) -> Title:
    """A chart title in 11 pt bold (the default is large enough to wrap)."""
    props = CharacterProperties(sz=1100, b=True)
    paragraph = Paragraph(pPr=ParagraphProperties(defRPr=props),
                          r=[RegularTextRun(rPr=props, t=text)])
    return Title(tx=Text(rich=RichText(p=[paragraph])), overlay=False)


def _small_text() -> RichText:
    props = CharacterProperties(sz=800)
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=props), endParaRPr=props)])
