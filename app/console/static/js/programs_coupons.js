// Coupon templates (marketer+): list, design a new one, change stock, stop offering.
import {
  api, busy, errorText, fenToYuan, flash, formatDate, h, isMissingEndpoint, notAvailable, readFields,
  showError, t, validate,
} from "./console.js";

const PATH = "/admin/coupon-templates";
const body = document.querySelector("#templates tbody");
const form = document.getElementById("template-form");

// Show only the fields that belong to the chosen kind, validity and audience (others are not sent).
function toggle(attr, value) {
  form.querySelectorAll(`[data-${attr}]`).forEach((box) => {
    const on = box.dataset[attr].split(" ").includes(value);
    box.hidden = !on;
    box.querySelectorAll("input").forEach((input) => { input.disabled = !on; });
  });
}
function syncForm() {
  toggle("kinds", form.querySelector("[data-field=kind]").value);
  toggle("validity", form.querySelector("[data-field=validity_mode]").value);
  toggle("audience", form.querySelector("[data-field=audience]").value);
}
form.addEventListener("change", syncForm);

function validity(tpl) {
  if (tpl.validity_mode === "fixed") return `${formatDate(tpl.valid_from)} – ${formatDate(tpl.valid_until)}`;
  return t("coupon.valid_days_n", { n: tpl.valid_days });
}

function row(tpl) {
  const stockInput = h("input", { type: "number", min: tpl.issued, value: tpl.stock_total, "aria-label": t("coupon.stock_total") });
  const save = h("button", { type: "button" }, t("common.save"));
  save.addEventListener("click", () => busy(save, async () => {
    const result = await api("PATCH", `${PATH}/${tpl.id}`, { body: { stock_total: Number(stockInput.value) } });
    if (!result.ok) { flash(errorText(result.error), "error"); return; }
    flash(t("common.saved"));
    load();
  }));
  const stop = h("button", { type: "button", class: "danger" }, t("coupon.stop"));
  stop.addEventListener("click", () => busy(stop, async () => {
    const result = await api("DELETE", `${PATH}/${tpl.id}`);
    if (!result.ok) { flash(errorText(result.error), "error"); return; }
    load();
  }));
  return h("tr", { dataset: { templateId: tpl.id } }, [
    h("td", { "data-label": t("common.name") }, [h("strong", {}, tpl.name), h("div", { class: "hint" }, tpl.description || "")]),
    h("td", { "data-label": t("coupon.kind") }, [t(`coupon.kind.${tpl.kind}`), h("div", { class: "hint" }, describe(tpl))]),
    h("td", { "data-label": t("coupon.validity") }, validity(tpl)),
    h("td", { "data-label": t("coupon.stock") }, [t("coupon.issued_of", { issued: tpl.issued, total: tpl.stock_total }), stockInput, save]),
    h("td", { "data-label": t("common.status") }, h("span", { class: `badge ${tpl.status === "offered" ? "ok" : ""}`, "data-testid": "template-status" }, t(`coupon.status.${tpl.status}`))),
    h("td", { "data-label": t("common.actions") }, tpl.is_active ? stop : ""),
  ]);
}

function describe(tpl) {
  if (tpl.kind === "threshold_off") return t("coupon.desc.threshold_off", { threshold: fenToYuan(tpl.threshold_fen), off: fenToYuan(tpl.amount_off_fen) });
  if (tpl.kind === "amount_off") return t("coupon.desc.amount_off", { off: fenToYuan(tpl.amount_off_fen) });
  return t("coupon.desc.percent_off", { percent: tpl.percent_off });
}

async function load() {
  const result = await api("GET", PATH, { query: { limit: 100 } });
  if (isMissingEndpoint(result)) { notAvailable(document.querySelector("main"), `GET /staff/v1${PATH}`); return; }
  if (!result.ok) { body.replaceChildren(h("tr", {}, h("td", { class: "error", colspan: 6 }, errorText(result.error)))); return; }
  body.replaceChildren(...(result.data.items.length ? result.data.items.map(row) : [h("tr", {}, h("td", { colspan: 6 }, t("common.none")))]));
}

document.getElementById("new-template").addEventListener("click", () => {
  form.reset(); form.hidden = false; syncForm();
  form.querySelector("[data-field=name]").focus();
});
document.getElementById("cancel-template").addEventListener("click", () => { form.hidden = true; });
form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(form.querySelector("[type=submit]"), async () => {
    if (!validate(form)) return;
    const result = await api("POST", PATH, { body: readFields(form) });
    if (!result.ok) { showError(form, result.error); return; }
    form.hidden = true;
    flash(t("common.saved"));
    load();
  });
});
load();
