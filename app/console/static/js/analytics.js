// Business analysis (marketer+): GET /staff/v1/admin/analytics/{gmv,cohorts,repurchase,baskets}
// drawn as tables and charts, for the chain or one store; each figure's CSV is the same
// endpoint with format=csv.
import { api, config, download, errorText, h, t } from "./console.js";
import { chart, count, share, table, tile, yuan } from "./charts.js";

const PATH = "/admin/analytics";
const defaults = config.defaults;
const $ = (id) => document.getElementById(id);
const store = $("store");
const inputs = {
  gmvMonth: $("gmv-month"),
  cohortsFrom: $("cohorts-from"),
  cohortsTo: $("cohorts-to"),
  basketsFrom: $("baskets-from"),
  basketsTo: $("baskets-to"),
  category: $("baskets-category"),
};
inputs.gmvMonth.value = defaults.month;
inputs.cohortsFrom.value = defaults.cohorts_from;
inputs.cohortsTo.value = defaults.cohorts_to;
inputs.basketsFrom.value = defaults.baskets_from;
inputs.basketsTo.value = defaults.baskets_to;

const signed = (fen) => (fen > 0 ? `+${yuan(fen)}` : yuan(fen));
const MONEY = new Set(["gmv_fen", "avg_order_fen"]);
const RATES = new Set(["first_purchase_rate"]);
const value = (figure, v) => (MONEY.has(figure) ? yuan(v) : RATES.has(figure) ? share(v) : count(v));
const SEGMENT_FIGURES = {
  new_members: ["gmv_fen", "signups", "buyers", "orders", "first_purchase_rate", "orders_per_buyer", "avg_order_fen"],
  existing_members: ["gmv_fen", "active_members", "orders", "orders_per_buyer", "avg_order_fen"],
};

function gmv(data, charts) {
  const previous = data.previous_month;
  const figures = Object.entries(SEGMENT_FIGURES).flatMap(([segment, names]) => names.map((name) => ({ segment, name })));
  const label = (d) => `${t(`an.seg.${d.segment}`)} · ${t(`an.f.${d.factor ?? d.name}`)}`;
  return [
    h("div", { class: "figures" }, [
      tile(t("an.gmv_month"), yuan(data.gmv_fen), "fig-gmv"),
      tile(t("an.gmv_change"), signed(data.gmv_change_fen), "fig-gmv-change"),
      tile(t("an.gmv_new"), yuan(data.new_members.gmv_fen), "fig-gmv-new"),
      tile(t("an.gmv_existing"), yuan(data.existing_members.gmv_fen), "fig-gmv-existing"),
    ]),
    table([
      [t("an.figure"), label, "figure"],
      [t("an.previous", { month: previous.month }), (f) => value(f.name, previous[f.segment][f.name]), "previous"],
      [t("an.current", { month: data.month }), (f) => value(f.name, data[f.segment][f.name]), "current"],
    ], figures, "gmv-figures", (f) => ({ "data-figure": `${f.segment}.${f.name}` })),
    h("h3", {}, t("an.drivers")),
    table([
      [t("an.driver"), label, "driver"],
      [t("an.previous", { month: previous.month }), (d) => value(d.factor, d.previous), "previous"],
      [t("an.current", { month: data.month }), (d) => value(d.factor, d.current), "current"],
      [t("an.change"), (d) => signed(d.change_fen), "change"],
      [t("an.share"), (d) => share(d.share), "share"],
    ], data.drivers, "gmv-drivers", (d) => ({ "data-driver": `${d.segment}.${d.factor}` })),
    chart(charts, {
      title: t("an.drivers"), testid: "chart-drivers", horizontal: true,
      labels: data.drivers.map(label), values: data.drivers.map((d) => d.change_fen / 100),
      format: (v) => signed(Math.round(v * 100)),
    }),
  ];
}

function heat(x) {
  if (x == null) return {};
  // The darker the cell, the larger the share buying; white text once the red is dark.
  return { style: `background: rgba(192, 57, 43, ${Math.min(1, 0.08 + x).toFixed(2)}); color: ${x > 0.45 ? "#fff" : "inherit"}` };
}

function cohorts(data) {
  const months = Math.max(0, ...data.rows.map((r) => r.retention.length));
  const header = [h("th", {}, t("an.cohort")), h("th", {}, t("an.members"))];
  for (let n = 0; n < months; n += 1) header.push(h("th", {}, t("an.month_n", { n })));
  const rows = data.rows.map((r) => h("tr", { "data-cohort": r.cohort }, [
    h("th", { scope: "row" }, r.cohort),
    h("td", { "data-col": "members" }, count(r.members)),
    ...Array.from({ length: months }, (_, n) => (n < r.retention.length
      ? h("td", { "data-month": String(n), title: `${r.buyers[n]} / ${r.members}`, ...heat(r.retention[n]) }, share(r.retention[n]))
      : h("td", { class: "empty" }, ""))),
  ]));
  return [h("div", { class: "table-wrap" }, h("table", { class: "heat", "data-testid": "cohort-table" }, [
    h("thead", {}, h("tr", {}, header)), h("tbody", {}, rows),
  ]))];
}

function bucketLabel(b) {
  return b.to_day == null ? t("an.days_open", { low: b.from_day }) : t("an.days", { low: b.from_day, high: b.to_day });
}

function repurchase(data, charts) {
  const buckets = data.days_to_second_purchase;
  return [
    h("div", { class: "figures" }, [
      tile(t("an.median_days"), count(data.median_days_to_second), "fig-median"),
      tile(t("an.rate_90d"), share(data.second_purchase_rate_90d), "fig-rate-90d"),
      tile(t("an.one_time"), share(data.one_time_buyer_share), "fig-one-time"),
      tile(t("an.buyers"), count(data.buyers), "fig-buyers"),
    ]),
    h("h3", {}, t("an.days_to_second")),
    chart(charts, { title: t("an.days_to_second"), testid: "chart-days", labels: buckets.map(bucketLabel), values: buckets.map((b) => b.members) }),
    table([
      [t("an.days_to_second"), bucketLabel, "bucket"],
      [t("an.members_count"), (b) => count(b.members), "members"],
    ], buckets, "days-table", (b) => ({ "data-from-day": String(b.from_day) })),
  ];
}

const seenCategories = new Set();

function baskets(data, charts) {
  data.categories.forEach((c) => {
    if (seenCategories.has(c.category)) return;
    seenCategories.add(c.category);
    inputs.category.append(h("option", { value: c.category }, c.category));
  });
  return [
    h("div", { class: "figures" }, [
      tile(t("an.units_per_order"), count(data.units_per_order), "fig-units-per-order"),
      tile(t("an.lines_per_order"), count(data.lines_per_order), "fig-lines-per-order"),
      tile(t("an.avg_order"), yuan(data.avg_order_fen), "fig-avg-order"),
      tile(t("an.orders"), count(data.orders), "fig-orders"),
    ]),
    data.orders_without_lines ? h("p", { class: "hint", "data-testid": "without-lines" }, t("an.orders_without_lines", { n: data.orders_without_lines })) : null,
    h("h3", {}, t("an.per_category")),
    table([
      [t("an.category"), (c) => c.category, "category"],
      [t("an.orders"), (c) => count(c.orders), "orders"],
      [t("an.units"), (c) => count(c.units), "units"],
      [t("an.gmv_yuan"), (c) => yuan(c.gmv_fen), "gmv"],
    ], data.categories, "category-table", (c) => ({ "data-category": c.category })),
    chart(charts, {
      title: t("an.per_category"), testid: "chart-categories", labels: data.categories.map((c) => c.category),
      values: data.categories.map((c) => c.gmv_fen / 100), format: (v) => yuan(Math.round(v * 100)),
    }),
  ];
}

const FIGURES = {
  gmv: { query: () => ({ month: inputs.gmvMonth.value }), render: gmv },
  cohorts: { query: () => ({ from: inputs.cohortsFrom.value, to: inputs.cohortsTo.value }), render: cohorts },
  repurchase: { query: () => ({}), render: repurchase },
  baskets: {
    query: () => ({ from: inputs.basketsFrom.value, to: inputs.basketsTo.value, category: inputs.category.value }),
    render: baskets,
  },
};
const state = Object.fromEntries(Object.keys(FIGURES).map((name) => [name, { charts: [], asked: 0 }]));

function query(name) {
  return { ...FIGURES[name].query(), store_id: store.value };
}

async function load(name) {
  const section = $(name);
  const body = section.querySelector(".figure-body");
  const own = state[name];
  own.asked += 1;
  const asked = own.asked;
  section.dataset.loaded = "no";
  const result = await api("GET", `${PATH}/${name}`, { query: query(name) });
  if (asked !== own.asked) return; // a later filter's answer is on its way: this one is stale
  own.charts.splice(0).forEach((c) => c.destroy());
  if (!result.ok) {
    body.replaceChildren(h("p", { class: "error", "data-testid": `${name}-error` }, errorText(result.error)));
    section.dataset.loaded = "error";
    return;
  }
  body.replaceChildren(...FIGURES[name].render(result.data, own.charts));
  section.dataset.loaded = "yes";
}

document.querySelectorAll("[data-csv]").forEach((button) => {
  const name = button.dataset.csv;
  button.addEventListener("click", () => download(`${PATH}/${name}`, { ...query(name), format: "csv" }, `analytics-${name}.csv`));
});
store.addEventListener("change", () => Object.keys(FIGURES).forEach(load));
inputs.gmvMonth.addEventListener("change", () => load("gmv"));
[inputs.cohortsFrom, inputs.cohortsTo].forEach((input) => input.addEventListener("change", () => load("cohorts")));
[inputs.basketsFrom, inputs.basketsTo, inputs.category].forEach((input) => input.addEventListener("change", () => load("baskets")));
Object.keys(FIGURES).forEach(load);
