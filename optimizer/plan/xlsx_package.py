"""plan.xlsx as a package: the zip file, its fixed-date members, and the small XML parts.

Content types, relations, document properties, the workbook (sheet names, autofilter ranges),
styles, and each worksheet's XML around its rows. The file is deterministic: every zip member has
the same fixed date and the document's creation time is fixed. The sheets' rows come from
optimizer/plan/xlsx.py (through optimizer/plan/xlsx_cells.py).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import IO

from optimizer.plan.xlsx_cells import STYLES, attribute, column_letter, escape, escape_controls

CREATED = "2024-01-01T00:00:00Z"  # the document's creation time, fixed: same input, same bytes
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # every zip member's date, fixed for the same reason
LEVEL = 6  # zlib's default; deflating is much of the time, but level 1 makes the file ~20 % larger

_NS = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument."


def sheet_xml(rows: int, columns: list[tuple[float, int | None]], frozen: bool,
               selected: bool, autofilter: str | None) -> tuple[str, str]:
    """A worksheet's XML before and after its rows: `rows` rows (the header included), columns
    as (width, style), the top row frozen or not, an autofilter range or none."""
    last = column_letter(len(columns) - 1)
    view = ' tabSelected="1"' if selected else ""
    pane = ('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft"/>') if frozen else ""
    view_xml = (f'<sheetView{view} workbookViewId="0">{pane}</sheetView>' if pane
                else f'<sheetView{view} workbookViewId="0"/>')
    cols = "".join(
        f'<col min="{c + 1}" max="{c + 1}" width="{int((w * 7 + 5) / 7 * 256) / 256}"'
        + (f' style="{s}"' if s else "") + ' customWidth="1"/>'
        for c, (w, s) in enumerate(columns))
    head = (f"{_DECL}<worksheet {_NS}><dimension ref=\"A1:{last}{max(rows, 1)}\"/>"
            f"<sheetViews>{view_xml}</sheetViews><sheetFormatPr defaultRowHeight=\"15\"/>"
            f"<cols>{cols}</cols><sheetData>")
    tail = ("</sheetData>" + (f'<autoFilter ref="{autofilter}"/>' if autofilter else "")
            + '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
            'footer="0.3"/></worksheet>')
    return head, tail


class Book:
    """The zip file, its members written with a fixed date, and the sheets it will hold (names
    and autofilter ranges are known before any row is written, so the package's small parts can
    come first, [Content_Types].xml at the front where file-type sniffers look for it)."""

    def __init__(self, path: Path, sheets: list[tuple[str, str | None]]) -> None:
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=LEVEL)
        self.sheets = sheets  # (name, autofilter range or None), in order
        self.written = 0

    def member(self, name: str, zip64: bool = False) -> IO[bytes]:
        info = zipfile.ZipInfo(name, ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = LEVEL  # type: ignore[attr-defined]  # compress_level in 3.13
        info.external_attr = 0o600 << 16
        return self.zip.open(info, "w", force_zip64=zip64)

    def part(self, name: str, xml: str) -> None:
        with self.member(name) as fh:
            fh.write(xml.encode("utf-8"))

    def sheet(self, name: str, zip64: bool = False) -> IO[bytes]:
        """The next sheet's member (`name` must be the next one planned)."""
        assert self.sheets[self.written][0] == name, (self.sheets, name)
        self.written += 1
        return self.member(f"xl/worksheets/sheet{self.written}.xml", zip64)


def _styles_xml() -> str:
    formats = sorted(STYLES.items(), key=lambda item: item[1])
    num_fmts = "".join(f'<numFmt numFmtId="{163 + s}" formatCode="{attribute(f)}"/>'
                       for f, s in formats)
    xfs = "".join(f'<xf numFmtId="{163 + s}" fontId="0" fillId="0" borderId="0" xfId="0" '
                  'applyNumberFormat="1"/>' for _, s in formats)
    font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
    return (f'{_DECL}<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
            f'main"><numFmts count="{len(formats)}">{num_fmts}</numFmts>'
            f'<fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts>'
            '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill '
            'patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor '
            'rgb="FFF2F2F2"/><bgColor indexed="64"/></patternFill></fill></fills>'
            '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
            '<border><left/><right/><top/><bottom style="thin"><color auto="1"/></bottom>'
            '<diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" '
            f'fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="{2 + len(formats)}">'
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" '
            'fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" '
            f'applyBorder="1"/>{xfs}</cellXfs><cellStyles count="1"><cellStyle name="Normal" '
            'xfId="0" builtinId="0"/></cellStyles><dxfs count="0"/><tableStyles count="0" '
            'defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16"/>'
            "</styleSheet>")


def package_parts(book: Book, title: str) -> None:
    """Everything but the sheets: content types, relations, properties, workbook, styles."""
    names = [name for name, _ in book.sheets]
    sheet_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}spreadsheetml.'
        'worksheet+xml"/>' for i in range(1, len(names) + 1))
    book.part("[Content_Types].xml", (
        f'{_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/docProps/app.xml" ContentType="{_CT}extended-properties+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
        'package.core-properties+xml"/><Override PartName="/xl/styles.xml" ContentType="'
        f'{_CT}spreadsheetml.styles+xml"/><Override PartName="/xl/workbook.xml" ContentType="'
        f'{_CT}spreadsheetml.sheet.main+xml"/>{sheet_types}</Types>'))
    book.part("_rels/.rels", (
        f'{_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{_REL}/officeDocument" '
        'Target="xl/workbook.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.'
        'org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>"))
    book.part("docProps/core.xml", (
        f'{_DECL}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(escape_controls(title))}</dc:title><dc:creator></dc:creator>"
        f'<cp:lastModifiedBy></cp:lastModifiedBy><dcterms:created xsi:type="dcterms:W3CDTF">'
        f'{CREATED}</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">{CREATED}'
        "</dcterms:modified></cp:coreProperties>"))
    titles = "".join(f"<vt:lpstr>{escape(n)}</vt:lpstr>" for n in names)
    book.part("docProps/app.xml", (
        f'{_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
        'docPropsVTypes"><Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity>'
        '<ScaleCrop>false</ScaleCrop><HeadingPairs><vt:vector size="2" baseType="variant">'
        f"<vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>{len(names)}"
        f'</vt:i4></vt:variant></vt:vector></HeadingPairs><TitlesOfParts><vt:vector size="'
        f'{len(names)}" baseType="lpstr">{titles}</vt:vector></TitlesOfParts><Company></Company>'
        "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc><HyperlinksChanged>"
        "false</HyperlinksChanged><AppVersion>12.0000</AppVersion></Properties>"))
    sheets = "".join(f'<sheet name="{attribute(n)}" sheetId="{i}" r:id="rId{i}"/>'
                     for i, n in enumerate(names, start=1))
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        + escape("'" + n.replace("'", "''") + "'!" + re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", ref))
        + "</definedName>"
        for i, (n, ref) in enumerate(book.sheets) if ref)
    book.part("xl/workbook.xml", (
        f'{_DECL}<workbook {_NS}><fileVersion appName="xl" lastEdited="4" lowestEdited="4" '
        'rupBuild="4505"/><workbookPr defaultThemeVersion="124226"/><bookViews><workbookView '
        'xWindow="240" yWindow="15" windowWidth="16095" windowHeight="9660"/></bookViews>'
        f"<sheets>{sheets}</sheets>" + (f"<definedNames>{filters}</definedNames>" if filters
                                         else "") + '<calcPr calcId="124519"/></workbook>'))
    relations = "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" '
                        f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(names) + 1))
    book.part("xl/_rels/workbook.xml.rels", (
        f'{_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships">{relations}<Relationship Id="rId{len(names) + 1}" '
        f'Type="{_REL}/styles" Target="styles.xml"/></Relationships>'))
    book.part("xl/styles.xml", _styles_xml())
