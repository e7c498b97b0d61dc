// Segment rules (admin): GET and PUT /staff/v1/admin/programs/segments.
import { api, fillFields, isMissingEndpoint, notAvailable, settingsForm, showError } from "./console.js";

const PATH = "/admin/programs/segments";
const form = document.getElementById("segrules-form");

async function load() {
  const result = await api("GET", PATH);
  if (isMissingEndpoint(result)) { notAvailable(document.querySelector("main"), `GET /staff/v1${PATH}`); return; }
  if (!result.ok) { showError(form, result.error); return; }
  fillFields(form, result.data);
}

settingsForm(form, PATH);
load();
