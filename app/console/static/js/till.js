// The till: scan or type the member code, then record the sale, redeem a coupon, or refund.
import {
  api, busy, clearErrors, fenToYuan, flash, formatDate, formatInstant, h,
  isMissingEndpoint, newKey, showError, t, validate, yuanToFen,
} from "./console.js";
import { startScanner } from "./scanner.js";

const $ = (sel) => document.querySelector(sel);
const scanForm = $("#scan-form");
const orderForm = $("#order-form");
const purchaseForm = $("#purchase-form");
const redeemForm = $("#redeem-form");
const refundForm = $("#refund-form");

// What the till knows about the customer in front of it.
const state = { scan: null, coupon: null, redemption: null, preview: null, keys: {} };
let stopCamera = null;

function defaultOrderNo() {
  const now = new Date();
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `P${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`
    + `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}${pad(Math.floor(Math.random() * 1000), 3)}`;
}

// The same action retried (a network failure) keeps its Idempotency-Key; a new action gets a new one.
function keyFor(action, fingerprint) {
  const held = state.keys[action];
  if (held && held.fingerprint === fingerprint) return held.key;
  const key = newKey();
  state.keys[action] = { key, fingerprint };
  return key;
}
function settle(action, result) {
  if (result.status !== 0 && result.error?.code !== "idempotency.in_progress") delete state.keys[action];
}

// ---- the member ----------------------------------------------------------------------------

function showMember(scan) {
  state.scan = scan;
  const m = scan.member;
  $("#m-nickname").textContent = m.nickname;
  $("#m-member-no").textContent = m.member_no;
  $("#m-phone").textContent = m.phone_masked || "—";
  $("#m-tier").textContent = m.tier ? m.tier.name : "—";
  $("#m-balance").textContent = `${m.points_balance} ${t("common.points")}`;
  $("#m-scan-valid").textContent = t("till.scan_valid_until", { time: formatInstant(scan.expires_at) });
  renderCoupons(m.coupons || []);
  scanForm.hidden = true;
  $("#member").hidden = false;
  $("#sale-card").hidden = false;
  orderForm.order_no.value = defaultOrderNo();
  orderForm.order_amount.focus();
}

function resetMember() {
  state.scan = null; state.coupon = null; state.redemption = null; state.preview = null; state.keys = {};
  scanForm.reset();
  clearErrors(scanForm);
  scanForm.hidden = false;
  $("#member").hidden = true;
  $("#sale-card").hidden = true;
  orderForm.reset(); purchaseForm.reset(); redeemForm.hidden = true;
  $("#purchase-result").hidden = true;
  scanForm.member_code.focus();
}

async function lookUp(code) {
  scanForm.member_code.value = code;
  if (!validate(scanForm)) return;
  const button = scanForm.querySelector("[type=submit]");
  await busy(button, async () => {
    const result = await api("POST", "/scans", { body: { member_code: scanForm.member_code.value.trim() } });
    if (!result.ok) { showError(scanForm, result.error); return; }
    showMember(result.data);
  });
}

scanForm.addEventListener("submit", (event) => { event.preventDefault(); lookUp(scanForm.member_code.value); });
$("#next-member").addEventListener("click", resetMember);

$("#camera-button").addEventListener("click", async () => {
  const box = $("#camera");
  if (stopCamera) { stopCamera(); stopCamera = null; box.hidden = true; $("#camera-button").textContent = t("till.scan"); return; }
  box.hidden = false;
  $("#camera-status").textContent = "";
  try {
    stopCamera = await startScanner($("#camera-video"), (code) => {
      stopCamera = null; box.hidden = true; $("#camera-button").textContent = t("till.scan");
      lookUp(code);
    });
    $("#camera-button").textContent = t("till.scan_stop");
  } catch (err) {
    box.hidden = true;
    stopCamera = null;
    flash(t("till.camera_unavailable"), "error");
  }
});

// ---- coupons -------------------------------------------------------------------------------

function renderCoupons(coupons) {
  const list = $("#coupons");
  if (!coupons.length) { list.replaceChildren(h("li", { class: "empty" }, t("till.no_coupons"))); return; }
  list.replaceChildren(...coupons.map((coupon) => h("li", { class: "coupon", dataset: { couponId: coupon.id } }, [
    h("div", { class: "coupon-text" }, [
      h("strong", {}, coupon.name || coupon.code),
      coupon.discount_desc ? h("span", {}, coupon.discount_desc) : null,
      coupon.valid_until_date ? h("small", {}, t("till.valid_until", { date: coupon.valid_until_date.replaceAll("-", "/") })) : null,
    ]),
    h("button", { type: "button", class: "big", onclick: () => chooseCoupon(coupon), "data-testid": "use-coupon" }, t("till.use_coupon")),
  ])));
}

function chooseCoupon(coupon) {
  state.coupon = coupon; state.preview = null; state.redemption = null;
  redeemForm.hidden = false;
  clearErrors(redeemForm);
  $("#redeem-title").textContent = t("till.redeem_coupon", { name: coupon.name || coupon.code });
  $("#redeem-preview").hidden = true;
  $("#redeem-done").hidden = true;
  $("#redeem-button").disabled = true;
  $("#preview-button").disabled = false;
  redeemForm.scrollIntoView({ block: "nearest" });
}

function redemptionBody(dryRun) {
  if (!validate(orderForm)) return null;
  const body = {
    scan_id: state.scan.scan_id,
    coupon_id: state.coupon.id,
    order_no: orderForm.order_no.value.trim(),
    order_amount_fen: yuanToFen(orderForm.order_amount.value),
  };
  if (dryRun) body.dry_run = true;
  return body;
}

$("#preview-button").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  const body = redemptionBody(true);
  if (!body) return;
  const result = await api("POST", "/coupons/redemptions", { body });
  if (!result.ok) {
    if (isMissingEndpoint(result)) { flash(t("common.not_available", { path: "POST /staff/v1/coupons/redemptions" }), "error"); return; }
    showError(redeemForm, result.error); return;
  }
  clearErrors(redeemForm);
  const discount = result.data.redemption.discount_fen;
  state.preview = { ...body, discount };
  $("#redeem-preview").textContent = t("till.preview_result", {
    discount: fenToYuan(discount), pay: fenToYuan(Math.max(body.order_amount_fen - discount, 0)),
  });
  $("#redeem-preview").hidden = false;
  $("#redeem-button").disabled = false;
}));

redeemForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#redeem-button"), async () => {
    const body = redemptionBody(false);
    if (!body) return;
    const result = await api("POST", "/coupons/redemptions", {
      body, idempotencyKey: keyFor("redeem", JSON.stringify(body)),
    });
    settle("redeem", result);
    if (!result.ok) { showError(redeemForm, result.error); return; }
    state.redemption = result.data.redemption;
    const discount = state.redemption.discount_fen;
    $("#redeem-result").textContent = t("till.redeem_done", { discount: fenToYuan(discount) });
    $("#redeem-done").hidden = false;
    $("#redeem-preview").hidden = true;
    $("#preview-button").disabled = true;
    // The coupon is spent: take it off the list. The purchase is recorded at the order's amount:
    // the service takes the coupons redeemed on the same order number off (issue 16).
    document.querySelector(`#coupons [data-coupon-id="${state.coupon.id}"]`)?.remove();
    purchaseForm.amount.value = fenToYuan(body.order_amount_fen);
  }).then(() => { if (state.redemption) $("#redeem-button").disabled = true; });
});

$("#undo-button").addEventListener("click", (event) => busy(event.currentTarget, async () => {
  if (!state.redemption) return;
  const body = { reason: $("#undo-reason").value.trim() || "till" };
  const path = `/coupons/redemptions/${state.redemption.id}/reversal`;
  const result = await api("POST", path, { body, idempotencyKey: keyFor("undo", path) });
  settle("undo", result);
  if (!result.ok) { showError(redeemForm, result.error); return; }
  flash(t("till.undo_done"));
  state.redemption = null;
  redeemForm.hidden = true;
  renderCoupons(result.data?.member?.coupons || [state.coupon]);
}));

// ---- the purchase --------------------------------------------------------------------------

orderForm.order_amount.addEventListener("input", () => {
  if (!state.redemption) purchaseForm.amount.value = orderForm.order_amount.value;
});

purchaseForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(purchaseForm.querySelector("[type=submit]"), async () => {
    const orderOk = validate(orderForm);
    if (!validate(purchaseForm) || !orderOk) return;
    const body = {
      scan_id: state.scan.scan_id,
      order_no: orderForm.order_no.value.trim(),
      amount_fen: yuanToFen(purchaseForm.amount.value),
    };
    const result = await api("POST", "/purchases", { body, idempotencyKey: keyFor("purchase", JSON.stringify(body)) });
    settle("purchase", result);
    if (!result.ok) { showError(purchaseForm, result.error); return; }
    const done = result.data;
    const text = t("till.purchase_done", { order: done.order_no, points: done.points_awarded, balance: done.balance });
    $("#purchase-result").textContent = text;
    $("#purchase-result").hidden = false;
    $("#m-balance").textContent = `${done.balance} ${t("common.points")}`;
    flash(text);
  });
});

// ---- refunds -------------------------------------------------------------------------------

refundForm.refund_no.value = `R${defaultOrderNo().slice(1)}`;
refundForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(refundForm.querySelector("[type=submit]"), async () => {
    if (!validate(refundForm)) return;
    const orderNo = refundForm.order_no.value.trim();
    const body = { refund_no: refundForm.refund_no.value.trim(), amount_fen: yuanToFen(refundForm.amount.value) };
    const path = `/purchases/${encodeURIComponent(orderNo)}/refunds`;
    const result = await api("POST", path, { body, idempotencyKey: keyFor("refund", path + JSON.stringify(body)) });
    settle("refund", result);
    if (!result.ok) { showError(refundForm, result.error); return; }
    const done = result.data;
    const text = t("till.refund_done", { amount: fenToYuan(done.amount_fen), points: done.points_reversed, balance: done.balance });
    $("#refund-result").textContent = text;
    $("#refund-result").hidden = false;
    flash(text);
    refundForm.refund_no.value = `R${defaultOrderNo().slice(1)}`;
  });
});

scanForm.member_code.focus();
