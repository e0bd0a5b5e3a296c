"""The pages' one stylesheet (``style.css``): system fonts, light and dark by
``prefers-color-scheme``, one column that holds at 360 px. Text colours meet WCAG AA on their
backgrounds in both themes (axe checks it in tests/browser)."""

STYLE_CSS = """
:root{color-scheme:light dark;
--bg:#fff;
--fg:#1b1b1b;
--muted:#555;
--card:#f6f7f9;
--line:#d5d8dc;
--up:#2e7d32;
--warn:#b26a00;
--down:#c62828;
--maint:#1565c0;
--none:#c4c7cc;
--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--bg:#111418;
--fg:#e8eaed;
--muted:#a9afb7;
--card:#1b2026;
--line:#39414a;
--up:#4caf50;
--warn:#f0a030;
--down:#ef5350;
--maint:#64a0f0;
--none:#3b434c;
--link:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0;
background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main,footer{max-width:960px;margin:0 auto;padding:12px}
a{color:var(--link)}
h1{font-size:1.6rem;margin:.4rem 0}h2{font-size:1.25rem;margin:1.2rem 0 .5rem}h3{font-size:1.1rem;margin:0}
.muted,footer{color:var(--muted)}
.pill{display:inline-block;padding:1px 10px;border-radius:999px;
font-size:.85rem;font-weight:600;color:#fff;white-space:nowrap}
.s-operational{background:#2e7d32}.s-degraded{background:#8a5300}.s-down{background:#c62828}
.s-maintenance{background:#1565c0}.s-unknown{background:#5f6368}
.monitor{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;margin:0 0 12px}
.m-head,.url-head{display:flex;flex-wrap:wrap;gap:8px;align-items:center;justify-content:space-between}
.open{color:var(--down);font-weight:600;margin:.3rem 0}
.urls{list-style:none;margin:8px 0 0;padding:0}
.url{border-top:1px solid var(--line);padding:10px 0}
.url-name{font-weight:600;overflow-wrap:anywhere}
.bars{display:block;width:100%;height:28px;margin:6px 0 2px}
.d-up{fill:var(--up)}
.d-warn{fill:var(--warn)}.d-down{fill:var(--down)}.d-maint{fill:var(--maint)}.d-none{fill:var(--none)}
.scale{display:flex;justify-content:space-between;font-size:.8rem;color:var(--muted)}
.uptime{display:flex;flex-wrap:wrap;gap:4px 16px;margin:6px 0 0}
.uptime div{display:flex;gap:4px}
.uptime dt{color:var(--muted)}.uptime dd{margin:0;font-variant-numeric:tabular-nums}
.chart{display:block;width:100%;height:auto;margin:10px 0}
.chart text{fill:var(--muted);font-size:11px}.chart .grid{stroke:var(--line)}
.l-p50,.l-p95{fill:none;stroke-width:2}.l-p50{stroke:var(--link)}.l-p95{stroke:var(--warn)}
.k-p50{fill:var(--link)!important;font-weight:700}
.k-p95{fill:var(--warn)!important;font-weight:700}
.badge{display:block;margin:8px 0}
.maint{color:var(--maint)}
.scroll{overflow-x:auto}
.scroll:focus-visible{outline:2px solid var(--link);outline-offset:2px}
.regions th[scope=row],.rday{white-space:nowrap}
table{border-collapse:collapse;width:100%;font-size:.9rem}
caption{text-align:left;font-weight:600;margin:.4rem 0}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
"""
