// Staff (admin): list accounts, create one (clerks and managers belong to a store), change a
// role, store, name or password, and deactivate an account (kept for the audit trail).
import {
  api, busy, errorText, fillFields, flash, h, readFields, recordForm, t,
} from "./console.js";

const PATH = "/admin/staff";
const STORE_ROLES = ["clerk", "manager"];
const $ = (sel) => document.querySelector(sel);
const body = $("#staff tbody");
const form = $("#staff-form");
const storeSelect = $("#store-select");
const password = form.querySelector("[data-field=password]");
let editing = null; // the account being edited, or null for a new one
let storeNames = {};

function syncRole() {
  const storeRole = STORE_ROLES.includes(form.querySelector("[data-field=role]").value);
  storeSelect.required = storeRole;
  if (!storeRole) storeSelect.value = "";
  storeSelect.disabled = !storeRole;
}
form.querySelector("[data-field=role]").addEventListener("change", syncRole);

function openForm(account) {
  editing = account;
  form.reset();
  form.hidden = false;
  $("#staff-form-title").textContent = account ? t("staff.edit", { name: account.username }) : t("staff.new");
  const username = form.querySelector("[data-field=username]");
  username.disabled = account !== null; // a username never changes: the audit trail names it
  password.required = account === null;
  $("#password-label").textContent = t(account ? "staff.new_password" : "login.password");
  form.querySelector("[data-edit-only]").hidden = account === null;
  form.querySelector("[data-field=is_active]").disabled = account === null;
  if (account) fillFields(form, { ...account, store_id: account.store_id ?? "" });
  syncRole();
  (account ? form.querySelector("[data-field=display_name]") : username).focus();
}

function readAccount() {
  const fields = readFields(form);
  if (!STORE_ROLES.includes(fields.role)) fields.store_id = null; // disabled: not read
  if (!fields.password) delete fields.password; // editing: left empty keeps the password
  return fields;
}

function row(account) {
  const edit = h("button", { type: "button", "data-testid": "edit" }, t("common.edit"));
  edit.addEventListener("click", () => openForm(account));
  const off = h("button", { type: "button", class: "danger", "data-testid": "deactivate" }, t("staff.deactivate"));
  off.addEventListener("click", () => busy(off, async () => {
    const result = await api("DELETE", `${PATH}/${account.id}`);
    if (!result.ok) { flash(errorText(result.error), "error"); return; }
    load();
  }));
  return h("tr", { dataset: { staffId: account.id } }, [
    h("td", { "data-label": t("login.username") }, h("strong", {}, account.username)),
    h("td", { "data-label": t("staff.display_name") }, account.display_name || "—"),
    h("td", { "data-label": t("staff.role") }, h("span", { "data-testid": "staff-role" }, t(`role.${account.role}`))),
    h("td", { "data-label": t("staff.store") }, account.store_id ? (storeNames[account.store_id] || `#${account.store_id}`) : t("nav.all_stores")),
    h("td", { "data-label": t("common.status") }, h("span", { class: `badge ${account.is_active ? "ok" : ""}`, "data-testid": "staff-status" }, t(account.is_active ? "staff.active" : "staff.inactive"))),
    h("td", { "data-label": t("common.actions") }, h("div", { class: "row" }, [edit, account.is_active ? off : null])),
  ]);
}

async function load() {
  const result = await api("GET", PATH, { query: { limit: 100 } });
  if (!result.ok) { body.replaceChildren(h("tr", {}, h("td", { class: "error", colspan: 6 }, errorText(result.error)))); return; }
  body.replaceChildren(...(result.data.items.length ? result.data.items.map(row) : [h("tr", {}, h("td", { colspan: 6 }, t("common.none")))]));
}

storeNames = Object.fromEntries([...storeSelect.options].filter((o) => o.value).map((o) => [o.value, o.textContent]));
$("#new-staff").addEventListener("click", () => openForm(null));
$("#cancel-staff").addEventListener("click", () => { form.hidden = true; editing = null; });
recordForm(form, PATH, {
  current: () => editing,
  read: readAccount,
  done: () => { editing = null; load(); },
});
load();
