// The referral program (marketer+): GET and PUT /staff/v1/admin/programs/referral.
import { api, fillFields, h, isMissingEndpoint, notAvailable, settingsForm, showError, t } from "./console.js";

const PATH = "/admin/programs/referral";
const form = document.getElementById("referral-form");

async function load() {
  const [program, coupons] = await Promise.all([
    api("GET", PATH), api("GET", "/admin/coupon-templates", { query: { limit: 100 } }),
  ]);
  if (isMissingEndpoint(program)) { notAvailable(document.querySelector("main"), `GET /staff/v1${PATH}`); return; }
  const templates = coupons.ok ? coupons.data.items : [];
  form.querySelectorAll(".coupon-select").forEach((select) => {
    select.replaceChildren(h("option", { value: "" }, t("referral.no_coupon")),
      ...templates.map((tpl) => h("option", { value: tpl.id }, `${tpl.name} (#${tpl.id})`)));
  });
  if (!program.ok) { showError(form, program.error); return; }
  fillFields(form, program.data);
}

settingsForm(form, PATH);
load();
