// Points promotions (marketer+): list them, create one, edit one, stop it.
import {
  api, busy, errorText, fillFields, flash, formatInstant, h, loadTable, readFields,
  showError, t, validate,
} from "./console.js";

const PATH = "/admin/promotions";
const body = document.querySelector("#promotions tbody");
const form = document.getElementById("promotion-form");
const daysMode = document.getElementById("days-mode");
const monthDays = document.getElementById("month-days");
let editing = null; // the promotion being edited, or null for a new one

function boxes(name) { return [...form.querySelectorAll(`input[name=${name}]`)]; }
function ticked(name, asNumber) {
  const values = boxes(name).filter((box) => box.checked).map((box) => (asNumber ? Number(box.value) : box.value));
  return values.length ? values : null; // none ticked: all
}

function syncDays() {
  form.querySelectorAll("[data-days]").forEach((box) => { box.hidden = box.dataset.days !== daysMode.value; });
}
daysMode.addEventListener("change", syncDays);

function readPromotion() {
  const fields = readFields(form);
  fields.weekdays = daysMode.value === "weekdays" ? ticked("weekday", true) : null;
  fields.month_days = null;
  if (daysMode.value === "month_days") {
    const days = monthDays.value.split(/[,，\s]+/).filter(Boolean).map(Number);
    fields.month_days = days.length ? days : null;
  }
  fields.store_ids = ticked("store", true);
  fields.tiers = ticked("tier", false);
  if (!fields.categories || !fields.categories.length) fields.categories = null;
  return fields;
}

function openForm(promotion) {
  editing = promotion;
  form.reset();
  form.hidden = false;
  document.getElementById("promotion-form-title").textContent = promotion
    ? t("promo.edit", { name: promotion.name }) : t("promo.new");
  if (promotion) fillFields(form, promotion);
  daysMode.value = promotion && promotion.weekdays ? "weekdays" : promotion && promotion.month_days ? "month_days" : "every";
  monthDays.value = promotion && promotion.month_days ? promotion.month_days.join(", ") : "";
  const has = (list, value) => Boolean(list && list.map(String).includes(value));
  boxes("weekday").forEach((box) => { box.checked = has(promotion && promotion.weekdays, box.value); });
  boxes("store").forEach((box) => { box.checked = has(promotion && promotion.store_ids, box.value); });
  boxes("tier").forEach((box) => { box.checked = has(promotion && promotion.tiers, box.value); });
  syncDays();
  form.querySelector("[data-field=name]").focus();
}

function storeName(id) {
  const box = boxes("store").find((b) => b.value === String(id));
  return box ? box.parentElement.textContent.trim() : `#${id}`;
}

function daysText(promotion) {
  if (promotion.weekdays) return promotion.weekdays.map((d) => t(`promo.weekday.${d}`)).join(" ");
  if (promotion.month_days) return `${t("promo.days.month_days")}: ${promotion.month_days.join(", ")}`;
  return t("promo.days.every");
}

function status(promotion) {
  const now = Date.now();
  if (!promotion.is_active) return "stopped";
  if (now < Date.parse(promotion.starts_at)) return "upcoming";
  if (now >= Date.parse(promotion.ends_at)) return "ended";
  return "on";
}

function row(promotion) {
  const edit = h("button", { type: "button", "data-testid": "edit" }, t("common.edit"));
  edit.addEventListener("click", () => openForm(promotion));
  const stop = h("button", { type: "button", class: "danger", "data-testid": "stop" }, t("promo.stop"));
  stop.addEventListener("click", () => busy(stop, async () => {
    const result = await api("DELETE", `${PATH}/${promotion.id}`);
    if (!result.ok) { flash(errorText(result.error), "error"); return; }
    load();
  }));
  const all = t("promo.all");
  const state = status(promotion);
  return h("tr", { dataset: { promotionId: promotion.id } }, [
    h("td", { "data-label": t("common.name") }, h("strong", {}, promotion.name)),
    h("td", { "data-label": t("promo.col.multiplier") }, t("promo.times", { m: promotion.multiplier })),
    h("td", { "data-label": t("promo.days") }, [
      h("div", {}, daysText(promotion)),
      h("div", { class: "hint" }, `${formatInstant(promotion.starts_at)} – ${formatInstant(promotion.ends_at)}`),
    ]),
    h("td", { "data-label": t("promo.scope") }, h("div", { class: "hint" }, [
      `${t("promo.col.stores")}: ${promotion.store_ids ? promotion.store_ids.map(storeName).join(", ") : all}`, h("br"),
      `${t("promo.col.tiers")}: ${promotion.tiers ? promotion.tiers.join(", ") : all}`, h("br"),
      `${t("promo.col.categories")}: ${promotion.categories ? promotion.categories.join(", ") : all}`,
    ])),
    h("td", { "data-label": t("common.status") }, h("span", { class: `badge ${state === "on" ? "ok" : ""}`, "data-testid": "promotion-status" }, t(`promo.status.${state}`))),
    h("td", { "data-label": t("common.actions") }, [edit, promotion.is_active ? stop : null]),
  ]);
}

function load() { return loadTable(body, PATH, row, 6); }

document.getElementById("new-promotion").addEventListener("click", () => openForm(null));
document.getElementById("cancel-promotion").addEventListener("click", () => { form.hidden = true; editing = null; });
form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(form.querySelector("[type=submit]"), async () => {
    if (!validate(form)) return;
    const fields = readPromotion();
    const result = editing === null
      ? await api("POST", PATH, { body: fields })
      : await api("PATCH", `${PATH}/${editing.id}`, { body: fields });
    if (!result.ok) { showError(form, result.error); return; }
    form.hidden = true;
    editing = null;
    flash(t("common.saved"));
    load();
  });
});
load();
