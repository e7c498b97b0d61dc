// Lotteries with prizes and stock (marketer+): list, create with prizes, adjust a prize's stock,
// close a lottery.
import {
  api, busy, errorText, flash, formatInstant, h, isMissingEndpoint, notAvailable, readFields,
  showError, t, validate,
} from "./console.js";

const PATH = "/admin/lotteries";
const list = document.getElementById("lotteries");
const form = document.getElementById("lottery-form");
const rows = document.querySelector("#prize-rows tbody");
const rowTemplate = document.getElementById("prize-row");
let couponTemplates = [];

function couponOptions(select) {
  select.replaceChildren(h("option", { value: "" }, "—"),
    ...couponTemplates.map((tpl) => h("option", { value: tpl.id }, `${tpl.name} (#${tpl.id})`)));
}

function renumber() {
  [...rows.rows].forEach((row, i) => {
    row.querySelectorAll("[data-name]").forEach((input) => { input.dataset.field = `prizes.${i}.${input.dataset.name}`; });
  });
}

function addPrize(prize = {}) {
  const row = rowTemplate.content.firstElementChild.cloneNode(true);
  couponOptions(row.querySelector(".coupon-select"));
  row.querySelectorAll("[data-name]").forEach((input) => { if (prize[input.dataset.name] !== undefined) input.value = prize[input.dataset.name]; });
  row.querySelector("[data-remove]").addEventListener("click", () => { row.remove(); renumber(); });
  rows.append(row);
  renumber();
}

function prizeRow(lottery, prize) {
  const stock = h("input", { type: "number", min: prize.won ?? 0, value: prize.stock_total, "aria-label": t("lottery.prize.stock_total") });
  const weight = h("input", { type: "number", min: 0, value: prize.weight, "aria-label": t("lottery.prize.weight") });
  const save = h("button", { type: "button" }, t("common.save"));
  save.addEventListener("click", () => busy(save, async () => {
    const result = await api("PATCH", `${PATH}/${lottery.id}/prizes/${prize.id}`, {
      body: { stock_total: Number(stock.value), weight: Number(weight.value) },
    });
    if (!result.ok) { flash(errorText(result.error), "error"); return; }
    flash(t("common.saved"));
    load();
  }));
  return h("tr", {}, [
    h("td", { "data-label": t("lottery.prize.name") }, prize.name),
    h("td", { "data-label": t("lottery.prize.kind") }, t(`lottery.prize.kind.${prize.kind}`) + (prize.kind === "points" ? ` ${prize.points}` : "")),
    h("td", { "data-label": t("lottery.prize.weight") }, weight),
    h("td", { "data-label": t("lottery.prize.stock_total") }, [t("lottery.prize.won", { won: prize.won ?? 0, total: prize.stock_total }), stock]),
    h("td", {}, save),
  ]);
}

function card(lottery) {
  const close = h("button", { type: "button", class: "danger" }, t("lottery.close"));
  close.addEventListener("click", () => busy(close, async () => {
    const result = await api("DELETE", `${PATH}/${lottery.id}`);
    if (!result.ok) { flash(errorText(result.error), "error"); return; }
    load();
  }));
  return h("section", { class: "card", dataset: { lotteryId: lottery.id } }, [
    h("h2", {}, [lottery.name, " ", h("span", { class: `badge ${lottery.status === "open" ? "ok" : ""}`, "data-testid": "lottery-status" }, t(`lottery.status.${lottery.status}`))]),
    h("p", { class: "hint" }, `${t("lottery.window")}: ${formatInstant(lottery.starts_at)} – ${formatInstant(lottery.ends_at)} · `
      + `${t("lottery.cost_points")}: ${lottery.cost_points} · ${t("lottery.daily_draw_limit")}: ${lottery.daily_draw_limit}`),
    h("div", { class: "table-wrap" }, h("table", { class: "stack" }, [
      h("thead", {}, h("tr", {}, [t("lottery.prize.name"), t("lottery.prize.kind"), t("lottery.prize.weight"), t("lottery.prize.stock_total"), ""].map((x) => h("th", {}, x)))),
      h("tbody", {}, lottery.prizes.map((p) => prizeRow(lottery, p))),
    ])),
    lottery.is_active ? h("p", {}, close) : null,
  ]);
}

async function load() {
  const result = await api("GET", PATH, { query: { limit: 100 } });
  if (isMissingEndpoint(result)) { notAvailable(document.querySelector("main"), `GET /staff/v1${PATH}`); return; }
  if (!result.ok) { list.replaceChildren(h("p", { class: "error" }, errorText(result.error))); return; }
  list.replaceChildren(...(result.data.items.length ? result.data.items.map(card) : [h("p", {}, t("common.none"))]));
}

async function loadCoupons() {
  const result = await api("GET", "/admin/coupon-templates", { query: { limit: 100 } });
  couponTemplates = result.ok ? result.data.items.filter((tpl) => tpl.is_active) : [];
}

document.getElementById("new-lottery").addEventListener("click", () => {
  form.reset(); rows.replaceChildren(); form.hidden = false;
  addPrize({ kind: "points", weight: 10, points: 10, stock_total: 100 });
  addPrize({ name: t("lottery.prize.kind.none"), kind: "none", weight: 90 });
  form.querySelector("[data-field=name]").focus();
});
document.getElementById("add-prize").addEventListener("click", () => addPrize({ kind: "points", weight: 1 }));
document.getElementById("cancel-lottery").addEventListener("click", () => { form.hidden = true; });
form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(form.querySelector("[type=submit]"), async () => {
    if (!validate(form)) return;
    const body = readFields(form);
    body.prizes = body.prizes || [];
    const result = await api("POST", PATH, { body });
    if (!result.ok) { showError(form, result.error); return; }
    form.hidden = true;
    flash(t("common.saved"));
    load();
  });
});
await loadCoupons();
load();
