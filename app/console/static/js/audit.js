// The audit trail (manager+: a manager sees their store's): who wrote what, where and when,
// filtered by staff, store, action and business days, newest first, a page at a time.
import { api, busy, config, formatInstant, h, readFields, showError, t, validate } from "./console.js";

const form = document.getElementById("filters");
const body = document.querySelector("#entries tbody");
const more = document.getElementById("more");
const known = document.getElementById("known-actions");
const actions = new Set();
let query = {};
let cursor = null;

function storeName(id) {
  if (id == null) return t("audit.chain");
  return config.store_names[id] || `#${id}`;
}

function row(e) {
  actions.add(e.action);
  return h("tr", { dataset: { entryId: e.id } }, [
    h("td", { "data-label": t("audit.when") }, formatInstant(e.created_at)),
    h("td", { "data-label": t("audit.staff") }, h("span", { "data-testid": "entry-staff" }, e.staff_username)),
    h("td", { "data-label": t("audit.store") }, storeName(e.store_id)),
    h("td", { "data-label": t("audit.action") }, h("code", { "data-testid": "entry-action" }, e.action)),
    h("td", { "data-label": t("audit.target") }, `${e.target_type} #${e.target_id}`),
    h("td", { "data-label": t("audit.details") }, h("code", { class: "hint", "data-testid": "entry-details" }, JSON.stringify(e.details))),
  ]);
}

async function load(append) {
  const result = await api("GET", "/admin/audit", { query: { ...query, limit: 50, cursor: append ? cursor : null } });
  if (!result.ok) { showError(form, result.error); body.replaceChildren(); more.hidden = true; return; }
  const rows = result.data.items.map(row);
  if (append) body.append(...rows);
  else body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 6, "data-testid": "none" }, t("common.none")))]));
  known.replaceChildren(...[...actions].sort().map((a) => h("option", { value: a })));
  cursor = result.data.next_cursor;
  more.hidden = !cursor;
  body.closest("table").dataset.loaded = "yes";
}

function apply() {
  const fields = readFields(form);
  query = {};
  for (const [k, v] of Object.entries(fields)) if (v !== "" && v != null) query[k] = String(v).trim();
  cursor = null;
  delete body.closest("table").dataset.loaded;
  return load(false);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const ordered = () => {
    const f = readFields(form);
    return f.from && f.to && f.from > f.to ? { to: t("audit.to_before_from") } : {};
  };
  busy(form.querySelector("[type=submit]"), async () => { if (validate(form, ordered)) await apply(); });
});
form.addEventListener("reset", () => setTimeout(apply, 0));
more.addEventListener("click", () => busy(more, () => load(true)));
apply();
