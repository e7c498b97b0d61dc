// Stores (admin): list, open, edit and close stores; a store's POS keys: create one (its secret
// shown this once, with a copy button), list them (never a secret), revoke one after confirming.
import {
  api, busy, errorText, fillFields, flash, formatInstant, h, readFields, recordForm, t,
} from "./console.js";

const PATH = "/admin/stores";
const $ = (sel) => document.querySelector(sel);
const body = $("#stores tbody");
const form = $("#store-form");
const keys = $("#keys");
const secretBox = $("#new-secret");
const revokeBox = $("#revoke-confirm");
let editing = null; // the store being edited, or null for a new one
let keyStore = null; // the store whose keys are on show
let revoking = null; // the key waiting for confirmation

function openForm(store) {
  editing = store;
  form.reset();
  form.hidden = false;
  $("#store-form-title").textContent = store ? t("stores.edit", { name: store.name }) : t("stores.new");
  if (store) fillFields(form, store);
  form.querySelector("[data-field=code]").focus();
}

function row(store) {
  const edit = h("button", { type: "button", "data-testid": "edit" }, t("common.edit"));
  edit.addEventListener("click", () => openForm(store));
  const showKeys = h("button", { type: "button", "data-testid": "open-keys" }, t("keys.title_short"));
  showKeys.addEventListener("click", () => openKeys(store));
  const close = h("button", { type: "button", class: "danger", "data-testid": "close-store" }, t("stores.close"));
  close.addEventListener("click", () => busy(close, async () => {
    const result = await api("DELETE", `${PATH}/${store.id}`);
    if (!result.ok) { flash(errorText(result.error), "error"); return; }
    load();
  }));
  return h("tr", { dataset: { storeId: store.id } }, [
    h("td", { "data-label": t("stores.code") }, store.code),
    h("td", { "data-label": t("common.name") }, h("strong", {}, store.name)),
    h("td", { "data-label": t("stores.address") }, store.address || "—"),
    h("td", { "data-label": t("common.status") }, h("span", { class: `badge ${store.is_active ? "ok" : ""}`, "data-testid": "store-status" }, t(store.is_active ? "stores.open" : "stores.closed"))),
    h("td", { "data-label": t("common.actions") }, h("div", { class: "row" }, [edit, showKeys, store.is_active ? close : null])),
  ]);
}

async function load() {
  const result = await api("GET", PATH, { query: { limit: 100 } });
  if (!result.ok) { body.replaceChildren(h("tr", {}, h("td", { class: "error", colspan: 5 }, errorText(result.error)))); return; }
  body.replaceChildren(...(result.data.items.length ? result.data.items.map(row) : [h("tr", {}, h("td", { colspan: 5 }, t("common.none")))]));
}

// ---- POS keys ------------------------------------------------------------------------------

function keyRow(key) {
  const revoke = h("button", { type: "button", class: "danger", "data-testid": "revoke" }, t("keys.revoke"));
  revoke.addEventListener("click", () => {
    revoking = key;
    $("#revoke-question").textContent = t("keys.revoke_question", { key: key.key_id });
    revokeBox.hidden = false;
    $("#revoke-yes").focus();
  });
  return h("tr", { dataset: { keyId: key.key_id } }, [
    h("td", { "data-label": t("keys.key_id") }, h("code", {}, key.key_id)),
    h("td", { "data-label": t("keys.created_at") }, formatInstant(key.created_at)),
    h("td", { "data-label": t("keys.revoked_at") }, h("span", { "data-testid": "key-status" }, key.revoked_at ? formatInstant(key.revoked_at) : t("keys.in_use"))),
    h("td", { "data-label": t("common.actions") }, key.revoked_at ? null : revoke),
  ]);
}

async function loadKeys() {
  const list = $("#key-list tbody");
  const result = await api("GET", `${PATH}/${keyStore.id}/pos-keys`, { query: { limit: 100 } });
  if (!result.ok) { list.replaceChildren(h("tr", {}, h("td", { class: "error", colspan: 4 }, errorText(result.error)))); return; }
  list.replaceChildren(...(result.data.items.length ? result.data.items.map(keyRow) : [h("tr", {}, h("td", { colspan: 4 }, t("common.none")))]));
}

function hideSecret() {
  secretBox.hidden = true;
  $("#secret-value").textContent = ""; // gone from the page once put away
  $("#secret-key-id").textContent = "";
}

function openKeys(store) {
  keyStore = store;
  hideSecret();
  revokeBox.hidden = true;
  keys.hidden = false;
  $("#keys-title").textContent = t("keys.title", { name: store.name });
  loadKeys();
  keys.scrollIntoView({ block: "start" });
}

$("#new-key").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const result = await api("POST", `${PATH}/${keyStore.id}/pos-keys`);
  if (!result.ok) { flash(errorText(result.error), "error"); return; }
  $("#secret-key-id").textContent = result.data.key_id;
  $("#secret-value").textContent = result.data.secret;
  secretBox.hidden = false;
  loadKeys();
}));
$("#copy-secret").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("#secret-value").textContent);
    flash(t("keys.copied"));
  } catch (err) {
    // No clipboard (plain http, or refused): select the text so Ctrl+C copies it.
    const range = document.createRange();
    range.selectNodeContents($("#secret-value"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    flash(t("keys.copy_by_hand"), "error");
  }
});
$("#hide-secret").addEventListener("click", hideSecret);
$("#revoke-cancel").addEventListener("click", () => { revokeBox.hidden = true; revoking = null; });
$("#revoke-yes").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const result = await api("DELETE", `${PATH}/${keyStore.id}/pos-keys/${encodeURIComponent(revoking.key_id)}`);
  if (!result.ok) { flash(errorText(result.error), "error"); return; }
  revokeBox.hidden = true;
  flash(t("keys.revoked", { key: revoking.key_id }));
  revoking = null;
  loadKeys();
}));

// ---- the store form ------------------------------------------------------------------------

$("#new-store").addEventListener("click", () => openForm(null));
$("#cancel-store").addEventListener("click", () => { form.hidden = true; editing = null; });
recordForm(form, PATH, {
  current: () => editing,
  read: () => readFields(form),
  done: () => { editing = null; load(); },
});
load();
