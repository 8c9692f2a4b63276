// Charts for the CyberImage console: lines over time drawn as plain SVG,
// no library. chart() takes the times of the points and a few series of
// values (null: nothing seen in that step, drawn as a gap).
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// niceTop rounds a maximum up to 1, 2 or 5 times a power of ten, so the
// axis reads in round numbers.
function niceTop(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function axisLabel(v) {
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return `${+v.toFixed(v < 10 ? 2 : 0)}`;
}

function clock(t, withDay) {
  const d = new Date(t);
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return withDay ? `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${hm}` : hm;
}

// chart returns a figure: a title, the SVG and a legend. series: [{ name,
// values }], one value per time; unit is shown after the title.
function chart({ id, title, unit, times, series }) {
  const W = 560, H = 170, L = 46, R = 10, T = 10, B = 24;
  const n = times.length;
  const values = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
  const top = niceTop(Math.max(0, ...values));
  const x = (i) => L + ((W - L - R) * i) / Math.max(1, n - 1);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const grid = [0, top / 2, top].map((v) => [
    svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "gridline" }),
    svg("text", { x: L - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, axisLabel(v)),
  ]);
  const day = n > 1 && Date.parse(times[n - 1]) - Date.parse(times[0]) > 2 * 3600e3;
  const ticks = n ? [0, Math.floor((n - 1) / 2), n - 1].map((i) =>
    svg("text", { x: x(i), y: H - 6, class: "tick", "text-anchor": i === 0 ? "start" : i === n - 1 ? "end" : "middle" }, clock(times[i], day))) : [];
  const present = (s, i) => s.values[i] !== null && s.values[i] !== undefined;
  const lines = series.map((s, k) => {
    // A path breaks at each gap; a lone point (no neighbour to join) is
    // also drawn as a dot, which a line cannot show.
    let d = "";
    const dots = [];
    s.values.forEach((v, i) => {
      if (!present(s, i)) return;
      const p = `${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
      d += i > 0 && present(s, i - 1) ? ` L${p}` : ` M${p} l0 0`;
      if (!(i > 0 && present(s, i - 1)) && !(i < n - 1 && present(s, i + 1))) {
        dots.push(svg("circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, class: `dot series-${k % 6}` }));
      }
    });
    return d ? [svg("path", { d: d.trim(), class: `line series-${k % 6}` }, svg("title", {}, s.name)), dots] : null;
  });
  const empty = values.length ? null : svg("text", { x: (L + W) / 2, y: H / 2, class: "tick", "text-anchor": "middle" }, "nothing yet");
  const plot = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "plot" }, grid, ticks, lines, empty);
  const legend = h("div", { class: "legend" }, series.map((s, k) => h("span", {}, h("i", { class: `swatch series-${k % 6}` }), s.name)));
  return h("figure", { class: "chart", id }, h("figcaption", {}, title, unit ? h("span", { class: "muted" }, ` (${unit})`) : null), plot, legend);
}

// perMinute turns counts per step into a rate per minute.
function perMinute(counts, stepSeconds) {
  return counts.map((c) => (c === null ? null : c / (stepSeconds / 60)));
}

// seconds turns ms into seconds, keeping gaps.
function seconds(values) { return values.map((v) => (v === null ? null : v / 1000)); }

// depthSeries lists one series per label of a depth map, in name order.
function depthSeries(byLabel) {
  return Object.keys(byLabel || {}).sort().map((k) => ({ name: k, values: byLabel[k] }));
}
