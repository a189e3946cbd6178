"""Page counts and page-1 pictures of the period reports, as LibreOffice prints them.

    .venv/bin/python tools/page_images.py [WORKSPACE] [--write-docs]

Without WORKSPACE the default demo is built in a temporary folder (as ``processor demo`` does).  For the
latest monthly report, the last whole half-year's report and the last whole year's summary, prints the
number of printed pages and renders page 1 to PNG (70 dpi); ``--write-docs`` puts the pictures where the
README shows them (``docs/*-page1.png``).  Needs LibreOffice and poppler (``make system-packages``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from processor.common.paths import PACKAGE_DIR

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FONTS = {**os.environ, "FONTCONFIG_FILE": str(PACKAGE_DIR / "fonts" / "fonts.conf")}  # official names → Noto CJK
DPI = 70


def reports(outbox: Path, today: dt.date) -> dict[str, Path]:
    """The picture's name → the report it shows: last due month, last whole half-year and year."""
    from processor.common.periods import last_due_month
    from processor.common.rulebook import load_rulebook

    year, half = (today.year - 1, 2) if today.month <= 6 else (today.year, 1)
    month = last_due_month(today, load_rulebook().submission_deadline_day)
    folders = {"monthly-report-page1": f"月度汇总报告/{month}",
               "half-year-report-page1": f"半年工作报告/{year}-H{half}",
               "year-report-page1": f"年度工作总结/{today.year - 1}"}
    return {name: next((outbox / folder).glob("*.docx")) for name, folder in folders.items()}


def to_pdf(docx: Path, outdir: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        sys.exit("需要 LibreOffice（make system-packages）")
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation={Path(profile).as_uri()}",
                        "--convert-to", "pdf", "--outdir", str(outdir), str(docx)],
                       env=FONTS, check=True, capture_output=True, timeout=300)
    return outdir / f"{docx.stem}.pdf"


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def first_page_png(pdf: Path, target: Path) -> None:
    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-png", "-r", str(DPI), "-f", "1", "-l", "1", "-singlefile", str(pdf), str(prefix)],
                   env=FONTS, check=True, capture_output=True, timeout=120)
    shutil.copyfile(f"{prefix}.png", target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", type=Path)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    from processor.demo import DEMO_TODAY, run_demo

    with tempfile.TemporaryDirectory(prefix="page-images-") as tmp:
        workspace = args.workspace
        if workspace is None:
            workspace = Path(tmp) / "demo"
            run_demo(workspace)
        for name, docx in reports(workspace / "outbox", DEMO_TODAY).items():
            pdf = to_pdf(docx, Path(tmp))
            target = (DOCS if args.write_docs else Path(tmp)) / f"{name}.png"
            first_page_png(pdf, target)
            print(f"{docx.stem}：{page_count(pdf)} 页" + (f"，第 1 页 → {target}" if args.write_docs else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
