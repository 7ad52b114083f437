"""Figures (matplotlib, plotly, image grids) and the HTML report.

    from latentatlas.report.html import write_report
    write_report("runs/demo")          # -> runs/demo/report.html, one self-contained file
"""
