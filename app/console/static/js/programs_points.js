// Points and tiers (admin): GET and PUT /staff/v1/admin/programs/points, the tiers' perks
// (upgrade gift, monthly coupons, grace days) and points at the till (`redeem`) included.
// The PUT replaces the whole program: it sends back every field it read, changed where this
// page shows it, so nothing the page does not show (a field added later) is dropped.
import { api, config, fillFields, h, readFields, settingsForm, showError, t } from "./console.js";

const form = document.getElementById("points-form");
const body = document.querySelector("#tiers tbody");
const rowTemplate = document.getElementById("tier-row");
const limits = config.tiers;
const redeemInput = (name) => form.querySelector(`[data-field="redeem.${name}"]`);
let loaded = {}; // the program as the API last answered it
let couponTemplates = [];

function renumber() {
  [...body.rows].forEach((row, i) => {
    row.querySelectorAll("[data-name]").forEach((input) => { input.dataset.field = `tiers.${i}.${input.dataset.name}`; });
  });
  document.getElementById("add-tier").disabled = limits.max != null && body.rows.length >= limits.max;
  body.querySelectorAll("[data-remove]").forEach((b) => { b.disabled = limits.min != null && body.rows.length <= limits.min; });
}

function couponOptions(select, selected) {
  const ids = [...new Set([...couponTemplates.map((tpl) => tpl.id), ...selected])];
  const options = ids.map((id) => {
    const tpl = couponTemplates.find((x) => x.id === id);
    return h("option", { value: id, selected: selected.includes(id) }, tpl ? `${tpl.name} (#${id})` : `#${id}`);
  });
  if (select.multiple) select.replaceChildren(...options);
  else select.replaceChildren(h("option", { value: "" }, t("points.tier.no_coupon")), ...options);
  [...select.options].forEach((option) => { option.selected = selected.includes(Number(option.value)); });
  if (!select.multiple && !selected.length) select.value = "";
}

function addTier(tier = {}) {
  const row = rowTemplate.content.firstElementChild.cloneNode(true);
  row.tier = tier; // what the API said of this tier: fields not shown go back unchanged
  const gift = tier.upgrade_gift || {};
  row.querySelectorAll("input[data-name]").forEach((input) => {
    const name = input.dataset.name;
    const value = name === "upgrade_gift.points" ? (tier.upgrade_gift ? gift.points : "") : tier[name];
    input.value = value ?? "";
  });
  couponOptions(row.querySelector("[data-coupons=one]"), gift.coupon_template_id ? [gift.coupon_template_id] : []);
  couponOptions(row.querySelector("[data-coupons=many]"), tier.monthly_coupons || []);
  row.querySelector("[data-remove]").addEventListener("click", () => { row.remove(); renumber(); });
  body.append(row);
  renumber();
}

function perks(row) {
  const value = (name) => row.querySelector(`[data-name="${name}"]`).value;
  const giftPoints = value("upgrade_gift.points");
  const giftCoupon = value("upgrade_gift.coupon_template_id");
  const monthly = [...row.querySelector("[data-coupons=many]").selectedOptions].map((o) => Number(o.value));
  return {
    grace_days: value("grace_days") === "" ? 0 : Number(value("grace_days")),
    // Neither points nor a coupon: no gift (the API refuses an empty one).
    upgrade_gift: giftPoints === "" && giftCoupon === "" ? null : {
      points: giftPoints === "" ? 0 : Number(giftPoints),
      coupon_template_id: giftCoupon === "" ? null : Number(giftCoupon),
    },
    monthly_coupons: monthly,
  };
}

function readRedeem() {
  const perYuan = redeemInput("points_per_yuan_off").value;
  if (perYuan === "") return null; // the till takes no points
  const number = (name, fallback) => (redeemInput(name).value === "" ? fallback : Number(redeemInput(name).value));
  return {
    ...(loaded.redeem || {}),
    points_per_yuan_off: Number(perYuan),
    max_share_percent: number("max_share_percent", undefined),
    min_points: number("min_points", 0),
  };
}

function readProgram() {
  const fields = readFields(form);
  const tiers = [...body.rows].map((row, i) => ({ ...row.tier, ...(fields.tiers || [])[i], ...perks(row) }));
  return {
    ...loaded,
    ...fields,
    expiry: { ...loaded.expiry, ...fields.expiry }, // the other mode's number is kept
    tiers,
    redeem: readRedeem(),
  };
}

// A rule needs its share once it takes points; empty takes none.
function syncRedeem() {
  const perYuan = redeemInput("points_per_yuan_off");
  perYuan.required = false;
  redeemInput("max_share_percent").required = perYuan.value !== "";
}

function showMode() {
  const mode = document.getElementById("expiry-mode").value;
  form.querySelectorAll("[data-mode]").forEach((label) => {
    const on = label.dataset.mode === mode;
    label.hidden = !on;
    label.querySelector("input").disabled = !on;
  });
}

function show(program) {
  loaded = program;
  fillFields(form, program);
  ["points_per_yuan_off", "max_share_percent", "min_points"].forEach((name) => {
    redeemInput(name).value = program.redeem ? program.redeem[name] ?? "" : "";
  });
  body.replaceChildren();
  program.tiers.forEach(addTier);
  showMode();
  syncRedeem();
}

async function load() {
  const [result, coupons] = await Promise.all([
    api("GET", "/admin/programs/points"), api("GET", "/admin/coupon-templates", { query: { limit: 100 } }),
  ]);
  couponTemplates = coupons.ok ? coupons.data.items.filter((tpl) => tpl.is_active) : [];
  if (!result.ok) { showError(form, result.error); return; }
  show(result.data);
}

document.getElementById("add-tier").addEventListener("click", () => addTier({ multiplier_percent: 100 }));
document.getElementById("expiry-mode").addEventListener("change", showMode);
redeemInput("points_per_yuan_off").addEventListener("input", syncRedeem);
settingsForm(form, "/admin/programs/points", { read: readProgram, show });
load();
