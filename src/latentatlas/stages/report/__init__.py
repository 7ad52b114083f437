"""The HTML report: reads a run folder and lays out what the stages left there.

    from latentatlas.stages.report.html import write_report
    write_report("runs/demo")          # -> runs/demo/report.html, one self-contained file

Drawing lives in `latentatlas.figures`; the stages file each figure under a report section.
"""
