namespace CartActor.Node.Dashboard;

/// <summary>
/// The dashboard page: one self-contained HTML document (no external scripts or fonts, so it works on a
/// cluster with no way out). It polls /dashboard/api/overview and /metrics every 2 s and computes the
/// Apply/Get rates and mean latencies from the difference of two scrapes; the inspector calls
/// /dashboard/api/carts/{id}. Every value is written with textContent, never as HTML.
/// </summary>
internal static class DashboardPage
{
    public const string Html = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CartActor dashboard</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 12px 20px; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  .badge { padding: 2px 8px; border-radius: 10px; font-size: 12px; background: #5a6275; }
  .ok { background: #1f8a4c; color: #fff; } .bad { background: #c0392b; color: #fff; } .warn { background: #d68910; color: #fff; }
  main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
  section { background: #fff; border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #e3e5ea; }
  .bar { background: #dfe3ea; height: 8px; border-radius: 4px; min-width: 80px; }
  .bar > span { display: block; height: 8px; border-radius: 4px; background: #3b6fd8; }
  .cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; }
  .card { background: #f4f5f7; border-radius: 4px; padding: 8px; }
  .card b { display: block; font-size: 20px; }
  form { display: flex; gap: 8px; margin-bottom: 8px; }
  input { flex: 1; padding: 6px; font: inherit; }
  button { padding: 6px 12px; font: inherit; }
  pre { background: #f4f5f7; padding: 8px; overflow: auto; max-height: 240px; font-size: 12px; }
  .muted { color: #6b7385; }
</style>
</head>
<body>
<header>
  <h1>CartActor</h1>
  <span id="self" class="muted"></span>
  <span id="readiness" class="badge">loading</span>
  <span id="store" class="badge">store</span>
  <span id="version" class="muted"></span>
</header>
<main>
  <section>
    <h2>Members <span id="epoch" class="muted"></span></h2>
    <table id="members"><thead><tr><th>Member</th><th>State</th><th>Share of the ring</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>This node</h2>
    <div class="cards">
      <div class="card">Active carts<b id="active">-</b></div>
      <div class="card">Apply / s<b id="applyRate">-</b></div>
      <div class="card">Get / s<b id="getRate">-</b></div>
      <div class="card">Failed / s<b id="failRate">-</b></div>
      <div class="card">Apply mean<b id="applyLatency">-</b></div>
      <div class="card">Get mean<b id="getLatency">-</b></div>
    </div>
  </section>
  <section>
    <h2>Cart inspector</h2>
    <form id="inspect"><input id="cartId" placeholder="cart id, e.g. 42" inputmode="numeric" autocomplete="off"><button type="submit">Inspect</button></form>
    <div id="cartSummary" class="muted">Enter a cart id to see its state and the node that owns it.</div>
    <table id="cartItems" hidden><thead><tr><th>SKU</th><th>Name</th><th>Qty</th><th>Line total</th></tr></thead><tbody></tbody></table>
    <details><summary>JSON</summary><pre id="cartJson"></pre></details>
  </section>
</main>
<script>
"use strict";
const $ = id => document.getElementById(id);
let previous = null;

function badge(el, text, cls) { el.textContent = text; el.className = "badge " + cls; }

function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }

function parseMetrics(text) {
  const sums = {};
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^(\w+)(?:\{([^}]*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    (m[2] || "").replace(/(\w+)="([^"]*)"/g, (_, k, v) => { labels[k] = v; });
    const add = (key) => { sums[key] = (sums[key] || 0) + Number(m[3]); };
    if (m[1] === "cartactor_requests_total") { add("calls:" + labels.rpc); if (labels.status !== "OK") add("failed"); }
    if (m[1] === "cartactor_request_duration_seconds_sum") add("sum:" + labels.rpc);
    if (m[1] === "cartactor_request_duration_seconds_count") add("count:" + labels.rpc);
  }
  return { at: performance.now(), sums };
}

function rates(now) {
  if (!previous) return;
  const seconds = (now.at - previous.at) / 1000;
  const delta = key => (now.sums[key] || 0) - (previous.sums[key] || 0);
  $("applyRate").textContent = (delta("calls:Apply") / seconds).toFixed(1);
  $("getRate").textContent = (delta("calls:Get") / seconds).toFixed(1);
  $("failRate").textContent = (delta("failed") / seconds).toFixed(1);
  for (const rpc of ["Apply", "Get"]) {
    const n = delta("count:" + rpc);
    $(rpc.toLowerCase() + "Latency").textContent = n > 0 ? (delta("sum:" + rpc) / n * 1000).toFixed(2) + " ms" : "-";
  }
}

async function refresh() {
  try {
    const overview = await (await fetch("/dashboard/api/overview")).json();
    $("self").textContent = overview.self;
    $("version").textContent = overview.version + " (" + overview.commit.substring(0, 12) + ")";
    badge($("readiness"), overview.readiness, overview.readiness === "ready" ? "ok" : "warn");
    badge($("store"), "store " + overview.store.name + (overview.store.healthy ? " healthy" : " unavailable"), overview.store.healthy ? "ok" : "bad");
    $("epoch").textContent = "(ring epoch " + overview.ringEpoch + (overview.leaving ? ", leaving" : "") + ")";
    $("active").textContent = overview.activeCarts;
    const body = $("members").tBodies[0];
    body.replaceChildren();
    for (const member of overview.members) {
      const row = body.insertRow();
      row.className = "member";
      cell(row, member.host + (member.self ? " (this node)" : ""));
      cell(row, member.state);
      const share = cell(row, "");
      const bar = document.createElement("div"); bar.className = "bar";
      const fill = document.createElement("span"); fill.style.width = (member.share * 100).toFixed(1) + "%";
      bar.appendChild(fill); share.appendChild(bar);
      const label = document.createElement("span"); label.className = "muted"; label.textContent = (member.share * 100).toFixed(1) + " %";
      share.appendChild(label);
    }
    const now = parseMetrics(await (await fetch("/metrics")).text());
    rates(now);
    previous = now;
  } catch (e) {
    badge($("readiness"), "unreachable", "bad");
  }
}

function money(minor, currency) { return (Number(minor) / 100).toFixed(2) + " " + (currency || ""); }

$("inspect").addEventListener("submit", async event => {
  event.preventDefault();
  const id = $("cartId").value.trim();
  const summary = $("cartSummary");
  const items = $("cartItems");
  summary.textContent = "Looking up cart " + id + "...";
  items.hidden = true;
  const response = await fetch("/dashboard/api/carts/" + encodeURIComponent(id));
  const body = await response.json();
  $("cartJson").textContent = JSON.stringify(body, null, 2);
  if (!response.ok) { summary.textContent = body.error; return; }
  const state = body.state;
  const lines = state.items || [];
  summary.textContent = "Cart " + body.id + " is owned by " + body.owner + (body.local ? " (this node)" : "") +
    ": version " + (state.version || 0) + ", " + (state.status || "OPEN") + ", " + lines.length + " line(s), total " + money(state.totalPrice || 0, state.currency);
  const tbody = items.tBodies[0];
  tbody.replaceChildren();
  for (const line of lines) {
    const row = tbody.insertRow();
    cell(row, line.sku); cell(row, line.name || ""); cell(row, String(line.quantity)); cell(row, money(line.lineTotal || 0, state.currency));
  }
  items.hidden = lines.length === 0;
});

refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
""";
}
