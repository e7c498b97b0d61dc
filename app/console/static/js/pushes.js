// Coupon push (marketer+): a coupon template and an audience (the campaigns page's builder, with
// its live count); the audience's members are fetched a push's worth (1000) at a time and pushed
// under one push_key, so pressing again (or a retried chunk) gives nobody a second coupon.
import { api, busy, errorText, flash, h, newKey, showError, t, validate } from "./console.js";
import { audienceBuilder } from "./audience.js";

const $ = (sel) => document.querySelector(sel);
const form = $("#push-form");
const select = $("#template");
const confirmBox = $("#push-confirm");
const resultCard = $("#push-result");
let templates = [];
let audienceCount = null;
let pushKey = null; // {key, fingerprint}: the same template and audience again is the same push

const audience = audienceBuilder($("#audience"), (n) => { audienceCount = n; });

async function loadTemplates() {
  const result = await api("GET", "/admin/coupon-templates", { query: { limit: 100 } });
  if (!result.ok) { flash(errorText(result.error), "error"); return; }
  templates = result.data.items.filter((tpl) => tpl.is_active);
  select.replaceChildren(h("option", { value: "" }, "—"),
    ...templates.map((tpl) => h("option", { value: tpl.id }, `${tpl.name} (#${tpl.id}) · ${t("push.stock_left", { n: tpl.stock_left })}`)));
}
select.addEventListener("change", () => {
  const tpl = templates.find((x) => String(x.id) === select.value);
  $("#template-note").textContent = tpl ? `${tpl.description || ""} ${t("push.stock_left", { n: tpl.stock_left })}` : "";
});

function showResult(total) {
  resultCard.hidden = false;
  resultCard.querySelector("[data-testid=fig-requested] strong").textContent = String(total.requested);
  resultCard.querySelector("[data-testid=fig-issued] strong").textContent = String(total.issued);
  resultCard.querySelector("[data-testid=fig-already] strong").textContent = String(total.already_had);
  resultCard.querySelector("[data-testid=fig-refused] strong").textContent = String(Object.keys(total.refused).length);
  const reasons = {};
  Object.values(total.refused).forEach((code) => { reasons[code] = (reasons[code] || 0) + 1; });
  $("#refusals").replaceChildren(...Object.entries(reasons).map(([code, n]) => h("li", {}, `${errorText({ code, message: "" })}: ${n}`)));
}

async function push() {
  const templateId = Number(select.value);
  const filter = audience.filter();
  const fingerprint = JSON.stringify([templateId, filter]);
  if (!pushKey || pushKey.fingerprint !== fingerprint) pushKey = { key: `console-${newKey()}`.slice(0, 64), fingerprint };
  const total = { requested: 0, issued: 0, already_had: 0, refused: {} };
  let cursor = null;
  do {
    const page = await api("POST", "/admin/audiences/members", { body: { filter, limit: 1000, cursor } });
    if (!page.ok) { showError(form, page.error); return; }
    if (page.data.items.length) {
      const result = await api("POST", `/admin/coupon-templates/${templateId}/pushes`, {
        body: { push_key: pushKey.key, member_ids: page.data.items },
      });
      if (!result.ok) { showError(form, result.error); if (total.requested) showResult(total); return; }
      total.requested += result.data.requested;
      total.issued += result.data.issued;
      total.already_had += result.data.already_had;
      Object.assign(total.refused, result.data.refused);
    }
    cursor = page.data.next_cursor;
  } while (cursor);
  showResult(total);
  flash(t("push.done", { n: total.issued }));
  const chosen = select.value;
  await loadTemplates(); // the stock left has changed
  select.value = chosen;
  select.dispatchEvent(new Event("change"));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!validate(form)) return;
  const tpl = templates.find((x) => String(x.id) === select.value);
  $("#push-question").textContent = t("push.question", { name: tpl ? tpl.name : select.value, n: audienceCount ?? "?" });
  confirmBox.hidden = false;
  $("#push-yes").focus();
});
$("#push-cancel").addEventListener("click", () => { confirmBox.hidden = true; });
$("#push-yes").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  confirmBox.hidden = true;
  await busy(form.querySelector("[type=submit]"), push);
}));
await loadTemplates();
audience.refresh();
