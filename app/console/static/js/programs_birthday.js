// The birthday gift (marketer+): GET and PUT /staff/v1/admin/programs/birthday.
import { api, fillFields, h, isMissingEndpoint, notAvailable, settingsForm, showError, t } from "./console.js";

const PATH = "/admin/programs/birthday";
const form = document.getElementById("birthday-form");
const couponSelect = document.getElementById("birthday-coupon");

function couponOptions(templates, selectedId) {
  const known = templates.some((tpl) => tpl.id === selectedId);
  couponSelect.replaceChildren(h("option", { value: "" }, t("birthday.no_coupon")),
    ...templates.map((tpl) => h("option", { value: tpl.id }, `${tpl.name} (#${tpl.id})`)),
    selectedId && !known ? h("option", { value: selectedId }, `#${selectedId}`) : null);
}

async function load() {
  const [program, coupons] = await Promise.all([
    api("GET", PATH), api("GET", "/admin/coupon-templates", { query: { limit: 100 } }),
  ]);
  if (isMissingEndpoint(program)) { notAvailable(document.querySelector("main"), `GET /staff/v1${PATH}`); return; }
  const templates = coupons.ok ? coupons.data.items.filter((tpl) => tpl.is_active) : [];
  couponOptions(templates, program.ok ? program.data.coupon_template_id : null);
  if (!program.ok) { showError(form, program.error); return; }
  fillFields(form, program.data);
}

settingsForm(form, PATH);
load();
