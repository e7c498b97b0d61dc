// Points and tiers (admin): GET and PUT /staff/v1/admin/programs/points.
import { api, busy, config, fillFields, flash, readFields, showError, t, validate } from "./console.js";

const form = document.getElementById("points-form");
const body = document.querySelector("#tiers tbody");
const rowTemplate = document.getElementById("tier-row");
const limits = config.tiers;

function renumber() {
  [...body.rows].forEach((row, i) => {
    row.querySelectorAll("[data-name]").forEach((input) => { input.dataset.field = `tiers.${i}.${input.dataset.name}`; });
  });
  document.getElementById("add-tier").disabled = limits.max != null && body.rows.length >= limits.max;
  body.querySelectorAll("[data-remove]").forEach((b) => { b.disabled = limits.min != null && body.rows.length <= limits.min; });
}

function addTier(tier = {}) {
  const row = rowTemplate.content.firstElementChild.cloneNode(true);
  row.querySelectorAll("[data-name]").forEach((input) => { input.value = tier[input.dataset.name] ?? ""; });
  row.querySelector("[data-remove]").addEventListener("click", () => { row.remove(); renumber(); });
  body.append(row);
  renumber();
}

function showMode() {
  const mode = document.getElementById("expiry-mode").value;
  form.querySelectorAll("[data-mode]").forEach((label) => {
    const on = label.dataset.mode === mode;
    label.hidden = !on;
    label.querySelector("input").disabled = !on;
  });
}

async function load() {
  const result = await api("GET", "/admin/programs/points");
  if (!result.ok) { showError(form, result.error); return; }
  fillFields(form, result.data);
  body.replaceChildren();
  result.data.tiers.forEach(addTier);
  showMode();
}

document.getElementById("add-tier").addEventListener("click", () => addTier({ multiplier_percent: 100 }));
document.getElementById("expiry-mode").addEventListener("change", showMode);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(form.querySelector("[type=submit]"), async () => {
    if (!validate(form)) return;
    const result = await api("PUT", "/admin/programs/points", { body: readFields(form) });
    if (!result.ok) { showError(form, result.error); return; }
    fillFields(form, result.data);
    flash(t("common.saved"));
  });
});
load();
