// The floor page: one Server-Sent Events stream (floor snapshots every
// second and the pallet events worth watching), read with fetch so that an
// API key can ride in the Authorization header, which EventSource cannot
// send. No build step, no framework: uPlot for the charts, the DOM for the
// rest. window.floor counts what arrived, for the page's browser test.
"use strict";

const WINDOW = 300; // seconds of history in the charts
const FEED_MAX = 100;
const KINDS = "received,adjusted,held,released,recalled,written_off";
const STREAM = "/api/events?types=floor,pallet&kinds=" + KINDS;

const floor = (window.floor = { snapshots: 0, events: 0, gaps: 0, reconnects: 0 });
const $ = (sel) => document.querySelector(sel);
const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const fmt0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function show(key, value, digits) {
  for (const el of document.querySelectorAll(`[data-k="${key}"]`)) {
    // a decimal only where it says something: 0.4 strikes/s, not 26,486.9 orders/s
    el.textContent = value == null ? "–" : (digits === 0 || Math.abs(value) >= 100 ? fmt0 : fmt).format(value);
  }
}

// ---- the stream -----------------------------------------------------------

let apiKey = sessionStorage.getItem("baconator-key") || "";
let lastEventId = "";

function setConn(state, text) {
  const el = $("#conn");
  el.dataset.state = state;
  el.textContent = text;
}

// parseSSE splits text/event-stream chunks into events (the WHATWG rules
// we need: event, id, data lines; comments and retry ignored).
function makeParser(onEvent) {
  let buf = "";
  let ev = { event: "message", data: [], id: null };
  return (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (ev.data.length) onEvent(ev.event, ev.data.join("\n"), ev.id);
        ev = { event: "message", data: [], id: null };
        continue;
      }
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") ev.event = value;
      else if (field === "data") ev.data.push(value);
      else if (field === "id") ev.id = value;
    }
  };
}

async function connect(backoff) {
  const headers = {};
  if (apiKey) headers.Authorization = "Bearer " + apiKey;
  if (lastEventId) headers["Last-Event-ID"] = lastEventId;
  try {
    const res = await fetch(STREAM, { headers, cache: "no-store" });
    if (res.status === 401 || res.status === 403) {
      setConn("error", res.status === 401 ? "needs an API key" : "this key may not read");
      $("#key").hidden = false;
      return; // the form reconnects
    }
    if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
    setConn("live", "live");
    backoff = 1000;
    const parse = makeParser(onEvent);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parse(value);
    }
  } catch (err) {
    // a refused or dropped connection: the server restarting, say
  }
  floor.reconnects++;
  setConn("reconnecting", "reconnecting…");
  setTimeout(() => connect(Math.min(backoff * 2, 10000)), backoff);
}

$("#key").addEventListener("submit", (e) => {
  e.preventDefault();
  apiKey = $("#key-input").value.trim();
  sessionStorage.setItem("baconator-key", apiKey);
  $("#key").hidden = true;
  connect(1000);
});

function onEvent(type, data, id) {
  if (id) lastEventId = id;
  const v = JSON.parse(data);
  if (type === "floor") onFloor(v);
  else if (type === "pallet") onPallet(v);
  else if (type === "gap") floor.gaps++;
  if (id) show("lastEventId", Number(id), 0);
}

// ---- counters and charts ---------------------------------------------------

let prev = null;
const series = { t: [], accepted: [], allocated: [], rejected: [], throttled: [], conflicts: [], strikes: [], depth: [] };
let charts = null;

function rejected(c) {
  return c.rejectedInsufficientStock + c.rejectedNoEligibleStock + c.rejectedContention;
}

function onFloor(f) {
  floor.snapshots++;
  const c = f.counts;
  const t = Date.parse(f.at) / 1000;
  show("accepted", c.accepted, 0);
  show("intakeDepth", c.intakeDepth, 0);
  if (prev) {
    const dt = Math.max(t - prev.t, 0.001);
    const rate = (k) => Math.max(0, (c[k] - prev.c[k]) / dt);
    const r = {
      accepted: rate("accepted"), allocated: rate("allocated"), throttled: rate("throttled"),
      rejected: Math.max(0, (rejected(c) - rejected(prev.c)) / dt),
      conflicts: rate("conflicts"), strikes: rate("chaosStrikes"),
    };
    show("acceptedRate", r.accepted); show("allocatedRate", r.allocated);
    show("rejectedRate", r.rejected); show("throttledRate", r.throttled);
    show("conflictRate", r.conflicts); show("strikeRate", r.strikes);
    push(t, r, c.intakeDepth);
  }
  prev = { t, c };
  let on = 0, av = 0, rs = 0, oh = 0, ex = 0;
  for (const s of f.skus) { on += s.onHandLbs; av += s.availableLbs; rs += s.reservedLbs; oh += s.onHoldLbs; ex += s.expiredLbs; }
  show("onHandLbs", on, 0); show("availableLbs", av, 0); show("reservedLbs", rs, 0);
  show("onHoldLbs", oh, 0); show("expiredLbs", ex, 0);
  renderSKUs(f.skus);
}

function push(t, r, depth) {
  series.t.push(t);
  for (const k of ["accepted", "allocated", "rejected", "throttled", "conflicts", "strikes"]) series[k].push(r[k]);
  series.depth.push(depth);
  if (series.t.length > WINDOW) for (const k in series) series[k].shift();
  if (!charts) charts = makeCharts();
  charts.orders.setData([series.t, series.accepted, series.allocated, series.rejected, series.throttled]);
  charts.contention.setData([series.t, series.conflicts, series.strikes, series.depth]);
}

function makeChart(el, lines, rightAxis) {
  const opts = {
    width: el.clientWidth || 600, height: 240,
    scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] }, depth: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
    series: [{}].concat(lines.map(([label, stroke, scale]) => ({ label, stroke, width: 2, scale: scale || "y", value: (u, v) => (v == null ? "–" : fmt.format(v)) }))),
    axes: [{}, { scale: "y", size: 60 }].concat(rightAxis ? [{ scale: "depth", side: 1, grid: { show: false }, size: 60 }] : []),
    legend: { live: false },
  };
  return new uPlot(opts, [[]].concat(lines.map(() => [])), el);
}

function makeCharts() {
  const orders = makeChart($("#chart-orders"), [
    ["accepted/s", "#1565c0"], ["allocated/s", "#2e7d32"], ["rejected/s", "#c62828"], ["429/s", "#ef6c00"],
  ]);
  const contention = makeChart($("#chart-contention"), [
    ["conflicts/s", "#ef6c00"], ["chaos strikes/s", "#6a1b9a"], ["intake depth", "#455a64", "depth"],
  ], true);
  window.addEventListener("resize", () => {
    orders.setSize({ width: $("#chart-orders").clientWidth, height: 240 });
    contention.setSize({ width: $("#chart-contention").clientWidth, height: 240 });
  });
  return { orders, contention };
}

// ---- the FEFO head --------------------------------------------------------

function dayClass(p) {
  if (p.status === "on_hold" || p.status === "quarantined") return "held";
  const d = p.daysToExpiry;
  return d <= 0 ? "d0" : d < 1 ? "d1" : d < 3 ? "d3" : d < 7 ? "d7" : "d30";
}

function renderSKUs(skus) {
  const root = $("#skus");
  const rows = new Map([...root.children].map((el) => [el.dataset.sku, el]));
  for (const s of skus) {
    let row = rows.get(s.sku);
    if (!row) {
      row = document.createElement("div");
      row.className = "sku";
      row.dataset.sku = s.sku;
      row.innerHTML = '<div class="name"></div><div class="strip"></div><div><div class="bar"></div><div class="barlabel"></div></div>';
      root.appendChild(row);
    }
    row.querySelector(".name").innerHTML = "";
    row.querySelector(".name").append(s.sku, Object.assign(document.createElement("small"), { textContent: fmt0.format(s.pallets) + " pallets" }));
    const max = Math.max(1, ...s.head.map((p) => p.weightLbs));
    const strip = row.querySelector(".strip");
    strip.replaceChildren(...s.head.map((p) => {
      const cell = document.createElement("div");
      cell.className = "cell " + dayClass(p);
      cell.style.height = Math.max(8, (100 * p.weightLbs) / max) + "%";
      cell.title = `${p.id}: ${fmt.format(p.weightLbs)} lbs (${fmt.format(p.availableLbs)} available), ${fmt.format(p.daysToExpiry)} days to expiry, ${p.status}`;
      return cell;
    }));
    const total = Math.max(1, s.onHandLbs);
    const seg = (cls, v) => `<i class="${cls}" style="width:${(100 * v) / total}%"></i>`;
    row.querySelector(".bar").innerHTML = seg("av", s.availableLbs) + seg("rs", s.reservedLbs) + seg("oh", s.onHoldLbs) + seg("ex", s.expiredLbs);
    row.querySelector(".barlabel").textContent =
      `${fmt0.format(s.availableLbs)} available · ${fmt0.format(s.reservedLbs)} reserved · ${fmt0.format(s.onHoldLbs)} on hold · ${fmt0.format(s.expiredLbs)} expired (lbs)`;
  }
}

// ---- the feed -------------------------------------------------------------

function onPallet(e) {
  floor.events++;
  const li = document.createElement("li");
  li.className = "k-" + e.kind;
  const what = e.kind === "adjusted" && e.reason === "chaos" ? "chaos strike" : e.kind.replace("_", " ");
  const lbs = e.lbs ? ` ${e.lbs > 0 ? "+" : ""}${fmt.format(e.lbs)} lbs` : "";
  li.textContent = `${e.at.slice(11, 23)}  ${e.palletId} (${e.sku}${e.lot ? ", lot " + e.lot : ""}) ${what}${lbs} → ${fmt.format(e.weightLbs)} lbs, v${e.version}, ${e.status}${e.reason && e.reason !== "chaos" ? " — " + e.reason : ""}`;
  const feed = $("#feed");
  feed.prepend(li);
  while (feed.children.length > FEED_MAX) feed.lastChild.remove();
}

connect(1000);
