"""The report's inline CSS and JavaScript (kept as Python strings so the package needs no data
files). The script draws every chart as SVG from the JSON embedded in the page; it loads nothing.

Drawn elements carry classes the tests look for: rect.bar, rect.bin, polyline.curve,
line.breakeven; <html data-drawn="N"> counts the charts drawn, data-error holds a script error.
"""

CSS = """
:root { --ink:#1f2430; --muted:#5b6475; --line:#d9dde5; --bg:#ffffff; --card:#f5f7fa;
        --neg:#c0392b; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC",
       "WenQuanYi Micro Hei", Arial, sans-serif; color: var(--ink); background: var(--bg);
       margin: 0 auto; max-width: 1100px; padding: 24px; line-height: 1.45; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 32px 0 8px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 20px 0 6px; }
.sub, .caption, .note { color: var(--muted); font-size: 0.9em; }
.caption { max-width: 860px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px;
         margin: 14px 0; }
.card { background: var(--card); border-radius: 6px; padding: 10px 12px; }
.card .k { color: var(--muted); font-size: 0.82em; }
.card .v { font-size: 1.3em; font-weight: 600; font-variant-numeric: tabular-nums; }
.status-OPTIMAL { color: #1e7b34; } .status-FEASIBLE { color: #1f5fa8; }
.status-INFEASIBLE, .status-NO_SOLUTION { color: var(--neg); }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 0.9em; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right;
         font-variant-numeric: tabular-nums; }
th { background: var(--card); font-weight: 600; }
td.l, th.l { text-align: left; }
.chart { margin: 8px 0; }
.chart svg { width: 100%; height: auto; display: block; }
.chart svg { max-width: 900px; }
svg text { font-size: 12px; fill: var(--ink); }
svg .axis line, svg .axis path { stroke: #9aa3b2; }
svg .grid { stroke: #eceef2; }
svg .zero { stroke: #6b7280; stroke-width: 1; }
svg .curve { fill: none; stroke-width: 2; }
svg .breakeven { stroke-width: 1.5; stroke-dasharray: 5 4; }
svg .legend text { font-size: 12px; }
select { font: inherit; margin: 0 12px 0 4px; }
.warn { color: var(--neg); }
"""

JS = r"""
(function () {
  "use strict";
  var root = document.documentElement;
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#2f6fbd", "#e08a1e", "#3a9a55", "#c0392b", "#8e5cc2", "#16a3a3", "#b5651d",
                "#d4499c", "#6b7280", "#9aa822"];
  var drawn = 0;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var names = data.names || {};
  var allPrograms = Object.keys(names);

  function color(pid) {
    var i = allPrograms.indexOf(pid);
    return COLORS[(i < 0 ? 0 : i) % COLORS.length];
  }
  function label(pid) { return names[pid] ? pid + " " + names[pid] : pid; }
  function el(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) {
      if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    }
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function tip(node, text) { el("title", {}, node, text); return node; }
  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var d = digits === undefined ? 2 : digits;
    var s = Math.abs(v).toFixed(d).split(".");
    s[0] = s[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (v < 0 ? "-" : "") + s.join(".");
  }
  function short(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toPrecision(3) + "B";
    if (a >= 1e6) return +(v / 1e6).toPrecision(3) + "M";
    if (a >= 1e4) return +(v / 1e3).toPrecision(3) + "k";
    if (a >= 100 || v === Math.round(v)) return fmt(v, 0);
    return String(+v.toPrecision(3));
  }
  function ticks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    var err = (hi - lo) / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      out.push(+t.toPrecision(12));
    }
    return out;
  }
  function svgIn(id, w, h) {
    var box = typeof id === "string" ? document.getElementById(id) : id;
    if (!box) return null;
    while (box.firstChild) box.removeChild(box.firstChild);
    return el("svg", {viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img"}, box);
  }
  function legend(svg, items, x, y) {
    var g = el("g", {"class": "legend"}, svg);
    var cx = x;
    items.forEach(function (it) {
      el("rect", {x: cx, y: y - 9, width: 12, height: 10, fill: it.color}, g);
      el("text", {x: cx + 16, y: y}, g, it.name);
      cx += 26 + 7.2 * it.name.length + (it.name.replace(/[\x00-\xff]/g, "").length * 5);
    });
  }

  // horizontal bars: one per category, negative values to the left of zero
  function barChart(id, cats, values, unit, cls) {
    var rowH = 30, left = 230, right = 110, top = 10, w = 760;
    var h = top + rowH * cats.length + 28;
    var svg = svgIn(id, w, h);
    if (!svg) return;
    var lo = Math.min(0, Math.min.apply(null, values));
    var hi = Math.max(0, Math.max.apply(null, values));
    if (hi === lo) hi = lo + 1;
    var tk = ticks(lo, hi, 5);
    lo = Math.min(lo, tk[0]); hi = Math.max(hi, tk[tk.length - 1]);
    var sx = function (v) { return left + (v - lo) / (hi - lo) * (w - left - right); };
    var base = h - 22;
    tk.forEach(function (t) {
      el("line", {x1: sx(t), x2: sx(t), y1: top, y2: base, "class": "grid"}, svg);
      el("text", {x: sx(t), y: base + 15, "text-anchor": "middle"}, svg, short(t));
    });
    cats.forEach(function (c, i) {
      var v = values[i], y = top + i * rowH;
      el("text", {x: left - 8, y: y + rowH / 2 + 4, "text-anchor": "end"}, svg, c.label);
      var x0 = sx(Math.min(0, v)), x1 = sx(Math.max(0, v));
      var bar = el("rect", {x: x0, y: y + 5, width: Math.max(x1 - x0, v === 0 ? 0 : 1),
                            height: rowH - 10, fill: c.color, "class": cls || "bar",
                            "data-value": v, "data-key": c.key}, svg);
      tip(bar, c.label + ": " + fmt(v, unit === "yuan" ? 2 : 0) + (unit === "yuan" ? " yuan" : ""));
      el("text", {x: (v < 0 ? x0 - 4 : x1 + 4), y: y + rowH / 2 + 4,
                  "text-anchor": v < 0 ? "end" : "start"}, svg, fmt(v, unit === "yuan" ? 0 : 0));
    });
    el("line", {x1: sx(0), x2: sx(0), y1: top, y2: base, "class": "zero"}, svg);
    drawn++;
  }

  // a histogram whose bins are stacked by program
  function histogram(id, binLabels, stacks, xTitle, height) {
    var w = 760, h = height || 300, left = 56, right = 12, top = 30, bottom = 48;
    var svg = svgIn(id, w, h);
    if (!svg) return;
    var n = binLabels.length;
    var totals = binLabels.map(function (_, b) {
      return stacks.reduce(function (s, st) { return s + st.counts[b]; }, 0);
    });
    var hi = Math.max(1, Math.max.apply(null, totals));
    var tk = ticks(0, hi, 5); hi = Math.max(hi, tk[tk.length - 1]);
    var bw = (w - left - right) / n, base = h - bottom;
    var sy = function (v) { return base - v / hi * (base - top); };
    tk.forEach(function (t) {
      el("line", {x1: left, x2: w - right, y1: sy(t), y2: sy(t), "class": "grid"}, svg);
      el("text", {x: left - 6, y: sy(t) + 4, "text-anchor": "end"}, svg, short(t));
    });
    for (var b = 0; b < n; b++) {
      var acc = 0;
      stacks.forEach(function (st) {
        var c = st.counts[b];
        if (c > 0) {
          var r = el("rect", {x: left + b * bw + 1, y: sy(acc + c), width: Math.max(bw - 2, 1),
                              height: sy(acc) - sy(acc + c), fill: st.color, "class": "bin",
                              "data-count": c, "data-bin": b, "data-key": st.key}, svg);
          tip(r, binLabels[b] + ", " + st.name + ": " + fmt(c, 0) + " SKUs");
          acc += c;
        }
      });
      if (b % 2 === 0 || n <= 12) {
        el("text", {x: left + b * bw + bw / 2, y: base + 14, "text-anchor": "middle"}, svg,
           binLabels[b]);
      }
    }
    el("line", {x1: left, x2: w - right, y1: base, y2: base, "class": "zero"}, svg);
    el("text", {x: (left + w - right) / 2, y: h - 8, "text-anchor": "middle"}, svg, xTitle);
    legend(svg, stacks.map(function (s) { return {name: s.name, color: s.color}; }), left, 16);
    drawn++;
  }

  // curves against a parameter; null values break a curve; vlines mark break-even points
  function lineChart(id, o) {
    var w = 760, h = 320, left = 70, right = 16, top = 34, bottom = 46;
    var svg = svgIn(id, w, h);
    if (!svg) return;
    var xs = [], ys = [0];
    o.series.forEach(function (s) {
      s.xs.forEach(function (x, i) { if (s.ys[i] !== null) { xs.push(x); ys.push(s.ys[i]); } });
    });
    (o.vlines || []).forEach(function (v) { xs.push(v.x); });
    if (!xs.length) {
      el("text", {x: w / 2, y: h / 2, "text-anchor": "middle"}, svg, "no points with a value");
      return;
    }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (y1 === y0) { y1 = y0 + 1; }
    var ytk = ticks(y0, y1, 5), xtk = ticks(x0, x1, 6);
    y0 = Math.min(y0, ytk[0]); y1 = Math.max(y1, ytk[ytk.length - 1]);
    var base = h - bottom;
    var sx = function (x) { return left + (x - x0) / (x1 - x0) * (w - left - right); };
    var sy = function (y) { return base - (y - y0) / (y1 - y0) * (base - top); };
    ytk.forEach(function (t) {
      el("line", {x1: left, x2: w - right, y1: sy(t), y2: sy(t), "class": "grid"}, svg);
      el("text", {x: left - 6, y: sy(t) + 4, "text-anchor": "end"}, svg, short(t));
    });
    xtk.forEach(function (t) {
      if (t < x0 - 1e-12 || t > x1 + 1e-12) return;
      el("line", {x1: sx(t), x2: sx(t), y1: top, y2: base, "class": "grid"}, svg);
      el("text", {x: sx(t), y: base + 15, "text-anchor": "middle"}, svg,
         String(+t.toPrecision(6)));
    });
    if (y0 < 0 && y1 > 0) {
      el("line", {x1: left, x2: w - right, y1: sy(0), y2: sy(0), "class": "zero"}, svg);
    }
    el("line", {x1: left, x2: w - right, y1: base, y2: base, "class": "zero"}, svg);
    el("text", {x: (left + w - right) / 2, y: h - 8, "text-anchor": "middle"}, svg, o.xTitle);
    el("text", {x: 14, y: (top + base) / 2, "text-anchor": "middle",
                transform: "rotate(-90 14 " + (top + base) / 2 + ")"}, svg, o.yTitle);
    o.series.forEach(function (s) {
      var seg = [];
      var flush = function () {
        if (seg.length) {
          el("polyline", {points: seg.join(" "), stroke: s.color, "class": "curve",
                          "stroke-dasharray": s.dash || null, "data-key": s.key}, svg);
        }
        seg = [];
      };
      s.xs.forEach(function (x, i) {
        var y = s.ys[i];
        if (y === null) { flush(); return; }
        if (s.step && seg.length) {
          seg.push(sx(x).toFixed(1) + "," + seg[seg.length - 1].split(",")[1]);
        }
        seg.push(sx(x).toFixed(1) + "," + sy(y).toFixed(1));
        if (!s.step && !s.dash) {
          var p = el("circle", {cx: sx(x), cy: sy(y), r: 3, fill: s.color, "class": "pt"}, svg);
          tip(p, s.name + " at " + (+x.toPrecision(6)) + ": "
              + fmt(y, s.digits === undefined ? 2 : s.digits)
              + (s.status && s.status[i] ? " (" + s.status[i] + ")" : ""));
        }
      });
      flush();
    });
    (o.vlines || []).forEach(function (v) {
      el("line", {x1: sx(v.x), x2: sx(v.x), y1: top, y2: base, stroke: v.color,
                  "class": "breakeven", "data-x": v.x, "data-key": v.key}, svg);
      if (y0 <= 0 && y1 >= 0) {
        tip(el("circle", {cx: sx(v.x), cy: sy(0), r: 5, fill: "none", stroke: v.color,
                          "stroke-width": 2, "class": "breakeven-pt"}, svg), v.label);
      }
    });
    legend(svg, o.series.filter(function (s) { return !s.hideLegend; })
      .map(function (s) { return {name: s.name, color: s.color}; }), left, 16);
    drawn++;
  }

  function drawSolve(s) {
    var order = s.order.filter(function (p) { return s.programs[p]; });
    var cats = order.map(function (p) { return {key: p, label: label(p), color: color(p)}; });
    var field = function (f) { return order.map(function (p) { return s.programs[p][f]; }); };
    barChart("chart-margin", cats, field("margin"), "yuan");
    barChart("chart-gmv", cats, field("revenue"), "yuan");
    barChart("chart-skus", cats, field("enrolled_skus"), "skus");
    var h = s.price_vs_market, box = document.getElementById("chart-price");
    if (h && box) {
      var labels = ["≤" + +(h.edges[0] * 100).toFixed(1) + "%"];
      for (var i = 1; i < h.edges.length; i++) labels.push(+(h.edges[i] * 100).toFixed(1) + "%");
      labels.push(">" + +(h.edges[h.edges.length - 1] * 100).toFixed(1) + "%");
      order.filter(function (p) { return h.programs[p]; }).forEach(function (p) {
        var hp = h.programs[p];
        var one = document.createElement("div");
        one.setAttribute("class", "chart");
        one.setAttribute("data-key", p);
        box.appendChild(one);
        histogram(one, labels, [{key: p, name: label(p), color: color(p),
                                 counts: [hp.below].concat(hp.counts, [hp.above])}],
                  "enrolled price ÷ market price (each bin labelled by its upper end)", 200);
      });
    }
    var ex = s.excluded;
    if (ex.reasons.length) {
      var rc = ex.reasons.map(function (r) { return {key: r, label: r, color: "#6b7280"}; });
      barChart("chart-excluded", rc, ex.reasons.map(function (r) { return ex.totals[r]; }), "rows");
    }
  }

  function drawSweep(sw) {
    var x = sw.x, others = sw.axes.filter(function (a) { return a.path !== x; });
    var pick = {};
    var box = document.getElementById("sweep-slice");
    others.forEach(function (a) {
      pick[a.path] = a.values[0];
      if (!box) return;
      var lab = document.createElement("label");
      lab.textContent = a.path + " = ";
      var sel = document.createElement("select");
      sel.setAttribute("data-axis", a.path);
      a.values.forEach(function (v) {
        var op = document.createElement("option");
        op.value = String(v); op.textContent = String(v); sel.appendChild(op);
      });
      sel.addEventListener("change", function () { pick[a.path] = +sel.value; render(); });
      lab.appendChild(sel); box.appendChild(lab);
    });
    var be = sw.breakeven && sw.breakeven.path === x ? sw.breakeven.programs : {};
    var vlines = sw.order.filter(function (p) { return be[p] !== null && be[p] !== undefined; })
      .map(function (p) {
        return {x: be[p], key: p, color: color(p),
                label: label(p) + ": break-even at " + x + " = " + (+be[p].toPrecision(6))};
      });
    function render() {
      var pts = sw.points.filter(function (p) {
        return others.every(function (a) { return p.values[a.path] === pick[a.path]; });
      }).sort(function (a, b) { return a.values[x] - b.values[x]; });
      var xs = pts.map(function (p) { return p.values[x]; });
      var status = pts.map(function (p) { return p.status; });
      lineChart("chart-sweep-objective", {xTitle: x, yTitle: "yuan", series: [
        {key: "objective", name: "objective (expected margin)", color: "#1f2430", xs: xs,
         status: status, ys: pts.map(function (p) { return p.objective; })},
        {key: "bound", name: "bound", color: "#9aa3b2", dash: "6 4", xs: xs,
         ys: pts.map(function (p) { return p.bound; })}]});
      var series = function (field, digits) {
        return sw.order.map(function (pid) {
          return {key: pid, name: label(pid), color: color(pid), xs: xs, status: status,
                  digits: digits, ys: pts.map(function (p) {
                    return p.programs[pid] ? p.programs[pid][field] : null;
                  })};
        });
      };
      lineChart("chart-sweep-skus", {xTitle: x, yTitle: "enrolled SKUs",
                                     series: series("enrolled_skus", 0), vlines: vlines});
      lineChart("chart-sweep-margin", {xTitle: x, yTitle: "margin, yuan",
                                       series: series("margin", 2), vlines: vlines});
    }
    render();
    var ps = sw.per_sku && sw.per_sku.programs;
    if (ps && Object.keys(ps).length) {
      lineChart("chart-sweep-persku", {xTitle: x, yTitle: "SKUs that have left", series:
        Object.keys(ps).map(function (pid) {
          return {key: pid, name: label(pid), color: color(pid), xs: ps[pid].x, ys: ps[pid].left,
                  step: true, digits: 0};
        })});
    }
  }

  try {
    if (data.solve) drawSolve(data.solve);
    if (data.sweep) drawSweep(data.sweep);
    root.setAttribute("data-drawn", String(drawn));
  } catch (e) {
    root.setAttribute("data-error", String(e && e.stack || e));
    throw e;
  }
})();
"""
