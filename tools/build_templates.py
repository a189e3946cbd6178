"""Builds the Word templates of the reports: ``python tools/build_templates.py`` (re)writes every
``templates/<name>.docx`` with the 公文 layout of :mod:`processor.render.layout`.

Staff may afterwards edit those files in Word: at run time the committed .docx files are the
source of truth, this script only documents how they were made.  It is not part of the
installed package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.shared import Mm

from processor.common.paths import TEMPLATES_DIR
from processor.consolidate.blocks import NO_TYPICAL_SITE
from processor.consolidate.findings import AT_RISK, STATUS_CN
from processor.render.layout import (GROUP_CAPTION_PREFIX, ST_ADDRESSEE, ST_ANNEX_MARK, ST_ANNEX_NOTE, ST_ANNEX_NOTE_MORE,
                                     ST_ANNEX_TITLE, ST_BODY, ST_FIGURE, ST_H1, ST_H2, ST_NOINDENT, ST_SIGN, ST_SIGN_DATE,
                                     ST_TABLE, ST_TABLE_HEAD, ST_TABLE_LEFT, ST_TITLE, cant_split, drop_unused_styles,
                                     new_document, repeat_header, save_deterministic, set_caption, set_grid_widths,
                                     set_rfonts, setup_page, style_font, table_layout_fixed)


# ============================================================================
# template builder
# ============================================================================
@dataclass(frozen=True)
class Column:
    title: str
    expr: str  # jinja expression inside {{ }}, e.g. "r.unit"
    width_mm: float
    left: bool = False  # long text: left-aligned


class TemplateBuilder:
    """Small vocabulary for writing a docxtpl template with the 公文 styles."""

    def __init__(self, landscape: bool = False):
        self.doc = new_document(landscape)

    def _par(self, text: str, style: str):
        """One run per line ("\n" = line break): a jinja tag is never split across runs."""
        par = self.doc.add_paragraph(style=self.doc.styles[style])
        for i, line in enumerate(text.split("\n") if text else []):
            font = style_font(self.doc, par.style.style_id)
            if i:
                set_rfonts(par.add_run()._element, font)
                par.runs[-1]._element.append(OxmlElement("w:br"))
            run = par.add_run(line)
            set_rfonts(run._element, font)
        return par

    def title(self, text: str):
        self._par(text, ST_TITLE)
        self._par("", ST_BODY)  # one blank line under the title

    def addressee(self, expr: str = "addressee"):
        """主送: flush left on the line under the title's blank line, ending in a full-width colon."""
        return self._par("{{ " + expr + " }}：", ST_ADDRESSEE)

    def section(self, landscape: bool):
        """Start a new page in the given orientation (a wide annex); page numbers and footers carry on."""
        section = self.doc.add_section()
        setup_page(self.doc, landscape, section)
        return section

    def h1(self, text: str):
        return self._par(text, ST_H1)

    def h2(self, text: str):
        return self._par(text, ST_H2)

    def p(self, text: str, style: str = ST_BODY):
        return self._par(text, style)

    def tag(self, statement: str):
        """A paragraph holding only a ``{%p ... %}`` tag (removed at render time)."""
        return self._par("{%p " + statement + " %}", ST_BODY)

    def blank(self):
        return self._par("", ST_BODY)

    def figure(self, variable: str):
        return self._par("{{ " + variable + " }}", ST_FIGURE)

    def annex_note(self, titles: list[str]):
        for i, title in enumerate(titles, 1):
            if i == 1:
                self._par(f"附件：{i}. {title}" if len(titles) > 1 else f"附件：{title}", ST_ANNEX_NOTE)
            else:
                self._par(f"{i}. {title}", ST_ANNEX_NOTE_MORE)

    def annex(self, number: int | None, title: str):
        self._par(f"附件{number}" if number else "附件", ST_ANNEX_MARK)
        self._par(title, ST_ANNEX_TITLE)
        self._par("", ST_BODY)

    def signature(self, office_expr: str = "office_name", date_expr: str = "report_date|cn_date"):
        self.blank()
        self._par("{{ " + office_expr + " }}", ST_SIGN)
        self._par("{{ " + date_expr + " }}", ST_SIGN_DATE)

    def table(self, columns: list[Column], loop: str, *, empty: str | None = None,
              group_columns: tuple[int, ...] = (), split_rows: bool = False):
        """A table with a repeated header row and one ``{%tr for %}`` data row.

        ``loop`` is the jinja loop head (``r in rows``); ``empty`` is the sentence
        shown instead of the table when the list is empty.
        """
        collection = loop.split(" in ", 1)[1].strip()
        if empty is not None:
            self.tag(f"if {collection}")
        table = self.doc.add_table(rows=4, cols=len(columns))
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        table_layout_fixed(table)
        if group_columns:
            set_caption(table, GROUP_CAPTION_PREFIX + ",".join(str(c) for c in group_columns))
        set_grid_widths(table, [c.width_mm for c in columns])
        header, loop_row, data_row, end_row = table.rows
        repeat_header(header)
        if not split_rows:  # a row of several items (the problem list) may go on over a page
            cant_split(data_row)
        for i, column in enumerate(columns):
            for row in table.rows:
                row.cells[i].width = Mm(column.width_mm)
            self._cell_text(header.cells[i], column.title, ST_TABLE_HEAD)
            self._cell_text(data_row.cells[i], "{{ " + column.expr + " }}",
                            ST_TABLE_LEFT if column.left else ST_TABLE)
        self._cell_text(loop_row.cells[0], "{%tr for " + loop + " %}", ST_TABLE)
        self._cell_text(end_row.cells[0], "{%tr endfor %}", ST_TABLE)
        if empty is not None:
            self.tag("else")
            self.p(empty)
            self.tag("endif")
        return table

    def key_value_table(self, rows: list[tuple[str, str]], widths=(40, 116)):
        """A two-column table (label | value) such as a dossier's cover."""
        table = self.doc.add_table(rows=len(rows), cols=2)
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        table_layout_fixed(table)
        set_grid_widths(table, list(widths))
        for row, (label, expr) in zip(table.rows, rows, strict=True):
            cant_split(row)
            row.cells[0].width, row.cells[1].width = Mm(widths[0]), Mm(widths[1])
            self._cell_text(row.cells[0], label, ST_TABLE_HEAD)
            self._cell_text(row.cells[1], "{{ " + expr + " }}", ST_TABLE_LEFT)
        return table

    def _cell_text(self, cell, text: str, style: str):
        par = cell.paragraphs[0]
        par.style = self.doc.styles[style]
        run = par.add_run(text)
        set_rfonts(run._element, style_font(self.doc, par.style.style_id))

    def save(self, path: Path) -> Path:
        drop_unused_styles(self.doc)
        return save_deterministic(self.doc, path)




# ============================================================================
# the five templates
# ============================================================================
BASIS = "《关于企业组成员联系党建示范点建设的实施意见》"
PENDING = STATUS_CN[AT_RISK]  # a period not ended: named alike in every document (待完成)


def _numbered_sentences(b: TemplateBuilder, items: str, empty: str, text: str = "{{ loop.index }}. {{ x }}"):
    """One body paragraph per list item ("1. …"), or ``empty`` when the list is empty."""
    b.tag(f"if {items}")
    b.tag(f"for x in {items}")
    b.p(text)
    b.tag("endfor")
    b.tag("else")
    b.p(empty)
    b.tag("endif")


def _problem_list(b: TemplateBuilder, empty: str):
    """The report's one problem list: every failure, under a band for its unit."""
    b.table([Column("单位", "r.unit", 30), Column("示范点", "r.site", 60, left=True),
             Column("存在问题", "r.problem", 100, left=True), Column("对应要求", "r.rule", 35)],
            "r in problem_list", empty=empty, group_columns=(1,), split_rows=True)


def _problem_annex(b: TemplateBuilder, number: int, title: str):
    """The problem list's annex heading, the list right under its title (the text that points to it says the
    day its overdue days are counted to)."""
    b._par(f"附件{number}", ST_ANNEX_MARK)
    b._par(title, ST_ANNEX_TITLE)


OVERDUE_TO = "{% if problem_list %}（逾期天数算至{{ as_of|cn_date }}）{% endif %}"


def build_monthly_report() -> TemplateBuilder:
    b = TemplateBuilder()
    b.title("关于{{ month|month_cn }}企业组联系党建示范点\n工作情况的报告")
    b.addressee()
    b.p("根据" + BASIS + "要求，现将{{ month|month_cn }}企业组成员联系指导党建示范点工作情况报告如下"
        "（数据截至{{ as_of|cn_date }}）。截至{{ month|month_cn }}底，全市{{ overview.units }}个县（市、区）和系统党委"
        "已确定的示范点{{ overview.sites }}个{{ overview.sites_note }}，其中国企{{ overview.soe_sites }}个、非公企业{{ overview.private_sites }}个；"
        "本月报送数据的示范点{{ overview.reported_sites }}个{% if unreported_sites %}，"
        "{{ overview.unreported_sites }}个示范点所在单位本月未报送，不计入各项统计{% endif %}。")
    b.p("{{ conclusion }}")
    b.h1("一、报送情况")
    b.p("本月应报单位{{ submission.due }}个，按时报送{{ submission.on_time }}个，逾期报送{{ submission.late }}个"
        "{% if submission.late_units %}（{{ submission.late_units|join_cn }}）{% endif %}，未报送{{ submission.missing }}个"
        "{% if submission.missing_units %}（{{ submission.missing_units|join_cn }}）{% endif %}。"
        "{% for r in submission.returned_units %}{{ r.unit }}报表被退回后，于{{ r.received|day }}更正重新报送"
        "{% if loop.last %}。{% else %}；{% endif %}{% endfor %}"
        "{% if submission.resubmitted_units %}{{ submission.resubmitted_units|join_cn }}对本月报表作了更正重报，"
        "以最新报送的为准。{% endif %}报送截止日期为{{ deadline|cn_date }}，各单位报送情况见附件1。")
    b.figure("chart_submission")
    b.h1("二、联系指导情况")
    b.p("本月企业组成员共联系指导示范点{{ contact_summary.total }}次，其中电话联系{{ contact_summary.phone }}次、"
        "现场指导{{ contact_summary.onsite }}次、座谈会{{ contact_summary.meeting }}次"
        "{% if contact_summary.other %}、其他方式{{ contact_summary.other }}次{% endif %}，"
        "覆盖本月报送的{{ overview.reported_sites }}个示范点中的{{ contact_summary.sites_contacted }}个。"
        "联系次数按联系指导记录填写的企业组人员统计{% if contact_summary.elsewhere %}，其中"
        "{{ contact_summary.elsewhere }}次联系的是非本人分工联系的示范点{% endif %}。")
    b.h2("（一）企业组成员联系情况")
    b.p("分工联系示范点按已确定的{{ overview.sites }}个示范点统计；联系次数为本月报送数据的"
        "{{ overview.reported_sites }}个示范点的联系记录{% if overview.unreported_sites %}，另有"
        "{{ overview.unreported_sites }}个示范点所在单位本月未报送、无联系记录，按分工联系人员列于"
        "“分工示范点中本月未报送”{% endif %}。")
    b.table([Column("组别", "r.group", 14), Column("企业组人员", "r.staff", 20), Column("分工联系示范点", "r.sites", 18),
             Column("电话联系", "r.phone", 15), Column("现场指导", "r.onsite", 15), Column("座谈会", "r.meeting", 13),
             Column("其他", "r.other", 10), Column("合计", "r.total", 12), Column("其中非分工示范点", "r.elsewhere", 19),
             Column("分工示范点中本月未报送", "r.unreported", 20)],
            "r in staff_rows", empty="本月无企业组成员联系记录。")
    b.figure("chart_contacts")
    b.h2("（二）各示范点联系情况")
    b.p("本月报送数据的{{ overview.reported_sites }}个示范点联系情况如下（电话、现场、座谈和合计为各企业组人员对该示范点"
        "的全部联系，“其中本人”为分工联系人员本人的联系次数）：")
    b.table([Column("单位", "r.unit", 26), Column("示范点", "r.site", 50, left=True), Column("联系人员", "r.staff", 20),
             Column("电话", "r.phone", 12), Column("现场", "r.onsite", 12), Column("座谈", "r.meeting", 12),
             Column("合计", "r.total", 12), Column("其中本人", "r.by_staff", 12)],
            "r in site_rows", empty="本月无。")
    b.p("{% if unreported_sites %}本月未报送的示范点：{% for r in unreported_sites %}{{ r.unit }}{{ r.site }}"
        "{% if not loop.last %}、{% endif %}{% endfor %}。{% endif %}")
    b.h2("（三）需跟进的示范点")
    b.tag("if sites_no_contact or sites_no_visit")
    b.p("1. 本月未联系的示范点。{% if sites_no_contact %}共{{ sites_no_contact|length }}个："
        "{% for r in sites_no_contact %}{{ r.unit }}{{ r.site }}（联系人员：{{ r.staff }}）"
        "{% if not loop.last %}；{% endif %}{% endfor %}。{% else %}本月报送的示范点均已沟通联系。{% endif %}")
    b.p("2. 本季度尚未现场指导的示范点。{% if sites_no_visit %}{{ quarter_label }}至今尚有{{ sites_no_visit|length }}个"
        "示范点未开展现场指导：{% for r in sites_no_visit %}{{ r.unit }}{{ r.site }}（联系人员：{{ r.staff }}）"
        "{% if not loop.last %}；{% endif %}{% endfor %}。本季度至{{ quarter_end|cn_date }}结束，请抓紧安排。"
        "{% else %}{{ quarter_label }}本月报送的示范点均已开展现场指导。{% endif %}")
    b.tag("else")
    b.p("本月报送的示范点均已沟通联系，{{ quarter_label }}均已开展现场指导。")
    b.tag("endif")
    b.h1("三、示范点建设情况")  # each figure below says it counts the sites reported this month
    b.h2("（一）领导班子建设")
    b.p("本月报送的国企示范点{{ team.soe_sites }}个，其中{{ team.cross_sites }}个实行“双向进入、交叉任职”，"
        "交叉任职{{ team.cross_posts }}人；非公企业示范点{{ team.private_sites }}个，党组织书记均已明确。")
    b.h2("（二）党员队伍建设")
    b.p("本月报送的示范点共有党员{{ members.total|num }}名，本月发展党员{{ members.new }}名，其中一线工人"
        "{{ members.new_workers }}名、知识分子和技术骨干{{ members.new_intellectuals }}名；现有入党积极分子"
        "{{ members.activists }}名；流动党员{{ members.mobile }}名，其中已转出组织关系或纳入社区管理"
        "{{ members.mobile_managed }}名。")
    b.h2("（三）活动机制建设")
    b.p("本月报送的示范点共设立党员责任区{{ members.duty_zones }}个；非公企业示范点参加“六个一”活动党员"
        "{{ members.six_ones }}人。本月共开展组织生活{{ org_life.total }}次"
        "{% if org_life.by_kind %}，其中{% for k in org_life.by_kind %}{{ k.kind }}{{ k.count }}次"
        "{% if not loop.last %}、{% endif %}{% endfor %}{% endif %}。")
    b.h2("（四）工作制度落实")
    b.p("本月报送数据的示范点执行各项制度的情况如下（统计期未结束、尚未完成的列为待完成；"
        "党员大会实到人数未过半的不计入）：")
    b.table([Column("制度要求", "r.title", 52, left=True), Column("适用", "r.applies", 13),
             Column("统计期", "r.period", 27), Column("示范点数", "r.sites", 18), Column("已完成", "r.met", 15),
             Column("待完成", "r.pending", 15), Column("未达标", "r.failed", 16)],
            "r in frequency_rows", empty="本月无需统计的制度要求。")
    b.h2("（五）硬件设施建设")
    # the sites short of hardware are items of 附件2: the body counts them by what they lack
    b.p("本月报送硬件设施情况的{{ hardware.sites }}个示范点中，硬件设施齐全的{{ hardware.complete }}个，尚有缺项的"
        "{{ hardware.incomplete }}个{% if hardware_gaps %}（{{ hardware_gaps }}），逐个列于附件2{% endif %}。")
    b.h2("（六）本月工作进展")
    _numbered_sentences(b, "progress", "本月各单位未报送工作进展。",
                        "{{ loop.index }}. {{ x.text }}。（{{ x.sites }}）")
    b.h1("四、存在问题")
    b.p("对照实施意见，本月未达标事项{{ problem_summary.failed }}项，涉及{{ problem_summary.units }}个单位，"
        "{% if problem_summary.elsewhere %}其中报表逾期或未报送{{ problem_summary.elsewhere }}项见附件1，其余{% endif %}"
        "逐项列于附件2" + OVERDUE_TO + "{% if problem_summary.not_due %}；另有{{ problem_summary.not_due }}项统计期尚未结束、"
        "尚待完成，不计为问题{% endif %}。")
    b.p("联系指导中发现并跟踪的问题{{ problem_counts.total }}个（整改时限和办结状态以最新记录为准）："
        "本月办结{{ problem_counts.closed }}个（其中逾期办结{{ problem_counts.closed_late }}个），正在整改"
        "{{ problem_counts.open }}个，超过整改时限仍未办结{{ problem_counts.overdue }}个"
        "{% if problem_counts.extended %}，延长整改时限{{ problem_counts.extended }}个{% endif %}"
        "{% if problem_counts.shortened %}，缩短整改时限{{ problem_counts.shortened }}个{% endif %}。")
    b.p("{% if reported_problems %}各单位反映的主要问题：{% else %}本月各单位未反映问题。{% endif %}")
    b.tag("for x in reported_problems")
    b.p("{{ loop.index }}. {{ x.unit }}{{ x.site }}：{{ x.text }}")
    b.tag("endfor")
    b.h1("五、数据质量")
    b.p("将本月报表与各单位上月报表、其他单位本月报表对照核对，{% if quality_rows %}发现需核实的情况{{ quality_rows|length }}项，涉及"
        "{{ quality_units }}个单位，请有关单位核实，具体如下：{% else %}未发现需核实的情况。{% endif %}")
    b.tag("if quality_rows")  # no empty table under "未发现需核实的情况"
    b.table([Column("单位", "r.unit", 20), Column("示范点", "r.site", 30, left=True),
             Column("核对项目", "r.title", 26, left=True), Column("情况", "r.message", 60, left=True)],
            "r in quality_rows", empty=None)
    b.tag("endif")
    b.h1("六、下步工作")
    _numbered_sentences(b, "next_steps", "按实施意见要求继续做好联系指导工作。")
    b.p("各单位下月工作计划（相同计划合并列示）：{% if not plans %}本月未报送下月计划。{% endif %}")
    _numbered_sentences(b, "plans", "", "（{{ loop.index }}）{{ x.text }}。（{{ x.sites }}）")
    b.blank()
    b.annex_note(["各单位报送情况表", "示范点未达标事项清单"])
    b.signature()
    b.annex(1, "{{ month|month_cn }}各单位报送情况表")
    b.table([Column("序号", "loop.index", 13), Column("单位", "r.unit", 32), Column("单位类型", "r.kind", 22),
             Column("报送情况", "r.status", 22), Column("报送日期", "r.received|day", 22),
             Column("示范点", "r.sites if r.status != '未报送' else '—'", 15),
             Column("联系次数", "r.contacts if r.status != '未报送' else '—'", 15), Column("备注", "r.note", 15)],
            "r in unit_rows", empty="本月无应报单位。")
    b.section(landscape=True)  # the list on landscape pages: a problem on one or two lines
    _problem_annex(b, 2, "{{ month|month_cn }}示范点未达标事项清单")
    _problem_list(b, "本月未发现未达标事项。")
    return b


def build_half_year_report() -> TemplateBuilder:
    b = TemplateBuilder()
    b.title("关于{{ half_label }}挂钩联系点固本强基工程\n工作进展{% if stage %}阶段{% endif %}情况的报告")
    b.addressee()
    b.p("根据" + BASIS + "要求，现将{{ half_label }}（{{ first_month|month_cn }}至{{ last_month|month_cn }}）"
        "挂钩联系点固本强基工程工作进展情况报告如下。数据截至{{ report_date|cn_date }}。")
    b.p("{{ conclusion }}")
    b.h1("一、基本情况")
    b.p("全市{{ overview.units }}个县（市、区）和系统党委共确定示范点{{ overview.sites }}个{{ overview.sites_note }}，其中国企"
        "{{ overview.soe_sites }}个、非公企业{{ overview.private_sites }}个。企业组{{ overview.staff }}名同志中"
        "{{ overview.staff_assigned }}名分片联系{{ overview.sites_assigned }}个示范点"
        "{% if overview.sites_unassigned %}，另有{{ overview.sites_unassigned }}个示范点尚未确定企业组联系人员"
        "{% endif %}。半年来企业组成员共联系指导{{ overview.contacts }}次，其中现场指导和座谈会"
        "{{ overview.visits }}次（现场指导{{ overview.onsite }}次、座谈会{{ overview.meeting }}次）；"
        "各单位应报月报表{{ overview.months_due }}份，实报{{ overview.months_reported }}份。")
    b.figure("chart_contacts_month")
    b.h1("二、“三个好”目标推进情况")
    b.tag("for g in goods")
    b.p("{{ loop.index }}. {{ g.name }}。{{ g.text }}")
    b.tag("endfor")
    b.h1("三、“五个有”建设情况")
    b.tag("for g in pillars")
    b.p("{{ loop.index }}. {{ g.name }}。{{ g.text }}")
    b.tag("endfor")
    b.h1("四、示范点创建进度")
    b.p("按要求各示范点应于{{ plan_deadline|cn_date }}前完成工作方案制订并上报企业组，{{ work_start|cn_date }}起"
        "全面开展工作。目前按期上报"
        "{{ plan_counts.on_time }}个，逾期上报{{ plan_counts.late }}个，尚未上报{{ plan_counts.missing }}个；"
        "上报方案后已开展组织生活的{{ work_started }}个。各示范点创建历程见附件1。")
    b.h1("五、制度执行情况")
    b.p("对照实施意见的各项要求，半年来各单位、示范点、企业组人员和联系指导发现的问题达标情况见附件2"
        "（所在单位未报送应报月份月报表、无法评价的示范点列为“本期未报送”，不计为达标；达标率按已有结论的数量计算，"
        "不含" + PENDING + "和本期未报送）。")
    b.figure("chart_compliance")
    b.h1("六、典型做法")
    _numbered_sentences(b, "typical_sites", NO_TYPICAL_SITE,
                        "{{ loop.index }}. {{ x.unit }}{{ x.site }}：{{ x.practice }}")
    b.h1("七、存在问题")
    b.p("对照实施意见，{{ half_label }}未达标事项{{ problem_summary.failed }}项，涉及{{ problem_summary.units }}个单位，"
        "逐项列于附件3（按单位分列，超过整改时限仍未办结的问题在前）{% if problem_summary.not_due %}；另有"
        "{{ problem_summary.not_due }}项统计期尚未结束、" + PENDING + "，不计为问题{% endif %}。"
        "{% if worst_problems %}联系指导中发现的问题超过整改时限仍未办结{{ problem_summary.overdue }}个，逾期最久的是"
        "{{ worst_problems|join('；') }}。{% endif %}各单位反映的主要问题：")
    _numbered_sentences(b, "reported_problems", "各单位未反映问题。",
                        "{{ loop.index }}. {{ x.unit }}{{ x.site }}：{{ x.text }}")
    b.h1("八、{% if half[-1] == '2' %}{{ half[:4]|int + 1 }}年上半年{% else %}{{ half[:4] }}年下半年{% endif %}工作打算")
    _numbered_sentences(b, "next_steps", "按实施意见要求继续做好联系指导工作。")
    b.p("各示范点报送的下一步计划：{% if not plans %}本半年未报送下月计划。{% endif %}")
    _numbered_sentences(b, "plans", "", "（{{ loop.index }}）{{ x.text }}（{{ x.sites }}）。")
    b.blank()
    b.annex_note(["示范点创建进度表", "各项要求达标情况表", "示范点未达标事项清单"])
    b.signature()
    # a site's four dates in two columns of two lines (2026-11-08) on a landscape page: names and text keep
    # their room
    b.section(landscape=True)
    b.annex(1, "示范点创建进度表")
    b.table([Column("序号", "loop.index", 12), Column("单位", "r.unit", 26), Column("示范点", "r.site", 52, left=True),
             Column("确定联系\n方案上报", "r.contact_date }}\n{{ r.plan_date", 26),
             Column("首次联系指导\n首次现场指导或座谈会", "r.first_contact }}\n{{ r.first_visit", 30),
             Column("本半年报送/应报（月）", "r.months_reported ~ '/' ~ r.months_due", 20),
             Column("组织生活（次）", "r.activities", 17), Column("进展", "r.progress", 42, left=True)],
            "r in site_paths", empty="本半年无示范点。")
    b.section(landscape=False)
    b.annex(2, "{{ half_label }}各项要求达标情况表")
    b.table([Column("要求", "r.rule", 40, left=True), Column("适用对象", "r.applies", 14),
             Column("统计期", "r.period", 26), Column("数量", "r.sites", 12), Column("达标", "r.met", 12),
             Column("未达标", "r.failed", 14), Column(PENDING, "r.at_risk", 14),
             Column("本期未报送", "r.no_data", 14), Column("达标率", "r.rate|pct", 14)],
            "r in compliance_rows", empty="本半年无需统计的要求。")
    b.annex(3, "{{ half_label }}示范点未达标事项清单")
    # a band for each unit's site (the unit alone for what concerns the unit), its items under it: the problem
    # has the page's width, one item a line
    b.table([Column("单位和示范点", "r.unit ~ ('　' ~ r.site if r.site else '')", 30),
             Column("存在问题", "r.problem", 96, left=True), Column("对应要求", "r.rule", 30)],
            "r in problem_list", empty="本半年未发现未达标事项。", group_columns=(1,), split_rows=True)
    return b


def build_year_report() -> TemplateBuilder:
    """The yearly summary in the form the office writes: 基本情况, 主要成效, 经验做法, 存在问题, 下步打算."""
    b = TemplateBuilder()
    b.title("关于{{ year_label }}企业组联系党建示范点\n工作{% if stage %}阶段情况的报告{% else %}情况的总结{% endif %}")
    b.addressee()
    b.p("根据" + BASIS + "要求，现将{{ year_label }}（{{ first_month|month_cn }}至{{ last_month|month_cn }}）"
        "企业组成员联系指导党建示范点工作情况总结如下（数据截至{{ as_of|cn_date }}）。")
    b.p("{{ conclusion }}")
    b.h1("一、基本情况")
    b.p("全市{{ overview.units }}个县（市、区）和系统党委共确定示范点{{ overview.sites }}个{{ overview.sites_note }}，其中国企"
        "{{ overview.soe_sites }}个、非公企业{{ overview.private_sites }}个，由企业组{{ overview.staff_assigned }}名同志"
        "分片联系{% if overview.sites_unassigned %}其中{{ overview.sites_assigned }}个，另有{{ overview.sites_unassigned }}"
        "个示范点尚未确定企业组联系人员{% endif %}"
        "{% if overview.staff_without_site %}；企业组另有{{ overview.staff_without_site }}名同志尚未分片联系示范点"
        "{% endif %}。"
        "全年已到报送期限的{{ overview.months_due }}个月中，各单位应报月报表{{ submission.due }}份，"
        "报送情况见附件1。")  # on time, late and missing: in the conclusion above and in 附件1
    b.figure("chart_contacts_month")
    b.h1("二、主要成效")
    b.tag("for g in achievements")
    b.p("{{ loop.index }}. {{ g.name }}。{{ g.text }}")
    b.tag("endfor")
    b.p("对照实施意见逐项逐期评价（按单位、企业组人员、联系指导发现的问题或示范点），全年共评价{{ totals.judged }}项次，"
        "达标{{ totals.met }}项次，未达标{{ totals.failed }}项次，统计期未结束待完成{{ totals.at_risk }}项次，"
        "达标率{{ totals.rate|pct }}（按已有结论的项次计算，不含待完成）。各项要求如下：")
    # the rates are the table's last column: no chart of them besides
    b.table([Column("要求", "r.rule", 40, left=True), Column("适用", "r.applies", 14), Column("统计期", "r.period", 28),
             Column("评价项次", "r.judged", 16), Column("达标", "r.met", 14), Column("未达标", "r.failed", 16),
             Column("待完成", "r.at_risk", 16), Column("达标率", "r.rate|pct", 14)],
            "r in clause_rows", empty="本年度无可评价的要求。")
    b.h1("三、经验做法")
    b.tag("if typical_sites")
    b.p("全年各项要求全部达标、报送齐全的示范点中，以下{{ typical_sites|length }}个示范点的做法值得总结推广：")
    b.tag("endif")
    _numbered_sentences(b, "typical_sites", NO_TYPICAL_SITE,
                        "{{ loop.index }}. {{ x.unit }}{{ x.site }}：{{ x.practice }}")
    b.h1("四、存在问题")
    b.p("全年未达标事项{{ problem_summary.failed }}项，涉及{{ problem_summary.units }}个单位，"
        "{% if problem_summary.elsewhere %}其中报表逾期或未报送{{ problem_summary.elsewhere }}项见附件1，其余{% endif %}"
        "逐项列于附件3" + OVERDUE_TO +
        "{% if problem_summary.not_due %}；另有{{ problem_summary.not_due }}项统计期尚未结束、尚待完成，不计为问题"
        "{% endif %}。{% if weak_rules %}未达标较多的要求是{{ weak_rules }}。{% endif %}联系指导中发现并跟踪的问题"
        "{{ problem_counts.total }}个，已办结{{ problem_counts.closed }}个（其中逾期办结{{ problem_counts.closed_late }}个），"
        "正在整改{{ problem_counts.open }}个，超过整改时限仍未办结{{ problem_counts.overdue }}个。")
    b.p("全年评价的{{ site_totals.sites }}个示范点共评价{{ site_totals.judged }}项次（含联系指导发现的问题，不含按单位、"
        "按企业组人员评价的项次），达标{{ site_totals.met }}项次，未达标{{ site_totals.failed }}项次，"
        "待完成{{ site_totals.at_risk }}项次{% if site_totals.shared %}（{{ site_totals.shared }}家示范点由两个单位"
        "重复登记，列为一行并列出两个单位，项次合并计算）{% endif %}，各示范点情况见附件2。")
    b.h1("五、{% if stage %}下步打算{% else %}{{ year|int + 1 }}年工作打算{% endif %}")
    _numbered_sentences(b, "next_steps", "按实施意见要求继续做好联系指导工作。")
    b.blank()
    b.annex_note(["各单位报送情况表", "各示范点达标情况表", "示范点未达标事项清单"])
    b.signature()
    b.annex(1, "{{ year_label }}各单位报送情况表")
    b.table([Column("序号", "loop.index", 13), Column("单位", "r.unit", 40), Column("应报", "r.due", 18),
             Column("按时报送", "r.on_time", 22), Column("逾期报送", "r.late", 22), Column("未报送", "r.missing", 20)],
            "r in unit_rows", empty="本年度无应报单位。")
    b.annex(2, "{{ year_label }}各示范点达标情况表")
    # a site's counts on one line: what it fell short of is listed item by item in 附件3
    b.table([Column("单位", "r.unit", 36), Column("示范点", "r.site", 68, left=True),
             Column("评价项次", "r.judged", 14), Column("达标", "r.met", 12), Column("未达标", "r.failed", 13),
             Column("待完成", "r.at_risk", 13)],
            "r in site_rows", empty="本年度尚无示范点。")
    b.section(landscape=True)
    _problem_annex(b, 3, "{{ year_label }}示范点未达标事项清单")
    _problem_list(b, "本年度未发现未达标事项。")
    return b


def build_assignment_table() -> TemplateBuilder:
    b = TemplateBuilder(landscape=True)
    b.title("企业组人员联系示范点分组情况一览表")
    b.table([Column("组别", "r.group", 18), Column("企业组联系人员", "r.staff", 22),
             Column("联系县（市、区）/系统党委", "r.unit", 32), Column("示范点名称", "r.site", 42, left=True),
             Column("企业类型", "r.kind", 16), Column("党组织书记", "r.secretary", 20),
             Column("党员人数", "r.members", 16), Column("确定联系日期", "r.contact_date|cn_date", 36),
             Column("备注", "r.note", 23, left=True)],
            "r in rows", empty="尚未确定任何联系示范点。", group_columns=(1, 2))
    note = b.p("说明：数据截至{{ report_date|cn_date }}，共{{ counts.groups }}个组、企业组人员{{ counts.staff }}名，联系"
               "{{ counts.units }}个县（市、区）和系统党委的{{ counts.sites }}个示范点。按要求，企业组成员应于"
               "{{ deadline|cn_date }}前确定联系示范点。", ST_NOINDENT)
    note.paragraph_format.keep_together = True  # the 说明 is read whole: never split across pages
    note.paragraph_format.keep_with_next = True
    rest = b.p("{% if staff_without_site %}尚未确定联系示范点的企业组人员：{% for r in staff_without_site %}{{ r.staff }}（{{ r.group }}）"
        "{% if not loop.last %}、{% endif %}{% endfor %}。{% else %}企业组人员均已确定联系示范点。{% endif %}"
        "{% if sites_without_staff %}尚未确定企业组联系人员的示范点：{% for r in sites_without_staff %}{{ r.unit }}{{ r.site }}"
        "{% if not loop.last %}、{% endif %}{% endfor %}。{% else %}各示范点均已确定企业组联系人员。{% endif %}"
        "{% if late_contacts %}晚于规定时间确定联系的：{% for r in late_contacts %}{{ r.unit }}{{ r.site }}"
        "（{{ r.contact_date|cn_date }}）{% if not loop.last %}、{% endif %}{% endfor %}。{% endif %}", ST_NOINDENT)
    rest.paragraph_format.keep_together = True
    b.signature()
    return b


def build_site_dossier() -> TemplateBuilder:
    b = TemplateBuilder()

    def labelled(label: str, text: str, style: str = ST_BODY):
        """A paragraph led by its label in bold ("联系指导：" …), so a reader scanning the page finds it."""
        par = b.p(label, style)
        par.runs[-1].bold = True
        run = par.add_run(text)
        set_rfonts(run._element, style_font(b.doc, par.style.style_id))
        return par

    b.title("{{ site.name }}档案")
    # page 1: the site at a glance, then its card; the record month by month follows on the next pages
    labelled("概况：", "截至{{ report_date|cn_date }}，建档{{ summary.months }}个月，已报送{{ summary.reported }}个月"
             "{% if summary.unreported %}，{{ summary.unreported|join('、') }}未报送{% endif %}。")
    labelled("执行要求：", "达标{{ summary.met }}项，未达标{{ summary.failed }}项，" + PENDING + "{{ summary.at_risk }}项"
             "{% if summary.failed_rules %}；未达标的是{{ summary.failed_rules|join('、') }}{% endif %}。")
    labelled("待办问题：", "{% if summary.open_problems %}尚未办结{{ summary.open_problems|length }}个："
             "{{ summary.open_problems|join('；') }}。{% else %}无尚未办结的问题。{% endif %}")
    labelled("报送月份：", "{% for x in summary.month_list %}{{ x.month|month_cn }}（{{ x.state }}）"
             "{% if not loop.last %}；{% endif %}{% endfor %}。")
    b.key_value_table([
        ("示范点名称", "site.name"), ("所属企业", "site.enterprise"), ("企业类型", "site.kind"),
        ("所属单位", "site.unit"), ("党组织名称", "site.org_name"), ("党组织类型", "site.org_kind"),
        ("组建方式", "site.formation"), ("党组织书记", "site.secretary"), ("党员人数", "site.members|num"),
        ("职工人数", "site.employees|num"), ("示范点级别", "site.level"), ("企业组联系人员", "site.staff"),
        ("确定联系日期", "site.contact_date|cn_date"), ("方案上报日期", "site.plan_date|cn_date"),
        ("建档期间", "first_month|month_cn ~ '至' ~ last_month|month_cn"),
    ])
    b.h1("一、工作记录").paragraph_format.page_break_before = True
    b.tag("for m in timeline")
    month = b.h2("{{ m.month|month_cn }}")  # a heading of the outline: the navigation pane lists the months
    for run in month.runs:
        run.bold = True
    b.tag("if m.missing")
    b.p("{{ m.missing }}")
    b.tag("else")
    labelled("联系指导：", "{% if m.contacts %}{% for c in m.contacts %}{{ c.date|cn_date }}，{{ c.staff }}{{ c.mode }}，"
             "{{ c.content }}{% if not loop.last %}；{% endif %}{% endfor %}。{% else %}本月无联系指导记录。{% endif %}")
    labelled("组织生活：", "{% if m.org_life %}{% for o in m.org_life %}{{ o.date|cn_date }}{{ o.verb }}{{ o.kind }}，"
             "应到{{ o.expected }}人、实到{{ o.present }}人{% if not loop.last %}；{% endif %}{% endfor %}。"
             "{% else %}本月无组织生活记录。{% endif %}")
    labelled("党员队伍：", "{{ m.members or '本月未报送。' }}")
    labelled("硬件设施：", "{{ m.hardware or '本月未报送。' }}")
    labelled("工作进展：", "{{ m.progress or '本月未报送。' }}")
    labelled("存在问题：", "{{ m.problems or '无。' }}")
    b.tag("endif")
    b.tag("endfor")
    b.tag("if not timeline")
    b.p("尚无月报表记录。")
    b.tag("endif")
    b.h1("二、执行实施意见情况")
    b.table([Column("要求", "r.rule", 40, left=True), Column("统计期", "r.period", 34),
             Column("情况", "r.status", 20), Column("依据", "r.evidence", 62, left=True)],
            "r in compliance_rows", empty="尚无可评估的要求。")
    b.h1("三、资料来源")
    b.p("本档案根据" + BASIS + "关于建立示范点档案的要求，由各单位月报表汇总生成，数据截至"
        "{{ report_date|cn_date }}。{{ missing_note }}")
    b.table([Column("序号", "loop.index", 13), Column("文件名", "r.file_name", 63, left=True),
             Column("报送月份", "r.month|month_cn", 26), Column("收到日期", "r.received|cn_date", 30),
             Column("文件指纹", "r.digest", 24)],
            "r in sources", empty="尚无资料来源。")
    b.signature()
    return b


def build_reminder_list() -> TemplateBuilder:
    b = TemplateBuilder()
    b.title("{{ month|month_cn }}月报表催报名单")
    b.p("按照" + BASIS + "每月汇报的要求，{{ month|month_cn }}月报表应于{{ deadline|cn_date }}前报送。"
        "截至{{ as_of|cn_date }}，应报单位{{ counts.due }}个，已报送{{ counts.submitted }}个，"
        "未报送{{ counts.missing }}个，已退回待重报{{ counts.rejected }}个。"
        "{% if rows %}请以下单位尽快报送（逾期天数算至{{ as_of|cn_date }}）：{% endif %}")
    b.table([Column("序号", "loop.index", 10), Column("单位", "r.unit", 34), Column("单位类型", "r.kind", 19),
             Column("联系人", "r.contact", 17), Column("电话", "r.phone", 33),
             Column("状态", "r.status", 25), Column("逾期天数", "r.overdue_days", 18)],
            "r in rows", empty="{% if counts.late %}本月各单位均已报送，其中逾期报送{{ counts.late }}个。"
                                "{% else %}本月各单位均已按时报送。{% endif %}")
    b.signature()
    return b


BUILDERS = {
    "monthly_report": build_monthly_report,
    "half_year_report": build_half_year_report,
    "year_report": build_year_report,
    "assignment_table": build_assignment_table,
    "site_dossier": build_site_dossier,
    "reminder_list": build_reminder_list,
}


def build_all(outdir: Path = TEMPLATES_DIR) -> list[Path]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in BUILDERS.items():
        builder = build()
        written.append(builder.save(outdir / f"{name}.docx"))
    return written


def main() -> None:
    for path in build_all():
        print(f"已生成模板：{path}")


if __name__ == "__main__":
    main()
