// Check-in rules (admin): GET and PUT /staff/v1/admin/programs/checkin.
import { api, busy, config, fillFields, flash, readFields, showError, t, validate } from "./console.js";

const form = document.getElementById("checkin-form");
const days = document.getElementById("rewards");
const cell = document.getElementById("reward-cell");
const limits = config.rewards;

function renumber() {
  [...days.children].forEach((label, i) => {
    label.querySelector("span").textContent = t("checkin.day", { n: i + 1 });
    label.querySelector("input").dataset.field = `rewards.${i}`;
  });
  document.getElementById("add-day").disabled = limits.max != null && days.children.length >= limits.max;
  days.querySelectorAll("[data-remove]").forEach((b) => { b.disabled = limits.min != null && days.children.length <= limits.min; });
}

function addDay(points) {
  const label = cell.content.firstElementChild.cloneNode(true);
  label.querySelector("input").value = points ?? "";
  label.querySelector("[data-remove]").addEventListener("click", () => { label.remove(); renumber(); });
  days.append(label);
  renumber();
}

async function load() {
  const result = await api("GET", "/admin/programs/checkin");
  if (!result.ok) { showError(form, result.error); return; }
  days.replaceChildren();
  result.data.rewards.forEach(addDay);
  fillFields(form, result.data);
}

document.getElementById("add-day").addEventListener("click", () => addDay(""));
form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(form.querySelector("[type=submit]"), async () => {
    if (!validate(form)) return;
    const result = await api("PUT", "/admin/programs/checkin", { body: readFields(form) });
    if (!result.ok) { showError(form, result.error); return; }
    flash(t("common.saved"));
  });
});
load();
