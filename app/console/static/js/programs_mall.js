// The points mall (marketer+): list the items, offer a new one, edit one, stop offering it.
import {
  api, busy, errorText, fillFields, flash, formatInstant, h, loadTable, readFields,
  recordForm, t,
} from "./console.js";

const PATH = "/admin/mall-items";
// What a PATCH may change (not the kind nor the coupon template: exchanges point at them).
const MUTABLE = ["name", "description", "cost_points", "stock_total", "limit_per_member", "tiers",
  "starts_at", "ends_at", "image_url", "is_active"];
const body = document.querySelector("#items tbody");
const form = document.getElementById("item-form");
const templateSelect = document.getElementById("coupon-template");
let couponTemplates = [];
let editing = null; // the item being edited, or null for a new one

function syncKind() {
  const kind = form.querySelector("[data-field=kind]").value;
  form.querySelectorAll("[data-kinds]").forEach((box) => {
    const on = box.dataset.kinds.split(" ").includes(kind);
    box.hidden = !on;
    box.querySelectorAll("select, input").forEach((input) => { input.disabled = !on || editing !== null; });
  });
}
form.querySelector("[data-field=kind]").addEventListener("change", syncKind);

function templateOptions(selectedId) {
  const known = couponTemplates.some((tpl) => tpl.id === selectedId);
  templateSelect.replaceChildren(h("option", { value: "" }, "—"),
    ...couponTemplates.map((tpl) => h("option", { value: tpl.id }, `${tpl.name} (#${tpl.id})`)),
    selectedId && !known ? h("option", { value: selectedId }, `#${selectedId}`) : null);
  templateSelect.value = selectedId ? String(selectedId) : "";
}

function tierBoxes() { return [...form.querySelectorAll("input[name=tier]")]; }

function readItem() {
  const fields = readFields(form);
  const ticked = tierBoxes().filter((box) => box.checked).map((box) => box.value);
  fields.tiers = ticked.length ? ticked : null; // none ticked: every tier
  if (!fields.image_url) delete fields.image_url;
  if (editing === null) return fields;
  return Object.fromEntries(Object.entries(fields).filter(([k]) => MUTABLE.includes(k)));
}

function openForm(item) {
  editing = item;
  form.reset();
  form.hidden = false;
  document.getElementById("item-form-title").textContent = item ? t("mall.edit", { name: item.name }) : t("mall.new");
  form.querySelector("[data-field=kind]").disabled = item !== null;
  templateOptions(item ? item.coupon_template_id : null);
  if (item) fillFields(form, item);
  tierBoxes().forEach((box) => { box.checked = Boolean(item && item.tiers && item.tiers.includes(box.value)); });
  syncKind();
  form.querySelector("[data-field=name]").focus();
}

function windowText(item) {
  if (!item.starts_at && !item.ends_at) return t("mall.always");
  return `${item.starts_at ? formatInstant(item.starts_at) : "…"} – ${item.ends_at ? formatInstant(item.ends_at) : "…"}`;
}

function kindText(item) {
  if (item.kind !== "coupon") return t("mall.kind.goods");
  const tpl = couponTemplates.find((x) => x.id === item.coupon_template_id);
  return `${t("mall.kind.coupon")}: ${tpl ? tpl.name : `#${item.coupon_template_id}`}`;
}

function row(item) {
  const edit = h("button", { type: "button", "data-testid": "edit" }, t("common.edit"));
  edit.addEventListener("click", () => openForm(item));
  const stop = h("button", { type: "button", class: "danger", "data-testid": "stop" }, t("mall.stop"));
  stop.addEventListener("click", () => busy(stop, async () => {
    const result = await api("DELETE", `${PATH}/${item.id}`);
    if (!result.ok) { flash(errorText(result.error), "error"); return; }
    load();
  }));
  return h("tr", { dataset: { itemId: item.id } }, [
    h("td", { "data-label": t("common.name") }, [
      h("strong", {}, item.name), h("div", { class: "hint" }, item.description || ""),
      item.image_url ? h("div", { class: "hint" }, h("a", { href: item.image_url, rel: "noopener noreferrer", target: "_blank" }, t("mall.image"))) : null,
    ]),
    h("td", { "data-label": t("mall.kind") }, kindText(item)),
    h("td", { "data-label": t("mall.cost_points") }, `${item.cost_points} ${t("common.points")}`),
    h("td", { "data-label": t("mall.stock") }, [
      t("mall.exchanged_of", { exchanged: item.exchanged, total: item.stock_total }),
      h("div", { class: "hint" }, `${t("mall.limit_per_member")} ${item.limit_per_member}`
        + ` · ${item.tiers ? item.tiers.join(", ") : t("mall.all_tiers")}`),
    ]),
    h("td", { "data-label": t("mall.window") }, windowText(item)),
    h("td", { "data-label": t("common.status") }, h("span", { class: `badge ${item.status === "offered" ? "ok" : ""}`, "data-testid": "item-status" }, t(`mall.status.${item.status}`))),
    h("td", { "data-label": t("common.actions") }, [edit, item.is_active ? stop : null]),
  ]);
}

function load() { return loadTable(body, PATH, row, 7); }

async function loadTemplates() {
  const result = await api("GET", "/admin/coupon-templates", { query: { limit: 100 } });
  couponTemplates = result.ok ? result.data.items.filter((tpl) => tpl.is_active) : [];
}

document.getElementById("new-item").addEventListener("click", () => openForm(null));
document.getElementById("cancel-item").addEventListener("click", () => { form.hidden = true; editing = null; });
recordForm(form, PATH, {
  current: () => editing,
  read: readItem,
  done: () => { editing = null; load(); },
});
await loadTemplates();
load();
