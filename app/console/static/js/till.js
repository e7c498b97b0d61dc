// The till: scan or type the member code (or, when the shopper's phone is dead, find them by
// phone number with its last four digits confirmed), then hand over pickups, record the sale (with
// points and a coupon off), or refund. After every answer the page shows what the API answered.
import {
  api, busy, clearErrors, fenToYuan, flash, formatInstant, h,
  isMissingEndpoint, newKey, showError, t, validate, yuanToFen,
} from "./console.js";
import { startScanner } from "./scanner.js";
import { renderPickups } from "./till_pickups.js";

const $ = (sel) => document.querySelector(sel);
const scanForm = $("#scan-form");
const orderForm = $("#order-form");
const purchaseForm = $("#purchase-form");
const redeemForm = $("#redeem-form");
const refundForm = $("#refund-form");
const pointsForm = $("#points-form");
const phoneForm = $("#phone-form");
const confirmForm = $("#confirm-form");

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
  showBalance(m.points_balance);
  $("#m-scan-valid").textContent = t("till.scan_valid_until", { time: formatInstant(scan.expires_at) });
  renderCoupons(m.coupons || []);
  renderPickups($("#pickups"), m.pickups || [], scan);
  showRedeemRule(scan.redeem);
  scanForm.hidden = true;
  $("#phone-lookup").hidden = true;
  $("#member").hidden = false;
  $("#sale-card").hidden = false;
  orderForm.order_no.value = defaultOrderNo();
  orderForm.order_amount.focus();
}

function showBalance(balance) {
  $("#m-balance").textContent = `${balance} ${t("common.points")}`;
}

// ---- points at the till --------------------------------------------------------------------

function showRedeemRule(rule) {
  pointsForm.reset();
  clearErrors(pointsForm);
  $("#points-preview").hidden = true;
  $("#points-fields").hidden = !rule;
  $("#redeem-rule").textContent = rule
    ? t("till.redeem_rule", {
      per_yuan: rule.points_per_yuan_off,
      share: rule.max_share_percent,
      min: rule.min_points ? t("till.redeem_min", { n: rule.min_points }) : "",
    })
    : t("till.no_redeem");
}

function pointsToRedeem() {
  const value = pointsForm.points.value.trim();
  return value === "" || !state.scan.redeem ? 0 : Number(value);
}

// The error box of the points form, with the most points this order takes when the API says.
function showPointsError(error) {
  showError(pointsForm, error);
  const most = error.details && error.details.max_points;
  if (most !== undefined) {
    const box = pointsForm.querySelector(".form-error");
    box.textContent += `\n${t("till.max_points", { n: most })}`;
  }
}

pointsForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(pointsForm.querySelector("[type=submit]"), async () => {
    const orderOk = validate(orderForm);
    if (!validate(pointsForm) || !validate(purchaseForm) || !orderOk) return;
    const body = { ...purchaseBody(), dry_run: true };
    const result = await api("POST", "/purchases", { body });
    if (!result.ok) { $("#points-preview").hidden = true; showPointsError(result.error); return; }
    clearErrors(pointsForm);
    const p = result.data;
    $("#points-preview").textContent = t("till.points_preview_result", {
      points: p.points_redeemed, discount: fenToYuan(p.discount_fen), payable: fenToYuan(p.payable_fen),
      max: p.max_points_to_redeem ?? 0,
    });
    $("#points-preview").hidden = false;
  });
});
pointsForm.points.addEventListener("input", () => { $("#points-preview").hidden = true; });

function resetMember() {
  state.scan = null; state.coupon = null; state.redemption = null; state.preview = null; state.keys = {};
  scanForm.reset();
  clearErrors(scanForm);
  scanForm.hidden = false;
  resetPhoneLookup();
  $("#phone-lookup").open = false;
  $("#phone-lookup").hidden = false;
  $("#member").hidden = true;
  $("#sale-card").hidden = true;
  orderForm.reset(); purchaseForm.reset(); pointsForm.reset(); redeemForm.hidden = true;
  $("#purchase-result").hidden = true;
  $("#points-preview").hidden = true;
  // A refund of the scanned member's order: their balance and coupons as the refund answered
// (a full refund gives the coupons used on the order back).
function showRefundedMember(done) {
  if (!state.scan || state.scan.member.id !== done.member_id) return;
  showBalance(done.balance);
  // The sale's own result named the balance before the refund: the refund's result replaces it.
  $("#purchase-result").hidden = true;
  $("#points-preview").hidden = true;
  const coupons = state.scan.member.coupons || [];
  for (const coupon of done.coupons || []) {
    const listed = coupons.findIndex((c) => c.id === coupon.id);
    if (coupon.status === "unused" && listed < 0) coupons.push(coupon);
    if (coupon.status !== "unused" && listed >= 0) coupons.splice(listed, 1);
    if (coupon.status !== "used" && state.redemption && state.coupon && state.coupon.id === coupon.id) {
      // The redemption on screen was reversed by the refund: it no longer reads as redeemed.
      state.redemption = null; state.coupon = null;
      redeemForm.hidden = true;
    }
  }
  state.scan.member.coupons = coupons;
  renderCoupons(coupons);
}

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

// ---- the shopper whose phone is dead: by phone number, the last four confirmed -------------

let phoneLookup = null;

function resetPhoneLookup() {
  phoneLookup = null;
  phoneForm.reset(); confirmForm.reset();
  clearErrors(phoneForm); clearErrors(confirmForm);
  phoneForm.hidden = false;
  confirmForm.hidden = true;
}

phoneForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!validate(phoneForm)) return;
  busy(phoneForm.querySelector("[type=submit]"), async () => {
    const result = await api("POST", "/scans/phone", { body: { phone: phoneForm.phone.value.trim() } });
    if (!result.ok) { showError(phoneForm, result.error); return; }
    phoneLookup = result.data;
    clearErrors(phoneForm);
    $("#masked-phone").textContent = phoneLookup.phone_masked;
    phoneForm.hidden = true;
    confirmForm.hidden = false;
    confirmForm.last_four.focus();
  });
});

confirmForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!phoneLookup || !validate(confirmForm)) return;
  busy(confirmForm.querySelector("[type=submit]"), async () => {
    const path = `/scans/phone/${encodeURIComponent(phoneLookup.lookup_id)}/confirm`;
    const result = await api("POST", path, { body: { last_four: confirmForm.last_four.value.trim() } });
    if (result.ok) { resetPhoneLookup(); showMember(result.data); return; }
    const left = result.error.details && result.error.details.attempts_left;
    if (result.error.code === "phone_lookup.unknown" || left === 0) {
      // The lookup is over: start again from the number.
      resetPhoneLookup();
      showError(phoneForm, result.error);
      return;
    }
    confirmForm.last_four.value = "";
    showError(confirmForm, result.error);
  });
});
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
    state.scan.member.coupons = (state.scan.member.coupons || []).filter((c) => c.id !== state.coupon.id);
    renderCoupons(state.scan.member.coupons);
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
  const coupons = state.scan.member.coupons || [];
  if (!coupons.some((c) => c.id === state.coupon.id)) coupons.push(state.coupon);
  state.scan.member.coupons = coupons;
  renderCoupons(coupons);
}));

// ---- the purchase --------------------------------------------------------------------------

function purchaseBody() {
  const body = {
    scan_id: state.scan.scan_id,
    order_no: orderForm.order_no.value.trim(),
    amount_fen: yuanToFen(purchaseForm.amount.value),
  };
  const points = pointsToRedeem();
  if (points > 0) body.points_to_redeem = points;
  return body;
}

orderForm.order_amount.addEventListener("input", () => {
  if (!state.redemption) purchaseForm.amount.value = orderForm.order_amount.value;
});

purchaseForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(purchaseForm.querySelector("[type=submit]"), async () => {
    const orderOk = validate(orderForm);
    const pointsOk = validate(pointsForm);
    if (!validate(purchaseForm) || !orderOk || !pointsOk) return;
    const body = purchaseBody();
    const result = await api("POST", "/purchases", { body, idempotencyKey: keyFor("purchase", JSON.stringify(body)) });
    settle("purchase", result);
    if (!result.ok) {
      if (result.error.code.startsWith("points.")) showPointsError(result.error);
      else showError(purchaseForm, result.error);
      return;
    }
    const done = result.data;
    const text = done.points_redeemed
      ? t("till.purchase_done_points", {
        order: done.order_no, redeemed: done.points_redeemed, discount: fenToYuan(done.discount_fen),
        payable: fenToYuan(done.payable_fen), points: done.points_awarded, balance: done.balance,
      })
      : t("till.purchase_done", { order: done.order_no, points: done.points_awarded, balance: done.balance });
    // Shown beside the button, not as a toast over the form.
    $("#purchase-result").textContent = text;
    $("#purchase-result").hidden = false;
    $("#points-preview").hidden = true;
    showBalance(done.balance);
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
    const returned = (done.coupons || []).filter((coupon) => coupon.status !== "used");
    const lines = [done.points_returned
      ? t("till.refund_done_returned", { amount: fenToYuan(done.amount_fen), points: done.points_reversed, returned: done.points_returned, balance: done.balance })
      : t("till.refund_done", { amount: fenToYuan(done.amount_fen), points: done.points_reversed, balance: done.balance })];
    if (returned.length) lines.push(t("till.coupon_returned", { names: returned.map((c) => c.name || c.code).join("、") }));
    $("#refund-result").textContent = lines.join("\n");
    $("#refund-result").hidden = false;
    showRefundedMember(done);
    refundForm.refund_no.value = `R${defaultOrderNo().slice(1)}`;
  });
});

// A refund of the scanned member's order: their balance and coupons as the refund answered
// (a full refund gives the coupons used on the order back).
function showRefundedMember(done) {
  if (!state.scan || state.scan.member.id !== done.member_id) return;
  showBalance(done.balance);
  // The sale's own result named the balance before the refund: the refund's result replaces it.
  $("#purchase-result").hidden = true;
  $("#points-preview").hidden = true;
  const coupons = state.scan.member.coupons || [];
  for (const coupon of done.coupons || []) {
    const listed = coupons.findIndex((c) => c.id === coupon.id);
    if (coupon.status === "unused" && listed < 0) coupons.push(coupon);
    if (coupon.status !== "unused" && listed >= 0) coupons.splice(listed, 1);
    if (coupon.status !== "used" && state.redemption && state.coupon && state.coupon.id === coupon.id) {
      // The redemption on screen was reversed by the refund: it no longer reads as redeemed.
      state.redemption = null; state.coupon = null;
      redeemForm.hidden = true;
    }
  }
  state.scan.member.coupons = coupons;
  renderCoupons(coupons);
}

scanForm.member_code.focus();
