"""The report page's inline style sheet and the script that marks a complete render."""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } p.lead { color: #555; margin-top: 0; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.0rem; margin: 1.2rem 0 0.3rem; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; font-size: 0.82rem; line-height: 1.3; }
pre.scenario { font-size: 0.74rem; white-space: pre-wrap; }
pre.scenario b { background: #fff3b0; font-weight: normal; } pre.scenario i { color: #6a6a6a; font-style: normal; }
img { max-width: 100%; display: block; margin: 0.5rem 0; }
p.caption { color: #444; font-size: 0.9rem; max-width: 62rem; margin-top: 0; }
ul.reading { font-size: 0.9rem; max-width: 62rem; padding-left: 1.2rem; } ul.reading li { margin: 0.2rem 0; }
div.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 0.5rem 1.5rem; }
table.facts { border-collapse: collapse; font-size: 0.9rem; }
table.facts th { text-align: left; font-weight: 600; padding: 0.2rem 1.2rem 0.2rem 0; vertical-align: top; white-space: nowrap; }
table.facts td { padding: 0.2rem 1.2rem 0.2rem 0; vertical-align: top; }
table.facts td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
"""

# Marks the page once every image has decoded, so automated checks can tell a complete render.
_CHECK = """
window.addEventListener('load', function () {
  var ok = Array.prototype.every.call(document.images, function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-ok', ok ? 'yes' : 'no');
});
"""
