"""The deployment report: every model x target x precision converted, verified, evaluated and
timed, written as report.html (self-contained), report.json (schema ``edge-sr/report``) and
report.md."""
