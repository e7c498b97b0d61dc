// Paid membership (admin): list the plans, create one, edit one, take it off sale; refund an
// order by its number (POST /staff/v1/memberships/{order_no}/refund).
import {
  api, busy, errorText, fenToYuan, fillFields, flash, h, loadTable, newKey,
  readFields, recordForm, showError, t, validate,
} from "./console.js";

const PATH = "/admin/membership-plans";
const $ = (sel) => document.querySelector(sel);
const body = $("#plans tbody");
const form = $("#plan-form");
const refundForm = $("#refund-form");
const confirmBox = $("#refund-confirm");
let couponTemplates = [];
let editing = null; // the plan being edited, or null for a new one
let refundKey = null; // {key, fingerprint}: a retried refund keeps its Idempotency-Key

function couponBoxes() { return [...form.querySelectorAll("input[name=coupon]")]; }

function couponChecks(selected) {
  const ids = [...new Set([...couponTemplates.map((tpl) => tpl.id), ...selected])];
  $("#plan-coupons").replaceChildren(...(ids.length ? ids.map((id) => {
    const tpl = couponTemplates.find((x) => x.id === id);
    return h("label", { class: "check" }, [
      h("input", { type: "checkbox", name: "coupon", value: id, checked: selected.includes(id) }),
      ` ${tpl ? `${tpl.name} (#${id})` : `#${id}`}`,
    ]);
  }) : [h("span", { class: "hint" }, t("common.none"))]));
}

function couponName(id) {
  const tpl = couponTemplates.find((x) => x.id === id);
  return tpl ? tpl.name : `#${id}`;
}

function readPlan() {
  const fields = readFields(form);
  fields.monthly_coupons = couponBoxes().filter((box) => box.checked).map((box) => Number(box.value));
  return fields;
}

function openForm(plan) {
  editing = plan;
  form.reset();
  form.hidden = false;
  $("#plan-form-title").textContent = plan ? t("plans.edit", { name: plan.name }) : t("plans.new");
  couponChecks(plan ? plan.monthly_coupons : []);
  if (plan) fillFields(form, plan);
  form.querySelector("[data-field=name]").focus();
}

function row(plan) {
  const edit = h("button", { type: "button", "data-testid": "edit" }, t("common.edit"));
  edit.addEventListener("click", () => openForm(plan));
  const stop = h("button", { type: "button", class: "danger", "data-testid": "stop" }, t("plans.stop"));
  stop.addEventListener("click", () => busy(stop, async () => {
    const result = await api("DELETE", `${PATH}/${plan.id}`);
    if (!result.ok) { flash(errorText(result.error), "error"); return; }
    load();
  }));
  const coupons = plan.monthly_coupons.length ? plan.monthly_coupons.map(couponName).join(", ") : "—";
  return h("tr", { dataset: { planId: plan.id } }, [
    h("td", { "data-label": t("common.name") }, h("strong", {}, plan.name)),
    h("td", { "data-label": t("plans.price") }, fenToYuan(plan.price_fen)),
    h("td", { "data-label": t("plans.months") }, t("plans.months_n", { n: plan.months })),
    h("td", { "data-label": t("plans.multiplier") }, t("plans.times", { m: plan.multiplier })),
    h("td", { "data-label": t("plans.monthly_coupons") }, coupons),
    h("td", { "data-label": t("common.status") }, h("span", { class: `badge ${plan.is_active ? "ok" : ""}`, "data-testid": "plan-status" },
      t(plan.is_active ? "plans.status.on" : "plans.status.off"))),
    h("td", { "data-label": t("common.actions") }, [edit, plan.is_active ? stop : null]),
  ]);
}

function load() { return loadTable(body, PATH, row, 7); }

async function loadTemplates() {
  const result = await api("GET", "/admin/coupon-templates", { query: { limit: 100 } });
  couponTemplates = result.ok ? result.data.items.filter((tpl) => tpl.is_active) : [];
}

$("#new-plan").addEventListener("click", () => openForm(null));
$("#cancel-plan").addEventListener("click", () => { form.hidden = true; editing = null; });
recordForm(form, PATH, {
  current: () => editing,
  read: readPlan,
  done: () => { editing = null; load(); },
});

refundForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!validate(refundForm)) return;
  $("#refund-result").hidden = true;
  $("#refund-question").textContent = t("plans.refund_question", { order: readFields(refundForm).order_no.trim() });
  confirmBox.hidden = false;
  $("#refund-yes").focus();
});
$("#refund-cancel").addEventListener("click", () => { confirmBox.hidden = true; });
$("#refund-yes").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const fields = readFields(refundForm);
  const orderNo = fields.order_no.trim();
  const fingerprint = JSON.stringify([orderNo, fields.reason]);
  if (!refundKey || refundKey.fingerprint !== fingerprint) refundKey = { key: newKey(), fingerprint };
  const result = await api("POST", `/memberships/${encodeURIComponent(orderNo)}/refund`, {
    body: { reason: fields.reason }, idempotencyKey: refundKey.key,
  });
  if (result.status !== 0) refundKey = null; // answered: the next submission is a new refund
  confirmBox.hidden = true;
  if (!result.ok) { showError(refundForm, result.error); return; }
  const answer = result.data;
  const box = $("#refund-result");
  box.textContent = t("plans.refund_done", {
    order: answer.order_no, amount: fenToYuan(answer.refund_fen), months: answer.refund_months,
    status: t(`plans.refund.${answer.status}`),
  });
  box.hidden = false;
}));

await loadTemplates();
load();
