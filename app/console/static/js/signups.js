// Sign-up leaderboard (manager+: a manager sees their own store): GET /staff/v1/reports/signups
// per staff member (ranked within each store), per store or per day; the CSV is the same call
// with format=csv.
import { api, config, download, errorText, h, t } from "./console.js";
import { chart, count, share, table } from "./charts.js";

const PATH = "/reports/signups";
const box = document.getElementById("report");
const from = document.getElementById("from");
const to = document.getElementById("to");
const store = document.getElementById("store"); // absent for a manager
const charts = [];
let asked = 0;
from.value = config.defaults.from;
to.value = config.defaults.to;

const groupBy = () => document.querySelector("input[name=group_by]:checked").value;
const storeName = (id) => (id == null ? t("su.no_store") : config.store_names[id] || `#${id}`);

function query() {
  return { from: from.value, to: to.value, group_by: groupBy(), store_id: store ? store.value : undefined };
}

// Competition ranking (1, 2, 2, 4) by sign-ups; the rows come sorted by sign-ups.
function ranks(rows) {
  let previous = null;
  let rank = 0;
  return rows.map((row, i) => {
    if (row.signups !== previous) { rank = i + 1; previous = row.signups; }
    return rank;
  });
}

const FIGURE_COLUMNS = [
  [t("su.signups"), (r) => count(r.signups), "signups"],
  [t("su.with_phone"), (r) => count(r.with_phone), "with_phone"],
  [t("su.first_purchase_30d"), (r) => count(r.first_purchase_30d), "first_purchase_30d"],
  [t("su.first_purchase_rate"), (r) => share(r.first_purchase_rate), "first_purchase_rate"],
];

function ranked(rows, label, heading, testid, attrs) {
  const credited = rows.filter((r) => r.key != null);
  const numbers = ranks(credited);
  const rank = (r) => (r.key == null ? "—" : String(numbers[credited.indexOf(r)]));
  return table([[t("su.rank"), rank, "rank"], [heading, label, "who"], ...FIGURE_COLUMNS], rows, testid, attrs);
}

function staffLabel(r) {
  if (r.key == null) return t("su.no_staff");
  return r.name ? `${r.name}（${r.key}）` : r.key;
}

function byStaff(report) {
  // A leaderboard per store: a store's staff ranked by sign-ups; a manager's report is one store.
  const stores = new Map();
  report.rows.forEach((row) => {
    const id = report.store_id ?? row.store_id;
    if (!stores.has(id)) stores.set(id, []);
    stores.get(id).push(row);
  });
  return [...stores.entries()].map(([id, rows]) => h("section", { class: "card", "data-testid": "leaderboard", "data-store-id": id ?? "" }, [
    // Sign-ups credited to no staff member come as one row, whatever their store.
    h("h2", {}, id == null ? t("su.no_staff") : storeName(id)),
    ranked(rows, staffLabel, t("su.staff"), "leaderboard-table", (r) => ({ "data-key": r.key ?? "" })),
  ]));
}

function byStore(report) {
  const label = (r) => (r.key == null ? t("su.no_store") : r.name || r.key);
  return [h("section", { class: "card" }, ranked(report.rows, label, t("su.store_col"), "store-table", (r) => ({ "data-key": r.key ?? "" })))];
}

function byDay(report) {
  return [h("section", { class: "card" }, [
    h("h2", {}, t("su.chart")),
    chart(charts, { title: t("su.chart"), testid: "chart-days", type: "line", labels: report.rows.map((r) => r.key), values: report.rows.map((r) => r.signups) }),
    table([[t("su.day"), (r) => r.key, "day"], ...FIGURE_COLUMNS], report.rows, "day-table", (r) => ({ "data-key": r.key })),
  ])];
}

async function load() {
  asked += 1;
  const mine = asked;
  box.dataset.loaded = "no";
  const result = await api("GET", PATH, { query: query() });
  if (mine !== asked) return; // a later filter's answer is on its way
  charts.splice(0).forEach((c) => c.destroy());
  if (!result.ok) {
    box.replaceChildren(h("p", { class: "error", "data-testid": "report-error" }, errorText(result.error)));
    box.dataset.loaded = "error";
    return;
  }
  const render = { staff: byStaff, store: byStore, day: byDay }[result.data.group_by];
  box.replaceChildren(...render(result.data));
  box.dataset.loaded = "yes";
}

document.getElementById("csv").addEventListener("click", () => download(PATH, { ...query(), format: "csv" }, `signups-${groupBy()}.csv`));
[from, to, store].filter(Boolean).forEach((input) => input.addEventListener("change", load));
document.querySelectorAll("input[name=group_by]").forEach((input) => input.addEventListener("change", load));
load();
