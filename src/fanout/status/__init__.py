"""The status page, the pure part (docs/status-page.md): from monitors' summaries, URL states and
long histories to a static site: ``model`` (status.json, per-monitor JSON), ``windows`` (a
monitor's maintenance windows: under way, upcoming, past), ``html`` (the index and a page per
monitor), ``svg`` (day bars, the response-time chart), ``badges`` (SVG and Shields endpoint JSON)
and ``site`` (every file, by path), ``style`` (its one stylesheet), ``plan`` (which monitors a
monitor run's render reads again).
No AWS, HTTP or settings here.
"""
