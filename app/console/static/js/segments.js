// Segments dashboard (marketer+): GET /staff/v1/admin/segments — members per lifecycle stage and
// RFM group for the chain and per store, the store figures, and each figure as CSV
// (GET /staff/v1/admin/segments/{lifecycle|rfm|stores|signups}.csv).
import { api, download, errorText, fenToYuan, formatInstant, h, isMissingEndpoint, notAvailable, t } from "./console.js";

const PATH = "/admin/segments";
const CSV_FIGURES = ["lifecycle", "rfm", "stores", "signups"];
const box = document.getElementById("segments");
const scope = document.getElementById("scope");
const periodFrom = document.getElementById("period-from");
const periodTo = document.getElementById("period-to");
const charts = [];
let report = null;

const share = (x) => (x == null ? "—" : `${(x * 100).toFixed(1)}%`);
const yuan = (fen) => `¥${fenToYuan(fen)}`;

function chartCard(title, testid, type, labels, values, format = (v) => v.toLocaleString()) {
  const canvas = h("canvas", { role: "img", "aria-label": title, "data-testid": testid });
  const card = h("section", { class: "card" }, [
    h("h2", {}, title),
    h("div", { class: "chart-box" }, canvas),
    // The same figures as text, for screen readers and for copying.
    h("table", { class: "sr-only" }, labels.map((label, i) => h("tr", {}, [h("td", {}, label), h("td", {}, format(values[i]))]))),
  ]);
  if (window.Chart) {
    charts.push(new window.Chart(canvas, {
      type,
      data: { labels, datasets: [{ label: title, data: values, backgroundColor: type === "doughnut" ? ["#c0392b", "#9fb3c8"] : "#c0392b", borderColor: "#c0392b" }] },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: type === "doughnut" }, tooltip: { callbacks: { label: (ctx) => format(ctx.raw) } } },
        scales: type === "doughnut" ? {} : { y: { beginAtZero: true } },
      },
    }));
  }
  return card;
}

function tile(label, value, testid) {
  return h("div", { class: "figure", "data-testid": testid }, [h("strong", {}, value), h("span", {}, label)]);
}

function storeName(store) {
  return store.store_id == null ? t("seg.no_store") : store.name;
}

function storeTable(stores) {
  const columns = [
    ["seg.store_name", storeName],
    ["seg.members", (s) => s.members.toLocaleString()],
    ["seg.buyers", (s) => s.buyers.toLocaleString()],
    ["seg.bought_12m", (s) => share(s.bought_last_12_months_share)],
    ["seg.one_time", (s) => share(s.one_time_buyer_share)],
    ["seg.came_back_90", (s) => share(s.came_back_within_90_days_share)],
    ["seg.sales_new", (s) => yuan(s.sales_new_members_fen)],
    ["seg.sales_earlier", (s) => yuan(s.sales_earlier_members_fen)],
  ];
  return h("section", { class: "card" }, [
    h("h2", {}, t("seg.per_store")),
    h("div", { class: "table-wrap" }, h("table", { class: "stack", "data-testid": "store-table" }, [
      h("thead", {}, h("tr", {}, columns.map(([key]) => h("th", {}, t(key))))),
      h("tbody", {}, stores.map((s) => h("tr", {}, columns.map(([key, cell]) => h("td", { "data-label": t(key) }, cell(s)))))),
    ])),
  ]);
}

function render() {
  charts.splice(0).forEach((c) => c.destroy());
  const store = scope.value === "" ? null : report.stores[Number(scope.value)];
  const block = store || report.chain;
  const sections = [];
  const tiles = [tile(t("seg.members"), block.members.toLocaleString(), "fig-members")];
  if (store) {
    tiles.push(
      tile(t("seg.bought_12m"), share(store.bought_last_12_months_share), "fig-bought-12m"),
      tile(t("seg.one_time"), share(store.one_time_buyer_share), "fig-one-time"),
      tile(t("seg.came_back_90"), share(store.came_back_within_90_days_share), "fig-came-back"),
    );
  }
  sections.push(h("section", { class: "card" }, h("div", { class: "figures" }, tiles)));
  const charts2 = [
    chartCard(t("seg.lifecycle"), "chart-lifecycle", "bar", block.lifecycle.map((x) => t(`stage.${x.stage}`)), block.lifecycle.map((x) => x.members)),
    chartCard(t("seg.rfm"), "chart-rfm", "bar", block.rfm.map((x) => x.group), block.rfm.map((x) => x.members)),
  ];
  if (store) {
    charts2.push(
      chartCard(t("seg.signups"), "chart-signups", "line", store.signups_by_month.map((x) => x.month), store.signups_by_month.map((x) => x.members)),
      chartCard(t("seg.sales_split"), "chart-sales", "doughnut", [t("seg.sales_new"), t("seg.sales_earlier")],
        [store.sales_new_members_fen, store.sales_earlier_members_fen], yuan),
    );
  }
  sections.push(h("div", { class: "grid-2" }, charts2));
  if (!store) sections.push(storeTable(report.stores));
  box.replaceChildren(...sections);
}

function period() {
  return { from: periodFrom.value || undefined, to: periodTo.value || undefined };
}

async function load() {
  const result = await api("GET", PATH, { query: period() });
  if (isMissingEndpoint(result)) { notAvailable(box, `GET /staff/v1${PATH}`); return; }
  if (!result.ok) { box.replaceChildren(h("p", { class: "error" }, errorText(result.error))); return; }
  report = result.data;
  periodFrom.value = report.period.from;
  periodTo.value = report.period.to;
  document.getElementById("as-of").textContent = report.computed_at
    ? t("seg.as_of", { when: formatInstant(report.computed_at) }) : t("seg.never_computed");
  const chosen = scope.value;
  scope.replaceChildren(h("option", { value: "" }, t("nav.all_stores")),
    ...report.stores.map((s, i) => h("option", { value: String(i) }, storeName(s))));
  if (chosen && Number(chosen) < report.stores.length) scope.value = chosen;
  render();
  box.dataset.loaded = "yes";
}

document.getElementById("downloads").append(...CSV_FIGURES.map((figure) => {
  const button = h("button", { type: "button", "data-testid": `csv-${figure}` }, `${t(`seg.csv.${figure}`)} CSV`);
  button.addEventListener("click", () => download(`${PATH}/${figure}.csv`, period(), `segments-${figure}.csv`));
  return button;
}));
scope.addEventListener("change", render);
periodFrom.addEventListener("change", load);
periodTo.addEventListener("change", load);
load();
