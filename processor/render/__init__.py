"""Turning prepared contexts into files: Word documents from templates, PDFs, charts, Excel workbooks, render jobs."""
