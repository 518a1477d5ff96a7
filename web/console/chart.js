// Charts as SVG, drawn here rather than by a library: a line chart over
// time buckets and a grouped bar chart, both a few dozen lines. Colours
// come from CSS classes (s0, s1, ...), never inline styles (the CSP has no
// 'unsafe-inline'). Each chart is a <figure> whose SVG has role="img", an
// accessible name and a <desc> that states the latest values in words,
// with a visible legend beside it.

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

let uid = 0;

// Round max up to a "nice" number: 1, 2, 2.5 or 5 times a power of ten.
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

// The axis top for data up to m: four gridline steps of a "nice" size
// (1, 2, 2.5 or 5 times a power of ten; whole numbers for counts).
function axisTop(m, integer) {
  if (!(m > 0)) return integer ? 4 : 1;
  const step = niceMax(m / 4);
  return 4 * (integer ? Math.max(1, Math.ceil(step)) : step);
}

function legend(series) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  series.forEach((ser, i) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `swatch s${ser.colour ?? i}`;
    sw.setAttribute('aria-hidden', 'true');
    li.append(sw, ser.name);
    ul.append(li);
  });
  return ul;
}

function figure(title, svg, series, note) {
  const fig = document.createElement('figure');
  fig.className = 'chart';
  const cap = document.createElement('figcaption');
  cap.textContent = title;
  fig.append(cap, svg, legend(series));
  if (note) {
    const p = document.createElement('p');
    p.className = 'note';
    p.textContent = note;
    fig.append(p);
  }
  return fig;
}

// Lines over time. labels: bucket start strings; series: [{name, values
// (numbers or null for "no data"), colour?}]; fmt: value -> axis text;
// max: fixed axis top (e.g. 1 for rates) or undefined to fit the data.
export function lineChart({ title, labels, series, fmt = String, max, integer, width = 520, height = 190, note }) {
  const pad = { l: 52, r: 12, t: 10, b: 26 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const all = series.flatMap((x) => x.values).filter((v) => v !== null && v !== undefined);
  const top = max ?? axisTop(Math.max(0, ...all), integer);
  const n = labels.length;
  const x = (i) => pad.l + (n <= 1 ? w / 2 : (i * w) / (n - 1));
  const y = (v) => pad.t + hgt - (Math.min(v, top) / top) * hgt;
  const id = `chart${++uid}`;
  const latest = series.map((ser) => {
    const last = [...ser.values].reverse().find((v) => v !== null && v !== undefined);
    return `${ser.name}: ${last === undefined ? 'no data' : fmt(last)}`;
  }).join('; ');
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`, class: 'plot' },
    s('title', { id: `${id}-t` }, title),
    s('desc', { id: `${id}-d` }, n ? `${n} buckets from ${labels[0]} to ${labels[n - 1]}. Latest: ${latest}.` : 'No data.'));
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    svg.append(s('line', { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: pad.l - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, fmt(v)));
  }
  const every = Math.max(1, Math.ceil(n / 6));
  labels.forEach((lab, i) => {
    if (i % every !== 0 && i !== n - 1) return;
    if (i !== n - 1 && n - 1 - i < every / 2) return; // leave room for the last label
    const anchor = n > 1 && i === n - 1 ? 'end' : n > 1 && i === 0 ? 'start' : 'middle';
    svg.append(s('text', { x: x(i), y: height - 8, class: 'tick', 'text-anchor': anchor }, lab));
  });
  series.forEach((ser, si) => {
    const cls = `s${ser.colour ?? si}`;
    let d = '';
    let pen = false;
    ser.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    if (d) svg.append(s('path', { d, class: `line ${cls}` }));
    ser.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      svg.append(s('circle', { cx: x(i), cy: y(v), r: 3, class: `dot ${cls}` },
        s('title', {}, `${ser.name} ${labels[i]}: ${fmt(v)}`)));
    });
  });
  return figure(title, svg, series, note);
}

// Grouped bars. categories: x labels; series: [{name, values}].
export function barChart({ title, categories, series, fmt = String, max, integer, width = 520, height = 190, note }) {
  const pad = { l: 52, r: 12, t: 10, b: 26 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const all = series.flatMap((x) => x.values).filter((v) => v !== null && v !== undefined);
  const top = max ?? axisTop(Math.max(0, ...all), integer);
  const y = (v) => pad.t + hgt - (Math.min(v, top) / top) * hgt;
  const id = `chart${++uid}`;
  const groupW = w / Math.max(1, categories.length);
  const barW = Math.min(36, (groupW * 0.8) / Math.max(1, series.length));
  const words = categories.map((c, ci) => `${c}: ${series.map((ser) => `${ser.name} ${ser.values[ci] === null ? 'no data' : fmt(ser.values[ci])}`).join(', ')}`).join('; ');
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`, class: 'plot' },
    s('title', { id: `${id}-t` }, title),
    s('desc', { id: `${id}-d` }, categories.length ? `${words}.` : 'No data.'));
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    svg.append(s('line', { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: pad.l - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, fmt(v)));
  }
  const every = Math.max(1, Math.ceil(categories.length / 8));
  categories.forEach((cat, ci) => {
    const gx = pad.l + ci * groupW + (groupW - barW * series.length) / 2;
    series.forEach((ser, si) => {
      const v = ser.values[ci];
      if (v === null || v === undefined) return;
      svg.append(s('rect', { x: gx + si * barW, y: y(v), width: barW - 2, height: Math.max(0, y(0) - y(v)), class: `bar s${ser.colour ?? si}` },
        s('title', {}, `${ser.name} ${cat}: ${fmt(v)}`)));
    });
    if (ci % every === 0) svg.append(s('text', { x: pad.l + ci * groupW + groupW / 2, y: height - 8, class: 'tick', 'text-anchor': 'middle' }, cat));
  });
  return figure(title, svg, series, note);
}
