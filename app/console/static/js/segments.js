// Segments dashboard (marketer+): GET /staff/v1/admin/segments — members per lifecycle stage and
// RFM group, chain-wide and per store, the store figures, and CSV downloads of each.
// The page draws whatever figures the API returns: a map of label -> count becomes a chart,
// a single number a tile, so a figure added to the API appears here without a console change.
import { api, config, download, errorText, formatInstant, h, isMissingEndpoint, notAvailable, t } from "./console.js";

const PATH = "/admin/segments";
const box = document.getElementById("segments");
const scope = document.getElementById("scope");
const charts = [];
let data = null;

const label = (key) => (config.messages[`seg.${key}`] ?? config.messages[`stage.${key}`] ?? key);
const isCountMap = (v) => v && typeof v === "object" && !Array.isArray(v)
  && Object.keys(v).length > 0 && Object.values(v).every((x) => typeof x === "number");
const isRowList = (v) => Array.isArray(v) && v.length > 0 && v.every((x) => x && typeof x === "object" && !Array.isArray(x));

function formatNumber(key, value) {
  if (/share|rate|ratio|percent/.test(key) && value >= 0 && value <= 1) return `${(value * 100).toFixed(1)}%`;
  if (/_fen$/.test(key)) return `¥${(value / 100).toFixed(2)}`;
  return value.toLocaleString();
}

function chart(title, key, map) {
  const canvas = h("canvas", { role: "img", "aria-label": title, dataset: { figure: key } });
  const section = h("section", { class: "card" }, [
    h("h2", {}, title),
    h("div", { class: "chart-box" }, canvas),
    h("table", { class: "sr-only" }, Object.entries(map).map(([k, v]) => h("tr", {}, [h("td", {}, label(k)), h("td", {}, v)]))),
  ]);
  const labels = Object.keys(map);
  const timeline = labels.every((k) => /^\d{4}-\d{2}/.test(k));
  if (window.Chart) {
    charts.push(new window.Chart(canvas, {
      type: timeline ? "line" : "bar",
      data: { labels: labels.map(label), datasets: [{ label: title, data: Object.values(map), backgroundColor: "#c0392b", borderColor: "#c0392b" }] },
      options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
    }));
  }
  return section;
}

// A list of per-store rows (or any rows): a table.
function rowsTable(title, rows) {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] !== "object" || r[k] === null)))];
  return h("section", { class: "card" }, [
    h("h2", {}, title),
    h("div", { class: "table-wrap" }, h("table", { class: "stack" }, [
      h("thead", {}, h("tr", {}, keys.map((k) => h("th", {}, label(k))))),
      h("tbody", {}, rows.map((r) => h("tr", {}, keys.map((k) => h("td", { "data-label": label(k) }, r[k] == null ? "—" : typeof r[k] === "number" ? formatNumber(k, r[k]) : String(r[k])))))),
    ])),
  ]);
}

// Walk one block of figures: tiles for numbers, charts for count maps, tables for row lists.
function renderBlock(block, into) {
  const tiles = [];
  for (const [key, value] of Object.entries(block)) {
    if (typeof value === "number") tiles.push(h("div", { class: "figure", dataset: { figure: key } }, [h("strong", {}, formatNumber(key, value)), h("span", {}, label(key))]));
    else if (isCountMap(value)) into.push(chart(label(key), key, value));
    else if (isRowList(value) && key !== "stores") into.push(rowsTable(label(key), value));
    else if (value && typeof value === "object" && !Array.isArray(value) && key !== "stores") renderBlock(value, into);
  }
  if (tiles.length) into.unshift(h("section", { class: "card" }, h("div", { class: "figures" }, tiles)));
}

function storesOf(payload) {
  const stores = payload.stores;
  return Array.isArray(stores) ? stores : [];
}

function render() {
  charts.splice(0).forEach((c) => c.destroy());
  const stores = storesOf(data);
  const chosen = scope.value ? stores.find((s) => String(s.store_id ?? s.id) === scope.value) : null;
  const block = chosen || data.chain || Object.fromEntries(Object.entries(data).filter(([k]) => k !== "stores"));
  const sections = [];
  renderBlock(block, sections);
  if (!chosen && stores.length) sections.push(rowsTable(t("seg.per_store"), stores));
  box.replaceChildren(...(sections.length ? sections : [h("p", {}, t("common.none"))]));
}

async function load() {
  const result = await api("GET", PATH);
  if (isMissingEndpoint(result)) { notAvailable(box, `GET /staff/v1${PATH}`); return; }
  if (!result.ok) { box.replaceChildren(h("p", { class: "error" }, errorText(result.error))); return; }
  data = result.data;
  const asOf = data.as_of || data.computed_at || data.refreshed_at;
  document.getElementById("as-of").textContent = asOf ? t("seg.as_of", { when: formatInstant(asOf) }) : "";
  scope.replaceChildren(h("option", { value: "" }, t("nav.all_stores")),
    ...storesOf(data).map((s) => h("option", { value: s.store_id ?? s.id }, s.store_name || s.name || `#${s.store_id ?? s.id}`)));
  render();
}

function csvButton(text, query, filename) {
  const button = h("button", { type: "button", "data-testid": "csv" }, text);
  button.addEventListener("click", () => download(PATH, { ...query, format: "csv", store_id: scope.value || undefined }, filename));
  return button;
}

document.getElementById("downloads").append(csvButton(t("common.download_csv"), {}, "segments.csv"));
scope.addEventListener("change", render);
load();
