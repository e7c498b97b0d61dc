// Segment rules (admin): GET and PUT /staff/v1/admin/programs/segments.
import { api, busy, fillFields, flash, isMissingEndpoint, notAvailable, readFields, showError, t, validate } from "./console.js";

const PATH = "/admin/programs/segments";
const form = document.getElementById("segrules-form");

async function load() {
  const result = await api("GET", PATH);
  if (isMissingEndpoint(result)) { notAvailable(document.querySelector("main"), `GET /staff/v1${PATH}`); return; }
  if (!result.ok) { showError(form, result.error); return; }
  fillFields(form, result.data);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(form.querySelector("[type=submit]"), async () => {
    if (!validate(form)) return;
    const result = await api("PUT", PATH, { body: readFields(form) });
    if (!result.ok) { showError(form, result.error); return; }
    fillFields(form, result.data);
    flash(t("common.saved"));
  });
});
load();
