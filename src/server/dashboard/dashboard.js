// The dashboard's script: lists the queues, follows one queue's stats events and draws them with uPlot.
// The token, when the server has one, comes from this page's ?token= and goes along as access_token
// (EventSource cannot send headers).
/* global uPlot */
const POINTS = 300;
const params = new URLSearchParams(location.search);
const token = params.get('token') ?? params.get('access_token');
const withToken = (url) => (token ? `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}` : url);
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

const series = { t: [], throughput: [], depth: [], inFlight: [], p50: [], p90: [], p99: [], dead: [] };

function chart(id, title, lines) {
  const el = $(id);
  const opts = {
    title,
    width: Math.max(300, el.clientWidth - 16),
    height: 220,
    series: [{}, ...lines.map(([label, stroke]) => ({ label, stroke, width: 2 }))],
    axes: [{}, { size: 72 }],
  };
  return new uPlot(opts, [[], ...lines.map(() => [])], el);
}

const charts = {
  throughput: chart('chart-throughput', 'throughput (msg/s)', [['msg/s', '#2f6fde']]),
  depth: chart('chart-depth', 'depth and in flight', [
    ['depth', '#d9822b'],
    ['in flight', '#8e44ad'],
  ]),
  latency: chart('chart-latency', 'latency, last interval (µs)', [
    ['p50', '#27ae60'],
    ['p90', '#f1c40f'],
    ['p99', '#c0392b'],
  ]),
  dead: chart('chart-dead', 'dead letters (total)', [['dead letters', '#7f8c8d']]),
};

function push(s) {
  const add = (key, v) => {
    series[key].push(v);
    if (series[key].length > POINTS) series[key].shift();
  };
  add('t', s.at / 1000);
  add('throughput', s.throughput);
  add('depth', s.depth);
  add('inFlight', s.inFlight);
  add('p50', s.window.p50Us);
  add('p90', s.window.p90Us);
  add('p99', s.window.p99Us);
  add('dead', s.deadLettered);
  charts.throughput.setData([series.t, series.throughput]);
  charts.depth.setData([series.t, series.depth, series.inFlight]);
  charts.latency.setData([series.t, series.p50, series.p90, series.p99]);
  charts.dead.setData([series.t, series.dead]);
  $('throughput').textContent = fmt.format(s.throughput);
  $('depth').textContent = `${fmt.format(s.depth)} / ${fmt.format(s.capacity)}`;
  $('p50').textContent = fmt.format(s.window.p50Us);
  $('p99').textContent = fmt.format(s.window.p99Us);
  $('completed').textContent = fmt.format(s.completed);
  $('dead').textContent = fmt.format(s.deadLettered);
  $('status').textContent = `${s.engine} engine, ${s.state}`;
}

let source;
function follow(name) {
  source?.close();
  for (const key of Object.keys(series)) series[key].length = 0;
  source = new EventSource(withToken(`/queues/${encodeURIComponent(name)}/events?types=stats`));
  source.addEventListener('stats', (e) => push(JSON.parse(e.data)));
  source.addEventListener('error', () => {
    $('status').textContent = 'reconnecting…';
  });
}

async function start() {
  const res = await fetch(withToken('/queues'));
  if (!res.ok) {
    $('status').textContent = `cannot list queues: HTTP ${res.status} (add ?token=… to the address)`;
    return;
  }
  const queues = await res.json();
  const select = $('queue');
  for (const q of queues) select.add(new Option(`${q.name} (${q.engine})`, q.name));
  const chosen = params.get('queue') ?? queues[0]?.name;
  if (chosen) select.value = chosen;
  select.addEventListener('change', () => follow(select.value));
  follow(select.value);
}

start();
