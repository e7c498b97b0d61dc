// Members (manager+): find a member by phone or member number, see their balance, tier, coupons
// and recent purchases, adjust their points with a reason, close the account when they ask.
import {
  api, busy, clearErrors, errorText, fenToYuan, flash, formatInstant, h, newKey, readFields,
  showError, t, validate,
} from "./console.js";

const $ = (sel) => document.querySelector(sel);
const searchForm = $("#search-form");
const results = $("#results");
const card = $("#member");
const adjustForm = $("#adjust-form");
const closure = $("#closure");
const confirmBox = $("#close-confirm");
let current = null; // the member on show
let adjustKey = null; // {key, fingerprint}: a retried adjustment keeps its Idempotency-Key

function resultRow(m) {
  const open = h("button", { type: "button", "data-testid": "open-member" }, t("members.open"));
  open.addEventListener("click", () => showMember(m));
  return h("tr", { dataset: { memberId: m.id } }, [
    h("td", { "data-label": t("till.member_no") }, m.member_no),
    h("td", { "data-label": t("members.nickname") }, m.nickname),
    h("td", { "data-label": t("till.phone") }, m.phone_masked || "—"),
    h("td", { "data-label": t("till.tier") }, m.tier.name),
    h("td", { "data-label": t("till.balance") }, String(m.points_balance)),
    h("td", { "data-label": t("common.actions") }, open),
  ]);
}

async function search(query) {
  const result = await api("GET", "/members", { query });
  if (!result.ok) { showError(searchForm, result.error); return null; }
  const found = result.data.items;
  results.hidden = false;
  results.querySelector("tbody").replaceChildren(...(found.length
    ? found.map(resultRow)
    : [h("tr", {}, h("td", { colspan: 6, "data-testid": "no-results" }, t("members.not_found")))]));
  return found;
}

function couponItem(c) {
  return h("li", { class: "coupon" }, [
    h("span", { class: "coupon-text" }, c.discount_desc && c.discount_desc !== c.name ? `${c.name} · ${c.discount_desc}` : c.name),
    h("span", { class: "hint" }, t("till.valid_until", { date: c.valid_until_date || formatInstant(c.valid_until) })),
  ]);
}

function purchaseRow(p) {
  const refunded = p.refunded_fen ? ` (${t("members.refunded", { yuan: fenToYuan(p.refunded_fen) })})` : "";
  return h("tr", {}, [
    h("td", { "data-label": t("till.order_no") }, p.order_no),
    h("td", { "data-label": t("members.store") }, p.store.name),
    h("td", { "data-label": t("members.amount") }, `${fenToYuan(p.amount_fen)} ${t("common.yuan")}${refunded}`),
    h("td", { "data-label": t("members.points_awarded") }, String(p.points_awarded - (p.points_reversed || 0))),
    h("td", { "data-label": t("members.paid_at") }, formatInstant(p.paid_at)),
  ]);
}

async function loadPurchases(member) {
  const body = $("#purchases tbody");
  body.replaceChildren(h("tr", {}, h("td", { colspan: 5 }, t("common.loading"))));
  const result = await api("GET", `/members/${member.id}/purchases`, { query: { limit: 10 } });
  if (!result.ok) { body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "error" }, errorText(result.error)))); return; }
  body.replaceChildren(...(result.data.items.length ? result.data.items.map(purchaseRow) : [h("tr", {}, h("td", { colspan: 5 }, t("common.none")))]));
}

function showMember(m) {
  current = m;
  $("#member-title").textContent = m.nickname;
  $("#m-member-no").textContent = m.member_no;
  $("#m-phone").textContent = m.phone_masked || "—";
  $("#m-tier").textContent = m.tier.name;
  $("#m-balance").textContent = String(m.points_balance);
  $("#m-coupons").replaceChildren(...(m.coupons.length ? m.coupons.map(couponItem) : [h("li", { class: "empty" }, t("till.no_coupons"))]));
  card.hidden = false;
  adjustForm.hidden = false;
  closure.hidden = false;
  confirmBox.hidden = true;
  clearErrors(adjustForm);
  loadPurchases(m);
}

// The member as the API has them now (after an adjustment: the new balance).
async function reloadMember() {
  const found = await search({ member_no: current.member_no });
  const fresh = found && found.find((m) => m.id === current.id);
  if (fresh) showMember(fresh);
}

searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(searchForm.querySelector("[type=submit]"), async () => {
    const oneGiven = () => {
      const f = readFields(searchForm);
      return f.phone || f.member_no ? {} : { phone: t("members.give_one") };
    };
    if (!validate(searchForm, oneGiven)) return;
    const fields = readFields(searchForm);
    card.hidden = adjustForm.hidden = closure.hidden = true;
    const found = await search({ phone: fields.phone, member_no: fields.member_no });
    if (found && found.length === 1) showMember(found[0]);
  });
});

adjustForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(adjustForm.querySelector("[type=submit]"), async () => {
    if (!validate(adjustForm)) return;
    const body = readFields(adjustForm);
    const fingerprint = JSON.stringify([current.id, body]);
    if (!adjustKey || adjustKey.fingerprint !== fingerprint) adjustKey = { key: newKey(), fingerprint };
    const result = await api("POST", `/members/${current.id}/points/adjustments`, { body, idempotencyKey: adjustKey.key });
    if (result.status !== 0) adjustKey = null; // answered: the next submission is a new adjustment
    if (!result.ok) { showError(adjustForm, result.error); return; }
    adjustForm.reset();
    flash(t("members.adjusted", { delta: result.data.delta, balance: result.data.balance_after }));
    await reloadMember();
  });
});

$("#close-account").addEventListener("click", () => {
  $("#close-question").textContent = t("members.close_question", { name: current.nickname, no: current.member_no });
  confirmBox.hidden = false;
  $("#close-yes").focus();
});
$("#close-cancel").addEventListener("click", () => { confirmBox.hidden = true; });
$("#close-yes").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const result = await api("DELETE", `/members/${current.id}`);
  if (!result.ok) { flash(errorText(result.error), "error"); return; }
  flash(t("members.closed", { no: current.member_no }));
  results.querySelector(`tr[data-member-id="${current.id}"]`)?.remove();
  card.hidden = adjustForm.hidden = closure.hidden = true;
  current = null;
}));
